/**
 * Windows group records by time: tumbling (fixed, back to back), hopping (fixed, overlapping: the
 * "sliding window" of "the last 10 seconds, every second") and session (a burst of activity closed by a gap).
 * Windows are half-open `[start, end)` in epoch milliseconds, aligned to the epoch plus an optional offset.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import { maxTime } from "./internal/reason.js"

/**
 * The range of event times a window takes: epoch milliseconds within ±8.64e15 (the range of a `Date`,
 * about 273,790 years either side of 1970). A value whose event time is outside it, `NaN`, infinite or not a
 * number is dead-lettered with stage `"window"`.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxEventTime: number = maxTime

/**
 * How a window stage assigns records to windows; made with `tumbling`, `hopping` or `session`.
 *
 * @since 0.1.0
 * @category models
 */
export type WindowAssigner = Tumbling | Hopping | Session

/**
 * Fixed, back-to-back windows, as `tumbling` makes them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Tumbling {
  readonly _tag: "Tumbling"
  /** Length of each window, milliseconds. */
  readonly size: number
  /** Shift of the window boundaries from the epoch, milliseconds, from 0 to below `size`. */
  readonly offset: number
}

/**
 * Fixed, overlapping windows, as `hopping` makes them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Hopping {
  readonly _tag: "Hopping"
  /** Length of each window, milliseconds. */
  readonly size: number
  /** Time between the starts of consecutive windows, milliseconds, at most `size`. */
  readonly slide: number
  /** Shift of the window starts from the epoch, milliseconds, from 0 to below `slide`. */
  readonly offset: number
}

/**
 * Windows per burst of activity of a key, as `session` makes them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Session {
  readonly _tag: "Session"
  /** Inactivity that closes a session, milliseconds: it ends `gap` after its last record. */
  readonly gap: number
}

/**
 * Fixed windows of `size`, each record in exactly one: `[k * size + offset, (k + 1) * size + offset)`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const tumbling = (size: Duration.DurationInput, options: { readonly offset?: Duration.DurationInput } = {}): Tumbling => {
  const millis = positiveMillis("size", size)
  return { _tag: "Tumbling", size: millis, offset: modulo(toMillis(options.offset ?? 0), millis) }
}

/**
 * Windows of `size` starting every `slide`; each record is in `size / slide` windows (rounded up).
 *
 * @since 0.1.0
 * @category constructors
 */
export const hopping = (
  size: Duration.DurationInput,
  slide: Duration.DurationInput,
  options: { readonly offset?: Duration.DurationInput } = {}
): Hopping => {
  const sizeMillis = positiveMillis("size", size)
  const slideMillis = positiveMillis("slide", slide)
  if (slideMillis > sizeMillis) throw new RangeError(`slide (${slideMillis} ms) must not exceed size (${sizeMillis} ms)`)
  return { _tag: "Hopping", size: sizeMillis, slide: slideMillis, offset: modulo(toMillis(options.offset ?? 0), slideMillis) }
}

/**
 * A window per burst of records of one key: it starts at the first record and ends `gap` after the last
 * one; a record that bridges two sessions merges them.
 *
 * @since 0.1.0
 * @category constructors
 */
export const session = (gap: Duration.DurationInput): Session => ({ _tag: "Session", gap: positiveMillis("gap", gap) })

/**
 * The start of the last window (tumbling or hopping) that contains `time`; earlier ones start every
 * `slide` before it, while they still contain `time`.
 *
 * @since 0.1.0
 * @category utils
 */
export const lastStart = (assigner: Tumbling | Hopping, time: number): number => {
  const step = assigner._tag === "Tumbling" ? assigner.size : assigner.slide
  return time - modulo(time - assigner.offset, step)
}

/**
 * Every window containing `time`, earliest first (for sessions: the window the record opens on its own).
 *
 * @since 0.1.0
 * @category utils
 */
export const windowsOf = (assigner: WindowAssigner, time: number): Array<{ readonly start: number; readonly end: number }> => {
  switch (assigner._tag) {
    case "Tumbling": {
      const start = lastStart(assigner, time)
      return [{ start, end: start + assigner.size }]
    }
    case "Hopping": {
      const out: Array<{ start: number; end: number }> = []
      for (let start = lastStart(assigner, time); start > time - assigner.size; start -= assigner.slide) {
        out.unshift({ start, end: start + assigner.size })
      }
      return out
    }
    case "Session":
      return [{ start: time, end: time + assigner.gap }]
  }
}

/**
 * What a window operator emits: one aggregate per key and window. `count` grows with every record the
 * window absorbs, so it orders the emissions of one window (a sink may refuse to overwrite a higher count
 * with a lower one).
 *
 * @since 0.1.0
 * @category models
 */
export interface WindowResult<K, O> {
  /** The key the records were grouped by. */
  readonly key: K
  /** Start of the window, epoch milliseconds, inclusive. */
  readonly start: number
  /** End of the window, epoch milliseconds, exclusive. */
  readonly end: number
  /** The aggregate's output for the records of the window so far. */
  readonly value: O
  /** Records aggregated so far. */
  readonly count: number
  /** The shards whose records are in the window, sorted. */
  readonly shards: ReadonlyArray<string>
  /**
   * "onTime": the watermark passed the end; "late": a late record (within the allowed lateness) updated a
   * window that had fired; "update": an early result of an open window (emit on update).
   */
  readonly firing: "onTime" | "late" | "update"
}

const toMillis = (input: Duration.DurationInput): number => Duration.toMillis(Duration.decode(input))

const positiveMillis = (name: string, input: Duration.DurationInput): number => {
  const millis = toMillis(input)
  if (!Number.isFinite(millis) || millis <= 0 || !Number.isInteger(millis)) {
    throw new RangeError(`${name} must be a whole, positive number of milliseconds, got ${millis}`)
  }
  return millis
}

// `%` of large doubles (epoch milliseconds) is a slow floating-point remainder: one in the common case
const modulo = (a: number, b: number): number => {
  const r = a % b
  return r >= 0 ? r : (r + b) % b
}
