/**
 * Config readers the consumer's options share: optional values (unset: the option's default), durations
 * written as Effect durations or as milliseconds, the initial position.
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"

/** The value, or undefined when the variable is unset (an invalid value is still an error). */
export const optional = <A>(config: Config.Config<A>): Config.Config<A | undefined> =>
  Config.withDefault(config, undefined)

/** An Effect duration (`2 seconds`, `1500 millis`) or a number of milliseconds. */
export const duration = (name: string): Config.Config<Duration.Duration> =>
  Config.mapOrFail(Config.string(name), (text) => {
    const trimmed = text.trim()
    const decoded = /^\d+(\.\d+)?$/.test(trimmed)
      ? Option.some(Duration.millis(Number(trimmed)))
      : Duration.decodeUnknown(trimmed)
    return Option.isSome(decoded)
      ? Either.right(decoded.value)
      : Either.left(ConfigError.InvalidData([], `expected a duration such as "10 seconds" or milliseconds, got ${JSON.stringify(text)}`))
  })

/** `TRIM_HORIZON` or `LATEST`. */
export const initialPosition = (name: string): Config.Config<"TRIM_HORIZON" | "LATEST"> =>
  Config.literal("TRIM_HORIZON", "LATEST")(name)

/** A log level by its name (`Warning`, `Debug`, ...) or its label (`WARN`, `DEBUG`), in any case. */
export const logLevel = (name: string): Config.Config<LogLevel.LogLevel> =>
  Config.mapOrFail(Config.string(name), (text) => {
    const wanted = text.trim().toLowerCase()
    const level = LogLevel.allLevels.find((level) => level._tag.toLowerCase() === wanted || level.label.toLowerCase() === wanted)
    return level === undefined
      ? Either.left(ConfigError.InvalidData([], `expected a log level (Info, Warning, Debug, ...), got ${JSON.stringify(text)}`))
      : Either.right(level)
  })
