/**
 * An enhanced fan-out reader of one shard (SubscribeToShard through a registered stream consumer), as a
 * core `ShardReader` beside the polling one (`ShardReader.make`): the same interface, the same pages and
 * metrics, so the pipeline, its checkpoints and the leases do not know which one runs.
 *
 * - Subscribes over HTTP/2 (see `Kinesis.subscribeToShard`); each event is one page (one array, KPL
 *   records expanded), in shard order, as a GetRecords page is for the polling reader.
 * - Backpressure: it reads an event, hands its page on, and reads the next only when the page was taken;
 *   nothing is buffered beyond the HTTP/2 stream's flow-control window, which holds the sender back.
 * - When a subscription ends (AWS ends each after 5 minutes) or fails, it subscribes again after the last
 *   event's continuation sequence number: no gap, no duplicate. At most one SubscribeToShard per second
 *   (the limit per consumer and shard).
 * - Backs off with jitter, without limit, while SubscribeToShard is refused with ResourceInUse (another
 *   subscription of the consumer to the shard is active: a worker that had the shard has not let go yet,
 *   or the last one was less than 5 seconds ago) or LimitExceeded; retries other transient failures up to
 *   `maxRetries` times in a row; fails with a `SourceError` on anything permanent.
 * - At the shard's end (an event with ChildShards and no continuation sequence number) it ends, and `ended`
 *   answers the children. kinesis-mock never ends a subscription at a closed shard's end: against a local
 *   endpoint, an empty caught-up event makes the reader ask (at most every 2 s) whether the shard is closed
 *   (ListShards) and read to its end (a GetRecords after the continuation).
 * - Sets MillisBehindLatest from every event, and the other reader metrics (`Metrics.reader`) as the
 *   polling reader does, counting SubscribeToShard calls and ResourceInUse refusals.
 *
 * Time goes through Effect's Clock (TestClock works) and jitter through Effect's Random.
 *
 * @since 0.1.0
 */
import type * as Sdk from "@aws-sdk/client-kinesis"
import { AwsError } from "@tributary/aws"
import type { Position } from "@tributary/core/RecordSource"
import * as Retry from "@tributary/core/Retry"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import type { CheckpointError } from "@tributary/core/TributaryError"
import { SourceError } from "@tributary/core/TributaryError"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { childrenOf, lagGauges, pageOf, readerBackoff, readerMetrics } from "./internal/shardReading.js"
import type { Subscription } from "./Kinesis.js"
import { Kinesis } from "./Kinesis.js"
import type { KinesisError } from "./KinesisError.js"
import type { KinesisShardReader, ReadEnd, StartingPosition } from "./ShardReader.js"
import * as StreamAdmin from "./StreamAdmin.js"

/**
 * Options of `make`: the shard, the consumer to read it through, where to start, and how refusals and
 * failures are retried.
 *
 * @since 0.1.0
 * @category models
 */
export interface FanOutReaderOptions {
  /** The stream's name. */
  readonly stream: string
  /** The shard to read, e.g. `shardId-000000000000`. */
  readonly shardId: string
  /** The ARN of a registered consumer of the stream (`StreamConsumer.ensure` answers it). */
  readonly consumerArn: string
  /** Default TRIM_HORIZON. */
  readonly position?: StartingPosition | undefined
  /** Expand KPL-aggregated records into user records. Default true. */
  readonly deaggregate?: boolean | undefined
  /** First delay after a refused or failed subscription, doubled each time. Default 200 ms. */
  readonly backoffBase?: Duration.DurationInput | undefined
  /** Longest delay between retries. Default 10 s. */
  readonly backoffCap?: Duration.DurationInput | undefined
  /**
   * Transient failures (5xx, network, a stream cut) in a row before the reader fails with a transient
   * `SourceError`. ResourceInUse and LimitExceeded are retried without limit. Default 10.
   */
  readonly maxRetries?: number | undefined
  /** Stores a checkpoint (the core `ShardReader.checkpoint`). Default: nothing is stored. */
  readonly checkpoint?: ((position: Position) => Effect.Effect<void, CheckpointError>) | undefined
}

/**
 * Makes a reader of one shard through the consumer. Running `batches` again resumes after the last event
 * delivered.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fn("FanOutReader.make")(function*(options: FanOutReaderOptions) {
  const kinesis = yield* Kinesis
  const ended = yield* Deferred.make<ReadEnd, SourceError>()
  const { consumerArn, shardId, stream } = options
  const deaggregate = options.deaggregate ?? true
  const maxRetries = options.maxRetries ?? 10
  const backoff = readerBackoff(options)
  const start = options.position ?? { type: "TRIM_HORIZON" }
  const source = `kinesis:${stream}/${shardId}`
  const metrics = yield* readerMetrics(stream, shardId)

  // state shared by every run of `batches`
  let lastEmitted: Position | undefined
  /** After the last event handed on: where the next subscription starts. */
  let continuation: string | undefined
  let skipThrough: Position | undefined
  let current: { readonly scope: Scope.CloseableScope; readonly subscription: Subscription } | undefined
  let lastSubscribeAt = Number.NEGATIVE_INFINITY
  let lastClosedCheckAt = Number.NEGATIVE_INFINITY
  let pendingEnd: ReadonlyArray<string> | undefined
  let finished = false

  const toSourceError = (error: KinesisError) =>
    new SourceError({ source, reason: error.message, retryability: error.retryability, cause: error })
  const refused = (error: KinesisError) => AwsError.isThrottled(error) || error.reason === "ResourceInUse"

  /**
   * Retries refusals without limit and other transient failures up to maxRetries in a row (the retries are
   * set up once the call failed: most calls, one per event, succeed at once).
   */
  const withRetries = <A, R>(call: Effect.Effect<A, KinesisError, R>): Effect.Effect<A, SourceError, R> =>
    Retry.afterFirstFailure((first: Effect.Effect<A, KinesisError, R>) =>
      first.pipe(
        Effect.tapError((error) =>
          AwsError.isThrottled(error)
            ? metrics.throttled.update(1)
            : error.reason === "ResourceInUse"
            ? metrics.subscriptionsInUse.update(1)
            : Effect.void
        ),
        Effect.retry({ schedule: backoff, while: refused }),
        Retry.transient(Schedule.intersect(backoff, Schedule.recurs(maxRetries))),
        Effect.mapError(toSourceError)
      )
    )(call)

  /** Where a subscription (or the iterator of the end check) starts: after the continuation, else the start. */
  const startingPosition = (): Sdk.StartingPosition => {
    if (continuation !== undefined) return { Type: "AFTER_SEQUENCE_NUMBER", SequenceNumber: continuation }
    switch (start.type) {
      case "TRIM_HORIZON":
      case "LATEST":
        return { Type: start.type }
      case "AT_TIMESTAMP":
        return { Type: "AT_TIMESTAMP", Timestamp: new Date(start.timestamp) }
      case "AT_SEQUENCE_NUMBER":
        return { Type: "AT_SEQUENCE_NUMBER", SequenceNumber: start.sequenceNumber }
      case "AFTER_SEQUENCE_NUMBER":
        if (start.subSequenceNumber === undefined) return { Type: "AFTER_SEQUENCE_NUMBER", SequenceNumber: start.sequenceNumber }
        // the rest of a partly processed aggregated record: read it again, skip what was processed
        skipThrough = { sequenceNumber: start.sequenceNumber, subSequenceNumber: start.subSequenceNumber }
        return { Type: "AT_SEQUENCE_NUMBER", SequenceNumber: start.sequenceNumber }
    }
  }

  const unsubscribe = Effect.suspend(() => {
    const open = current
    current = undefined
    return open === undefined ? Effect.void : Scope.close(open.scope, Exit.void)
  })

  // At most one SubscribeToShard per second on this shard (AWS's limit per consumer and shard).
  const subscribe = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    if (lastSubscribeAt + 1000 > now) yield* Effect.sleep(lastSubscribeAt + 1000 - now)
    lastSubscribeAt = yield* Clock.currentTimeMillis
    metrics.subscribeCalls.unsafeUpdate(1)
    const scope = yield* Scope.make()
    const subscription = yield* kinesis.subscribeToShard({ ConsumerARN: consumerArn, ShardId: shardId, StartingPosition: startingPosition() })
      .pipe(Scope.extend(scope), Effect.onError(() => Scope.close(scope, Exit.void)))
    current = { scope, subscription }
    return subscription
  })

  /** The next event, subscribing first if need be; undefined when the subscription ended. */
  const nextEvent = Effect.gen(function*() {
    const subscription = current?.subscription ?? (yield* subscribe)
    const event = yield* Effect.onError(subscription.next, () => unsubscribe)
    if (event === undefined) yield* unsubscribe
    return event
  })

  /**
   * kinesis-mock keeps a subscription to a closed shard open: the shard is at its end once ListShards says
   * it is closed and a GetRecords after the continuation finds nothing more. Answers its children then.
   */
  const readToClosedEnd = Effect.gen(function*() {
    const shard = (yield* Effect.mapError(StreamAdmin.listShards(stream), toSourceError)).find((s) => s.shardId === shardId)
    if (shard === undefined || !StreamAdmin.isClosed(shard)) return undefined
    const position = startingPosition()
    const iterator = yield* withRetries(kinesis.getShardIterator({
      StreamName: stream,
      ShardId: shardId,
      ShardIteratorType: position.Type,
      StartingSequenceNumber: position.SequenceNumber,
      Timestamp: position.Timestamp
    }))
    if (iterator.ShardIterator === undefined) return undefined
    const rest = yield* withRetries(kinesis.getRecords({ ShardIterator: iterator.ShardIterator, Limit: 1 }))
    if ((rest.Records ?? []).length > 0 || rest.NextShardIterator !== undefined) return undefined
    return yield* childrenOf(stream, shardId, source, rest.ChildShards)
  })

  /** The children when an event says the shard ended (no continuation). */
  const endOf = (event: Sdk.SubscribeToShardEvent) =>
    Effect.gen(function*() {
      if (event.ChildShards !== undefined && event.ChildShards.length > 0) {
        return yield* childrenOf(stream, shardId, source, event.ChildShards)
      }
      const shard = (yield* Effect.mapError(StreamAdmin.listShards(stream), toSourceError)).find((s) => s.shardId === shardId)
      if (shard !== undefined && StreamAdmin.isClosed(shard)) return yield* childrenOf(stream, shardId, source, undefined)
      return yield* new SourceError({
        source,
        reason: "a SubscribeToShard event without a continuation sequence number, on an open shard",
        retryability: "transient"
      })
    })

  const finish = (end: ReadEnd) =>
    Effect.zipRight(
      Effect.sync(() => {
        finished = true
      }),
      Effect.zipRight(Deferred.succeed(ended, end), Effect.fail(Option.none()))
    )

  const pull: Effect.Effect<ReadonlyArray<SourceRecord>, Option.Option<SourceError>, Kinesis> = Effect.gen(function*() {
    while (true) {
      if (finished) return yield* Effect.fail(Option.none())
      if (pendingEnd !== undefined) {
        yield* unsubscribe
        return yield* finish({ _tag: "ShardEnd", childShardIds: pendingEnd })
      }
      const event = yield* Effect.mapError(withRetries(nextEvent), Option.some)
      if (event === undefined) continue
      const receivedAt = yield* Clock.currentTimeMillis
      const page = pageOf(event.Records ?? [], { stream, shardId, receivedAt, deaggregate, skipThrough })
      if (page.skipped) skipThrough = undefined
      const { records } = page
      const behind = event.MillisBehindLatest ?? 0
      metrics.behind.unsafeUpdate(behind)
      // (AWS's null arrives as undefined or null, depending on the SDK's version)
      const next = event.ContinuationSequenceNumber ?? undefined
      // an empty event must not move the start past a partly processed aggregate not read yet
      if (next !== undefined && skipThrough === undefined) continuation = next
      if (next === undefined) pendingEnd = yield* Effect.mapError(endOf(event), Option.some)
      if (records.length > 0) {
        const last = records[records.length - 1]
        lastEmitted = { sequenceNumber: last.sequenceNumber, subSequenceNumber: last.subSequenceNumber }
        metrics.records.unsafeUpdate(records.length)
        metrics.bytes.unsafeUpdate(page.bytes)
        metrics.age.unsafeUpdate(Math.max(0, receivedAt - last.arrivalTime))
        return records
      }
      if (behind === 0) metrics.age.unsafeUpdate(0)
      if (pendingEnd === undefined && behind === 0 && kinesis.isLocal && receivedAt - lastClosedCheckAt >= 2000) {
        lastClosedCheckAt = receivedAt
        pendingEnd = yield* Effect.mapError(readToClosedEnd, Option.some)
      }
    }
  }).pipe(
    Effect.tapError((error) => Option.isSome(error) ? Deferred.fail(ended, error.value) : Effect.void)
  )

  const gauges = lagGauges(source, metrics)
  const leave = Effect.suspend(() => Effect.zipRight(unsubscribe, gauges.leave(pendingEnd !== undefined)))
  // the service is given to each pull (a stream's provideService costs more per element)
  const batches = Stream.unwrapScoped(
    Effect.as(Effect.acquireRelease(gauges.enter, () => leave), Stream.repeatEffectOption(Effect.provideService(pull, Kinesis, kinesis)))
  )
  const reader: KinesisShardReader = {
    shardId,
    stream,
    batches,
    checkpoint: options.checkpoint ?? (() => Effect.void),
    ended: Deferred.await(ended),
    lastPosition: Effect.sync(() => lastEmitted)
  }
  return reader
})
