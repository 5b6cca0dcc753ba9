/**
 * RFC 4180 CSV syntax: text in, rows of raw string fields out. Mapping columns to a Schema happens one layer up.
 *
 * Deliberate leniencies, all matching csv-spectrum: records may end with CRLF, LF or a lone CR; a quote that is
 * not the first character of a field is plain data (`37°36'37.8"N`); rows may have different field counts.
 *
 * @internal
 */
import { SyntaxFailure } from "./SyntaxFailure.js"

/** @internal */
export interface CsvOptions {
  /** One character, default "," */
  readonly delimiter: string
  /** One character, default '"' */
  readonly quote: string
}

/** @internal */
export const defaultCsvOptions: CsvOptions = { delimiter: ",", quote: "\"" }

const LF = 10
const CR = 13

/** @internal */
export const parseCsv = (
  text: string,
  options: CsvOptions = defaultCsvOptions
): ReadonlyArray<ReadonlyArray<string>> | SyntaxFailure => {
  const invalid = checkOptions(text, options)
  if (invalid !== undefined) return invalid
  const n = text.length
  const rows: Array<Array<string>> = []
  if (n === 0) return rows
  const delimiter = options.delimiter.charCodeAt(0)
  const quote = options.quote.charCodeAt(0)
  let row: Array<string> = []
  let i = 0
  while (true) {
    let field: string
    if (i < n && text.charCodeAt(i) === quote) {
      const open = i
      // Slices between doubled quotes, joined only when the field actually contains one.
      let value = ""
      let segment = open + 1
      while (true) {
        const close = text.indexOf(options.quote, segment)
        if (close === -1) return SyntaxFailure.at(text, open, "unterminated quoted field starting")
        if (close + 1 < n && text.charCodeAt(close + 1) === quote) {
          value += text.slice(segment, close + 1)
          i = close + 2
          segment = i
          continue
        }
        value += text.slice(segment, close)
        i = close + 1
        break
      }
      field = value
      if (i < n) {
        const c = text.charCodeAt(i)
        if (c !== delimiter && c !== LF && c !== CR) {
          return SyntaxFailure.at(
            text,
            i,
            `unexpected ${describeChar(text, i)} after closing quote; expected '${options.delimiter}' or a line break`
          )
        }
      }
    } else {
      const start = i
      while (i < n) {
        const c = text.charCodeAt(i)
        if (c === delimiter || c === LF || c === CR) break
        i++
      }
      field = text.slice(start, i)
    }
    row.push(field)
    if (i >= n) {
      rows.push(row)
      return rows
    }
    const c = text.charCodeAt(i)
    i++
    if (c === delimiter) continue
    if (c === CR && i < n && text.charCodeAt(i) === LF) i++
    rows.push(row)
    // A line break at the very end closes the last record instead of opening an empty one.
    if (i >= n) return rows
    row = []
  }
}

const checkOptions = (text: string, options: CsvOptions): SyntaxFailure | undefined => {
  const { delimiter, quote } = options
  if (delimiter.length !== 1) return SyntaxFailure.at(text, 0, `CSV delimiter must be one character, got '${delimiter}'`)
  if (quote.length !== 1) return SyntaxFailure.at(text, 0, `CSV quote must be one character, got '${quote}'`)
  if (delimiter === quote) return SyntaxFailure.at(text, 0, "CSV delimiter and quote must differ")
  if (isLineBreak(delimiter) || isLineBreak(quote)) {
    return SyntaxFailure.at(text, 0, "CSV delimiter and quote cannot be line breaks")
  }
  return undefined
}

const isLineBreak = (s: string): boolean => s === "\n" || s === "\r"

const describeChar = (text: string, i: number): string => {
  const c = text.charCodeAt(i)
  return c < 32 || c === 127 ? `U+${c.toString(16).toUpperCase().padStart(4, "0")}` : `'${text[i]}'`
}
