/**
 * A Kinesis producer as a core `RecordSink<A>`: `write` returns once every item is stored.
 *
 * - Items of every concurrent `write` share one bounded buffer (writes wait while it is full) drained by
 *   `concurrency` senders into PutRecords calls of at most 500 records and 5 MiB.
 * - A partial failure retries only the failed entries, with jittered exponential backoff; a failed call
 *   is retried whole. After `maxRetries` the write fails with a transient `SinkError`.
 * - An item that can never be stored (over 1 MiB with its partition key, a partition key of 0 or more than
 *   256 characters, a bad explicit hash key) fails the write with a permanent `SinkError` before anything
 *   is sent, so a pipeline sends it to its dead letters and writes the rest.
 * - Optional per-shard rate limiting (token buckets, like the KPL: 1,000 records/s and 1 MiB/s per shard by
 *   default) and optional KPL aggregation of records bound for the same shard.
 * - When the scope closes, everything buffered is sent before the senders stop.
 *
 * Delivery is at least once: a call that failed without an answer (a reset, a 5xx) may have stored its
 * records, and they are sent again. `stats.possibleDuplicates` counts the user records sent again after
 * such a failure. Order per partition key holds only with `concurrency: 1` and no retries (a retried
 * entry lands after entries sent after it), as with the KPL.
 *
 * @since 0.1.0
 */
import type * as Sdk from "@aws-sdk/client-kinesis"
import type { RecordSink } from "@tributary/core/RecordSink"
import { SinkError } from "@tributary/core/TributaryError"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import * as Aggregation from "./Aggregation.js"
import { sleepJittered } from "./internal/backoff.js"
import { hashKeyOf, maxHashKey, ShardMap } from "./internal/shardMap.js"
import { TokenBuckets } from "./internal/tokenBucket.js"
import { Kinesis } from "./Kinesis.js"
import { isThrottling, isUnknownOutcome } from "./KinesisError.js"
import * as Metrics from "./Metrics.js"
import * as StreamAdmin from "./StreamAdmin.js"

/**
 * Kinesis' write limits.
 *
 * @since 0.1.0
 * @category constants
 */
export const limits = {
  maxRecordsPerPut: 500,
  maxBytesPerPut: 5 * 1024 * 1024,
  /** Data plus partition key, unless the stream's maximum record size was raised. */
  maxRecordBytes: 1024 * 1024,
  maxPartitionKeyLength: 256,
  /** Per shard. */
  recordsPerSecond: 1_000,
  bytesPerSecond: 1024 * 1024
} as const

/**
 * @since 0.1.0
 * @category models
 */
export interface ProducerOptions<A> {
  readonly stream: string
  /** The partition key of an item (1 to 256 characters): records of one key go to one shard, in order. */
  readonly partitionKey: (item: A) => string
  /** The record's bytes (a string is stored as UTF-8). */
  readonly data: (item: A) => Uint8Array | string
  /** A decimal 128-bit hash key that picks the shard instead of the partition key's hash. */
  readonly explicitHashKey?: (item: A) => string | undefined
  /** Sink name in errors and dead letters. Default `kinesis:<stream>`. */
  readonly name?: string
  /** Records per PutRecords call, at most 500. Default 500. */
  readonly maxBatchRecords?: number
  /** Bytes (data and partition keys) per PutRecords call, at most 5 MiB. Default 5 MiB. */
  readonly maxBatchBytes?: number
  /** Largest record (data and partition key). Default 1 MiB; raise it only for streams raised to 10 MiB. */
  readonly maxRecordBytes?: number
  /** PutRecords calls in flight. Default 4. */
  readonly concurrency?: number
  /** User records buffered or in flight before `write` waits. Default 20,000. */
  readonly maxBufferedRecords?: number
  /** How long a sender waits for more records to fill a call. Default 0 (send what is there). */
  readonly lingerTime?: Duration.DurationInput
  /** Retries of a failed entry before the write fails. Default 10. */
  readonly maxRetries?: number
  /** First retry delay, doubled each retry, jittered. Default 100 ms. */
  readonly backoffBase?: Duration.DurationInput
  /** Longest retry delay. Default 5 s. */
  readonly backoffCap?: Duration.DurationInput
  /**
   * Per-shard rate limiting before sending: true for the shard limits (1,000 records/s, 1 MiB/s), or
   * other rates. Off by default. Needs ListShards permission.
   */
  readonly rateLimit?: boolean | { readonly recordsPerSecond?: number; readonly bytesPerSecond?: number }
  /**
   * KPL aggregation of user records bound for the same shard, up to `maxBytes` (default 51,200) per
   * Kinesis record. Off by default. Readers must deaggregate (the shard reader does).
   */
  readonly aggregation?: boolean | { readonly maxBytes?: number }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ProducerStats {
  /** User records stored. */
  readonly records: number
  /** Kinesis records stored (an aggregated record counts once). */
  readonly kinesisRecords: number
  readonly putRecordsCalls: number
  /** Kinesis records sent again, for any reason. */
  readonly retriedEntries: number
  /** Kinesis records answered with ProvisionedThroughputExceeded (alone or with their whole call). */
  readonly throttledEntries: number
  /**
   * User records sent again after a call failed without a clear answer (reset, 5xx): each may now be
   * stored twice.
   */
  readonly possibleDuplicates: number
  /** User records given up on. */
  readonly failedRecords: number
  /** User records buffered or in flight now. */
  readonly buffered: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Producer<A> extends RecordSink<A> {
  /**
   * Waits until the buffer is empty: everything written so far is stored or has failed (under a steady
   * stream of new writes it waits for a moment when nothing is buffered).
   */
  readonly flush: Effect.Effect<void>
  readonly stats: Effect.Effect<ProducerStats>
}

/**
 * An item that can never be stored; the cause of the permanent `SinkError` of its write.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidRecord extends Data.TaggedError("InvalidRecord")<{
  /** Index of the item in its write. */
  readonly index: number
  readonly reason: string
}> {
  /** @since 0.1.0 */
  override get message(): string {
    return `item ${this.index}: ${this.reason}`
  }
}

/**
 * Starts a producer; its senders run until the scope closes, which first sends everything buffered.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fn("Producer.make")(function*<A>(options: ProducerOptions<A>) {
  const kinesis = yield* Kinesis
  const { stream } = options
  const name = options.name ?? `kinesis:${stream}`
  const maxBatchRecords = clamp(options.maxBatchRecords ?? limits.maxRecordsPerPut, 1, limits.maxRecordsPerPut)
  const maxBatchBytes = clamp(options.maxBatchBytes ?? limits.maxBytesPerPut, 1, limits.maxBytesPerPut)
  const maxRecordBytes = options.maxRecordBytes ?? limits.maxRecordBytes
  const concurrency = Math.max(1, options.concurrency ?? 4)
  const capacity = Math.max(1, options.maxBufferedRecords ?? 20_000)
  const linger = Duration.decode(options.lingerTime ?? 0)
  const maxRetries = options.maxRetries ?? 10
  const base = Duration.decode(options.backoffBase ?? "100 millis")
  const cap = Duration.decode(options.backoffCap ?? "5 seconds")
  const rate = options.rateLimit === undefined || options.rateLimit === false
    ? undefined
    : options.rateLimit === true
    ? new TokenBuckets(limits.recordsPerSecond, limits.bytesPerSecond)
    : new TokenBuckets(options.rateLimit.recordsPerSecond ?? limits.recordsPerSecond, options.rateLimit.bytesPerSecond ?? limits.bytesPerSecond)
  const aggregationBytes = options.aggregation === undefined || options.aggregation === false
    ? undefined
    : options.aggregation === true
    ? Aggregation.defaultMaxBytes
    : options.aggregation.maxBytes ?? Aggregation.defaultMaxBytes
  const needsShards = rate !== undefined || aggregationBytes !== undefined

  const metrics = {
    records: Metric.tagged(Metrics.producer.records, "stream", stream),
    bytes: Metric.tagged(Metrics.producer.bytes, "stream", stream),
    calls: Metric.tagged(Metrics.producer.putRecordsCalls, "stream", stream),
    retried: Metric.tagged(Metrics.producer.retriedEntries, "stream", stream),
    throttled: Metric.tagged(Metrics.producer.throttledEntries, "stream", stream),
    failed: Metric.tagged(Metrics.producer.failedRecords, "stream", stream),
    buffered: Metric.tagged(Metrics.producer.buffered, "stream", stream)
  }
  const stats = {
    records: 0,
    kinesisRecords: 0,
    putRecordsCalls: 0,
    retriedEntries: 0,
    throttledEntries: 0,
    possibleDuplicates: 0,
    failedRecords: 0
  }

  const queue = yield* Queue.unbounded<Entry>()
  const permits = yield* Effect.makeSemaphore(capacity)
  // flushes waiting for the buffer to empty
  let drained: Array<Deferred.Deferred<void>> = []
  let buffered = 0
  let closed = false
  let shardMap: ShardMap | undefined
  let shardMapStale = needsShards

  // The buffered gauge is shared by every producer of the stream in the process: each adds and subtracts
  // its own records, in the same synchronous step as `buffered` (so an interruption never separates the
  // two) and with the gauge's own tags only (fiber metric labels could send the +n and the -n to
  // different series).
  const addBuffered = (records: number) => {
    buffered += records
    metrics.buffered.unsafeModify(records, [])
  }

  const sinkError = (reason: string, retryability: "transient" | "permanent", cause?: unknown) =>
    new SinkError(cause === undefined ? { sink: name, reason, retryability } : { sink: name, reason, retryability, cause })

  // ---- settling: plain loops over a whole batch, one Effect per batch ----

  const settle = (entries: ReadonlyArray<Entry>, error: SinkError | undefined) =>
    Effect.suspend(() => {
      let users = 0
      let bytes = 0
      for (const entry of entries) {
        users += entry.users
        if (error === undefined) bytes += entry.userBytes
        forEachTicket(entry, (ticket) => {
          if (error !== undefined) ticket.fail(error)
          else ticket.succeedOne()
        })
      }
      addBuffered(-users)
      if (buffered === 0 && drained.length > 0) {
        for (const waiter of drained) Deferred.unsafeDone(waiter, Exit.void)
        drained = []
      }
      if (error === undefined) {
        stats.records += users
        stats.kinesisRecords += entries.length
      } else {
        stats.failedRecords += users
      }
      return Effect.all([
        error === undefined ? Metric.incrementBy(metrics.records, users) : Metric.incrementBy(metrics.failed, users),
        error === undefined ? Metric.incrementBy(metrics.bytes, bytes) : Effect.void,
        permits.release(users)
      ], { discard: true })
    })

  // ---- shard prediction (only with rate limiting or aggregation) ----

  const refreshShards = Effect.gen(function*() {
    if (!shardMapStale) return
    const listed = yield* Effect.either(StreamAdmin.listShards(stream).pipe(Effect.provideService(Kinesis, kinesis)))
    if (listed._tag === "Right") {
      shardMap = new ShardMap(listed.right)
      shardMapStale = false
    } else {
      yield* Effect.logWarning(`producer ${name}: cannot list shards, sending without shard prediction`, listed.left)
    }
  })

  const predict = (entries: ReadonlyArray<Entry>) => {
    const map = shardMap
    if (map === undefined) return
    for (const entry of entries) {
      if (entry.shard >= 0) continue
      const hash = entry.explicitHashKey !== undefined ? BigInt(entry.explicitHashKey) : hashKeyOf(entry.partitionKey)
      entry.hash = hash
      entry.shard = map.indexOf(hash)
    }
  }

  // ---- sending ----

  const aggregate = (entries: ReadonlyArray<Entry>, maxBytes: number): Array<Entry> => {
    const open = new Map<number, { aggregator: Aggregation.Aggregator; members: Array<Entry> }>()
    const out: Array<Entry> = []
    const close = (group: { aggregator: Aggregation.Aggregator; members: Array<Entry> }) => {
      if (group.members.length === 1) out.push(group.members[0])
      else out.push(aggregatedEntry(group.members, group.aggregator.bytes()))
    }
    for (const entry of entries) {
      // a record too large to share a Kinesis record goes alone
      if (entry.data.length + entry.partitionKey.length + 64 > maxBytes) {
        out.push(entry)
        continue
      }
      let group = open.get(entry.shard)
      if (group === undefined) open.set(entry.shard, group = { aggregator: new Aggregation.Aggregator(maxBytes), members: [] })
      if (!group.aggregator.add(entry.partitionKey, entry.explicitHashKey, entry.data)) {
        close(group)
        group = { aggregator: new Aggregation.Aggregator(maxBytes), members: [] }
        open.set(entry.shard, group)
        group.aggregator.add(entry.partitionKey, entry.explicitHashKey, entry.data)
      }
      group.members.push(entry)
    }
    for (const group of open.values()) close(group)
    return out
  }

  const throttle = (entries: ReadonlyArray<Entry>) =>
    Effect.gen(function*() {
      if (rate === undefined || shardMap === undefined) return
      const map = shardMap
      const demand = new Map<string, { records: number; bytes: number }>()
      for (const entry of entries) {
        const shard = entry.shard >= 0 ? map.shardIds[entry.shard] : "unknown"
        const need = demand.get(shard)
        if (need === undefined) demand.set(shard, { records: 1, bytes: entry.bytes })
        else {
          need.records++
          need.bytes += entry.bytes
        }
      }
      const wait = rate.reserve(yield* Clock.currentTimeMillis, demand)
      if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
    })

  /** Sends one call's worth of entries until each is stored or given up; never fails. */
  const send = (initial: ReadonlyArray<Entry>): Effect.Effect<void> =>
    Effect.gen(function*() {
      let batch = initial
      let attempt = 0
      while (batch.length > 0) {
        yield* throttle(batch)
        stats.putRecordsCalls++
        yield* Metric.increment(metrics.calls)
        const result = yield* Effect.either(kinesis.putRecords({ StreamName: stream, Records: batch.map(toRequestEntry) }))
        let retry: Array<Entry> = []
        if (result._tag === "Left") {
          const error = result.left
          if (error.retryability === "permanent") {
            return yield* settle(batch, sinkError(`PutRecords failed: ${error.message}`, "permanent", error))
          }
          retry = batch.slice()
          if (isThrottling(error)) {
            stats.throttledEntries += batch.length
            yield* Metric.incrementBy(metrics.throttled, batch.length)
          }
          if (isUnknownOutcome(error)) for (const entry of batch) stats.possibleDuplicates += entry.users
        } else {
          const answers = result.right.Records ?? []
          const stored: Array<Entry> = []
          const rejected: Array<Entry> = []
          let throttled = 0
          let unknownShard = false
          for (let i = 0; i < batch.length; i++) {
            const answer = answers[i]
            if (answer === undefined) {
              // an answer without the entry: its outcome is unknown
              stats.possibleDuplicates += batch[i].users
              retry.push(batch[i])
            } else if (answer.ErrorCode === undefined || answer.ErrorCode === null) {
              stored.push(batch[i])
              if (shardMap !== undefined && answer.ShardId !== undefined && !shardMap.has(answer.ShardId)) unknownShard = true
            } else if (permanentEntryCodes.has(answer.ErrorCode)) {
              rejected.push(batch[i])
            } else {
              if (answer.ErrorCode === "ProvisionedThroughputExceededException") throttled++
              retry.push(batch[i])
            }
          }
          // a record went to a shard the map does not know: the stream was resharded
          if (unknownShard) shardMapStale = true
          if (throttled > 0) {
            stats.throttledEntries += throttled
            yield* Metric.incrementBy(metrics.throttled, throttled)
          }
          if (stored.length > 0) yield* settle(stored, undefined)
          if (rejected.length > 0) {
            const code = answers.find((a) => a.ErrorCode !== undefined && permanentEntryCodes.has(a.ErrorCode))
            yield* settle(rejected, sinkError(`PutRecords rejected entries: ${code?.ErrorCode}: ${code?.ErrorMessage}`, "permanent"))
          }
        }
        if (retry.length === 0) return
        if (attempt >= maxRetries) {
          return yield* settle(retry, sinkError(`${retry.length} entries still failing after ${maxRetries} retries`, "transient"))
        }
        yield* sleepJittered(attempt, base, cap)
        attempt++
        stats.retriedEntries += retry.length
        yield* Metric.incrementBy(metrics.retried, retry.length)
        batch = retry
      }
    })

  /** Cuts entries into calls of at most `maxBatchRecords` and `maxBatchBytes`. */
  const calls = (entries: ReadonlyArray<Entry>): Array<Array<Entry>> => {
    const out: Array<Array<Entry>> = []
    let current: Array<Entry> = []
    let bytes = 0
    for (const entry of entries) {
      if (current.length > 0 && (current.length >= maxBatchRecords || bytes + entry.bytes > maxBatchBytes)) {
        out.push(current)
        current = []
        bytes = 0
      }
      current.push(entry)
      bytes += entry.bytes
    }
    if (current.length > 0) out.push(current)
    return out
  }

  // With aggregation many user records make one Kinesis record, so a sender takes more at once.
  const takeAtMost = aggregationBytes === undefined ? maxBatchRecords : 20 * maxBatchRecords

  const sender = Effect.gen(function*() {
    // a sender that waited on an empty queue is handed a single entry: take what came with it too
    let taken: Array<Entry> = [yield* Queue.take(queue)]
    if (taken.length < takeAtMost) taken = taken.concat(Array.from(yield* Queue.takeUpTo(queue, takeAtMost - taken.length)))
    if (Duration.toMillis(linger) > 0 && taken.length < takeAtMost) {
      yield* Effect.sleep(linger)
      taken = taken.concat(Array.from(yield* Queue.takeUpTo(queue, takeAtMost - taken.length)))
    }
    if (needsShards) {
      yield* refreshShards
      predict(taken)
    }
    const entries = aggregationBytes === undefined ? taken : aggregate(taken, aggregationBytes)
    for (const call of calls(entries)) {
      // a defect must not leave the writes of these entries waiting forever
      yield* Effect.catchAllDefect(
        send(call),
        (defect) => settle(call, sinkError(`producer defect: ${String(defect)}`, "transient", defect))
      )
    }
  })

  for (let i = 0; i < concurrency; i++) yield* Effect.forkScoped(Effect.forever(sender))

  const flush: Effect.Effect<void> = Effect.suspend(() => {
    if (buffered === 0) return Effect.void
    return Effect.flatMap(Deferred.make<void>(), (waiter) => {
      drained.push(waiter)
      return Deferred.await(waiter)
    })
  })

  // Runs before the senders are interrupted (finalizers run in reverse order).
  yield* Effect.addFinalizer(() =>
    Effect.zipRight(
      Effect.sync(() => {
        closed = true
      }),
      flush
    )
  )

  const write = (items: ReadonlyArray<A>): Effect.Effect<void, SinkError> =>
    Effect.suspend(() => {
      if (items.length === 0) return Effect.void
      if (closed) return Effect.fail(sinkError("the producer is closed", "transient"))
      const prepared = prepare(items, options, maxRecordBytes)
      if (prepared instanceof InvalidRecord) return Effect.fail(sinkError(prepared.message, "permanent", prepared))
      return Effect.gen(function*() {
        const deferred = yield* Deferred.make<void, SinkError>()
        const ticket = new Ticket(prepared.length, deferred)
        for (const entry of prepared) entry.ticket = ticket
        // in slices the buffer can hold, each waiting for room; once its room is taken a slice is always
        // offered (an interrupted writer leaves no permit behind, and what it offered is still sent)
        for (let i = 0; i < prepared.length; i += capacity) {
          const part = prepared.slice(i, i + capacity)
          yield* Effect.uninterruptibleMask((restore) =>
            Effect.zipRight(
              restore(permits.take(part.length)),
              Effect.suspend(() => {
                addBuffered(part.length)
                return Queue.offerAll(queue, part)
              })
            )
          )
        }
        yield* Deferred.await(deferred)
      })
    })

  const producer: Producer<A> = {
    name,
    write,
    flush,
    stats: Effect.sync(() => ({ ...stats, buffered }))
  }
  return producer
})

// ---------------------------------------------------------------------------------------------------------
// internal
// ---------------------------------------------------------------------------------------------------------

const permanentEntryCodes = new Set([
  "KMSDisabledException",
  "KMSInvalidStateException",
  "KMSAccessDeniedException",
  "KMSNotFoundException",
  "KMSOptInRequired",
  "AccessDeniedException",
  "ValidationException",
  "InvalidArgumentException"
])

/** What one `write` waits for: all of its user records stored, or the first failure. */
class Ticket {
  private remaining: number
  private done = false
  constructor(count: number, readonly deferred: Deferred.Deferred<void, SinkError>) {
    this.remaining = count
  }
  succeedOne(): void {
    if (this.done) return
    if (--this.remaining === 0) {
      this.done = true
      Deferred.unsafeDone(this.deferred, Exit.void)
    }
  }
  fail(error: SinkError): void {
    if (this.done) return
    this.done = true
    Deferred.unsafeDone(this.deferred, Exit.fail(error))
  }
}

/** A Kinesis record to send: one user record, or an aggregate of several (`members`). */
interface Entry {
  readonly partitionKey: string
  explicitHashKey: string | undefined
  readonly data: Uint8Array
  /** Data and partition key bytes: what counts toward the limits. */
  readonly bytes: number
  /** User records inside, and their data bytes. */
  readonly users: number
  readonly userBytes: number
  ticket: Ticket | undefined
  readonly members: ReadonlyArray<Entry> | undefined
  /** Predicted shard index in the shard map (-1: unknown) and hash key. */
  shard: number
  hash: bigint | undefined
}

const forEachTicket = (entry: Entry, f: (ticket: Ticket) => void): void => {
  if (entry.members !== undefined) {
    for (const member of entry.members) forEachTicket(member, f)
  } else if (entry.ticket !== undefined) {
    f(entry.ticket)
  }
}

const aggregatedEntry = (members: ReadonlyArray<Entry>, data: Uint8Array): Entry => {
  const first = members[0]
  let userBytes = 0
  for (const member of members) userBytes += member.userBytes
  return {
    partitionKey: first.partitionKey,
    // the aggregate must land on the shard its members were grouped for: the first member's hash key
    explicitHashKey: first.explicitHashKey ?? (first.hash === undefined ? undefined : first.hash.toString()),
    data,
    bytes: data.length + Buffer.byteLength(first.partitionKey, "utf8"),
    users: members.length,
    userBytes,
    ticket: undefined,
    members,
    shard: first.shard,
    hash: first.hash
  }
}

const toRequestEntry = (entry: Entry): Sdk.PutRecordsRequestEntry =>
  entry.explicitHashKey === undefined
    ? { PartitionKey: entry.partitionKey, Data: entry.data }
    : { PartitionKey: entry.partitionKey, Data: entry.data, ExplicitHashKey: entry.explicitHashKey }

const encoder = new TextEncoder()
const decimal = /^[0-9]{1,39}$/

/** Turns items into entries, checking every limit; the first invalid item fails the whole write. */
const prepare = <A>(
  items: ReadonlyArray<A>,
  options: ProducerOptions<A>,
  maxRecordBytes: number
): Array<Entry> | InvalidRecord => {
  const out: Array<Entry> = new Array(items.length)
  for (let i = 0; i < items.length; i++) {
    let partitionKey: string
    let raw: Uint8Array | string
    let explicitHashKey: string | undefined
    try {
      partitionKey = options.partitionKey(items[i])
      raw = options.data(items[i])
      explicitHashKey = options.explicitHashKey?.(items[i])
    } catch (error) {
      return new InvalidRecord({ index: i, reason: `cannot make the record: ${error instanceof Error ? error.message : String(error)}` })
    }
    if (typeof partitionKey !== "string" || partitionKey.length < 1 || partitionKey.length > limits.maxPartitionKeyLength) {
      return new InvalidRecord({ index: i, reason: `the partition key must have 1 to ${limits.maxPartitionKeyLength} characters` })
    }
    if (explicitHashKey !== undefined && (!decimal.test(explicitHashKey) || BigInt(explicitHashKey) > maxHashKey)) {
      return new InvalidRecord({ index: i, reason: `the explicit hash key ${explicitHashKey} is not a decimal from 0 to 2^128-1` })
    }
    const data = typeof raw === "string" ? encoder.encode(raw) : raw
    const bytes = data.length + (hasOnlyAscii(partitionKey) ? partitionKey.length : Buffer.byteLength(partitionKey, "utf8"))
    if (bytes > maxRecordBytes) {
      return new InvalidRecord({
        index: i,
        reason: `the record has ${bytes} bytes with its partition key; at most ${maxRecordBytes} are allowed`
      })
    }
    out[i] = {
      partitionKey,
      explicitHashKey,
      data,
      bytes,
      users: 1,
      userBytes: data.length,
      ticket: undefined,
      members: undefined,
      shard: -1,
      hash: undefined
    }
  }
  return out
}

const hasOnlyAscii = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false
  return true
}

const clamp = (value: number, min: number, max: number): number => Math.max(min, Math.min(max, value))
