/**
 * "Key: value" / "Key = value" lines, as people write them in e-mails, tickets and plain-text exports.
 *
 * @internal
 */
import { SyntaxFailure } from "./SyntaxFailure.js"

const LF = 10
const COLON = 58
const EQ = 61

/**
 * The separator is the first ':' or '=' on a line, so values may contain either (times, URLs, base64).
 * Keys and values are trimmed, blank lines skipped, duplicate keys kept in order.
 *
 * @internal
 */
export const parseKeyValue = (text: string): ReadonlyArray<readonly [key: string, value: string]> | SyntaxFailure => {
  const n = text.length
  const pairs: Array<readonly [string, string]> = []
  let lineStart = 0
  while (lineStart <= n) {
    let separator = -1
    let i = lineStart
    for (; i < n; i++) {
      const c = text.charCodeAt(i)
      if (c === LF) break
      if (separator === -1 && (c === COLON || c === EQ)) separator = i
    }
    // CRLF needs no special case: trim() drops the CR with the rest of the trailing whitespace.
    if (separator === -1) {
      const content = firstNonBlank(text, lineStart, i)
      if (content !== -1) {
        return SyntaxFailure.at(text, content, "expected ':' or '=' between key and value on this line")
      }
    } else {
      const key = text.slice(lineStart, separator).trim()
      if (key === "") return SyntaxFailure.at(text, separator, `empty key before '${text[separator]}'`)
      pairs.push([key, text.slice(separator + 1, i).trim()])
    }
    lineStart = i + 1
  }
  if (pairs.length === 0) return SyntaxFailure.at(text, 0, "no key-value lines; expected lines such as 'Key: value'")
  return pairs
}

/** Offset of the first character trim() would keep, or -1 for a blank line. */
const firstNonBlank = (text: string, start: number, end: number): number => {
  const trimmed = text.slice(start, end).trimStart()
  return trimmed === "" ? -1 : end - trimmed.length
}
