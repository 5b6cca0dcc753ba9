/**
 * An in-memory sharded stream that behaves like a Kinesis stream: partition keys hash (MD5) onto shards
 * by hash range, sequence numbers are large decimal strings that grow per shard, and the service's limits
 * are enforced (500 records and 5 MiB per put, 1 MiB per record, partition keys of 1 to 256 characters).
 * Read it as a `RecordSource`, with checkpoints kept beside it so a restarted source resumes.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { Checkpoint, ShardReader } from "./RecordSource.js"
import { RecordSource } from "./RecordSource.js"
import type { RecordSink } from "./RecordSink.js"
import * as Sequence from "./SequenceNumber.js"
import type { SourceRecord } from "./SourceRecord.js"
import { SinkError } from "./TributaryError.js"

/**
 * A record to append with `put`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PutEntry {
  /** Picks the shard (by the MD5 hash of the key); 1 to 256 characters. */
  readonly partitionKey: string
  /** The payload; a string is stored UTF-8 encoded. At most 1 MiB. */
  readonly data: Uint8Array | string
}

/**
 * Where `put` stored an entry.
 *
 * @since 0.1.0
 * @category models
 */
export interface PutResult {
  /** The shard the entry's partition key hashed to. */
  readonly shardId: string
  /** The sequence number the stream assigned to the record. */
  readonly sequenceNumber: string
}

/**
 * A stream held in memory, made with `make`: write it with `put` or `sink`, read it with `source` or
 * `layerSource`.
 *
 * @since 0.1.0
 * @category models
 */
export interface MemoryStream {
  /** The stream's name, in its records' `stream` and in errors. */
  readonly name: string
  /** The shards, `shardId-000000000000` and on, each owning an equal slice of the hash-key range. */
  readonly shardIds: ReadonlyArray<string>
  /** Appends records like PutRecords: all or nothing here (the in-memory stream is never throttled). */
  readonly put: (entries: ReadonlyArray<PutEntry>) => Effect.Effect<ReadonlyArray<PutResult>, SinkError>
  /** Every record of a shard, in order. */
  readonly records: (shardId: string) => ReadonlyArray<SourceRecord>
  /**
   * The last checkpoint per shard of a consumer application (like a KCL application's lease table, each
   * application reading the stream keeps its own).
   */
  readonly checkpoints: (application?: string) => Effect.Effect<ReadonlyMap<string, Checkpoint>>
  /** Stores (replacing) an application's checkpoint of a shard, as a reader's `checkpoint` does. */
  readonly storeCheckpoint: (application: string, shardId: string, position: Checkpoint) => Effect.Effect<void>
}

/**
 * Options of `source` and `layerSource`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadOptions {
  /** The consumer application whose checkpoints to resume from and store. Default "default". */
  readonly application?: string
  /**
   * Where to start in a shard that has no checkpoint: the oldest record, only records put from now on, or
   * the first record that arrived at or after a time (`{ atTimestamp }`, a `Date` or epoch milliseconds,
   * like Kinesis' AT_TIMESTAMP). Default "TRIM_HORIZON".
   */
  readonly from?: "TRIM_HORIZON" | "LATEST" | { readonly atTimestamp: Date | number }
  /** Records per page (Kinesis' GetRecords limit). Default 10,000. */
  readonly maxRecords?: number
  /**
   * false (default): a bounded read that ends when every shard is drained, like a batch job;
   * true: keep polling for new records, waiting `idleInterval` after an empty page.
   */
  readonly follow?: boolean
  /** With `follow`, how long to wait after an empty page before polling again. Default 1 second. */
  readonly idleInterval?: Duration.DurationInput
}

/**
 * Kinesis' per-call and per-record limits.
 *
 * @since 0.1.0
 * @category constants
 */
export const limits = {
  maxRecordsPerPut: 500,
  maxBytesPerPut: 5 * 1024 * 1024,
  maxRecordBytes: 1024 * 1024,
  maxPartitionKeyLength: 256,
  maxRecordsPerRead: 10_000
} as const

/**
 * Creates an empty stream with `shards` shards (default 1), named `name` (default "memory-stream").
 * Dies with a `RangeError` unless `shards` is a positive integer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: { readonly name?: string; readonly shards?: number } = {}): Effect.Effect<MemoryStream> =>
  Effect.sync(() => unsafeMake(options))

/**
 * `make` outside an effect, for setup code; throws a `RangeError` unless `shards` is a positive integer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unsafeMake = (options: { readonly name?: string; readonly shards?: number } = {}): MemoryStream => {
  const name = options.name ?? "memory-stream"
  const shardCount = options.shards ?? 1
  if (!Number.isInteger(shardCount) || shardCount < 1) throw new RangeError(`shards must be a positive integer, got ${shardCount}`)
  const shardIds = Array.from({ length: shardCount }, (_, i) => `shardId-${String(i).padStart(12, "0")}`)
  const logs = shardIds.map(() => [] as Array<SourceRecord>)
  const counters = shardIds.map(() => 0n)
  const checkpoints = new Map<string, Map<string, Checkpoint>>()
  const checkpointsOf = (application: string) => {
    let shards = checkpoints.get(application)
    if (shards === undefined) checkpoints.set(application, shards = new Map())
    return shards
  }
  // Hash keys are 128-bit; shard i owns [i * span, (i + 1) * span).
  const span = (1n << 128n) / BigInt(shardCount)
  const encoder = new TextEncoder()

  const shardIndexOf = (partitionKey: string): number => {
    const hash = BigInt("0x" + createHash("md5").update(partitionKey, "utf8").digest("hex"))
    return Math.min(shardCount - 1, Number(hash / span))
  }

  const put = (entries: ReadonlyArray<PutEntry>) =>
    Effect.clockWith((clock) =>
      Effect.suspend(() => {
        const invalid = validate(name, entries)
        if (invalid !== undefined) return Effect.fail(invalid)
        const now = clock.unsafeCurrentTimeMillis()
        const results: Array<PutResult> = []
        for (const entry of entries) {
          const shard = shardIndexOf(entry.partitionKey)
          counters[shard] += 1n
          const record: SourceRecord = {
            stream: name,
            shardId: shardIds[shard],
            sequenceNumber: sequenceNumberOf(shard, counters[shard]),
            subSequenceNumber: 0,
            partitionKey: entry.partitionKey,
            arrivalTime: now,
            data: typeof entry.data === "string" ? encoder.encode(entry.data) : entry.data
          }
          logs[shard].push(record)
          results.push({ shardId: record.shardId, sequenceNumber: record.sequenceNumber })
        }
        return Effect.succeed(results)
      })
    )

  return {
    name,
    shardIds,
    put,
    records: (shardId) => logs[shardIds.indexOf(shardId)] ?? [],
    checkpoints: (application = "default") => Effect.sync(() => new Map(checkpointsOf(application))),
    storeCheckpoint: (application, shardId, position) =>
      Effect.sync(() => void checkpointsOf(application).set(shardId, position))
  }
}

/**
 * Reads the stream: one `ShardReader` per shard, resuming after each shard's stored checkpoint.
 *
 * @since 0.1.0
 * @category sources
 */
export const source = (stream: MemoryStream, options: ReadOptions = {}): RecordSource["Type"] => {
  const maxRecords = options.maxRecords ?? limits.maxRecordsPerRead
  if (!Number.isInteger(maxRecords) || maxRecords < 1 || maxRecords > limits.maxRecordsPerRead) {
    throw new RangeError(`maxRecords must be an integer from 1 to ${limits.maxRecordsPerRead}, got ${maxRecords}`)
  }
  const idle = Duration.decode(options.idleInterval ?? "1 second")
  const application = options.application ?? "default"

  const reader = (shardId: string, resumeFrom: Checkpoint | undefined): ShardReader => {
    const log = stream.records(shardId)
    const batches = Stream.suspend(() => {
      // the start is fixed when reading starts, like GetShardIterator
      const first = resumeFrom !== undefined ? firstAfter(log, resumeFrom) : startOf(log, options.from)
      return Stream.paginateEffect(first, (next): Effect.Effect<readonly [ReadonlyArray<SourceRecord>, Option.Option<number>]> => {
        if (next < log.length) {
          const end = Math.min(log.length, next + maxRecords)
          return Effect.succeed([log.slice(next, end), Option.some(end)] as const)
        }
        if (options.follow !== true) return Effect.succeed([[], Option.none()] as const)
        return Effect.as(Effect.sleep(idle), [[], Option.some(next)] as const)
      }).pipe(Stream.filter((page) => page.length > 0))
    })
    return {
      shardId,
      batches,
      resumeFrom,
      checkpoint: (checkpoint) => stream.storeCheckpoint(application, shardId, checkpoint)
    }
  }

  return {
    name: stream.name,
    shards: Stream.fromIterableEffect(
      Effect.map(stream.checkpoints(application), (checkpoints) =>
        stream.shardIds.map((shardId) => reader(shardId, checkpoints.get(shardId))))
    )
  }
}

/**
 * Provides `RecordSource` reading the stream, as `source` does (and, like it, throws a `RangeError` for a
 * `maxRecords` outside 1 to 10,000).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSource = (stream: MemoryStream, options?: ReadOptions): Layer.Layer<RecordSource> =>
  Layer.succeed(RecordSource, source(stream, options))

/**
 * The stream as a sink: writes each batch as PutRecords calls of at most 500 records and 5 MiB (a record
 * over 1 MiB fails its put, as on Kinesis).
 *
 * @since 0.1.0
 * @category sinks
 */
export const sink = <A>(
  stream: MemoryStream,
  toEntry: (item: A) => PutEntry
): RecordSink<A> => ({
  name: `memory-stream:${stream.name}`,
  write: (items) =>
    Effect.forEach(putsOf(items.map(toEntry)), (entries) => stream.put(entries), { discard: true })
})

// ---------------------------------------------------------------------------------------------------------
// internal
// ---------------------------------------------------------------------------------------------------------

// Shaped like real ones (56 digits), spaced by a prime so nothing can assume consecutive numbers.
const sequenceBase = 49_590_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000n
const sequenceNumberOf = (shard: number, counter: bigint): string =>
  (sequenceBase + BigInt(shard) * 10n ** 40n + counter * 7_919n).toString()

const startOf = (log: ReadonlyArray<SourceRecord>, from: ReadOptions["from"]): number => {
  if (from === undefined || from === "TRIM_HORIZON") return 0
  if (from === "LATEST") return log.length
  const timestamp = typeof from.atTimestamp === "number" ? from.atTimestamp : from.atTimestamp.getTime()
  // arrival times never decrease along a shard
  const index = log.findIndex((record) => record.arrivalTime >= timestamp)
  return index === -1 ? log.length : index
}

const firstAfter = (log: ReadonlyArray<SourceRecord>, position: Checkpoint): number => {
  let low = 0
  let high = log.length
  while (low < high) {
    const mid = (low + high) >>> 1
    const order = Sequence.compare(log[mid].sequenceNumber, position.sequenceNumber)
    if (order < 0 || (order === 0 && log[mid].subSequenceNumber <= position.subSequenceNumber)) low = mid + 1
    else high = mid
  }
  return low
}

const validate = (name: string, entries: ReadonlyArray<PutEntry>): SinkError | undefined => {
  const fail = (reason: string) =>
    new SinkError({ sink: `memory-stream:${name}`, reason: `ValidationException: ${reason}`, retryability: "permanent" })
  if (entries.length === 0) return fail("records must contain at least 1 entry")
  if (entries.length > limits.maxRecordsPerPut) {
    return fail(`${entries.length} records in one put; at most ${limits.maxRecordsPerPut} are allowed`)
  }
  let total = 0
  for (let i = 0; i < entries.length; i++) {
    const { data, partitionKey } = entries[i]
    if (partitionKey.length < 1 || partitionKey.length > limits.maxPartitionKeyLength) {
      return fail(`records[${i}].partitionKey must have 1 to ${limits.maxPartitionKeyLength} characters`)
    }
    const bytes = dataBytes(data)
    if (bytes > limits.maxRecordBytes) {
      return fail(`records[${i}].data has ${bytes} bytes; at most ${limits.maxRecordBytes} are allowed`)
    }
    total += bytes + Buffer.byteLength(partitionKey, "utf8")
  }
  if (total > limits.maxBytesPerPut) return fail(`the put has ${total} bytes; at most ${limits.maxBytesPerPut} are allowed`)
  return undefined
}

/** A record's payload in bytes, as Kinesis counts it (a string UTF-8 encoded). */
const dataBytes = (data: PutEntry["data"]): number => typeof data === "string" ? Buffer.byteLength(data, "utf8") : data.length

/** The entries in puts within both of a put's limits, in order. */
const putsOf = (entries: ReadonlyArray<PutEntry>): Array<ReadonlyArray<PutEntry>> => {
  const puts: Array<ReadonlyArray<PutEntry>> = []
  let put: Array<PutEntry> = []
  let bytes = 0
  for (const entry of entries) {
    const size = dataBytes(entry.data) + Buffer.byteLength(entry.partitionKey, "utf8")
    if (put.length > 0 && (put.length === limits.maxRecordsPerPut || bytes + size > limits.maxBytesPerPut)) {
      puts.push(put)
      put = []
      bytes = 0
    }
    put.push(entry)
    bytes += size
  }
  if (put.length > 0) puts.push(put)
  return puts
}
