/**
 * Checking options at construction: each check answers why a value is invalid (or undefined), and
 * `validate` fails with the first as an `InvalidOptions` naming the option.
 */
import * as Effect from "effect/Effect"
import type { InvalidOptions } from "../TributaryError.js"
import { checkOptions } from "../TributaryError.js"

/** Fails with the first invalid option of `of` (e.g. "Archive.sink"), see `TributaryError.checkOptions`. */
export const validate = (
  of: string,
  checks: ReadonlyArray<readonly [option: string, reason: string | undefined]>
): Effect.Effect<void, InvalidOptions> => {
  const invalid = checkOptions(of, checks)
  return invalid === undefined ? Effect.void : Effect.fail(invalid)
}

export const positiveInteger = (n: number): string | undefined =>
  Number.isSafeInteger(n) && n >= 1 ? undefined : `must be a positive integer, got ${n}`

export const integerFrom = (min: number, max: number) => (n: number): string | undefined =>
  Number.isInteger(n) && n >= min && n <= max ? undefined : `must be an integer from ${min} to ${max}, got ${n}`

/** Why a number is not in [min, max] (or not an integer there), or undefined. */
export const outOfRange = (value: number, min: number, max: number, integer: boolean): string | undefined =>
  (value >= min && value <= max) && (!integer || Number.isInteger(value))
    ? undefined
    : `must be ${integer ? "an integer " : ""}in [${min}, ${max}], got ${value}`
