/**
 * Checking options at construction: each check answers why a value is invalid (or undefined), and
 * `validate` fails with the first as an `InvalidOptions` naming the option.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { InvalidOptions } from "../TributaryError.js"

/** An option and why it is invalid (undefined: it is fine). */
export type Check = readonly [option: string, reason: string | undefined]

/** Fails with the first invalid option of `of` (e.g. "Archive.sink"). */
export const validate = (of: string, checks: ReadonlyArray<Check>): Effect.Effect<void, InvalidOptions> => {
  for (const [option, reason] of checks) {
    if (reason !== undefined) return Effect.fail(new InvalidOptions({ of, option, reason }))
  }
  return Effect.void
}

export const positiveInteger = (n: number): string | undefined =>
  Number.isSafeInteger(n) && n >= 1 ? undefined : `must be a positive integer, got ${n}`

export const integerFrom = (min: number, max: number) => (n: number): string | undefined =>
  Number.isInteger(n) && n >= min && n <= max ? undefined : `must be an integer from ${min} to ${max}, got ${n}`

export const positiveDuration = (duration: Duration.Duration): string | undefined =>
  Duration.isFinite(duration) && Duration.toMillis(duration) > 0
    ? undefined
    : `must be a positive finite duration, got ${Duration.format(duration)}`

export const nonNegativeDuration = (duration: Duration.Duration): string | undefined =>
  Duration.isFinite(duration) ? undefined : `must be a finite duration, got ${Duration.format(duration)}`
