/**
 * Option kinds the commands share: durations, points in time, whole numbers. A value that does not parse
 * is a usage error whose message names the option and the form it takes (exit code 2).
 */
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { decodeDuration, parseTime } from "./duration.js"

const invalid = (reason: string) => Effect.fail(ValidationError.invalidValue(HelpDoc.p(reason)))

/** `--name 8s` (also 500ms, 2m, 1h, or "8 seconds"). */
export const duration = (name: string): Options.Options<Duration.Duration> =>
  Options.text(name).pipe(
    Options.withPseudoName("DURATION"),
    Options.mapEffect((text) =>
      Option.match(decodeDuration(text), {
        onNone: () => invalid(`--${name}: "${text}" is not a duration (e.g. 500ms, 8s, 2m, 1h)`),
        onSome: Effect.succeed
      })
    )
  )

/** `--name 2024-05-01T10:00:00Z` (an ISO-8601 time, epoch milliseconds, or a duration ago: 15m). */
export const time = (name: string): Options.Options<number> =>
  Options.text(name).pipe(
    Options.withPseudoName("TIME"),
    Options.mapEffect((text) =>
      Option.match(parseTime(text, Date.now()), {
        onNone: () => invalid(`--${name}: "${text}" is not a time (an ISO-8601 time such as 2024-05-01T10:00:00Z, or 15m for 15 minutes ago)`),
        onSome: Effect.succeed
      })
    )
  )

/** `--name N`, a whole number, at least `min`. */
export const integer = (name: string, min = 1): Options.Options<number> =>
  Options.text(name).pipe(
    Options.withPseudoName("N"),
    Options.mapEffect((text) => {
      const n = /^\s*-?\d+\s*$/.test(text) ? Number(text) : Number.NaN
      if (!Number.isSafeInteger(n)) return invalid(`--${name}: "${text}" is not a whole number (e.g. --${name} ${Math.max(min, 10)})`)
      return n >= min ? Effect.succeed(n) : invalid(`--${name} must be at least ${min}, got ${n}`)
    })
  )
