/**
 * Building the reason of a dead letter from whatever a record's failure produced (an exception, a value, a
 * time), with work and size bounded whatever the input: a reason is written for every poison record, so
 * building it must neither throw nor grow with the payload.
 *
 * @internal
 */

/** @internal */
export const maxReasonLength = 4096

/** A reason cut to `maxReasonLength` characters, saying how much was left out. */
export const capReason = (reason: string): string => {
  if (reason.length <= maxReasonLength) return reason
  const note = ` … (${reason.length - maxReasonLength} more characters left out)`
  return reason.slice(0, maxReasonLength - note.length) + note
}

/**
 * `<name>: <message>` for an Error, `thrown: <value>` for anything else thrown; never throws (a getter or
 * a `toString` that throws, a Proxy, a revoked Proxy) and never longer than `maxReasonLength`.
 */
export const thrownReason = (error: unknown): string => {
  try {
    if (error instanceof Error) return capReason(`${String(error.name)}: ${String(error.message)}`)
    return capReason(`thrown: ${typeof error === "string" ? error : preview(error)}`)
  } catch {
    return "thrown: a value that cannot be shown"
  }
}

/**
 * A short, JSON-like rendering of any value for a reason: at most about `max` characters however large or
 * deep the value (it stops at the budget, so it never walks the whole value), and it never throws.
 */
export const preview = (value: unknown, max = 80): string => {
  let out = ""
  let cut = false
  const write = (s: string): boolean => {
    if (out.length + s.length > max) {
      out += s.slice(0, Math.max(0, max - out.length))
      cut = true
      return false
    }
    out += s
    return true
  }
  // depth is bounded by the budget: each level writes at least one character
  const go = (v: unknown): boolean => {
    switch (typeof v) {
      case "string":
        return write(JSON.stringify(v.length > max ? v.slice(0, max) : v))
      case "number":
      case "boolean":
      case "undefined":
      case "symbol":
        return write(String(v))
      case "bigint":
        return write(`${v}n`)
      case "function":
        return write("[function]")
    }
    if (v === null) return write("null")
    if (Array.isArray(v)) {
      if (!write("[")) return false
      for (let i = 0; i < v.length; i++) {
        if ((i > 0 && !write(",")) || !go(v[i])) return false
      }
      return write("]")
    }
    if (v instanceof Date) return write(isoTime(v.getTime()))
    if (!write("{")) return false
    let first = true
    for (const key in v as object) {
      if (!Object.prototype.hasOwnProperty.call(v, key)) continue
      if ((!first && !write(",")) || !write(`${JSON.stringify(key.length > max ? key.slice(0, max) : key)}:`)) return false
      first = false
      if (!go((v as Record<string, unknown>)[key])) return false
    }
    return write("}")
  }
  try {
    go(value)
  } catch {
    return out === "" ? "[a value that cannot be shown]" : `${out}…`
  }
  return cut ? `${out}…` : out
}

/** The largest distance from the epoch, in milliseconds, a `Date` can hold (ECMAScript's time range). */
export const maxTime = 8.64e15

/** ISO 8601 for a time a `Date` can hold, the number as written otherwise: never throws. */
export const isoTime = (millis: number): string =>
  Number.isFinite(millis) && Math.abs(millis) <= maxTime ? new Date(millis).toISOString() : String(millis)
