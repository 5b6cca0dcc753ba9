/**
 * Decoding without a schema, for `tributary tail`: every field a record has, as it is written.
 *
 * JSON goes through `Decoder.json(Schema.Unknown)` (any JSON value). The text formats (CSV, key-value lines,
 * XML, Apache logs) go through the format's `Decoder` with a `Schema.Record`: a Schema with a string index
 * signature keeps every name as written, and values stay text (no Schema says they are numbers).
 */
import * as Decoder from "@tributary/core/Decoder"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import * as Schema from "effect/Schema"

export type Format = "auto" | "json" | "csv" | "keyValue" | "xml" | "apacheLog" | "raw"

/** One line per record: the decoded value as JSON, or `error: <format> (line L, column C): <reason>`. */
export type Render = (records: ReadonlyArray<SourceRecord>) => Array<string>

/** Only reads values, so any decoder is one of unknown values. */
const loosen = <A>(decoder: Decoder.Decoder<A>): Decoder.Decoder<unknown> => decoder as unknown as Decoder.Decoder<unknown>

const Fields = Schema.Record({ key: Schema.String, value: Schema.Unknown })

const decoders: Readonly<Record<Exclude<Format, "raw">, Decoder.Decoder<unknown>>> = {
  auto: loosen(Decoder.auto(Fields)),
  json: Decoder.json(Schema.Unknown, { onExcessProperty: "preserve" }),
  csv: loosen(Decoder.csv(Fields)),
  keyValue: loosen(Decoder.keyValue(Fields)),
  xml: loosen(Decoder.xml(Fields)),
  apacheLog: loosen(Decoder.apacheLog())
}

/** JSON that is not an object (an array, a number) is still a value to show. */
const looksLikeJson = (data: Uint8Array): boolean => {
  for (const byte of data) {
    if (byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d) continue
    return byte === 0x7b || byte === 0x5b
  }
  return false
}

/**
 * The renderer of a format. A batch is decoded group by group (one `decodeAll` per decoder), not one
 * record at a time.
 */
export const make = (format: Format): Render => {
  if (format === "raw") return (records) => records.map(raw)
  return (records) => {
    const lines = new Array<string>(records.length)
    // records grouped by the decoder that reads them, in record order within a group
    const groups = new Map<Decoder.Decoder<unknown>, Array<number>>()
    for (let i = 0; i < records.length; i++) {
      const decoder = format === "auto" && looksLikeJson(records[i].data) ? decoders.json : decoders[format]
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

const utf8 = new TextDecoder("utf-8", { fatal: true })

const raw = (record: SourceRecord): string => {
  try {
    return JSON.stringify(utf8.decode(record.data))
  } catch {
    return JSON.stringify({ base64: Buffer.from(record.data).toString("base64") })
  }
}
