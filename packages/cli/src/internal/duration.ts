import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

/** "8s", "500ms", "2m", "1h", "1d", or anything `Duration.decode` reads ("8 seconds"); throws otherwise. */
export const parseDuration = (text: string): Duration.Duration => {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(text.trim())
  if (match === null) return Duration.decode(text as Duration.DurationInput)
  const n = Number(match[1])
  const unit = match[2]
  return Duration.millis(
    unit === "ms" ? n : unit === "s" ? n * 1000 : unit === "m" ? n * 60_000 : unit === "h" ? n * 3_600_000 : n * 86_400_000
  )
}

/** `parseDuration` without the throw: none for text that is not a duration. */
export const decodeDuration = (text: string): Option.Option<Duration.Duration> => {
  try {
    return Option.some(parseDuration(text))
  } catch {
    return Option.none()
  }
}

/**
 * A point in time: an ISO-8601 date or time ("2024-05-01", "2024-05-01T10:00:00Z"), epoch milliseconds,
 * or a duration meaning that long ago ("15m", "2h"). None for anything else.
 */
export const parseTime = (text: string, now: number): Option.Option<number> => {
  const trimmed = text.trim()
  if (/^\d{10,}$/.test(trimmed)) return Option.some(Number(trimmed))
  const ago = decodeDuration(trimmed)
  if (Option.isSome(ago)) return Option.some(now - Duration.toMillis(ago.value))
  // Date.parse reads many shapes; only those that start like an ISO date are taken
  if (!/^\d{4}-\d{2}-\d{2}/.test(trimmed)) return Option.none()
  const time = Date.parse(trimmed)
  return Number.isNaN(time) ? Option.none() : Option.some(time)
}
