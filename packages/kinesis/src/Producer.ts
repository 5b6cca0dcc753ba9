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
import { AwsError } from "@tributary/aws"
import type { RecordSink } from "@tributary/core/RecordSink"
import * as Retry from "@tributary/core/Retry"
import type { Retryability } from "@tributary/core/TributaryError"
import { SinkError } from "@tributary/core/TributaryError"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Aggregation from "./Aggregation.js"
import type { Entry } from "./internal/producerEntry.js"
import * as ProducerEntry from "./internal/producerEntry.js"
import * as RateBudget from "./internal/rateBudget.js"
import { hashKeyOf, ShardMap } from "./internal/shardMap.js"
import type { KinesisShape } from "./Kinesis.js"
import { Kinesis } from "./Kinesis.js"
import type { KinesisError } from "./KinesisError.js"
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
 * What a producer writes to, how an item becomes a record, and how records are batched, limited and
 * retried.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProducerOptions<A> {
  /** The Kinesis stream the records are put into. */
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
 * Counts of a producer's work since it started.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProducerStats {
  /** User records stored. */
  readonly records: number
  /** Kinesis records stored (an aggregated record counts once). */
  readonly kinesisRecords: number
  /** PutRecords calls made, retries included. */
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
 * A buffering Kinesis producer: a `RecordSink` whose `write` returns once every record of the write is
 * stored (or fails with a `SinkError`), with `flush` and counts.
 *
 * @since 0.1.0
 * @category models
 */
export interface Producer<A> extends RecordSink<A> {
  /**
   * Waits until the buffer is empty: everything written so far is stored or has failed (under a steady
   * stream of new writes it waits for a moment when nothing is buffered).
   */
  readonly flush: Effect.Effect<void>
  /** Counts of the producer's work since it started. */
  readonly stats: Effect.Effect<ProducerStats>
}

/**
 * An item that can never be stored; the cause of the permanent `SinkError` of its write.
 *
 * @since 0.1.0
 * @category errors
 */
export const InvalidRecord = ProducerEntry.InvalidRecord

/**
 * An item that can never be stored (its record cannot be made, or breaks a limit), with its index in the
 * write and the reason.
 *
 * @since 0.1.0
 * @category errors
 */
export type InvalidRecord = ProducerEntry.InvalidRecord

/**
 * Starts a producer; its senders run until the scope closes, which first sends everything buffered.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fn("Producer.make")(function*<A>(options: ProducerOptions<A>) {
  const kinesis = yield* Kinesis
  const settings = settingsOf(options)
  const ledger = yield* makeLedger(settings)
  const send = makeSend(kinesis, settings, ledger)
  const prediction = makePrediction(kinesis, settings)

  // With aggregation many user records make one Kinesis record, so a sender takes more at once.
  const takeAtMost = settings.aggregationBytes === undefined ? settings.maxBatchRecords : 20 * settings.maxBatchRecords
  const sender = Effect.gen(function*() {
    // a sender that waited on an empty queue is handed a single entry: take what came with it too
    let taken: Array<Entry> = [yield* Queue.take(ledger.queue)]
    if (taken.length < takeAtMost) taken = taken.concat(Array.from(yield* Queue.takeUpTo(ledger.queue, takeAtMost - taken.length)))
    if (Duration.toMillis(settings.linger) > 0 && taken.length < takeAtMost) {
      yield* Effect.sleep(settings.linger)
      taken = taken.concat(Array.from(yield* Queue.takeUpTo(ledger.queue, takeAtMost - taken.length)))
    }
    const shardMap = yield* prediction.predict(taken)
    const entries = settings.aggregationBytes === undefined ? taken : ProducerEntry.aggregate(taken, settings.aggregationBytes)
    for (const call of ProducerEntry.cutCalls(entries, settings.maxBatchRecords, settings.maxBatchBytes)) {
      // a defect must not leave the writes of these entries waiting forever
      yield* Effect.catchAllDefect(
        send(call, shardMap, prediction.markStale),
        (defect) => ledger.settle(call, ledger.sinkError(`producer defect: ${String(defect)}`, "transient", defect))
      )
    }
  })
  for (let i = 0; i < settings.concurrency; i++) yield* Effect.forkScoped(Effect.forever(sender))

  // Runs before the senders are interrupted (finalizers run in reverse order).
  yield* Effect.addFinalizer(() => Effect.zipRight(ledger.close, ledger.flush))

  const producer: Producer<A> = {
    name: settings.name,
    write: (items) => ledger.write(items, options),
    flush: ledger.flush,
    stats: ledger.stats
  }
  return producer
})

// ---------------------------------------------------------------------------------------------------------
// internal
// ---------------------------------------------------------------------------------------------------------

/** The options in force. */
interface Settings {
  readonly stream: string
  readonly name: string
  readonly maxBatchRecords: number
  readonly maxBatchBytes: number
  readonly maxRecordBytes: number
  readonly concurrency: number
  readonly capacity: number
  readonly linger: Duration.Duration
  readonly maxRetries: number
  readonly retry: Schedule.Schedule<unknown>
  readonly rate: RateBudget.RateBudget | undefined
  readonly aggregationBytes: number | undefined
}

const settingsOf = <A>(options: ProducerOptions<A>): Settings => {
  const { aggregation, rateLimit } = options
  const maxRetries = options.maxRetries ?? 10
  return {
    stream: options.stream,
    name: options.name ?? `kinesis:${options.stream}`,
    maxBatchRecords: clamp(options.maxBatchRecords ?? limits.maxRecordsPerPut, 1, limits.maxRecordsPerPut),
    maxBatchBytes: clamp(options.maxBatchBytes ?? limits.maxBytesPerPut, 1, limits.maxBytesPerPut),
    maxRecordBytes: options.maxRecordBytes ?? limits.maxRecordBytes,
    concurrency: Math.max(1, options.concurrency ?? 4),
    capacity: Math.max(1, options.maxBufferedRecords ?? 20_000),
    linger: Duration.decode(options.lingerTime ?? 0),
    maxRetries,
    // equal jitter: between half and all of the doubled delay, never above the cap
    retry: Retry.exponential({
      base: options.backoffBase ?? "100 millis",
      cap: options.backoffCap ?? "5 seconds",
      times: maxRetries,
      jitter: [0.5, 1]
    }),
    rate: rateLimit === undefined || rateLimit === false
      ? undefined
      : rateLimit === true
      ? RateBudget.make(limits.recordsPerSecond, limits.bytesPerSecond)
      : RateBudget.make(rateLimit.recordsPerSecond ?? limits.recordsPerSecond, rateLimit.bytesPerSecond ?? limits.bytesPerSecond),
    aggregationBytes: aggregation === undefined || aggregation === false
      ? undefined
      : aggregation === true
      ? Aggregation.defaultMaxBytes
      : aggregation.maxBytes ?? Aggregation.defaultMaxBytes
  }
}

/**
 * The buffer and its accounts: the queue of entries, the permits bounding it, the writes' tickets, the
 * counters and metrics. Every entry leaves through `settle`, stored or failed, once.
 */
interface Ledger {
  readonly queue: Queue.Queue<Entry>
  readonly stats: Effect.Effect<ProducerStats>
  readonly counts: {
    retriedEntries: number
    throttledEntries: number
    possibleDuplicates: number
    putRecordsCalls: number
  }
  readonly metrics: {
    readonly calls: Metric.Metric.Counter<number>
    readonly retried: Metric.Metric.Counter<number>
    readonly throttled: Metric.Metric.Counter<number>
  }
  readonly sinkError: (reason: string, retryability: Retryability, cause?: unknown) => SinkError
  /** Entries stored (error undefined) or given up on: their writes are told, their room is freed. */
  readonly settle: (entries: ReadonlyArray<Entry>, error: SinkError | undefined) => Effect.Effect<void>
  /** Buffers a write's items and waits until they are stored. */
  readonly write: <A>(items: ReadonlyArray<A>, recordOf: ProducerEntry.RecordOf<A>) => Effect.Effect<void, SinkError>
  readonly flush: Effect.Effect<void>
  /** Refuses writes from now on. */
  readonly close: Effect.Effect<void>
}

const makeLedger = (settings: Settings): Effect.Effect<Ledger> =>
  Effect.gen(function*() {
    const { capacity, name, stream } = settings
    const queue = yield* Queue.unbounded<Entry>()
    const permits = yield* Effect.makeSemaphore(capacity)
    const tag = (metric: Metric.Metric.Counter<number>) => Metric.tagged(metric, "stream", stream)
    const metrics = {
      records: tag(Metrics.producer.records),
      bytes: tag(Metrics.producer.bytes),
      calls: tag(Metrics.producer.putRecordsCalls),
      retried: tag(Metrics.producer.retriedEntries),
      throttled: tag(Metrics.producer.throttledEntries),
      failed: tag(Metrics.producer.failedRecords),
      buffered: Metric.tagged(Metrics.producer.buffered, "stream", stream)
    }
    const counts = {
      records: 0,
      kinesisRecords: 0,
      putRecordsCalls: 0,
      retriedEntries: 0,
      throttledEntries: 0,
      possibleDuplicates: 0,
      failedRecords: 0
    }
    // flushes waiting for the buffer to empty
    let drained: Array<Deferred.Deferred<void>> = []
    let buffered = 0
    let closed = false

    // The buffered gauge is shared by every producer of the stream in the process: each adds and subtracts
    // its own records, in the same synchronous step as `buffered` (so an interruption never separates the
    // two) and with the gauge's own tags only (fiber metric labels could send the +n and the -n to
    // different series).
    const addBuffered = (records: number) => {
      buffered += records
      metrics.buffered.unsafeModify(records, [])
    }

    const sinkError = (reason: string, retryability: Retryability, cause?: unknown) =>
      new SinkError(cause === undefined ? { sink: name, reason, retryability } : { sink: name, reason, retryability, cause })

    // a plain loop over a whole batch, one Effect per batch
    const settle = (entries: ReadonlyArray<Entry>, error: SinkError | undefined) =>
      Effect.suspend(() => {
        let users = 0
        let bytes = 0
        for (const entry of entries) {
          users += entry.users
          if (error === undefined) bytes += entry.userBytes
          ProducerEntry.forEachTicket(entry, (ticket) => {
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
          counts.records += users
          counts.kinesisRecords += entries.length
        } else {
          counts.failedRecords += users
        }
        return Effect.all([
          error === undefined ? Metric.incrementBy(metrics.records, users) : Metric.incrementBy(metrics.failed, users),
          error === undefined ? Metric.incrementBy(metrics.bytes, bytes) : Effect.void,
          permits.release(users)
        ], { discard: true })
      })

    const write = <A>(items: ReadonlyArray<A>, recordOf: ProducerEntry.RecordOf<A>): Effect.Effect<void, SinkError> =>
      Effect.suspend(() => {
        if (items.length === 0) return Effect.void
        if (closed) return Effect.fail(sinkError("the producer is closed", "transient"))
        const prepared = ProducerEntry.prepare(items, recordOf, {
          maxPartitionKeyLength: limits.maxPartitionKeyLength,
          maxRecordBytes: settings.maxRecordBytes
        })
        if (prepared instanceof ProducerEntry.InvalidRecord) return Effect.fail(sinkError(prepared.message, "permanent", prepared))
        return Effect.gen(function*() {
          const deferred = yield* Deferred.make<void, SinkError>()
          const ticket = new ProducerEntry.Ticket(prepared.length, deferred)
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

    const flush: Effect.Effect<void> = Effect.suspend(() => {
      if (buffered === 0) return Effect.void
      return Effect.flatMap(Deferred.make<void>(), (waiter) => {
        drained.push(waiter)
        return Deferred.await(waiter)
      })
    })

    return {
      queue,
      stats: Effect.sync(() => ({ ...counts, buffered })),
      counts,
      metrics,
      sinkError,
      settle,
      write,
      flush,
      close: Effect.sync(() => {
        closed = true
      })
    }
  })

/**
 * Which shard each entry goes to (only with rate limiting or aggregation): the shard map from ListShards,
 * listed again once a record lands on a shard the map does not know (the stream was resharded).
 */
const makePrediction = (kinesis: KinesisShape, settings: Settings) => {
  const needed = settings.rate !== undefined || settings.aggregationBytes !== undefined
  let shardMap: ShardMap | undefined
  let stale = needed

  const refresh = Effect.gen(function*() {
    if (!stale) return
    const listed = yield* Effect.either(StreamAdmin.listShards(settings.stream).pipe(Effect.provideService(Kinesis, kinesis)))
    if (listed._tag === "Right") {
      shardMap = new ShardMap(listed.right)
      stale = false
    } else {
      yield* Effect.logWarning(`producer ${settings.name}: cannot list shards, sending without shard prediction`, listed.left)
    }
  })

  return {
    /** Predicts the shard of each entry; answers the map used, undefined without prediction. */
    predict: (entries: ReadonlyArray<Entry>): Effect.Effect<ShardMap | undefined> =>
      !needed ? Effect.succeed(undefined) : Effect.map(refresh, () => {
        const map = shardMap
        if (map === undefined) return undefined
        for (const entry of entries) {
          if (entry.shard >= 0) continue
          const hash = entry.explicitHashKey !== undefined ? BigInt(entry.explicitHashKey) : hashKeyOf(entry.partitionKey)
          entry.hash = hash
          entry.shard = map.indexOf(hash)
        }
        return map
      }),
    markStale: () => {
      stale = true
    }
  }
}

/**
 * Sends one call's entries until each is stored or given up: PutRecords, then only the entries that failed
 * again after a jittered backoff (a failed call whole), at most `maxRetries` times. Never fails.
 */
const makeSend = (kinesis: KinesisShape, settings: Settings, ledger: Ledger) => {
  const { counts, metrics, settle, sinkError } = ledger

  const throttle = (entries: ReadonlyArray<Entry>, shardMap: ShardMap | undefined) =>
    Effect.gen(function*() {
      if (settings.rate === undefined || shardMap === undefined) return
      const wait = settings.rate.reserve(entries, shardMap, yield* Clock.currentTimeMillis)
      if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
    })

  const countThrottled = (entries: number) =>
    Effect.suspend(() => {
      counts.throttledEntries += entries
      return Metric.incrementBy(metrics.throttled, entries)
    })

  /** The entries to send again after a failed call, or its settlement when it can never succeed. */
  const afterFailure = (batch: ReadonlyArray<Entry>, error: KinesisError) =>
    Effect.gen(function*() {
      if (error.retryability === "permanent") {
        yield* settle(batch, sinkError(`PutRecords failed: ${error.message}`, "permanent", error))
        return []
      }
      if (AwsError.isThrottled(error)) yield* countThrottled(batch.length)
      if (AwsError.isUnknownOutcome(error)) for (const entry of batch) counts.possibleDuplicates += entry.users
      return batch.slice()
    })

  /** Settles what an answered call stored or rejected; answers the entries to send again. */
  const afterAnswer = (
    batch: ReadonlyArray<Entry>,
    answers: ReadonlyArray<Sdk.PutRecordsResultEntry>,
    shardMap: ShardMap | undefined,
    markStale: () => void
  ) =>
    Effect.gen(function*() {
      const retry: Array<Entry> = []
      const stored: Array<Entry> = []
      const rejected: Array<Entry> = []
      let throttled = 0
      for (let i = 0; i < batch.length; i++) {
        const answer = answers[i]
        if (answer === undefined) {
          // an answer without the entry: its outcome is unknown
          counts.possibleDuplicates += batch[i].users
          retry.push(batch[i])
        } else if (answer.ErrorCode === undefined || answer.ErrorCode === null) {
          stored.push(batch[i])
          // a record went to a shard the map does not know: the stream was resharded
          if (shardMap !== undefined && answer.ShardId !== undefined && !shardMap.has(answer.ShardId)) markStale()
        } else if (permanentEntryCodes.has(answer.ErrorCode)) {
          rejected.push(batch[i])
        } else {
          if (answer.ErrorCode === "ProvisionedThroughputExceededException") throttled++
          retry.push(batch[i])
        }
      }
      if (throttled > 0) yield* countThrottled(throttled)
      if (stored.length > 0) yield* settle(stored, undefined)
      if (rejected.length > 0) {
        const code = answers.find((a) => a.ErrorCode !== undefined && permanentEntryCodes.has(a.ErrorCode))
        yield* settle(rejected, sinkError(`PutRecords rejected entries: ${code?.ErrorCode}: ${code?.ErrorMessage}`, "permanent"))
      }
      return retry
    })

  return (initial: ReadonlyArray<Entry>, shardMap: ShardMap | undefined, markStale: () => void): Effect.Effect<void> =>
    Effect.gen(function*() {
      const retries = yield* Schedule.driver(settings.retry)
      let batch = initial
      while (batch.length > 0) {
        yield* throttle(batch, shardMap)
        counts.putRecordsCalls++
        yield* Metric.increment(metrics.calls)
        const result = yield* Effect.either(
          kinesis.putRecords({ StreamName: settings.stream, Records: batch.map(ProducerEntry.toRequestEntry) })
        )
        const retry = result._tag === "Left"
          ? yield* afterFailure(batch, result.left)
          : yield* afterAnswer(batch, result.right.Records ?? [], shardMap, markStale)
        if (retry.length === 0) return
        // sleeps the backoff; fails once the retries are spent
        if ((yield* Effect.either(retries.next(undefined)))._tag === "Left") {
          return yield* settle(retry, sinkError(`${retry.length} entries still failing after ${settings.maxRetries} retries`, "transient"))
        }
        counts.retriedEntries += retry.length
        yield* Metric.incrementBy(metrics.retried, retry.length)
        batch = retry
      }
    })
}

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

const clamp = (value: number, min: number, max: number): number => Math.max(min, Math.min(max, value))
