/**
 * Scheduled jobs: run a batch pipeline (re-aggregating a time range of the archive, say) every N minutes or
 * on a cron expression, and on demand. At most one run of a job at a time; a failed run is retried with
 * backoff; every run is recorded in a run log.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Cron from "effect/Cron"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Check from "./internal/options.js"
import * as Retry from "./Retry.js"
import type { InvalidOptions } from "./TributaryError.js"

/**
 * The time range a run covers, epoch milliseconds, `[from, to)`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TimeRange {
  /** Start of the range, inclusive. */
  readonly from: number
  /** End of the range, exclusive. */
  readonly to: number
}

/**
 * One run of a job, as the run log keeps it.
 *
 * @since 0.1.0
 * @category models
 */
export interface JobRun {
  /** The job's name. */
  readonly job: string
  /** Unique per job: the start time and a counter. */
  readonly runId: string
  /** "schedule": started by the job's timing; "manual": started by `RunningJob.trigger`. */
  readonly trigger: "schedule" | "manual"
  /** The time range the run covers. */
  readonly range: TimeRange
  /** When the run started, epoch milliseconds. */
  readonly startedAt: number
  /** When the run ended, epoch milliseconds; absent while it is running. */
  readonly endedAt?: number
  /** Attempts made, retries included. */
  readonly attempts: number
  /** "skipped": a scheduled run found the previous one still running. */
  readonly outcome: "running" | "succeeded" | "failed" | "skipped"
  /** Records processed by the successful attempt. */
  readonly records?: number
  /** Why the last attempt of a failed run failed (the error's message). */
  readonly error?: string
}

/**
 * Where runs are recorded (DynamoDB in production; memory in tests).
 *
 * @since 0.1.0
 * @category tags
 */
export class RunLog extends Context.Tag("@tributary/core/Job/RunLog")<RunLog, {
  /** Stores a run, replacing the entry with the same job and run id. */
  readonly record: (run: JobRun) => Effect.Effect<void>
  /** The latest runs of a job, newest first. */
  readonly list: (job: string, limit?: number) => Effect.Effect<ReadonlyArray<JobRun>>
}>() {}

/**
 * A `RunLog` in memory, for tests and single-process use; `list` returns 100 runs unless given a limit.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerRunLogMemory: Layer.Layer<RunLog> = Layer.sync(RunLog, () => {
  const runs = new Map<string, Map<string, JobRun>>()
  return {
    record: (run) =>
      Effect.sync(() => {
        let byId = runs.get(run.job)
        if (byId === undefined) runs.set(run.job, byId = new Map())
        byId.set(run.runId, run)
      }),
    list: (job, limit = 100) =>
      Effect.sync(() =>
        [...(runs.get(job)?.values() ?? [])].sort((a, b) => b.startedAt - a.startedAt || (b.runId < a.runId ? -1 : 1))
          .slice(0, limit)
      )
  }
})

/**
 * When a job runs: every interval (aligned to the epoch, so "15 minutes" runs at :00, :15, :30, :45), or on a
 * cron expression (UTC unless the expression's time zone says otherwise).
 *
 * @since 0.1.0
 * @category models
 */
export type Timing = { readonly every: Duration.DurationInput } | { readonly cron: string }

/**
 * A scheduled batch, made with `make` and run with `start` or `layer`. `E` and `R` are the error and the
 * services of its `run`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Job<E, R> {
  /** Names the job in the run log and in spans. */
  readonly name: string
  /** When the job runs on its own. */
  readonly timing: Timing
  /** The range a run at `scheduledAt` covers, e.g. the hour before it. */
  readonly range: (scheduledAt: number) => TimeRange
  /** Runs the batch over a range; returns the number of records it processed. */
  readonly run: (range: TimeRange) => Effect.Effect<number, E, R>
  /** Retries of a failed run. Default: `Retry.exponential({ base: "1 second", times: 3 })`. */
  readonly retry: Schedule.Schedule<unknown, E>
}

/**
 * What `make` takes: the fields of a `Job`, with `retry` optional.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<E, R> {
  /** Names the job in the run log and in spans. */
  readonly name: string
  /** When the job runs on its own. */
  readonly timing: Timing
  /** The range a run at `scheduledAt` (epoch milliseconds) covers, e.g. the hour before it. */
  readonly range: (scheduledAt: number) => TimeRange
  /** Runs the batch over a range; returns the number of records it processed. */
  readonly run: (range: TimeRange) => Effect.Effect<number, E, R>
  /** Retries of a failed run. Default: `Retry.exponential({ base: "1 second", times: 3 })`. */
  readonly retry?: Schedule.Schedule<unknown, E> | undefined
}

/**
 * A job. Its timing is checked when it starts: `start` fails with `InvalidOptions` for a cron expression
 * that does not parse or an interval that is not a positive duration.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E, R>(options: Options<E, R>): Job<E, R> => ({
  name: options.name,
  timing: options.timing,
  range: options.range,
  run: options.run,
  retry: options.retry ?? (Retry.exponential({ base: "1 second", times: 3 }) as Schedule.Schedule<unknown, E>)
})

/**
 * A started job: it runs on its schedule until its scope closes.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunningJob {
  /** Runs now over the given range (default: the range of a run scheduled now); waits for a run in progress. */
  readonly trigger: (range?: TimeRange) => Effect.Effect<JobRun>
  /** The next scheduled time, epoch milliseconds. */
  readonly nextRunAt: Effect.Effect<number>
}

/**
 * Starts a job's schedule in a fiber tied to the scope. A scheduled run that finds the previous run still in
 * progress is skipped (and logged as such): runs never overlap and never pile up. Fails with
 * `InvalidOptions` when the job's timing cannot work.
 *
 * @since 0.1.0
 * @category running
 */
export const start = <E, R>(job: Job<E, R>): Effect.Effect<RunningJob, InvalidOptions, R | RunLog | Scope.Scope> =>
  Effect.gen(function*() {
    yield* Check.validate(`Job.start (${job.name})`, [["timing", invalidTiming(job.timing)]])
    const log = yield* RunLog
    // a manual trigger runs with the services the job was started with
    const context = yield* Effect.context<R>()
    const lock = yield* Effect.makeSemaphore(1)
    let counter = 0
    let next = nextTime(job.timing, yield* Clock.currentTimeMillis)

    const execute = (trigger: JobRun["trigger"], range: TimeRange) =>
      Effect.gen(function*() {
        const startedAt = yield* Clock.currentTimeMillis
        const base = { job: job.name, runId: `${startedAt}-${++counter}`, trigger, range, startedAt }
        yield* log.record({ ...base, attempts: 0, outcome: "running" })
        let attempts = 0
        const failed = (error: string) =>
          Effect.map(Clock.currentTimeMillis, (endedAt): JobRun => ({ ...base, endedAt, attempts, outcome: "failed", error }))
        // a run that dies, or is stopped, is over too: the log never keeps it "running"
        const outcome = yield* Effect.suspend(() => {
          attempts++
          return job.run(range)
        }).pipe(
          Effect.retry(job.retry),
          Effect.either,
          Effect.catchAllDefect((defect) => Effect.succeed(Either.left(defect))),
          Effect.onInterrupt(() =>
            failed("interrupted: the job stopped during the run").pipe(Effect.flatMap(log.record), Effect.ignore)
          )
        )
        const run: JobRun = Either.isRight(outcome)
          ? { ...base, endedAt: yield* Clock.currentTimeMillis, attempts, outcome: "succeeded", records: outcome.right }
          : yield* failed(describe(outcome.left))
        yield* log.record(run)
        return run
      }).pipe(Effect.withSpan("Job.run", { attributes: { job: job.name, trigger } }))

    // A scheduled run that finds the lock taken is skipped, not queued: runs never pile up.
    const runScheduled = (scheduledAt: number) =>
      Effect.gen(function*() {
        const ran = yield* lock.withPermitsIfAvailable(1)(execute("schedule", job.range(scheduledAt)))
        if (ran._tag === "Some") return
        const at = yield* Clock.currentTimeMillis
        yield* log.record({
          job: job.name,
          runId: `${at}-${++counter}`,
          trigger: "schedule",
          range: job.range(scheduledAt),
          startedAt: at,
          endedAt: at,
          attempts: 0,
          outcome: "skipped"
        })
      })

    yield* Effect.forkScoped(Effect.gen(function*() {
      for (;;) {
        const now = yield* Clock.currentTimeMillis
        if (next > now) yield* Effect.sleep(Duration.millis(next - now))
        const scheduledAt = next
        next = nextTime(job.timing, scheduledAt)
        // forked, so the schedule keeps ticking (and skipping) while a long run goes on
        yield* Effect.forkScoped(runScheduled(scheduledAt))
      }
    }))

    return {
      trigger: (range) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => lock.withPermits(1)(execute("manual", range ?? job.range(now)))).pipe(
          Effect.provide(context)
        ),
      nextRunAt: Effect.sync(() => next)
    }
  })

/**
 * The job running on its schedule while the layer lives (next to a server or a consumer under
 * `Layer.launch`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <E, R>(job: Job<E, R>): Layer.Layer<never, InvalidOptions, R | RunLog> =>
  Layer.scopedDiscard(start(job))

/**
 * A timing from configuration: `JOB_EVERY` (an Effect duration, `15 minutes`) or else `JOB_CRON` (a cron
 * expression). `Config.nested(Job.timingConfig, "REAGGREGATE")` reads `REAGGREGATE_JOB_EVERY` and so on.
 *
 * @since 0.1.0
 * @category config
 */
export const timingConfig: Config.Config<Timing> = Config.duration("JOB_EVERY").pipe(
  Config.map((every): Timing => ({ every })),
  Config.orElse(() => Config.map(Config.nonEmptyString("JOB_CRON"), (cron): Timing => ({ cron })))
)

/**
 * The job with its timing from configuration (default: `timingConfig`), running while the layer lives.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = <E, R>(
  options: Omit<Options<E, R>, "timing">,
  timing: Config.Config<Timing> = timingConfig
): Layer.Layer<never, ConfigError.ConfigError | InvalidOptions, R | RunLog> =>
  Layer.unwrapEffect(Effect.map(timing, (read) => layer(make({ ...options, timing: read }))))

const invalidTiming = (timing: Timing): string | undefined => {
  if ("cron" in timing) {
    return Either.isLeft(Cron.parse(timing.cron, "UTC")) ? `has an invalid cron expression ${JSON.stringify(timing.cron)}` : undefined
  }
  const every = Duration.decodeUnknown(timing.every)
  return Option.isSome(every) && Duration.isFinite(every.value) && Duration.toMillis(every.value) > 0
    ? undefined
    : `every must be a positive finite duration, got ${String(timing.every)}`
}

const nextTime = (timing: Timing, after: number): number => {
  if ("every" in timing) {
    const interval = Duration.toMillis(Duration.decode(timing.every))
    return (Math.floor(after / interval) + 1) * interval
  }
  return Cron.next(Cron.unsafeParse(timing.cron, "UTC"), new Date(after)).getTime()
}

const describe = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === "object" && error !== null && "_tag" in error
    ? JSON.stringify(error)
    : String(error)
