import * as Duration from "effect/Duration"

/** "8s", "500ms", "2m", or anything `Duration.decode` reads ("8 seconds"). */
export const parseDuration = (text: string): Duration.Duration => {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/.exec(text.trim())
  if (match === null) return Duration.decode(text as Duration.DurationInput)
  const n = Number(match[1])
  const unit = match[2]
  return Duration.millis(unit === "ms" ? n : unit === "s" ? n * 1000 : unit === "m" ? n * 60_000 : n * 3_600_000)
}
