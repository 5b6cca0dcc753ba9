/**
 * KPL record aggregation: many user records packed into one Kinesis record, as the Kinesis Producer
 * Library writes them and the KCL reads them.
 *
 * Format: the magic bytes F3 89 9A C2, a protobuf `AggregatedRecord { repeated string partition_key_table = 1;
 * repeated string explicit_hash_key_table = 2; repeated Record records = 3 }` with `Record { uint64
 * partition_key_index = 1; uint64 explicit_hash_key_index = 2; bytes data = 3; repeated Tag tags = 4 }`, then
 * the 16-byte MD5 of the protobuf bytes. A record without the magic, with a wrong MD5 or with protobuf that
 * does not parse is a plain record: decoding never throws.
 *
 * The user records of one aggregated record share its sequence number and are told apart by their
 * sub-sequence number (their index in it).
 *
 * @since 0.1.0
 */
import type { SourceRecord } from "@tributary/core/SourceRecord"
import { createHash } from "node:crypto"

/**
 * The four bytes (F3 89 9A C2) an aggregated record starts with.
 *
 * @since 0.1.0
 * @category constants
 */
export const magic: Uint8Array = Uint8Array.of(0xf3, 0x89, 0x9a, 0xc2)

/**
 * The KPL's default maximum size of an aggregated record.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxBytes = 51_200

/**
 * One user record of an aggregated record.
 *
 * @since 0.1.0
 * @category models
 */
export interface UserRecord {
  /** The partition key the user record was put with. */
  readonly partitionKey: string
  /** The explicit hash key it was put with; undefined when it had none. */
  readonly explicitHashKey: string | undefined
  /** The user record's payload. */
  readonly data: Uint8Array
}

/**
 * The user records inside an aggregated record, or undefined when `data` is a plain record. The returned
 * `data` arrays are views into `data` (no copies).
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (data: Uint8Array): ReadonlyArray<UserRecord> | undefined => {
  if (!hasMagic(data) || data.length < magic.length + 16) return undefined
  const body = data.subarray(magic.length, data.length - 16)
  const digest = createHash("md5").update(body).digest()
  const expected = data.subarray(data.length - 16)
  for (let i = 0; i < 16; i++) if (digest[i] !== expected[i]) return undefined
  return parseAggregate(body)
}

/**
 * True when `data` is a well-formed aggregated record (magic, MD5 and protobuf all check out).
 *
 * @since 0.1.0
 * @category decoding
 */
export const isAggregated = (data: Uint8Array): boolean => decode(data) !== undefined

/**
 * Expands the aggregated records of a batch into their user records (each with its own partition key and
 * its sub-sequence number); plain records pass through untouched. Order is kept.
 *
 * @since 0.1.0
 * @category decoding
 */
export const deaggregate = (records: ReadonlyArray<SourceRecord>): ReadonlyArray<SourceRecord> => {
  let out: Array<SourceRecord> | undefined
  for (let i = 0; i < records.length; i++) {
    const record = records[i]
    const users = hasMagic(record.data) ? decode(record.data) : undefined
    if (users === undefined) {
      if (out !== undefined) out.push(record)
      continue
    }
    // copy-on-first-aggregate: a batch of plain records is returned as is
    if (out === undefined) out = records.slice(0, i)
    for (let j = 0; j < users.length; j++) {
      out.push({
        stream: record.stream,
        shardId: record.shardId,
        sequenceNumber: record.sequenceNumber,
        subSequenceNumber: j,
        partitionKey: users[j].partitionKey,
        arrivalTime: record.arrivalTime,
        data: users[j].data
      })
    }
  }
  return out ?? records
}

/**
 * Packs user records into one aggregated record's bytes (magic + protobuf + MD5).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (
  records: ReadonlyArray<{ readonly partitionKey: string; readonly explicitHashKey?: string | undefined; readonly data: Uint8Array }>
): Uint8Array => {
  const aggregator = new Aggregator(Number.MAX_SAFE_INTEGER)
  for (const record of records) aggregator.add(record.partitionKey, record.explicitHashKey, record.data)
  return aggregator.bytes()
}

/**
 * Builds one aggregated record incrementally, knowing its encoded size at every step, so a producer can
 * stop adding before `maxBytes`.
 *
 * @since 0.1.0
 * @category encoding
 */
export class Aggregator {
  private readonly keys = new Map<string, number>()
  private readonly keyBytes: Array<Uint8Array> = []
  private readonly hashKeys = new Map<string, number>()
  private readonly hashKeyBytes: Array<Uint8Array> = []
  private readonly records: Array<{ readonly key: number; readonly hashKey: number; readonly data: Uint8Array; readonly size: number }> = []
  private protobufSize = 0

  /**
   * An empty aggregate.
   *
   * @param maxBytes The size an aggregated record may reach, in bytes; a single record larger than it is
   *   still added to an empty aggregate. Default `defaultMaxBytes` (51,200).
   */
  constructor(readonly maxBytes: number = defaultMaxBytes) {}

  /** User records added so far. */
  get count(): number {
    return this.records.length
  }

  /** Size of the aggregated record as it would be encoded now (magic + protobuf + MD5). */
  get size(): number {
    return magic.length + this.protobufSize + 16
  }

  /** The size after adding this record (without adding it). */
  sizeWith(partitionKey: string, explicitHashKey: string | undefined, dataLength: number): number {
    return this.size + this.growth(partitionKey, explicitHashKey, dataLength)
  }

  /**
   * Adds the record if the result stays within `maxBytes` (or the aggregate is empty); answers whether it
   * was added.
   */
  add(partitionKey: string, explicitHashKey: string | undefined, data: Uint8Array): boolean {
    if (this.records.length > 0 && this.sizeWith(partitionKey, explicitHashKey, data.length) > this.maxBytes) return false
    let key = this.keys.get(partitionKey)
    if (key === undefined) {
      const bytes = utf8.encode(partitionKey)
      key = this.keyBytes.length
      this.keys.set(partitionKey, key)
      this.keyBytes.push(bytes)
      this.protobufSize += fieldSize(bytes.length)
    }
    let hashKey = -1
    if (explicitHashKey !== undefined) {
      const known = this.hashKeys.get(explicitHashKey)
      if (known === undefined) {
        const bytes = utf8.encode(explicitHashKey)
        hashKey = this.hashKeyBytes.length
        this.hashKeys.set(explicitHashKey, hashKey)
        this.hashKeyBytes.push(bytes)
        this.protobufSize += fieldSize(bytes.length)
      } else {
        hashKey = known
      }
    }
    const size = recordSize(key, hashKey, data.length)
    this.records.push({ key, hashKey, data, size })
    this.protobufSize += fieldSize(size)
    return true
  }

  /** The encoded aggregated record. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.size)
    out.set(magic, 0)
    let at = magic.length
    const writeVarint = (value: number) => {
      while (value >= 0x80) {
        out[at++] = (value & 0x7f) | 0x80
        value = Math.floor(value / 128)
      }
      out[at++] = value
    }
    const writeBytes = (tag: number, bytes: Uint8Array) => {
      out[at++] = tag
      writeVarint(bytes.length)
      out.set(bytes, at)
      at += bytes.length
    }
    for (const key of this.keyBytes) writeBytes(0x0a, key)
    for (const hashKey of this.hashKeyBytes) writeBytes(0x12, hashKey)
    for (const record of this.records) {
      out[at++] = 0x1a
      writeVarint(record.size)
      out[at++] = 0x08
      writeVarint(record.key)
      if (record.hashKey >= 0) {
        out[at++] = 0x10
        writeVarint(record.hashKey)
      }
      writeBytes(0x1a, record.data)
    }
    const digest = createHash("md5").update(out.subarray(magic.length, at)).digest()
    out.set(digest, at)
    return out
  }

  private growth(partitionKey: string, explicitHashKey: string | undefined, dataLength: number): number {
    let growth = 0
    let key = this.keys.get(partitionKey)
    if (key === undefined) {
      key = this.keyBytes.length
      growth += fieldSize(Buffer.byteLength(partitionKey, "utf8"))
    }
    let hashKey = -1
    if (explicitHashKey !== undefined) {
      const known = this.hashKeys.get(explicitHashKey)
      if (known === undefined) {
        hashKey = this.hashKeyBytes.length
        growth += fieldSize(Buffer.byteLength(explicitHashKey, "utf8"))
      } else {
        hashKey = known
      }
    }
    return growth + fieldSize(recordSize(key, hashKey, dataLength))
  }
}

// ---------------------------------------------------------------------------------------------------------
// internal: a hand-written protobuf reader/writer for exactly these two messages
// ---------------------------------------------------------------------------------------------------------

const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder("utf-8", { fatal: true })

const hasMagic = (data: Uint8Array): boolean =>
  data.length >= 4 && data[0] === 0xf3 && data[1] === 0x89 && data[2] === 0x9a && data[3] === 0xc2

const varintSize = (value: number): number => {
  let size = 1
  while (value >= 0x80) {
    value = Math.floor(value / 128)
    size++
  }
  return size
}

/** A length-delimited field: tag + length + bytes. */
const fieldSize = (length: number): number => 1 + varintSize(length) + length

const recordSize = (key: number, hashKey: number, dataLength: number): number =>
  1 + varintSize(key) + (hashKey >= 0 ? 1 + varintSize(hashKey) : 0) + fieldSize(dataLength)

/** Reads protobuf wire format from a byte range; every read checks bounds and reports failure as -1. */
class Reader {
  at: number
  constructor(readonly bytes: Uint8Array, start: number, readonly end: number) {
    this.at = start
  }

  /** A varint up to 2^53, or -1 when malformed or too large. */
  varint(): number {
    let result = 0
    let scale = 1
    for (let i = 0; i < 10; i++) {
      if (this.at >= this.end) return -1
      const byte = this.bytes[this.at++]
      result += (byte & 0x7f) * scale
      if (result > Number.MAX_SAFE_INTEGER) return -1
      if ((byte & 0x80) === 0) return result
      scale *= 128
    }
    return -1
  }

  /** Skips a field of the given wire type; false when it runs past the end or the type is unknown. */
  skip(wireType: number): boolean {
    switch (wireType) {
      case 0:
        return this.varint() >= 0
      case 1:
        this.at += 8
        return this.at <= this.end
      case 2: {
        const length = this.varint()
        if (length < 0) return false
        this.at += length
        return this.at <= this.end
      }
      case 5:
        this.at += 4
        return this.at <= this.end
      default:
        return false
    }
  }
}

const parseAggregate = (body: Uint8Array): ReadonlyArray<UserRecord> | undefined => {
  const reader = new Reader(body, 0, body.length)
  const keys: Array<string> = []
  const hashKeys: Array<string> = []
  const raw: Array<{ key: number; hashKey: number; data: Uint8Array }> = []
  while (reader.at < reader.end) {
    const tag = reader.varint()
    if (tag < 0) return undefined
    const field = Math.floor(tag / 8)
    const wireType = tag & 7
    if ((field === 1 || field === 2 || field === 3) && wireType === 2) {
      const length = reader.varint()
      if (length < 0 || reader.at + length > reader.end) return undefined
      const start = reader.at
      reader.at += length
      if (field === 3) {
        const record = parseRecord(body, start, start + length)
        if (record === undefined) return undefined
        raw.push(record)
      } else {
        let text: string
        try {
          text = utf8Decoder.decode(body.subarray(start, start + length))
        } catch {
          return undefined
        }
        ;(field === 1 ? keys : hashKeys).push(text)
      }
    } else if (!reader.skip(wireType)) {
      return undefined
    }
  }
  const out: Array<UserRecord> = new Array(raw.length)
  for (let i = 0; i < raw.length; i++) {
    const { data, hashKey, key } = raw[i]
    if (key >= keys.length || (hashKey >= 0 && hashKey >= hashKeys.length)) return undefined
    out[i] = { partitionKey: keys[key], explicitHashKey: hashKey >= 0 ? hashKeys[hashKey] : undefined, data }
  }
  return out
}

const parseRecord = (bytes: Uint8Array, start: number, end: number) => {
  const reader = new Reader(bytes, start, end)
  let key = -1
  let hashKey = -1
  let data: Uint8Array | undefined
  while (reader.at < reader.end) {
    const tag = reader.varint()
    if (tag < 0) return undefined
    const field = Math.floor(tag / 8)
    const wireType = tag & 7
    if (field === 1 && wireType === 0) {
      key = reader.varint()
      if (key < 0) return undefined
    } else if (field === 2 && wireType === 0) {
      hashKey = reader.varint()
      if (hashKey < 0) return undefined
    } else if (field === 3 && wireType === 2) {
      const length = reader.varint()
      if (length < 0 || reader.at + length > reader.end) return undefined
      data = bytes.subarray(reader.at, reader.at + length)
      reader.at += length
    } else if (!reader.skip(wireType)) {
      return undefined
    }
  }
  // both are required fields
  if (key < 0 || data === undefined) return undefined
  return { key, hashKey, data }
}
