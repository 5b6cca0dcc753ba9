/**
 * How the archive stores records: gzip-compressed JSON lines, one record per line with its metadata and
 * its payload in base64, in one shard's sequence order. Shared by the raw archive (records) and the
 * dead-letter archive (the line splitter, gzip, reading objects).
 */
import * as Zlib from "node:zlib"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { DeadLetter } from "../DeadLetter.js"
import type { ObjectStoreShape } from "../ObjectStore.js"
import * as Sequence from "../SequenceNumber.js"
import type { SourceRecord } from "../SourceRecord.js"
import { SourceError } from "../TributaryError.js"
import { maxArrivalTime, namePattern } from "./archiveLayout.js"

export const defaultCompressionLevel = 6

/** gzip JSON lines of the records, fields in the order of `recordLine`. */
export const encodeRecords = (records: ReadonlyArray<SourceRecord>, compressionLevel: number): Effect.Effect<Uint8Array> => {
  const lines = new Array<string>(records.length)
  for (let i = 0; i < records.length; i++) lines[i] = recordLine(records[i])
  return gzip(lines.join("\n") + "\n", compressionLevel)
}

/** Records back from an object of `encodeRecords`; fails with the line that is not one. */
export const decodeRecords = (bytes: Uint8Array): Effect.Effect<ReadonlyArray<SourceRecord>, string> =>
  Effect.flatMap(gunzip(bytes), (text) => {
    const records: Array<SourceRecord> = []
    const invalid = forEachLine(text, (line, n) => {
      const record = parseRecordLine(line)
      if (typeof record === "string") return `line ${n}: ${record}`
      records.push(record)
      return undefined
    })
    return invalid === undefined ? Effect.succeed(records) : Effect.fail(invalid)
  })

/** Records in (sequence number, sub-sequence number) order, each position once. */
export const sortedUnique = (records: ReadonlyArray<SourceRecord>): ReadonlyArray<SourceRecord> => {
  let ordered = true
  for (let i = 1; i < records.length; i++) {
    if (comparePosition(records[i - 1], records[i]) >= 0) {
      ordered = false
      break
    }
  }
  if (ordered) return records
  const sorted = records.slice().sort(comparePosition)
  const unique: Array<SourceRecord> = [sorted[0]]
  for (let i = 1; i < sorted.length; i++) {
    if (comparePosition(unique[unique.length - 1], sorted[i]) !== 0) unique.push(sorted[i])
  }
  return unique
}

export const comparePosition = (a: SourceRecord | DeadLetter, b: SourceRecord | DeadLetter): number =>
  Sequence.compare(a.sequenceNumber, b.sequenceNumber) || a.subSequenceNumber - b.subSequenceNumber

/**
 * One record as a line: `{"stream","shardId","sequenceNumber","subSequenceNumber","partitionKey",
 * "arrivalTime","data"}` with `data` in base64.
 */
export const recordLine = (r: SourceRecord): string =>
  // names and sequence numbers were validated (no characters to escape); the partition key may have some
  `{"stream":"${r.stream}","shardId":"${r.shardId}","sequenceNumber":"${r.sequenceNumber}",` +
  `"subSequenceNumber":${r.subSequenceNumber},"partitionKey":${JSON.stringify(r.partitionKey)},` +
  `"arrivalTime":${r.arrivalTime},"data":"${Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength).toString("base64")}"}`

/** About the JSON-lines bytes of the records, without encoding them. */
export const estimateBytes = (records: ReadonlyArray<SourceRecord>): number => {
  let bytes = 0
  for (let i = 0; i < records.length; i++) {
    const r = records[i]
    bytes += 120 + r.stream.length + r.shardId.length + r.sequenceNumber.length + r.partitionKey.length +
      4 * Math.ceil(r.data.byteLength / 3)
  }
  return bytes
}

/** Why records cannot be archived (names that are not Kinesis', a bad position or time), or undefined. */
export const invalidRecordsReason = (records: ReadonlyArray<SourceRecord>): string | undefined => {
  let stream = ""
  let shardId = ""
  for (let i = 0; i < records.length; i++) {
    const r = records[i]
    // a page is one shard: check its names once
    if (r.stream !== stream || r.shardId !== shardId) {
      if (typeof r.stream !== "string" || !namePattern.test(r.stream)) {
        return `record ${i}: stream name ${JSON.stringify(r.stream)} is not 1 to 128 of [A-Za-z0-9_.-]`
      }
      if (typeof r.shardId !== "string" || !namePattern.test(r.shardId)) {
        return `record ${i}: shard id ${JSON.stringify(r.shardId)} is not 1 to 128 of [A-Za-z0-9_.-]`
      }
      stream = r.stream
      shardId = r.shardId
    }
    if (!Sequence.isSequenceNumber(r.sequenceNumber)) return `record ${i}: sequence number ${JSON.stringify(r.sequenceNumber)} is not decimal`
    if (!Number.isSafeInteger(r.subSequenceNumber) || r.subSequenceNumber < 0) return `record ${i}: bad sub-sequence number`
    if (!(r.arrivalTime >= 0 && r.arrivalTime <= maxArrivalTime)) return `record ${i}: arrival time ${r.arrivalTime} is outside 1970 to 9999`
    if (typeof r.partitionKey !== "string") return `record ${i}: the partition key is not a string`
    if (!(r.data instanceof Uint8Array)) return `record ${i}: data is not a Uint8Array`
  }
  return undefined
}

export const parseRecordLine = (line: string): SourceRecord | string => {
  let json: unknown
  try {
    json = JSON.parse(line)
  } catch {
    return "not JSON"
  }
  if (typeof json !== "object" || json === null) return "not a record"
  const o = json as Record<string, unknown>
  if (typeof o.stream !== "string" || typeof o.shardId !== "string") return "no stream or shard id"
  if (!Sequence.isSequenceNumber(o.sequenceNumber)) return "no sequence number"
  if (typeof o.subSequenceNumber !== "number" || !Number.isSafeInteger(o.subSequenceNumber)) return "no sub-sequence number"
  if (typeof o.partitionKey !== "string") return "no partition key"
  if (typeof o.arrivalTime !== "number" || !Number.isFinite(o.arrivalTime)) return "no arrival time"
  if (typeof o.data !== "string") return "no data"
  const bytes = Buffer.from(o.data, "base64")
  return {
    stream: o.stream,
    shardId: o.shardId,
    sequenceNumber: o.sequenceNumber,
    subSequenceNumber: o.subSequenceNumber,
    partitionKey: o.partitionKey,
    arrivalTime: o.arrivalTime,
    data: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }
}

/** Calls `f` per non-empty line (1-based numbers) until it returns a reason. */
export const forEachLine = (text: string, f: (line: string, n: number) => string | undefined): string | undefined => {
  let start = 0
  let n = 0
  while (start < text.length) {
    let end = text.indexOf("\n", start)
    if (end < 0) end = text.length
    n++
    if (end > start) {
      const invalid = f(text.slice(start, end), n)
      if (invalid !== undefined) return invalid
    }
    start = end + 1
  }
  return undefined
}

/** An object's bytes, undefined when it is gone since it was listed. */
export const fetchBytes = (store: ObjectStoreShape, key: string, source: string): Effect.Effect<Uint8Array | undefined, SourceError> =>
  store.get(key).pipe(
    // listed but gone since (deleted): nothing to read
    Effect.map(Option.getOrUndefined),
    Effect.mapError((error) => new SourceError({ source, reason: error.message, retryability: error.retryability, cause: error }))
  )

/** An object's text, gunzipped ("" when it is gone). */
export const fetchText = (store: ObjectStoreShape, key: string, source: string): Effect.Effect<string, SourceError> =>
  Effect.flatMap(fetchBytes(store, key, source), (bytes) =>
    bytes === undefined
      ? Effect.succeed("")
      : Effect.mapError(gunzip(bytes), (reason) => new SourceError({ source, reason: `${key}: ${reason}`, retryability: "permanent" })))

export const gzip = (text: string, level: number): Effect.Effect<Uint8Array> =>
  Effect.async<Uint8Array>((resume) => {
    // on the libuv thread pool: compression does not hold up the fibers
    Zlib.gzip(text, { level }, (error, result) => {
      if (error !== null) resume(Effect.die(error))
      else resume(Effect.succeed(new Uint8Array(result.buffer, result.byteOffset, result.byteLength)))
    })
  })

export const gunzip = (bytes: Uint8Array): Effect.Effect<string, string> =>
  Effect.async<string, string>((resume) => {
    Zlib.gunzip(bytes, (error, result) => {
      if (error !== null) resume(Effect.fail(`not gzip: ${error.message}`))
      else resume(Effect.succeed(result.toString("utf8")))
    })
  })

