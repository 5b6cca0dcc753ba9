import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import * as Job from "../src/Job.js"

const hour = 3_600_000
const lastHour = (at: number): Job.TimeRange => ({ from: at - hour, to: at })
const runsOf = (name: string) => Effect.flatMap(Job.RunLog, (log) => log.list(name)).pipe(Effect.map((runs) => [...runs].reverse()))

describe("Job", () => {
  it.scoped("runs on its schedule over the range of each run", () =>
    Effect.gen(function*() {
      const ranges: Array<Job.TimeRange> = []
      yield* Job.start(Job.make({
        name: "reaggregate",
        timing: { every: "15 minutes" },
        range: lastHour,
        run: (range) => Effect.sync(() => ranges.push(range)).pipe(Effect.as(100))
      }))
      yield* TestClock.adjust("14 minutes")
      expect(ranges).toStrictEqual([])
      yield* TestClock.adjust("1 minute")
      yield* TestClock.adjust("30 minutes")
      expect(ranges).toStrictEqual([15, 30, 45].map((m) => lastHour(m * 60_000)))
      const runs = yield* runsOf("reaggregate")
      expect(runs.map((r) => [r.trigger, r.outcome, r.records, r.attempts])).toStrictEqual([
        ["schedule", "succeeded", 100, 1],
        ["schedule", "succeeded", 100, 1],
        ["schedule", "succeeded", 100, 1]
      ])
    }).pipe(Effect.provide(Job.layerRunLogMemory)))

  it.scoped("follows a cron expression", () =>
    Effect.gen(function*() {
      const at: Array<number> = []
      const running = yield* Job.start(Job.make({
        name: "nightly",
        timing: { cron: "30 2 * * *" },
        range: lastHour,
        run: () => Effect.flatMap(TestClock.currentTimeMillis, (now) => Effect.sync(() => at.push(now))).pipe(Effect.as(0))
      }))
      expect(yield* running.nextRunAt).toBe(2.5 * hour)
      yield* TestClock.adjust("3 days")
      expect(at).toStrictEqual([0, 1, 2].map((day) => day * 24 * hour + 2.5 * hour))
    }).pipe(Effect.provide(Job.layerRunLogMemory)))

  it.scoped("reads a cron expression in UTC, whatever the machine's time zone", () =>
    Effect.gen(function*() {
      const zone = process.env.TZ
      yield* Effect.addFinalizer(() => Effect.sync(() => zone === undefined ? delete process.env.TZ : process.env.TZ = zone))
      process.env.TZ = "America/New_York"
      const running = yield* Job.start(Job.make({ name: "nightly", timing: { cron: "30 2 * * *" }, range: lastHour, run: () => Effect.succeed(0) }))
      expect(yield* running.nextRunAt).toBe(2.5 * hour)
    }).pipe(Effect.provide(Job.layerRunLogMemory)))

  it.scoped("logs a run that dies, or is stopped, as failed: none stays running", () =>
    Effect.gen(function*() {
      yield* Job.start(Job.make({
        name: "dies",
        timing: { every: "10 minutes" },
        range: lastHour,
        retry: Schedule.stop,
        run: () => Effect.die(new Error("boom"))
      }))
      yield* TestClock.adjust("10 minutes")
      expect((yield* runsOf("dies")).map((r) => [r.outcome, r.error])).toStrictEqual([["failed", "boom"]])

      const stopped = yield* Effect.forkScoped(Effect.scoped(Job.start(Job.make({
        name: "stopped",
        timing: { every: "10 minutes" },
        range: lastHour,
        run: () => Effect.never
      })).pipe(Effect.zipRight(Effect.never))))
      yield* TestClock.adjust("10 minutes")
      expect((yield* runsOf("stopped")).map((r) => r.outcome)).toStrictEqual(["running"])
      yield* Fiber.interrupt(stopped)
      expect((yield* runsOf("stopped")).map((r) => [r.outcome, r.error])).toStrictEqual([
        ["failed", "interrupted: the job stopped during the run"]
      ])
    }).pipe(Effect.provide(Job.layerRunLogMemory)))

  it.scoped("never overlaps itself: a tick during a long run is skipped and logged", () =>
    Effect.gen(function*() {
      let active = 0
      let most = 0
      yield* Job.start(Job.make({
        name: "slow",
        timing: { every: "10 minutes" },
        range: lastHour,
        run: () =>
          Effect.acquireUseRelease(
            Effect.sync(() => most = Math.max(most, ++active)),
            () => Effect.sleep("25 minutes").pipe(Effect.as(1)),
            () => Effect.sync(() => active--)
          )
      }))
      yield* TestClock.adjust("60 minutes")
      expect(most).toBe(1)
      const runs = yield* runsOf("slow")
      // runs start at 10 and 40 (ending 35 and 65); the ticks at 20, 30 and 50 find one running
      expect(runs.map((r) => [r.startedAt / 60_000, r.outcome])).toStrictEqual([
        [10, "succeeded"],
        [20, "skipped"],
        [30, "skipped"],
        [40, "running"],
        [50, "skipped"],
        [60, "skipped"]
      ])
    }).pipe(Effect.provide(Job.layerRunLogMemory)))

  it.scoped("retries a failed run with backoff, and logs a run that keeps failing", () =>
    Effect.gen(function*() {
      let calls = 0
      yield* Job.start(Job.make({
        name: "flaky",
        timing: { every: "1 hour" },
        range: lastHour,
        retry: Schedule.spaced("1 minute").pipe(Schedule.intersect(Schedule.recurs(3))),
        run: () => Effect.suspend(() => ++calls === 3 || calls > 10 ? Effect.succeed(5) : Effect.fail(new Error(`attempt ${calls} failed`)))
      }))
      yield* TestClock.adjust("1 hour")
      yield* TestClock.adjust("5 minutes")
      const [first] = yield* runsOf("flaky")
      expect(first).toMatchObject({ outcome: "succeeded", attempts: 3, records: 5, endedAt: hour + 2 * 60_000 })
    }).pipe(Effect.provide(Job.layerRunLogMemory)))

  it.scoped("a run that exhausts its retries is logged as failed with the reason", () =>
    Effect.gen(function*() {
      const running = yield* Job.start(Job.make({
        name: "broken",
        timing: { every: "1 hour" },
        range: lastHour,
        retry: Schedule.recurs(2),
        run: () => Effect.fail(new Error("archive unreachable"))
      }))
      const run = yield* running.trigger({ from: 0, to: 1 })
      expect(run).toMatchObject({ outcome: "failed", attempts: 3, error: "archive unreachable", trigger: "manual" })
    }).pipe(Effect.provide(Job.layerRunLogMemory)))

  it.scoped("an ad-hoc run works while the schedule continues, and waits for a run in progress", () =>
    Effect.gen(function*() {
      const ranges: Array<Job.TimeRange> = []
      const running = yield* Job.start(Job.make({
        name: "mixed",
        timing: { every: "10 minutes" },
        range: lastHour,
        run: (range) => Effect.sleep("4 minutes").pipe(Effect.zipRight(Effect.sync(() => ranges.push(range))), Effect.as(1))
      }))
      yield* TestClock.adjust("11 minutes") // the scheduled run at 10 goes until 14
      const manual = yield* Effect.fork(running.trigger({ from: 0, to: 42 }))
      yield* TestClock.adjust("14 minutes") // the manual run 14 to 18, the scheduled one 20 to 24
      const run = yield* Fiber.join(manual)
      expect(run).toMatchObject({ trigger: "manual", startedAt: 14 * 60_000, outcome: "succeeded" })
      expect(ranges).toStrictEqual([lastHour(10 * 60_000), { from: 0, to: 42 }, lastHour(20 * 60_000)])
    }).pipe(Effect.provide(Job.layerRunLogMemory)))

  it.scoped("a timing that cannot work fails the start with InvalidOptions", () =>
    Effect.gen(function*() {
      const start = (timing: Job.Timing) =>
        Effect.flip(Job.start(Job.make({ name: "x", timing, range: lastHour, run: () => Effect.succeed(0) })))
      const cron = yield* start({ cron: "every day" })
      expect([cron._tag, cron.option, cron.message]).toStrictEqual([
        "InvalidOptions",
        "timing",
        "Job.start (x): timing has an invalid cron expression \"every day\""
      ])
      expect((yield* start({ every: 0 })).message).toBe("Job.start (x): timing every must be a positive finite duration, got 0")
    }).pipe(Effect.provide(Job.layerRunLogMemory)))

  it.scoped("layerConfig: the timing from JOB_EVERY or JOB_CRON, the job running while the layer lives", () =>
    Effect.gen(function*() {
      const timing = (entries: ReadonlyArray<readonly [string, string]>) =>
        Job.timingConfig.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(entries))))
      expect(yield* timing([["JOB_CRON", "0 * * * *"]])).toStrictEqual({ cron: "0 * * * *" })
      const every = yield* timing([["JOB_EVERY", "5 minutes"]])
      expect("every" in every && Duration.toMillis(Duration.decode(every.every))).toBe(300_000)
      const ranges: Array<Job.TimeRange> = []
      yield* Layer.build(Job.layerConfig({
        name: "configured",
        range: lastHour,
        run: (range) => Effect.sync(() => ranges.push(range)).pipe(Effect.as(1))
      })).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["JOB_EVERY", "10 minutes"]]))))
      yield* TestClock.adjust("20 minutes")
      expect(ranges).toStrictEqual([10, 20].map((m) => lastHour(m * 60_000)))
    }).pipe(Effect.provide(Job.layerRunLogMemory)))
})
