/**
 * Decoding without a schema, for `tributary tail`: every field a record has, as it is written.
 *
 * JSON goes through `Decoder.json(Schema.Unknown)`. The text formats (CSV, key-value lines, XML) keep only
 * the fields their Schema names, so a permissive `Schema.Record` would decode them all to `{}`: for those,
 * the field names are read off the record (the CSV header, the keys before `:` or `=`, the XML element and
 * attribute names) and the record goes through the format's `Decoder` with a Schema of exactly those names,
 * each optional and of any type. The Decoder still does all the parsing and reports every failure; the
 * decoders are cached per format and set of names (a stream has few shapes).
 *
 * Values of text formats stay strings, as written (no Schema says they are numbers).
 */
import * as Decoder from "@tributary/core/Decoder"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import * as Schema from "effect/Schema"

export type Format = "auto" | "json" | "csv" | "keyValue" | "xml" | "apacheLog" | "raw"

export const formats: ReadonlyArray<Format> = ["auto", "json", "csv", "keyValue", "xml", "apacheLog", "raw"]

/** One line per record: the decoded value as JSON, or `error: <format> (line L, column C): <reason>`. */
export type Render = (records: ReadonlyArray<SourceRecord>) => Array<string>

const lenient = new TextDecoder("utf-8")
const maxCached = 1_000

const jsonDecoder: Decoder.Decoder<unknown> = Decoder.json(Schema.Unknown, { onExcessProperty: "preserve" })

/**
 * The renderer of a format. A batch is decoded group by group (one `decodeInto` per decoder), not one
 * record at a time.
 */
export const make = (format: Format): Render => {
  if (format === "raw") return (records) => records.map(raw)
  const cache = new Map<string, Decoder.Decoder<unknown>>()
  const decoderFor = (kind: Exclude<Format, "auto" | "raw">, text: string): Decoder.Decoder<unknown> => {
    if (kind === "json") return jsonDecoder
    if (kind === "apacheLog") return apacheLogDecoder
    const names = kind === "csv" ? csvNames(text) : kind === "keyValue" ? keyValueNames(text) : xmlNames(text)
    const key = `${kind}\u0000${names.header ? "h" : "-"}\u0000${names.names.join("\u0001")}`
    let decoder = cache.get(key)
    if (decoder === undefined) {
      if (cache.size >= maxCached) cache.clear()
      const schema = Schema.Struct(Object.fromEntries(names.names.map((name) => [name, Schema.optional(Schema.Unknown)])))
      decoder = loosen(
        kind === "csv"
          ? Decoder.csv(schema, names.header ? { header: "present" } : { header: "absent", columns: names.names })
          : kind === "keyValue"
          ? Decoder.keyValue(schema)
          : Decoder.xml(schema)
      )
      cache.set(key, decoder)
    }
    return decoder
  }

  return (records) => {
    const lines = new Array<string>(records.length)
    // records grouped by the decoder that reads them, in record order within a group
    const groups = new Map<Decoder.Decoder<unknown>, Array<number>>()
    for (let i = 0; i < records.length; i++) {
      const text = lenient.decode(records[i].data)
      const decoder = decoderFor(format === "auto" ? sniff(text) : format, text)
      const group = groups.get(decoder)
      if (group === undefined) groups.set(decoder, [i])
      else group.push(i)
    }
    for (const [decoder, indices] of groups) {
      const batch = Decoder.decodeAll(decoder, indices.map((i) => records[i]))
      const origins = Decoder.valueOrigins(batch)
      for (let j = 0; j < batch.values.length; j++) lines[indices[origins[j]]] = JSON.stringify(batch.values[j]) ?? "null"
      for (let j = 0; j < batch.failures.length; j++) {
        const failure = batch.failures[j]
        const at = failure.position === undefined ? "" : ` (line ${failure.position.line}, column ${failure.position.column})`
        lines[indices[batch.failureOrigins[j]]] = `error: ${failure.format}${at}: ${failure.reason}`
      }
    }
    return lines
  }
}

/** Only reads values, so any decoder is one of unknown values. */
const loosen = <A>(decoder: Decoder.Decoder<A>): Decoder.Decoder<unknown> => decoder as unknown as Decoder.Decoder<unknown>

const apacheLogDecoder = loosen(Decoder.apacheLog())

const utf8 = new TextDecoder("utf-8", { fatal: true })

const raw = (record: SourceRecord): string => {
  try {
    return JSON.stringify(utf8.decode(record.data))
  } catch {
    return JSON.stringify({ base64: Buffer.from(record.data).toString("base64") })
  }
}

// ---------------------------------------------------------------------------------------------------------
// which format, which names
// ---------------------------------------------------------------------------------------------------------

const apacheLogStart = /^[^\s"]+ [^\s"]+ [^\s"]+ \[[^\]\n]{1,64}\] "/

/** As `Decoder.auto` sniffs, except that a first line `name=value` without a comma is key-value text. */
const sniff = (text: string): Exclude<Format, "auto" | "raw"> => {
  const start = text.search(/\S/)
  if (start === -1) return "json"
  const first = text[start]
  if (first === "{" || first === "[") return "json"
  if (first === "<") return "xml"
  const head = text.slice(start, start + 512)
  if (apacheLogStart.test(head)) return "apacheLog"
  const lineEnd = head.search(/[\r\n]/)
  const line = lineEnd === -1 ? head : head.slice(0, lineEnd)
  const separator = line.search(/[:=]/)
  return separator > 0 && !line.includes(",") ? "keyValue" : "csv"
}

interface Names {
  readonly names: ReadonlyArray<string>
  /** CSV: whether the first row is the header. */
  readonly header: boolean
}

const unique = (names: Iterable<string>): Array<string> => [...new Set(names)].filter((name) => name !== "")

/** The header row's cells when there are two rows or more; else `column1`, `column2`, ... */
const csvNames = (text: string): Names => {
  const lines = text.split(/\r\n|\n|\r/).filter((line) => line.trim() !== "")
  const cells = splitCsvLine(lines[0] ?? "")
  if (lines.length >= 2) return { names: unique(cells.map((cell) => cell.trim())), header: true }
  return { names: cells.map((_, i) => `column${i + 1}`), header: false }
}

/** One CSV line into its cells, with RFC 4180 quotes. */
const splitCsvLine = (line: string): Array<string> => {
  const cells: Array<string> = []
  let cell = ""
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (quoted) {
      if (c === "\"" && line[i + 1] === "\"") {
        cell += "\""
        i++
      } else if (c === "\"") quoted = false
      else cell += c
    } else if (c === "\"" && cell === "") quoted = true
    else if (c === ",") {
      cells.push(cell)
      cell = ""
    } else cell += c
  }
  cells.push(cell)
  return cells
}

/** The key of each line: what comes before its first `:` or `=`. */
const keyValueNames = (text: string): Names => {
  const names: Array<string> = []
  for (const line of text.split("\n")) {
    const separator = line.search(/[:=]/)
    if (separator > 0) names.push(line.slice(0, separator).trim())
  }
  return { names: unique(names), header: false }
}

/** Every element and attribute name in the document (names that are not the root's fields stay absent). */
const xmlNames = (text: string): Names => {
  const names: Array<string> = []
  for (const match of text.matchAll(/<([A-Za-z_][\w.:-]*)([^<>]*)/g)) {
    names.push(match[1])
    for (const attribute of match[2].matchAll(/([A-Za-z_][\w.:-]*)\s*=/g)) names.push(attribute[1])
  }
  // the root's own text, which the XML decoder keeps as "#text"
  if (!names.some((name) => name.toLowerCase() === "text")) names.push("#text")
  return { names: unique(names), header: false }
}
