/**
 * The raw archive: the records a stream delivered, kept as objects in an `ObjectStore` (in memory, a
 * directory, or S3 through `@tributary/s3`), so that they can be read back and processed again.
 *
 * Layout. Every object is gzip-compressed JSON lines, one line per record with its metadata and its
 * payload in base64, under a key partitioned by the records' arrival time (UTC):
 *
 *     <prefix>/yyyy/mm/dd/hh/<stream>-<shardId>-<first sequence>-<last sequence>.jsonl.gz
 *
 * An object holds records of one shard and one hour, sorted by (sequence number, sub-sequence number).
 *
 * - `sink` is a `RecordSink<SourceRecord>` that buffers records and writes objects by size or age, like
 *   Kinesis Firehose. Its `write` returns only once the objects holding the batch's records are stored.
 * - `source` is a bounded `RecordSource` over a time range of the archive, per shard in record order, so
 *   the same pipeline can run over the archive.
 *
 * Dead letters are kept with the same layout by `DeadLetterArchive`.
 *
 * Names are deterministic: an object's name is a function of the records it holds, so a batch delivered
 * again after a crash is written to the same keys, overwriting the first copy instead of adding one.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Codec from "./internal/archiveCodec.js"
import * as Layout from "./internal/archiveLayout.js"
import * as Check from "./internal/options.js"
import type { ObjectStoreError, ObjectStoreShape } from "./ObjectStore.js"
import { listAll, maxListLimit, ObjectStore } from "./ObjectStore.js"
import type { RecordSink } from "./RecordSink.js"
import type { RecordSourceShape, ShardReader } from "./RecordSource.js"
import { RecordSource } from "./RecordSource.js"
import * as Sequence from "./SequenceNumber.js"
import type { SourceRecord } from "./SourceRecord.js"
import type { InvalidOptions } from "./TributaryError.js"
import { SinkError, SourceError } from "./TributaryError.js"

// ---------------------------------------------------------------------------------------------------------
// layout and codec
// ---------------------------------------------------------------------------------------------------------

/**
 * Where an archive object sits and what it holds, as its key says.
 *
 * @since 0.1.0
 * @category models
 */
export type ObjectName = Layout.ObjectName

/**
 * The key of an archive object: `<prefix>/yyyy/mm/dd/hh/<label>-<first>-<last>[-<digest>].jsonl.gz`.
 *
 * @since 0.1.0
 * @category layout
 */
export const objectKey: (prefix: string, name: ObjectName) => string = Layout.objectKey

/**
 * Reads an archive key back (undefined for keys of another shape). `deadLetters` expects the digest of
 * dead-letter objects.
 *
 * @since 0.1.0
 * @category layout
 */
export const parseKey: (prefix: string, key: string, deadLetters?: boolean) => ObjectName | undefined = Layout.parseKey

/**
 * The key prefixes that together cover the arrival times [from, to): whole years, months or days where
 * the range covers them, hours at its edges, so a long range costs few listings.
 *
 * @since 0.1.0
 * @category layout
 */
export const prefixesFor: (prefix: string, from: number, to: number) => ReadonlyArray<string> = Layout.prefixesFor

/**
 * gzip-compressed JSON lines of records, one per line, fields in this order:
 * `{"stream","shardId","sequenceNumber","subSequenceNumber","partitionKey","arrivalTime","data"}` with
 * `data` in base64.
 *
 * @since 0.1.0
 * @category codec
 */
export const encodeRecords = (
  records: ReadonlyArray<SourceRecord>,
  options: { readonly compressionLevel?: number } = {}
): Effect.Effect<Uint8Array> => Codec.encodeRecords(records, options.compressionLevel ?? Codec.defaultCompressionLevel)

/**
 * Reads an object written by `encodeRecords` (or by the sink) back into records; fails with the line
 * that is not one.
 *
 * @since 0.1.0
 * @category codec
 */
export const decodeRecords: (bytes: Uint8Array) => Effect.Effect<ReadonlyArray<SourceRecord>, string> = Codec.decodeRecords

// ---------------------------------------------------------------------------------------------------------
// raw archive sink
// ---------------------------------------------------------------------------------------------------------

/**
 * Options of `sink` and `layerSink`; invalid ones make them fail with `InvalidOptions`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SinkOptions {
  /** Key prefix (no leading or trailing `/` needed; "" for none). Default "raw". */
  readonly prefix?: string | undefined
  /**
   * Flush once the buffered records make this many bytes of JSON lines (about; before compression), and
   * cut objects at this size. Default 5 MiB (Firehose's default buffer).
   */
  readonly maxBytes?: number | undefined
  /**
   * Flush once the oldest buffered record has waited this long (measured with the Clock). Default 1
   * second: a shard's next page is read only after its write returns, so this bounds a shard's pace (see
   * `sink`). 0: every `write` flushes at once (an object per batch, shard and hour).
   */
  readonly maxAge?: Duration.DurationInput | undefined
  /** Objects put at once by one flush. Default 8. */
  readonly concurrency?: number | undefined
  /** gzip level, 1 (fastest) to 9 (smallest). Default 6. */
  readonly compressionLevel?: number | undefined
  /** Sink name in errors and dead letters. Default `archive:<store>/<prefix>`. */
  readonly name?: string | undefined
}

/**
 * What ended a buffer: it was full, it was old, the scope closed, or `flush` was called.
 *
 * @since 0.1.0
 * @category models
 */
export type FlushReason = "size" | "age" | "close" | "manual"

/**
 * Counters of an archive sink since it was made, as `stats` reads them.
 *
 * @since 0.1.0
 * @category models
 */
export interface SinkStats {
  /** Flushes started, by what ended their buffer. */
  readonly flushes: Readonly<Record<FlushReason, number>>
  /** Flushes that failed (their writes failed with the error). */
  readonly failedFlushes: number
  /** Objects stored. */
  readonly objects: number
  /** Records written (a record written twice counts twice). */
  readonly records: number
  /** JSON-lines bytes before and after compression. */
  readonly bytes: number
  /** Bytes of the gzip-compressed objects stored. */
  readonly compressedBytes: number
}

/**
 * The archive sink: a `RecordSink` plus an explicit flush and counters.
 *
 * @since 0.1.0
 * @category models
 */
export interface ArchiveSink extends RecordSink<SourceRecord> {
  /** Writes what is buffered now, and returns once it is stored (or fails as the writes waiting on it do). */
  readonly flush: Effect.Effect<void, SinkError>
  /** A snapshot of the sink's counters. */
  readonly stats: Effect.Effect<SinkStats>
}

/**
 * The raw archive: buffers the records of concurrent `write`s and writes them as objects when the buffer
 * reaches `maxBytes` or `maxAge` (whichever comes first), one object (or more, of at most `maxBytes`)
 * per shard and hour of arrival, and when the scope closes.
 *
 * Acknowledgement: `write` returns only once every object holding its records is stored, and fails with
 * the `SinkError` of the failed put (its retryability is the store's) if any is not: the pipeline
 * checkpoints only what is durable. Buffering therefore pools the batches of writers that are waiting at
 * the same time (one batch per shard in a `Pipeline`, so many shards share a flush); it cannot pool a
 * shard's consecutive batches, because the next one is read only after `write` returns. Choose `maxAge` as
 * the latency a batch may wait for company: while pages do not fill `maxBytes`, a shard moves at most one
 * page per `maxAge` (Kinesis pages of 10,000 records and a 60 s `maxAge`: about 166 records/s a shard).
 * The default, 1 second, pools the shards writing at about the same time and keeps the pipeline moving;
 * 0 writes an object per batch.
 *
 * Idempotency: an object's key names its shard, the hour and the first and last sequence number of its
 * records, and its bytes depend only on those records (sorted, duplicates dropped, cut at fixed sizes, never
 * inside one sequence number), so a batch delivered again writes the same keys with the same bytes. This
 * holds when each write brings, per shard, a contiguous run of the shard's records (a source's page: put
 * the archive first in a pipeline, before filters). A re-delivery cut into different pages writes objects
 * that overlap earlier ones: `source` drops the duplicates when reading.
 *
 * A write that is interrupted leaves its records in the buffer (they are written with it, which is
 * harmless). Records must have Kinesis-shaped names (stream and shard id of `[A-Za-z0-9_.-]`), decimal
 * sequence numbers and arrival times from 1970 to 9999; otherwise the write fails permanently.
 *
 * @since 0.1.0
 * @category constructors
 */
export const sink = (options: SinkOptions = {}): Effect.Effect<ArchiveSink, InvalidOptions, ObjectStore | Scope.Scope> =>
  Effect.gen(function*() {
    const store = yield* ObjectStore
    const scope = yield* Effect.scope
    const prefix = Layout.normalizePrefix(options.prefix ?? "raw")
    const maxBytes = options.maxBytes ?? defaultMaxBytes
    const maxAge = Duration.decode(options.maxAge ?? defaultMaxAge)
    const concurrency = options.concurrency ?? 8
    const level = options.compressionLevel ?? Codec.defaultCompressionLevel
    yield* Check.validate("Archive.sink", [
      ["prefix", Layout.invalidPrefixReason(prefix)],
      ["maxBytes", Check.positiveInteger(maxBytes)],
      ["concurrency", Check.positiveInteger(concurrency)],
      ["compressionLevel", Check.integerFrom(1, 9)(level)]
    ])
    const name = options.name ?? `archive:${store.name}/${prefix}`
    // flushes and timers live in a scope of their own that closes after the final flush below
    const fibers = yield* Scope.fork(scope, ExecutionStrategy.sequential)

    const stats = {
      flushes: { size: 0, age: 0, close: 0, manual: 0 },
      failedFlushes: 0,
      objects: 0,
      records: 0,
      bytes: 0,
      compressedBytes: 0
    }
    let open: Pending | undefined
    const inFlight = new Set<Pending>()
    let closed = false

    const flushBuffer = Effect.fn("Archive.flush")(function*(pending: Pending, reason: FlushReason) {
      yield* Effect.annotateCurrentSpan({ reason, records: pending.records })
      const objects = planObjects(pending.batches, maxBytes)
      yield* Effect.forEach(objects, (object) => {
        const key = Layout.objectKey(prefix, object.name)
        return Effect.flatMap(Codec.gzip(object.text, level), (body) =>
          store.put(key, body, { contentType: Layout.contentType }).pipe(
            Effect.mapError((error) =>
              new SinkError({ sink: name, reason: `cannot store ${key}: ${error.reason}`, retryability: error.retryability, cause: error })
            ),
            Effect.tap(() =>
              Effect.sync(() => {
                stats.objects++
                stats.records += object.records
                stats.bytes += object.bytes
                stats.compressedBytes += body.length
              })
            )
          ))
      }, { concurrency, discard: true })
    })

    // Ends the buffer (no write joins it any more) and writes it in a fiber of the sink's: a writer that is
    // interrupted leaves the flush the others wait on going.
    const seal = (pending: Pending, reason: FlushReason): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (pending.sealed) return Effect.void
        pending.sealed = true
        if (open === pending) open = undefined
        stats.flushes[reason]++
        inFlight.add(pending)
        const timer = pending.timer
        const stopTimer = timer === undefined || reason === "age" ? Effect.void : Fiber.interruptFork(timer)
        const finish = (exit: Exit.Exit<void, SinkError>) =>
          Effect.zipRight(
            Effect.sync(() => {
              inFlight.delete(pending)
              if (Exit.isFailure(exit)) stats.failedFlushes++
            }),
            Deferred.done(pending.done, exit)
          )
        const run = Effect.exit(flushBuffer(pending, reason)).pipe(
          Effect.flatMap(finish),
          // only when the sink's scope closes mid-flush (after its final flush gave up waiting): nobody waits forever
          Effect.onInterrupt(() =>
            finish(Exit.fail(new SinkError({ sink: name, reason: "the archive sink closed during the flush", retryability: "transient" })))
          )
        )
        // forked from inside `write`'s uninterruptible region: the fiber itself must stay interruptible
        return Effect.zipRight(stopTimer, Effect.asVoid(Effect.forkIn(Effect.interruptible(run), fibers)))
      })

    const startTimer = (pending: Pending) =>
      Effect.flatMap(
        Effect.forkIn(Effect.interruptible(Effect.zipRight(Effect.sleep(maxAge), seal(pending, "age"))), fibers),
        (fiber) => Effect.sync(() => void (pending.timer = fiber))
      )

    const write = (items: ReadonlyArray<SourceRecord>): Effect.Effect<void, SinkError> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.suspend(() => {
          if (items.length === 0) return Effect.void
          // transient: nothing is wrong with the records, so they must not be dead-lettered; the pipeline
          // fails without checkpointing and the batch is delivered again to the next run
          if (closed) return Effect.fail(new SinkError({ sink: name, reason: "the archive sink is closed", retryability: "transient" }))
          const invalid = Codec.invalidRecordsReason(items)
          if (invalid !== undefined) return Effect.fail(new SinkError({ sink: name, reason: invalid, retryability: "permanent" }))
          let pending = open
          const fresh = pending === undefined
          if (pending === undefined) pending = open = makePending()
          pending.batches.push(items)
          pending.records += items.length
          pending.bytes += Codec.estimateBytes(items)
          const trigger = pending.bytes >= maxBytes
            ? seal(pending, "size")
            : !fresh
            ? Effect.void
            : Duration.toMillis(maxAge) <= 0
            ? seal(pending, "age")
            : startTimer(pending)
          return Effect.zipRight(trigger, restore(Deferred.await(pending.done)))
        })
      )

    const flush = Effect.suspend(() => {
      const pending = open
      return pending === undefined
        ? Effect.forEach(Array.from(inFlight), (p) => Deferred.await(p.done), { discard: true })
        : Effect.zipRight(seal(pending, "manual"), Deferred.await(pending.done))
    })

    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closed = true
        const pending = open
        return Effect.zipRight(
          pending === undefined ? Effect.void : seal(pending, "close"),
          // read once the close flush is in flight too
          Effect.suspend(() =>
            Effect.forEach(Array.from(inFlight), (p) =>
              Deferred.await(p.done).pipe(
                Effect.catchAll((error) => Effect.logWarning(`archive flush on close failed: ${error.reason}`))
              ), { discard: true })
          )
        )
      })
    )

    const archive: ArchiveSink = {
      name,
      write,
      flush,
      stats: Effect.sync(() => ({ ...stats, flushes: { ...stats.flushes } }))
    }
    return archive
  })

/**
 * The raw archive as a service, e.g. for `Pipeline.to(Archive.RawArchive)`.
 *
 * @since 0.1.0
 * @category tags
 */
export class RawArchive extends Context.Tag("@tributary/core/Archive/RawArchive")<RawArchive, ArchiveSink>() {}

/**
 * The raw archive sink for as long as the layer lives; what is buffered is written when it is released.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSink = (options?: SinkOptions): Layer.Layer<RawArchive, InvalidOptions, ObjectStore> =>
  Layer.scoped(RawArchive, sink(options))

// ---------------------------------------------------------------------------------------------------------
// archive source
// ---------------------------------------------------------------------------------------------------------

/**
 * Options of `source` and `layerSource`: the range of arrival times to read, and where.
 *
 * @since 0.1.0
 * @category models
 */
export interface SourceOptions {
  /** Earliest arrival time read (inclusive), epoch milliseconds or a Date. */
  readonly from: number | Date
  /** End of the range (exclusive). */
  readonly to: number | Date
  /** The sink's prefix. Default "raw". */
  readonly prefix?: string | undefined
  /** Read only this stream's objects; needed when the prefix holds streams with the same shard ids. */
  readonly stream?: string | undefined
  /** Keys per listing page (1 to 1,000). Default 1,000. */
  readonly listPageSize?: number | undefined
  /** Source name in errors. Default `archive:<store>/<prefix>`. */
  readonly name?: string | undefined
}

/**
 * A bounded `RecordSource` over the records that arrived in [from, to): one `ShardReader` per archived
 * shard, each delivering the shard's records in order (sequence numbers compared as integers, then
 * sub-sequence numbers), one chunk per object, payloads and metadata exactly as written. Objects that
 * overlap (a batch archived twice, cut differently) are read together and their duplicates dropped, so
 * each record is delivered once. All shards are handed over at once (a window shared by shards sees them
 * all); checkpoints are accepted and ignored (a run reads its range again).
 *
 * @since 0.1.0
 * @category constructors
 */
export const source = (options: SourceOptions): Effect.Effect<RecordSourceShape, InvalidOptions, ObjectStore> =>
  Effect.gen(function*() {
    const store = yield* ObjectStore
    const prefix = Layout.normalizePrefix(options.prefix ?? "raw")
    const from = Layout.timeOf(options.from)
    const to = Layout.timeOf(options.to)
    const pageSize = options.listPageSize ?? maxListLimit
    yield* Check.validate("Archive.source", [
      ["prefix", Layout.invalidPrefixReason(prefix)],
      ["listPageSize", Check.integerFrom(1, maxListLimit)(pageSize)]
    ])
    const name = options.name ?? `archive:${store.name}/${prefix}`
    const sourceError = (error: ObjectStoreError) =>
      new SourceError({ source: name, reason: error.message, retryability: error.retryability, cause: error })
    const streamLabel = options.stream === undefined ? undefined : `${options.stream}-`

    const shards = Stream.unwrap(
      Effect.gen(function*() {
        const byLabel = yield* listObjects(store, prefix, from, to, pageSize).pipe(
          Effect.mapError(sourceError)
        )
        const readers: Array<ShardReader> = []
        const seen = new Map<string, string>()
        for (const [label, objects] of byLabel) {
          if (streamLabel !== undefined && !label.startsWith(streamLabel)) continue
          const shardId = streamLabel !== undefined ? label.slice(streamLabel.length) : Layout.shardIdOf(label)
          const other = seen.get(shardId)
          if (other !== undefined) {
            return yield* Effect.fail(new SourceError({
              source: name,
              reason: `objects of ${other} and ${label} have the same shard id ${shardId}: pass the stream to read`,
              retryability: "permanent"
            }))
          }
          seen.set(shardId, label)
          readers.push({
            shardId,
            resumeFrom: undefined,
            checkpoint: () => Effect.void,
            batches: Stream.fromIterable(clusters(objects)).pipe(
              Stream.mapEffect((cluster) => readCluster(store, cluster, from, to, name)),
              Stream.filter((records) => records.length > 0)
            )
          })
        }
        return Stream.fromIterable(readers)
      })
    )
    const recordSource: RecordSourceShape = { name, shards }
    return recordSource
  })

/**
 * Provides `RecordSource` reading a time range of the archive, as `source` does; fails with
 * `InvalidOptions` for an invalid prefix or page size.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSource = (options: SourceOptions): Layer.Layer<RecordSource, InvalidOptions, ObjectStore> =>
  Layer.effect(RecordSource, source(options))

// ---------------------------------------------------------------------------------------------------------
// internal
// ---------------------------------------------------------------------------------------------------------

const defaultMaxBytes = 5 * 1024 * 1024
// short: a write waits for its flush, so the buffer only pools the shards writing at about the same time
const defaultMaxAge = Duration.seconds(1)


interface Pending {
  readonly batches: Array<ReadonlyArray<SourceRecord>>
  records: number
  bytes: number
  sealed: boolean
  timer: Fiber.RuntimeFiber<void> | undefined
  readonly done: Deferred.Deferred<void, SinkError>
}

const makePending = (): Pending => ({
  batches: [],
  records: 0,
  bytes: 0,
  sealed: false,
  timer: undefined,
  done: Deferred.unsafeMake(FiberId.none)
})

interface PlannedObject {
  readonly name: ObjectName
  readonly text: string
  readonly records: number
  /** UTF-8 bytes of `text`. */
  readonly bytes: number
}

/** Groups the buffer by hour and shard, sorts and de-duplicates each group, and cuts it into objects. */
const planObjects = (batches: ReadonlyArray<ReadonlyArray<SourceRecord>>, maxBytes: number): Array<PlannedObject> => {
  const groups = new Map<string, Array<SourceRecord>>()
  for (const batch of batches) {
    let lastHour = Number.NaN
    let lastStream = ""
    let lastShard = ""
    let lastGroup: Array<SourceRecord> = []
    for (let i = 0; i < batch.length; i++) {
      const record = batch[i]
      const hourStart = Layout.hourOf(record.arrivalTime)
      // pages are runs of one shard and hour: look the group up only when they change
      if (hourStart !== lastHour || record.shardId !== lastShard || record.stream !== lastStream) {
        lastHour = hourStart
        lastStream = record.stream
        lastShard = record.shardId
        const key = `${hourStart}\u0000${record.stream}-${record.shardId}`
        let group = groups.get(key)
        if (group === undefined) groups.set(key, group = [])
        lastGroup = group
      }
      lastGroup.push(record)
    }
  }
  const objects: Array<PlannedObject> = []
  for (const [key, group] of groups) {
    const split = key.indexOf("\u0000")
    const hourStart = Number(key.slice(0, split))
    const label = key.slice(split + 1)
    const records = Codec.sortedUnique(group)
    let lines: Array<string> = []
    let size = 0
    let firstIndex = 0
    const cut = (end: number) => {
      objects.push({
        name: { hour: hourStart, label, first: records[firstIndex].sequenceNumber, last: records[end - 1].sequenceNumber },
        text: lines.join("\n") + "\n",
        records: lines.length,
        bytes: size
      })
      lines = []
      size = 0
      firstIndex = end
    }
    for (let i = 0; i < records.length; i++) {
      const line = Codec.recordLine(records[i])
      // only the partition key may hold characters of more than one UTF-8 byte
      const key = records[i].partitionKey
      const bytes = line.length + 1 + (isAscii(key) ? 0 : Buffer.byteLength(key, "utf8") - key.length)
      // never between two records of one sequence number (a KPL aggregate): names would collide
      if (
        size > 0 && size + bytes > maxBytes &&
        records[i].sequenceNumber !== records[i - 1].sequenceNumber
      ) cut(i)
      lines.push(line)
      size += bytes
    }
    if (lines.length > 0) cut(records.length)
  }
  return objects
}

interface ListedObject {
  readonly key: string
  readonly name: ObjectName
}

/** Lists the objects of the range, grouped by `<stream>-<shardId>`. */
const listObjects = (
  store: ObjectStoreShape,
  prefix: string,
  from: number,
  to: number,
  pageSize: number
): Effect.Effect<Map<string, Array<ListedObject>>, ObjectStoreError> =>
  Effect.map(
    Stream.runCollect(Stream.flatMap(
      Stream.fromIterable(Layout.prefixesFor(prefix, from, to)),
      (hourPrefix) => listAll(store, hourPrefix, { pageSize })
    )),
    (objects) => {
      const byLabel = new Map<string, Array<ListedObject>>()
      for (const object of objects) {
        const name = Layout.parseKey(prefix, object.key)
        if (name === undefined) continue
        const group = byLabel.get(name.label)
        if (group === undefined) byLabel.set(name.label, [{ key: object.key, name }])
        else group.push({ key: object.key, name })
      }
      return byLabel
    }
  )

/**
 * A shard's objects in sequence order, those whose ranges overlap together (a batch archived twice, cut
 * differently, or records of one page spread over two hours out of order).
 */
const clusters = (objects: ReadonlyArray<ListedObject>): Array<ReadonlyArray<ListedObject>> => {
  const sorted = objects.slice().sort((a, b) =>
    Sequence.compare(a.name.first, b.name.first) || Sequence.compare(a.name.last, b.name.last)
  )
  const out: Array<Array<ListedObject>> = []
  let end: string | undefined
  for (const object of sorted) {
    if (end !== undefined && Sequence.compare(object.name.first, end) <= 0) {
      out[out.length - 1].push(object)
      end = Sequence.max(end, object.name.last)
    } else {
      out.push([object])
      end = object.name.last
    }
  }
  return out
}

const readCluster = (
  store: ObjectStoreShape,
  cluster: ReadonlyArray<ListedObject>,
  from: number,
  to: number,
  name: string
): Effect.Effect<ReadonlyArray<SourceRecord>, SourceError> =>
  Effect.map(
    Effect.forEach(cluster, (object) =>
      Effect.flatMap(Codec.fetchBytes(store, object.key, name), (bytes) =>
        bytes === undefined
          ? Effect.succeed<ReadonlyArray<SourceRecord>>([])
          : Effect.mapError(Codec.decodeRecords(bytes), (reason) =>
            new SourceError({ source: name, reason: `${object.key}: ${reason}`, retryability: "permanent" })
          )), { concurrency: 4 }),
    (parts) => {
      const inRange = (records: ReadonlyArray<SourceRecord>) => {
        let all = true
        for (let i = 0; i < records.length; i++) {
          const t = records[i].arrivalTime
          if (!(t >= from && t < to)) {
            all = false
            break
          }
        }
        return all ? records : records.filter((r) => r.arrivalTime >= from && r.arrivalTime < to)
      }
      if (parts.length === 1) return inRange(Codec.sortedUnique(parts[0]))
      return inRange(Codec.sortedUnique(parts.flat()))
    }
  )

const isAscii = (s: string): boolean => /^[\x00-\x7f]*$/.test(s)
