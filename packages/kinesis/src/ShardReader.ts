/**
 * A polling reader of one shard (GetShardIterator, then GetRecords in a loop), as a core `ShardReader`:
 * one array per non-empty GetRecords page, in shard order, KPL-aggregated records expanded.
 *
 * - polls again as soon as `maxCallsPerSecond` allows (the shard's limit of 5 per second) after a page with
 *   records, while MillisBehindLatest says it is behind, and after fewer than `emptyPagesBeforeIdle` empty
 *   pages in a row; a shard that stays quiet longer is polled every `idleInterval`;
 * - backs off with jitter while throttled, retries other transient failures up to `maxRetries` times in a
 *   row, and fails with a `SourceError` on anything permanent;
 * - on ExpiredIterator gets a new iterator AFTER_SEQUENCE_NUMBER of the last record it delivered (or at
 *   its starting position if it delivered nothing yet): no gap, no duplicate;
 * - at the shard's end (no NextShardIterator) ends, and `ended` answers the shard's children (from
 *   ChildShards, or from ListShards where the service leaves ChildShards out, like kinesalite);
 * - sets the `stream`/`shard` lag gauges (`Metrics.reader`) on every page, and when the last reader of the
 *   shard in the process ends resets them: 0 after the shard's end, NaN otherwise.
 *
 * Time goes through the Clock of the fiber that makes the reader (TestClock works) and jitter through
 * Effect's Random.
 *
 * @since 0.1.0
 */
import type * as Sdk from "@aws-sdk/client-kinesis"
import { AwsError } from "@tributary/aws"
import type { Position, ShardReader } from "@tributary/core/RecordSource"
import type { SequenceNumber } from "@tributary/core/SequenceNumber"
import * as Retry from "@tributary/core/Retry"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import type { CheckpointError } from "@tributary/core/TributaryError"
import { SourceError } from "@tributary/core/TributaryError"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { childrenOf, lagGauges, pageOf, readerBackoff, readerMetrics } from "./internal/shardReading.js"
import { Kinesis } from "./Kinesis.js"
import type { KinesisError } from "./KinesisError.js"

/**
 * Where a reader starts in its shard.
 *
 * @since 0.1.0
 * @category models
 */
export type StartingPosition =
  | { readonly type: "TRIM_HORIZON" }
  | { readonly type: "LATEST" }
  /** Records that arrived at or after `timestamp` (epoch milliseconds). */
  | { readonly type: "AT_TIMESTAMP"; readonly timestamp: number }
  | { readonly type: "AT_SEQUENCE_NUMBER"; readonly sequenceNumber: SequenceNumber }
  /**
   * After a record; with `subSequenceNumber`, after that user record of an aggregated record (the rest of
   * the aggregate is still delivered).
   */
  | { readonly type: "AFTER_SEQUENCE_NUMBER"; readonly sequenceNumber: SequenceNumber; readonly subSequenceNumber?: number }

/**
 * Constructors of starting positions: `trimHorizon` (the oldest record kept), `latest` (only records put
 * after the reader starts), `atTimestamp`, `atSequenceNumber`, `afterSequenceNumber`, and `after` a
 * checkpointed position.
 *
 * @since 0.1.0
 * @category constructors
 */
export const StartingPosition = {
  trimHorizon: { type: "TRIM_HORIZON" } as StartingPosition,
  latest: { type: "LATEST" } as StartingPosition,
  atTimestamp: (timestamp: Date | number): StartingPosition => ({
    type: "AT_TIMESTAMP",
    timestamp: typeof timestamp === "number" ? timestamp : timestamp.getTime()
  }),
  atSequenceNumber: (sequenceNumber: SequenceNumber): StartingPosition => ({ type: "AT_SEQUENCE_NUMBER", sequenceNumber }),
  afterSequenceNumber: (sequenceNumber: SequenceNumber, subSequenceNumber?: number): StartingPosition =>
    subSequenceNumber === undefined
      ? { type: "AFTER_SEQUENCE_NUMBER", sequenceNumber }
      : { type: "AFTER_SEQUENCE_NUMBER", sequenceNumber, subSequenceNumber },
  /** Right after a checkpointed position. */
  after: (position: Position): StartingPosition => ({
    type: "AFTER_SEQUENCE_NUMBER",
    sequenceNumber: position.sequenceNumber,
    subSequenceNumber: position.subSequenceNumber
  })
} as const

/**
 * Which shard a reader reads, from where, how fast, and how it retries and checkpoints.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReaderOptions {
  /** The Kinesis stream of the shard. */
  readonly stream: string
  /** The shard to read, e.g. "shardId-000000000000". */
  readonly shardId: string
  /** Default TRIM_HORIZON. */
  readonly position?: StartingPosition
  /** Records per GetRecords call, 1 to 10,000. Default 10,000. */
  readonly maxRecords?: number | undefined
  /**
   * How long to wait between calls once the shard is quiet (`emptyPagesBeforeIdle` empty pages in a row).
   * Default 500 ms: a record arriving after a quiet spell waits at most that long, and a quiet shard takes 2
   * of its 5 calls per second, leaving the rest to the shard's other readers. At least 200 ms unless the
   * endpoint is local.
   */
  readonly idleInterval?: Duration.DurationInput | undefined
  /**
   * Empty pages in a row (caught up) after which the shard counts as quiet and is polled every
   * `idleInterval`; until then it is polled as fast as `maxCallsPerSecond` allows, so records that arrive
   * between busy pages wait no longer than the pace. Default 5 (a second at 5 calls per second); 1 waits
   * `idleInterval` after every empty page.
   */
  readonly emptyPagesBeforeIdle?: number | undefined
  /** GetRecords calls per second, at most. Default 5 (the shard's limit); above 5 only against a local endpoint. */
  readonly maxCallsPerSecond?: number | undefined
  /**
   * true (default): keep polling an open shard for new records; false: end as soon as a page is empty and
   * MillisBehindLatest is 0 (a bounded read of what is there). A bounded read of a closed shard may end
   * `CaughtUp` just before the page that ends the shard on some endpoints (kinesalite): read closed shards
   * with `follow: true`, they end by themselves (the stream source does so).
   */
  readonly follow?: boolean
  /** Expand KPL-aggregated records into user records. Default true. */
  readonly deaggregate?: boolean
  /** First delay after a throttled or failed call, doubled each time. Default 200 ms. */
  readonly backoffBase?: Duration.DurationInput
  /** Longest delay between retries. Default 10 s. */
  readonly backoffCap?: Duration.DurationInput
  /**
   * Transient failures (5xx, network) in a row before the reader fails with a transient `SourceError`.
   * Throttling is retried without limit. Default 10.
   */
  readonly maxRetries?: number | undefined
  /** Stores a checkpoint (the core `ShardReader.checkpoint`). Default: nothing is stored. */
  readonly checkpoint?: (position: Position) => Effect.Effect<void, CheckpointError>
  /**
   * Once it completes, `batches` ends (without `ended` completing) after the page in flight: the wait of a
   * quiet shard and retries are cut short; a call under way and the wait for the call pace (at most one
   * interval) are not. A worker stops reading a shard this way. It is checked between pages rather than
   * raced with each one, which would cost a fiber per page.
   */
  readonly stop?: Effect.Effect<void> | undefined
}

/**
 * How a reader ended.
 *
 * @since 0.1.0
 * @category models
 */
export type ReadEnd =
  /** The shard is closed and every record of it was delivered; its children (0 to 2) come next. */
  | { readonly _tag: "ShardEnd"; readonly childShardIds: ReadonlyArray<string> }
  /** A bounded read (`follow: false`) reached the newest record. */
  | { readonly _tag: "CaughtUp" }

/**
 * A reader of one Kinesis shard: core's `ShardReader` (its batches and checkpoint), with how it ended and
 * the last position delivered.
 *
 * @since 0.1.0
 * @category models
 */
export interface KinesisShardReader extends ShardReader {
  /** The Kinesis stream of the shard. */
  readonly stream: string
  /**
   * Completes once `batches` has ended (after the consumer took the last page), with how it ended; fails
   * if `batches` failed.
   */
  readonly ended: Effect.Effect<ReadEnd, SourceError>
  /** The last record delivered, if any. */
  readonly lastPosition: Effect.Effect<Position | undefined>
}

/**
 * Makes a reader of one shard. Running `batches` again resumes after the last record delivered.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fn("ShardReader.make")(function*(options: ReaderOptions) {
  const kinesis = yield* Kinesis
  const ended = yield* Deferred.make<ReadEnd, SourceError>()
  const { shardId, stream } = options
  const local = kinesis.isLocal
  const maxRecords = Math.max(1, Math.min(10_000, options.maxRecords ?? 10_000))
  const idle = clampIdle(Duration.decode(options.idleInterval ?? "500 millis"), local)
  const emptyPagesBeforeIdle = Math.max(1, options.emptyPagesBeforeIdle ?? 5)
  const callsPerSecond = Math.max(0.001, local ? options.maxCallsPerSecond ?? 5 : Math.min(5, options.maxCallsPerSecond ?? 5))
  const spacing = 1000 / callsPerSecond
  const follow = options.follow ?? true
  const deaggregate = options.deaggregate ?? true
  const maxRetries = options.maxRetries ?? 10
  const backoff = readerBackoff(options)
  const start = options.position ?? StartingPosition.trimHorizon
  const source = `kinesis:${stream}/${shardId}`

  const metrics = yield* readerMetrics(stream, shardId)

  // state shared by every run of `batches`
  let lastEmitted: Position | undefined
  let iterator: string | undefined
  let skipThrough: Position | undefined
  let lastCallAt = Number.NEGATIVE_INFINITY
  let pendingEnd: ReadonlyArray<string> | "caught-up" | undefined
  let finished = false
  let expiredInARow = 0
  let emptyInARow = 0
  let stopRequested = false

  const transientError = (reason: string) => new SourceError({ source, reason, retryability: "transient" })
  const toSourceError = (error: KinesisError) =>
    new SourceError({ source, reason: error.message, retryability: error.retryability, cause: error })

  /**
   * Runs a call, retrying throttling without limit and other transient failures up to maxRetries (the
   * retries are set up once the call failed: most calls succeed at once).
   */
  const withRetries = <A>(call: Effect.Effect<A, KinesisError>): Effect.Effect<A, SourceError> =>
    Retry.afterFirstFailure((first: Effect.Effect<A, KinesisError>) =>
      untilStopped(first.pipe(
        Effect.tapError((error) => AwsError.isThrottled(error) ? metrics.throttled.update(1) : Effect.void),
        Effect.retry({ schedule: backoff, while: AwsError.isThrottled }),
        Retry.transient(Schedule.intersect(backoff, Schedule.recurs(maxRetries))),
        Effect.mapError(toSourceError)
      ))
    )(call)

  /** A wait the stop cuts short, failing with `stoppedMarker` (the stream then ends). */
  const untilStopped = <A>(wait: Effect.Effect<A, SourceError>): Effect.Effect<A, SourceError> =>
    options.stop === undefined ? wait : Effect.raceFirst(wait, Effect.zipRight(options.stop, noteStopped))
  // noted here too: a wait the stop ended must find it noted, whichever fiber the stop resumes first
  const noteStopped = Effect.zipRight(Effect.sync(() => void (stopRequested = true)), Effect.fail(stoppedMarker))
  /** The end of the stream (none) when stopped, else the failure. */
  const orStopped = (error: SourceError): Option.Option<SourceError> =>
    // an error failed inside a span is a proxy of itself (it carries the span): compared by its original
    Cause.originalError(error) === stoppedMarker ? Option.none() : Option.some(error)

  const iteratorInput = (): Sdk.GetShardIteratorInput => {
    const common = { StreamName: stream, ShardId: shardId }
    if (lastEmitted !== undefined) {
      // every user record of an aggregated record is delivered in the same page, so "after the record"
      // loses nothing
      skipThrough = lastEmitted
      return { ...common, ShardIteratorType: "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber: lastEmitted.sequenceNumber }
    }
    switch (start.type) {
      case "TRIM_HORIZON":
      case "LATEST":
        return { ...common, ShardIteratorType: start.type }
      case "AT_TIMESTAMP":
        return { ...common, ShardIteratorType: "AT_TIMESTAMP", Timestamp: new Date(start.timestamp) }
      case "AT_SEQUENCE_NUMBER":
        return { ...common, ShardIteratorType: "AT_SEQUENCE_NUMBER", StartingSequenceNumber: start.sequenceNumber }
      case "AFTER_SEQUENCE_NUMBER":
        if (start.subSequenceNumber === undefined) {
          return { ...common, ShardIteratorType: "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber: start.sequenceNumber }
        }
        // the rest of a partly processed aggregated record: read it again, skip what was processed
        skipThrough = { sequenceNumber: start.sequenceNumber, subSequenceNumber: start.subSequenceNumber }
        return { ...common, ShardIteratorType: "AT_SEQUENCE_NUMBER", StartingSequenceNumber: start.sequenceNumber }
    }
  }

  // Time is read from the clock of the fiber that made the reader (TestClock in tests), without an effect
  // per reading: a page's bookkeeping is plain code between its two waits (the pace and the call).
  const clock = yield* Effect.clock

  // At most `callsPerSecond` GetRecords on this shard, retries included.
  const called = Effect.sync(() => {
    lastCallAt = clock.unsafeCurrentTimeMillis()
    metrics.calls.unsafeUpdate(1)
  })
  const pace = Effect.suspend(() => {
    const wait = lastCallAt + spacing - clock.unsafeCurrentTimeMillis()
    return wait <= 0 ? called : Effect.zipRight(clock.sleep(Duration.millis(wait)), called)
  })

  const finish = (end: ReadEnd) =>
    Effect.zipRight(
      Effect.sync(() => {
        finished = true
      }),
      Effect.zipRight(Deferred.succeed(ended, end), Effect.fail(Option.none()))
    )

  type Pulled = Effect.Effect<ReadonlyArray<SourceRecord>, Option.Option<SourceError>>

  // One GetRecords (paced, retried), undefined when the iterator expired.
  const getRecords = (shardIterator: string) =>
    Effect.mapError(
      withRetries(Effect.catchIf(
        Effect.zipRight(pace, kinesis.getRecords({ ShardIterator: shardIterator, Limit: maxRecords })),
        // the iterator is older than 5 minutes: recovered with a new one
        AwsError.hasReason("Expired"),
        () => Effect.void
      )),
      orStopped
    )

  // The next non-empty page, or the end: a loop of plain effects (no generator made per page).
  const next: Pulled = Effect.suspend((): Pulled => {
    if (finished || stopRequested) return Effect.fail(Option.none())
    if (pendingEnd !== undefined) {
      return finish(pendingEnd === "caught-up" ? { _tag: "CaughtUp" } : { _tag: "ShardEnd", childShardIds: pendingEnd })
    }
    if (iterator === undefined) {
      return Effect.flatMap(Effect.mapError(withRetries(kinesis.getShardIterator(iteratorInput())), orStopped), (obtained) => {
        if (obtained.ShardIterator === undefined) {
          return Effect.fail(Option.some(transientError("GetShardIterator returned no iterator")))
        }
        iterator = obtained.ShardIterator
        return next
      })
    }
    return Effect.flatMap(getRecords(iterator), read)
  })

  // What a page's answer leads to: its records, or the next call.
  const read = (output: Sdk.GetRecordsOutput | void): Pulled => {
    if (output === undefined) {
      // a new iterator after the last record delivered; fresh iterators that keep expiring (a clock far
      // off) must not loop forever
      iterator = undefined
      metrics.expired.unsafeUpdate(1)
      if (++expiredInARow > maxRetries) {
        return Effect.fail(Option.some(transientError(`${expiredInARow} shard iterators in a row expired at once`)))
      }
      return next
    }
    expiredInARow = 0
    iterator = output.NextShardIterator ?? undefined
    const receivedAt = clock.unsafeCurrentTimeMillis()
    const page = pageOf(output.Records ?? [], { stream, shardId, receivedAt, deaggregate, skipThrough })
    if (page.skipped) skipThrough = undefined
    const { bytes, records } = page
    const behind = output.MillisBehindLatest ?? 0
    metrics.behind.unsafeUpdate(behind)
    if (iterator !== undefined) return deliver(records, bytes, receivedAt, behind)
    // the shard's end: its children come next
    return Effect.flatMap(
      Effect.mapError(Effect.provideService(childrenOf(stream, shardId, source, output.ChildShards), Kinesis, kinesis), Option.some),
      (children) => {
        pendingEnd = children
        return deliver(records, bytes, receivedAt, behind)
      }
    )
  }

  // A page's records; after an empty page the next call: at the pace, or every idleInterval once the shard is
  // quiet.
  const deliver = (records: ReadonlyArray<SourceRecord>, bytes: number, receivedAt: number, behind: number): Pulled => {
    if (records.length > 0) {
      emptyInARow = 0
      const last = records[records.length - 1]
      lastEmitted = { sequenceNumber: last.sequenceNumber, subSequenceNumber: last.subSequenceNumber }
      metrics.records.unsafeUpdate(records.length)
      metrics.bytes.unsafeUpdate(bytes)
      metrics.age.unsafeUpdate(Math.max(0, receivedAt - last.arrivalTime))
      return Effect.succeed(records)
    }
    if (behind === 0) metrics.age.unsafeUpdate(0)
    if (pendingEnd !== undefined || behind > 0) return next
    if (!follow) {
      pendingEnd = "caught-up"
      return next
    }
    return ++emptyInARow >= emptyPagesBeforeIdle ? Effect.zipRight(Effect.ignore(untilStopped(clock.sleep(idle))), next) : next
  }

  const pull: Pulled = Effect.tapError(next, (error) => Option.isSome(error) ? Deferred.fail(ended, error.value) : Effect.void)

  const gauges = lagGauges(source, metrics)
  const enter = gauges.enter
  const leave = Effect.suspend(() => gauges.leave(pendingEnd !== undefined && pendingEnd !== "caught-up"))

  // the stop is noted by a fiber of its own, once per run, and read between pages
  const noteStop = options.stop === undefined ? Effect.void : Effect.forkScoped(Effect.zipRight(options.stop, Effect.ignore(noteStopped)))
  // a run: the lag gauges held, the stop watched, until its scope closes
  const open = Effect.as(Effect.zipRight(Effect.acquireRelease(enter, () => leave), noteStop), pull)
  const reader: KinesisShardReader = {
    shardId,
    stream,
    batches: Stream.unwrapScoped(Effect.map(open, Stream.repeatEffectOption)),
    pull: open,
    checkpoint: options.checkpoint ?? (() => Effect.void),
    ended: Deferred.await(ended),
    lastPosition: Effect.sync(() => lastEmitted)
  }
  return reader
})

/**
 * The idle interval actually used: never under 200 ms against real AWS.
 *
 * @since 0.1.0
 * @category utils
 */
export const clampIdle = (idle: Duration.Duration, local: boolean): Duration.Duration =>
  local ? idle : Duration.max(idle, Duration.millis(200))

/** What a wait cut short by the reader's stop fails with inside the reader; it never leaves it. */
const stoppedMarker = new SourceError({ source: "kinesis", reason: "the reader was stopped", retryability: "permanent" })
