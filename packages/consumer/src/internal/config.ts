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

type InitialPosition = "TRIM_HORIZON" | "LATEST" | { readonly atTimestamp: number }

/**
 * `TRIM_HORIZON`, `LATEST` or `AT_TIMESTAMP` from `positionName`, the time of AT_TIMESTAMP from
 * `timestampName` (ISO 8601 or epoch milliseconds); a timestamp alone means AT_TIMESTAMP. Undefined when
 * neither is set.
 */
export const initialPosition = (
  positionName: string,
  timestampName: string
): Config.Config<InitialPosition | undefined> =>
  Config.mapOrFail(
    Config.all([
      optional(Config.literal("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")(positionName)),
      optional(timestamp(timestampName))
    ]),
    ([position, at]): Either.Either<InitialPosition | undefined, ConfigError.ConfigError> => {
      if (at === undefined) {
        return position === "AT_TIMESTAMP"
          ? Either.left(ConfigError.MissingData([timestampName], `${positionName}=AT_TIMESTAMP needs ${timestampName}`))
          : Either.right(position)
      }
      return position === undefined || position === "AT_TIMESTAMP"
        ? Either.right({ atTimestamp: at })
        : Either.left(ConfigError.InvalidData([timestampName], `${timestampName} is only for ${positionName}=AT_TIMESTAMP, not ${position}`))
    }
  )

/** A point in time: ISO 8601 (`2024-06-01T12:00:00Z`) or epoch milliseconds. */
export const timestamp = (name: string): Config.Config<number> =>
  Config.mapOrFail(Config.string(name), (text) => {
    const trimmed = text.trim()
    const millis = /^\d+$/.test(trimmed) ? Number(trimmed) : Date.parse(trimmed)
    return Number.isFinite(millis)
      ? Either.right(millis)
      : Either.left(ConfigError.InvalidData([], `expected a time (ISO 8601 or epoch milliseconds), got ${JSON.stringify(text)}`))
  })

/** A log level by its name (`Warning`, `Debug`, ...) or its label (`WARN`, `DEBUG`), in any case. */
export const logLevel = (name: string): Config.Config<LogLevel.LogLevel> =>
  Config.mapOrFail(Config.string(name), (text) => {
    const wanted = text.trim().toLowerCase()
    const level = LogLevel.allLevels.find((level) => level._tag.toLowerCase() === wanted || level.label.toLowerCase() === wanted)
    return level === undefined
      ? Either.left(ConfigError.InvalidData([], `expected a log level (Info, Warning, Debug, ...), got ${JSON.stringify(text)}`))
      : Either.right(level)
  })
