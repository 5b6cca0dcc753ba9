/**
 * Retry policies for transient failures: the one backoff every package uses (sinks, shard readers, the
 * producer, lease stores, control-plane calls), as Effect `Schedule`s run by `Effect.retry`, or stepped by
 * `Schedule.driver` where each retry sends something else (the entries a partial failure left).
 *
 * Delays are jittered with Effect's `Random` and slept with its `Clock`, so a test seeds the one and drives
 * the other with the `TestClock`.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type { Retryability } from "./TributaryError.js"

/**
 * Options of `exponential`; every one is optional, with the defaults of `defaultSinkRetry`.
 *
 * @since 0.1.0
 * @category models
 */
export interface BackoffOptions {
  /** The first delay, doubled after each retry. Default 100 ms. */
  readonly base?: Duration.DurationInput | undefined
  /** The longest delay before jitter. Default 30 seconds. */
  readonly cap?: Duration.DurationInput | undefined
  /** Retries at most; `Infinity` for no limit. Default 12. */
  readonly times?: number | undefined
  /**
   * Each delay is multiplied by a random factor from `min` to `max`, so that workers that failed together
   * do not retry together: [0.8, 1.2] (default), [0.5, 1] ("equal jitter", never above the cap), [0, 1]
   * ("full jitter"), or false for none.
   */
  readonly jitter?: readonly [min: number, max: number] | false | undefined
}

/**
 * Exponential backoff from `base`, doubled each time, capped at `cap`, jittered, for at most `times`
 * retries.
 *
 * @since 0.1.0
 * @category constructors
 */
export const exponential = (options: BackoffOptions = {}): Schedule.Schedule<unknown> => {
  const capped = Schedule.exponential(options.base ?? "100 millis").pipe(
    Schedule.union(Schedule.spaced(options.cap ?? "30 seconds"))
  )
  const jitter = options.jitter ?? [0.8, 1.2]
  const jittered = jitter === false ? capped : Schedule.jitteredWith(capped, { min: jitter[0], max: jitter[1] })
  const times = options.times ?? 12
  return Number.isFinite(times) ? Schedule.asVoid(Schedule.intersect(jittered, Schedule.recurs(times))) : Schedule.asVoid(jittered)
}

/**
 * The default for sinks: 100 ms doubling to a 30 s cap, jittered, 12 retries (about 2.5 minutes of
 * backoff, 13 attempts) before the pipeline gives up on the batch and fails without checkpointing it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultSinkRetry: Schedule.Schedule<unknown> = exponential()

/**
 * Retries the transient failures of an effect (those whose `retryability` is "transient") on the schedule;
 * a permanent failure, or the last transient one, fails the effect.
 *
 * @since 0.1.0
 * @category combinators
 */
export const transient = <In = unknown>(schedule: Schedule.Schedule<unknown, In>) =>
<A, E extends In & { readonly retryability: Retryability }, R>(
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => Effect.retry(self, { schedule, while: isTransient })

const isTransient = (error: { readonly retryability: Retryability }): boolean => error.retryability === "transient"

/**
 * Applies a retry policy (a function adding retries to an effect, such as `transient(schedule)`) only once
 * the effect failed, so that a call which succeeds at once builds no retry state: `Effect.retry` makes its
 * schedule's driver on every run, which adds up on calls made per page. The policy sees the first failure
 * as its first attempt's: it retries exactly as it would have.
 *
 * @since 0.1.0
 * @category combinators
 */
export const afterFirstFailure = <A, E, R, E2, R2>(
  policy: (effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E2, R2>
) =>
(self: Effect.Effect<A, E, R>): Effect.Effect<A, E2, R | R2> => {
  const retried = (first: E): Effect.Effect<A, E2, R | R2> => {
    let replayed = false
    return policy(Effect.suspend(() => {
      if (replayed) return self
      replayed = true
      return Effect.fail(first)
    }))
  }
  // `catchAll`'s handling, without the frame it keeps for a success (one per call made per page)
  return Effect.catchAllCause(self, (cause) =>
    Cause.isFailType(cause) ? retried(cause.error) : Effect.catchAll(Effect.failCause(cause), retried))
}
