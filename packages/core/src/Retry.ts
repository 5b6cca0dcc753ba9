/**
 * Retry policies for transient failures.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Schedule from "effect/Schedule"

/**
 * Exponential backoff from `base`, doubled each time, capped at `cap`, with each delay jittered (x0.8 to
 * x1.2, so workers that failed together do not retry together), for at most `times` retries.
 *
 * @since 0.1.0
 * @category constructors
 */
export const exponential = (options: {
  readonly base?: Duration.DurationInput
  readonly cap?: Duration.DurationInput
  readonly times?: number
} = {}): Schedule.Schedule<unknown> =>
  Schedule.exponential(options.base ?? "100 millis").pipe(
    Schedule.union(Schedule.spaced(options.cap ?? "30 seconds")),
    Schedule.jittered,
    Schedule.intersect(Schedule.recurs(options.times ?? 12)),
    Schedule.asVoid
  )

/**
 * The default for sinks: 100 ms doubling to a 30 s cap, jittered, 12 retries (about 2.5 minutes of
 * backoff, 13 attempts) before the pipeline gives up on the batch and fails without checkpointing it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultSinkRetry: Schedule.Schedule<unknown> = exponential()
