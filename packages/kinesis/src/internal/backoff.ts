import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"

/**
 * The delay before retry number `attempt` (0-based): `base * 2^attempt`, capped, with "equal jitter"
 * (between half and all of it), so workers that failed together do not retry together. Uses Effect's
 * Random, so a test can seed it, and the caller sleeps with Effect's Clock, so TestClock drives it.
 */
export const jittered = (attempt: number, base: Duration.Duration, cap: Duration.Duration): Effect.Effect<Duration.Duration> =>
  Effect.map(Random.next, (r) => {
    const full = Math.min(Duration.toMillis(cap), Duration.toMillis(base) * 2 ** Math.min(attempt, 30))
    return Duration.millis(Math.round(full / 2 + (full / 2) * r))
  })

export const sleepJittered = (attempt: number, base: Duration.Duration, cap: Duration.Duration): Effect.Effect<void> =>
  Effect.flatMap(jittered(attempt, base, cap), Effect.sleep)
