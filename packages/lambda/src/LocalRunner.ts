/**
 * A local stand-in for Lambda's Kinesis and DynamoDB Streams event source mappings: reads a real Kinesis
 * stream (kinesalite, kinesis-mock, or AWS) with the shard reader, or the changes a `TableStream` of
 * `@tributary/dynamodb` recorded on a table (dynalite has no streams), and invokes a handler the way the
 * mapping does, so a function can be tested end to end without deploying it.
 *
 * What it reproduces, per shard (shards run concurrently, each strictly in order):
 *
 * - `batchSize` records per invocation; with `maximumBatchingWindow` it waits up to that long to fill a
 *   batch, without one it invokes with whatever a GetRecords call returned;
 * - events with Kinesis records as stored (KPL aggregates are not expanded: that is the handler's job);
 * - `reportBatchItemFailures`: a response naming failed items makes the runner retry from the lowest
 *   sequence number named (an unknown sequence number fails the whole batch, as Lambda does);
 * - a function error (the handler throws or times out) retries the whole batch, or with
 *   `bisectBatchOnFunctionError` splits it in two and retries each half (the halves inherit the attempts
 *   already made; a batch of one is retried as is);
 * - `maximumRetryAttempts` (-1: without limit): a batch still failing after that many retries is given up
 *   and its metadata goes to the on-failure destination (`failedBatches` in the summary), as Lambda does
 *   when the mapping has a destination;
 * - tumbling windows (`runTumblingWindow`, `runDynamoDBStreamTumblingWindow`): records are grouped into
 *   windows of `tumblingWindow` by arrival time (a change's `ApproximateCreationDateTime`), the handler's
 *   `state` is passed to the next invocation of the same window, and a final invocation without records
 *   and with `isFinalInvokeForWindow` closes the window when a record of a later window arrives or the run
 *   ends.
 *
 * Not reproduced: ParallelizationFactor (one batch per shard at a time), MaximumRecordAgeInSeconds, and
 * checkpoints that outlive the run (each run starts at `startingPosition`, or at the first recorded
 * change).
 *
 * @since 0.1.0
 */
import * as Sequence from "@tributary/core/SequenceNumber"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import { SourceError } from "@tributary/core/TributaryError"
import type { Kinesis } from "@tributary/kinesis/Kinesis"
import * as ShardReader from "@tributary/kinesis/ShardReader"
import * as StreamAdmin from "@tributary/kinesis/StreamAdmin"
import type {
  DynamoDBBatchResponse,
  DynamoDBRecord,
  DynamoDBStreamEvent as DynamoDBEvent,
  KinesisStreamBatchResponse,
  KinesisStreamEvent,
  KinesisStreamStateResponse,
  KinesisStreamTumblingWindowEvent
} from "aws-lambda"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import type { DynamoDBStreamStateResponse, DynamoDBStreamTumblingWindowEvent } from "./DynamoDBStreamEvent.js"
import * as DynamoDBStreamEvent from "./DynamoDBStreamEvent.js"
import type { InvocationContext } from "./Lambda.js"
import type { Origin } from "./KinesisEvent.js"
import * as KinesisEvent from "./KinesisEvent.js"

/**
 * The event source mapping's settings every source has, named as in Lambda's API.
 *
 * @since 0.1.0
 * @category models
 */
export interface MappingOptions {
  /** Records per invocation, 1 to 10,000. Default 100. */
  readonly batchSize?: number
  /** How long to gather records before invoking. Default 0 (invoke with what one read returned). */
  readonly maximumBatchingWindow?: Duration.DurationInput
  /** Default false. */
  readonly bisectBatchOnFunctionError?: boolean
  /** Retries of a failing batch before it is given up; -1 (default): retry without limit. */
  readonly maximumRetryAttempts?: number
  /** Default true: read `batchItemFailures` (FunctionResponseTypes: ReportBatchItemFailures). */
  readonly reportBatchItemFailures?: boolean
  /** Waiting time before each retry. Default 0. */
  readonly retryDelay?: Duration.DurationInput
  /**
   * The function's timeout: the handler sees the time left through its context, and an invocation still
   * running after it is a function error (its batch retried). Lambda stops such a function; a promise cannot
   * be stopped, so the shard's next invocation waits until it has settled. Default 60 s.
   */
  readonly functionTimeout?: Duration.DurationInput
}

/**
 * The Kinesis event source mapping's settings.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunnerOptions extends MappingOptions {
  /** The Kinesis stream the mapping reads. */
  readonly stream: string
  /** Default TRIM_HORIZON. */
  readonly startingPosition?: ShardReader.StartingPosition
  /** false (default): stop when every shard is read to its newest record; true: keep polling. */
  readonly follow?: boolean
  /** Only these shards. Default: every shard of the stream. */
  readonly shards?: ReadonlyArray<string>
  /** Region and account written into the events. */
  readonly origin?: Origin
}

/**
 * A table's recorded changes, per shard, as DynamoDB Streams would hold them: a `TableStream` of
 * `@tributary/dynamodb` is one.
 *
 * @since 0.1.0
 * @category models
 */
export interface Changes {
  /** The ARN of the table's stream, written into the events as `eventSourceARN`. */
  readonly streamArn: string
  /** The changes recorded so far, per shard, each shard in order. */
  readonly shards: () => ReadonlyArray<{ readonly shardId: string; readonly records: ReadonlyArray<DynamoDBRecord> }>
}

/**
 * The DynamoDB Streams event source mapping's settings.
 *
 * @since 0.1.0
 * @category models
 */
export interface DynamoDBStreamRunnerOptions extends MappingOptions {
  /** The table's recorded changes the mapping reads, e.g. a `TableStream` of `@tributary/dynamodb`. */
  readonly changes: Changes
}

/**
 * What the on-failure destination receives for a batch given up (the `KinesisBatchInfo`, or
 * `DDBStreamBatchInfo`, of Lambda's invocation record).
 *
 * @since 0.1.0
 * @category models
 */
export interface FailedBatch {
  /** The shard the batch was read from. */
  readonly shardId: string
  /** The sequence number of the batch's first record. */
  readonly startSequenceNumber: string
  /** The sequence number of the batch's last record. */
  readonly endSequenceNumber: string
  /** When the batch's first record arrived, an ISO 8601 timestamp. */
  readonly approximateArrivalOfFirstRecord: string
  /** When the batch's last record arrived, an ISO 8601 timestamp. */
  readonly approximateArrivalOfLastRecord: string
  /** Records in the batch given up. */
  readonly batchSize: number
  /** The ARN of the stream the batch was read from. */
  readonly streamArn: string
  /** Why the batch was given up: its retries ran out. */
  readonly condition: "RetryAttemptsExhausted"
  /** Set for a window's final invocation that was given up. */
  readonly window?: { readonly start: string; readonly end: string }
}

/**
 * What a run did: records read, invocations and their retries and failures, bisections, and the batches
 * given up.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunSummary {
  /** Kinesis records read from the stream. */
  readonly records: number
  /** Invocations of the handler, retries included. */
  readonly invocations: number
  /** Invocations that repeated records already handed to the function (or a final window invocation). */
  readonly retries: number
  /** Invocations that failed: the handler threw, rejected or ran past the function's timeout. */
  readonly functionErrors: number
  /** Responses that named failed items. */
  readonly partialFailures: number
  /** Times a failing batch was split in two (`bisectBatchOnFunctionError`). */
  readonly bisections: number
  /** The batches given up after `maximumRetryAttempts`, as the on-failure destination would receive them. */
  readonly failedBatches: ReadonlyArray<FailedBatch>
}

/**
 * A handler of plain Kinesis events.
 *
 * @since 0.1.0
 * @category models
 */
export type BatchHandler = (
  event: KinesisStreamEvent,
  context: InvocationContext
) => Promise<KinesisStreamBatchResponse | void>

/**
 * A handler of tumbling-window events.
 *
 * @since 0.1.0
 * @category models
 */
export type WindowHandler = (
  event: KinesisStreamTumblingWindowEvent,
  context: InvocationContext
) => Promise<KinesisStreamStateResponse | void>

/**
 * A handler of DynamoDB stream events.
 *
 * @since 0.1.0
 * @category models
 */
export type DynamoDBStreamBatchHandler = (
  event: DynamoDBEvent,
  context: InvocationContext
) => Promise<DynamoDBBatchResponse | void>

/**
 * A handler of DynamoDB stream tumbling-window events.
 *
 * @since 0.1.0
 * @category models
 */
export type DynamoDBStreamWindowHandler = (
  event: DynamoDBStreamTumblingWindowEvent,
  context: InvocationContext
) => Promise<DynamoDBStreamStateResponse | void>

/**
 * Runs the event source mapping over the stream with `handler` until every shard is read to its newest
 * record (or, with `follow`, until interrupted).
 *
 * @since 0.1.0
 * @category running
 */
export const run = (handler: BatchHandler, options: RunnerOptions): Effect.Effect<RunSummary, SourceError, Kinesis> =>
  Effect.flatMap(kinesisShards(options), (shards) =>
    runWith(options, KinesisEvent.streamArn(options.stream, options.origin), shards, (shard, ctx) =>
      deliverAll(shard, ctx, (batch) => handler(KinesisEvent.fromRecords(batch, options.origin), ctx.context())))).pipe(
    Effect.withSpan("LocalRunner.run", { attributes: { stream: options.stream } })
  )

/**
 * Runs the event source mapping with `TumblingWindowInSeconds` over the stream with `handler`.
 *
 * @since 0.1.0
 * @category running
 */
export const runTumblingWindow = (
  handler: WindowHandler,
  options: RunnerOptions & { readonly tumblingWindow: Duration.DurationInput }
): Effect.Effect<RunSummary, SourceError, Kinesis> => {
  const size = windowSize(options.tumblingWindow)
  return Effect.flatMap(kinesisShards(options), (shards) =>
    runWith(options, KinesisEvent.streamArn(options.stream, options.origin), shards, (shard, ctx, shardId) =>
      deliverWindows(shard, ctx, size, (records, window, state, final) =>
        handler(
          KinesisEvent.tumblingWindowEvent({
            stream: options.stream,
            shardId,
            records,
            window,
            state,
            isFinalInvokeForWindow: final,
            ...(options.origin === undefined ? {} : { origin: options.origin })
          }),
          ctx.context()
        )))).pipe(Effect.withSpan("LocalRunner.runTumblingWindow", { attributes: { stream: options.stream } }))
}

/**
 * Runs the DynamoDB Streams event source mapping over the changes recorded so far (a `TableStream` of
 * `@tributary/dynamodb`) with `handler`: each shard in order, `batchSize` changes per event, with the
 * mapping's retries (from the lowest `SequenceNumber` a partial batch response names), bisection and
 * give-up rules, as `run` does for Kinesis.
 *
 * @since 0.1.0
 * @category running
 */
export const runDynamoDBStream = (
  handler: DynamoDBStreamBatchHandler,
  options: DynamoDBStreamRunnerOptions
): Effect.Effect<RunSummary> =>
  Effect.flatMap(changeShards(options), (shards) =>
    runWith(options, options.changes.streamArn, shards, (shard, ctx) =>
      deliverAll(shard, ctx, (batch) => handler(DynamoDBStreamEvent.fromRecords(batch.map((c) => c.record)), ctx.context())))).pipe(
      Effect.withSpan("LocalRunner.runDynamoDBStream", { attributes: { stream: options.changes.streamArn } })
    )

/**
 * Runs the DynamoDB Streams event source mapping with `TumblingWindowInSeconds` over the recorded changes:
 * windows by `ApproximateCreationDateTime`, the state carried between invocations, a final invocation per
 * window.
 *
 * @since 0.1.0
 * @category running
 */
export const runDynamoDBStreamTumblingWindow = (
  handler: DynamoDBStreamWindowHandler,
  options: DynamoDBStreamRunnerOptions & { readonly tumblingWindow: Duration.DurationInput }
): Effect.Effect<RunSummary> => {
  const size = windowSize(options.tumblingWindow)
  const streamArn = options.changes.streamArn
  return Effect.flatMap(changeShards(options), (shards) =>
    runWith(options, streamArn, shards, (shard, ctx, shardId) =>
      deliverWindows(shard, ctx, size, (changes, window, state, final) =>
        handler(
          DynamoDBStreamEvent.tumblingWindowEvent({
            streamArn,
            shardId,
            records: changes.map((c) => c.record),
            window,
            state,
            isFinalInvokeForWindow: final
          }),
          ctx.context()
        )))).pipe(Effect.withSpan("LocalRunner.runDynamoDBStreamTumblingWindow", { attributes: { stream: streamArn } }))
}

// ---------------------------------------------------------------------------------------------------------
// internal
// ---------------------------------------------------------------------------------------------------------

/** What the mapping reads of a record, whatever its source. */
interface Positioned {
  readonly sequenceNumber: string
  /** Epoch milliseconds: a Kinesis record's arrival, a change's ApproximateCreationDateTime. */
  readonly arrivalTime: number
}

/** A recorded change, with what the mapping reads of it. */
interface Change extends Positioned {
  readonly record: DynamoDBRecord
}

/** One shard's batches, as the mapping reads them. */
interface ShardFeed<T, E, R> {
  readonly shardId: string
  readonly batches: Stream.Stream<ReadonlyArray<T>, E, R>
}

interface Counters {
  records: number
  invocations: number
  retries: number
  functionErrors: number
  partialFailures: number
  bisections: number
  failedBatches: Array<FailedBatch>
}

interface ShardContext<T> {
  readonly context: () => InvocationContext
  /** Calls the handler, turning a throw or a timeout into a function error (Left). */
  readonly invoke: <A>(call: () => Promise<A>) => Effect.Effect<Either.Either<A, unknown>>
  /** Delivers a batch with the mapping's retry, bisect and give-up rules. */
  readonly retrying: (
    records: ReadonlyArray<T>,
    attempt: (
      batch: ReadonlyArray<T>
    ) => Effect.Effect<Either.Either<ReadonlyArray<{ readonly itemIdentifier: string }> | undefined, unknown>>
  ) => Effect.Effect<void>
  /** Retries a window's final invocation until it succeeds or the attempts run out. */
  readonly retryingFinal: (
    window: { readonly start: number; readonly end: number },
    attempt: () => Effect.Effect<Either.Either<undefined, unknown>>
  ) => Effect.Effect<void>
}

const windowSize = (input: Duration.DurationInput): number => {
  const size = Duration.toMillis(Duration.decode(input))
  if (!(size > 0 && size <= 900_000)) throw new RangeError(`tumblingWindow must be in (0, 900] seconds, got ${size} ms`)
  return size
}

/** The Kinesis stream's shards, each read with the shard reader from the starting position. */
const kinesisShards = (
  options: RunnerOptions
): Effect.Effect<ReadonlyArray<ShardFeed<SourceRecord, SourceError, Kinesis>>, SourceError, Kinesis> =>
  Effect.gen(function*() {
    const batchSize = batchSizeOf(options)
    const shardIds = options.shards ??
      (yield* StreamAdmin.listShards(options.stream).pipe(
        Effect.mapError((error) =>
          new SourceError({
            source: `kinesis:${options.stream}`,
            reason: error.message,
            retryability: error.retryability,
            cause: error
          })
        )
      )).map((shard) => shard.shardId)
    return shardIds.map((shardId) => ({
      shardId,
      batches: Stream.unwrap(Effect.map(
        ShardReader.make({
          stream: options.stream,
          shardId,
          position: options.startingPosition ?? ShardReader.StartingPosition.trimHorizon,
          maxRecords: batchSize,
          follow: options.follow ?? false,
          // the function sees Kinesis records as stored, aggregates included
          deaggregate: false,
          idleInterval: "50 millis"
        }),
        (reader) => reader.batches
      ))
    }))
  })

/** The recorded changes of each shard, read `batchSize` at a time as GetRecords would return them. */
const changeShards = (options: DynamoDBStreamRunnerOptions): Effect.Effect<ReadonlyArray<ShardFeed<Change, never, never>>> =>
  Effect.sync(() => {
    const batchSize = batchSizeOf(options)
    return options.changes.shards().map((shard) => {
      const changes = shard.records.map((record): Change => ({
        record,
        sequenceNumber: record.dynamodb?.SequenceNumber ?? "",
        arrivalTime: Math.round((record.dynamodb?.ApproximateCreationDateTime ?? 0) * 1000)
      }))
      const pages: Array<ReadonlyArray<Change>> = []
      for (let from = 0; from < changes.length; from += batchSize) pages.push(changes.slice(from, from + batchSize))
      return { shardId: shard.shardId, batches: Stream.fromIterable(pages) }
    })
  })

const batchSizeOf = (options: MappingOptions) => Math.max(1, Math.min(10_000, Math.floor(options.batchSize ?? 100)))

/** Plain invocations: every batch through the mapping's retries. */
const deliverAll = <T, E, R>(
  shard: Stream.Stream<ReadonlyArray<T>, E, R>,
  ctx: ShardContext<T>,
  call: (batch: ReadonlyArray<T>) => Promise<{ readonly batchItemFailures: ReadonlyArray<{ readonly itemIdentifier: string }> } | void>
): Effect.Effect<void, E, R> =>
  Stream.runForEach(shard, (records) =>
    ctx.retrying(records, (batch) =>
      Effect.map(
        ctx.invoke(() => call(batch)),
        Either.map((response) => response === undefined ? undefined : response.batchItemFailures)
      )))

/** Tumbling-window invocations: batches cut at window boundaries, the state carried, a final call per window. */
const deliverWindows = <T extends Positioned, E, R>(
  shard: Stream.Stream<ReadonlyArray<T>, E, R>,
  ctx: ShardContext<T>,
  size: number,
  call: (
    records: ReadonlyArray<T>,
    window: { readonly start: number; readonly end: number },
    state: { [key: string]: unknown },
    final: boolean
  ) => Promise<{ readonly state?: { [key: string]: unknown }; readonly batchItemFailures?: ReadonlyArray<{ readonly itemIdentifier: string }> } | void>
): Effect.Effect<void, E, R> =>
  Effect.gen(function*() {
    let window: { start: number; end: number } | undefined
    let state: { [key: string]: unknown } = {}
    const closeWindow = Effect.gen(function*() {
      if (window === undefined) return
      const closing = window
      yield* ctx.retryingFinal(closing, () =>
        Effect.map(ctx.invoke(() => call([], closing, state, true)), Either.map(() => undefined)))
      window = undefined
      state = {}
    })
    const deliver = (records: ReadonlyArray<T>) =>
      ctx.retrying(records, (batch) =>
        Effect.map(
          ctx.invoke(() => call(batch, window!, state, false)),
          Either.map((response) => {
            // the state answered is the one the next invocation of the window gets, retries included
            if (response !== undefined && response.state !== undefined) state = response.state
            return response === undefined ? undefined : response.batchItemFailures
          })
        ))
    yield* Stream.runForEach(shard, (records) =>
      Effect.gen(function*() {
        // an invocation never mixes windows: cut the batch where the window changes
        let from = 0
        while (from < records.length) {
          const start = records[from].arrivalTime - modulo(records[from].arrivalTime, size)
          let to = from + 1
          while (to < records.length && records[to].arrivalTime >= start && records[to].arrivalTime < start + size) to++
          if (window !== undefined && window.start !== start) yield* closeWindow
          window ??= { start, end: start + size }
          yield* deliver(records.slice(from, to))
          from = to
        }
      }))
    yield* closeWindow
  })

const runWith = <T extends Positioned, E, R>(
  options: MappingOptions,
  streamArn: string,
  shards: ReadonlyArray<ShardFeed<T, E, R>>,
  perShard: (batches: Stream.Stream<ReadonlyArray<T>, E, R>, ctx: ShardContext<T>, shardId: string) => Effect.Effect<void, E, R>
): Effect.Effect<RunSummary, E, R> =>
  Effect.gen(function*() {
    const batchSize = batchSizeOf(options)
    const batchingWindow = Duration.decode(options.maximumBatchingWindow ?? 0)
    const maxRetries = options.maximumRetryAttempts ?? -1
    const bisect = options.bisectBatchOnFunctionError ?? false
    const reportFailures = options.reportBatchItemFailures ?? true
    const retryDelay = Duration.decode(options.retryDelay ?? 0)
    const timeout = Duration.toMillis(Duration.decode(options.functionTimeout ?? "60 seconds"))
    const counters: Counters = {
      records: 0,
      invocations: 0,
      retries: 0,
      functionErrors: 0,
      partialFailures: 0,
      bisections: 0,
      failedBatches: []
    }

    const batchInfo = (
      shardId: string,
      records: ReadonlyArray<T>,
      window?: { readonly start: number; readonly end: number }
    ): FailedBatch => ({
      shardId,
      startSequenceNumber: records[0]?.sequenceNumber ?? "",
      endSequenceNumber: records[records.length - 1]?.sequenceNumber ?? "",
      approximateArrivalOfFirstRecord: new Date(records[0]?.arrivalTime ?? 0).toISOString(),
      approximateArrivalOfLastRecord: new Date(records[records.length - 1]?.arrivalTime ?? 0).toISOString(),
      batchSize: records.length,
      streamArn,
      condition: "RetryAttemptsExhausted",
      ...(window === undefined
        ? {}
        : { window: { start: new Date(window.start).toISOString(), end: new Date(window.end).toISOString() } })
    })

    const exhausted = (attempts: number) => maxRetries >= 0 && attempts > maxRetries

    const contextFor = (shardId: string): ShardContext<T> => {
      let startedAt = 0
      // Lambda stops a function that timed out; a promise cannot be stopped: the shard's next invocation
      // waits for it to settle, so that two invocations never run at once on one shard, as on Lambda
      let abandoned: Promise<unknown> | undefined
      const invoke = <A>(call: () => Promise<A>) =>
        Effect.suspend(() => {
          const previous = abandoned
          abandoned = undefined
          return Effect.zipRight(
            previous === undefined ? Effect.void : Effect.promise(() => previous.then(() => undefined, () => undefined)),
            Effect.suspend(() => {
              counters.invocations++
              startedAt = Date.now()
              const running = Promise.resolve().then(call)
              return Effect.tryPromise({ try: () => running, catch: (error) => error }).pipe(
                Effect.timeoutFail({
                  duration: Duration.millis(timeout),
                  onTimeout: () => {
                    abandoned = running
                    return new Error("Task timed out")
                  }
                }),
                Effect.either,
                Effect.tap((result) => Either.isLeft(result) ? Effect.sync(() => void counters.functionErrors++) : Effect.void)
              )
            })
          )
        })
      const pause = Duration.toMillis(retryDelay) > 0 ? Effect.sleep(retryDelay) : Effect.void

      const retrying: ShardContext<T>["retrying"] = (records, attempt) =>
        Effect.gen(function*() {
          const pending: Array<{ records: ReadonlyArray<T>; attempts: number }> = [{ records, attempts: 0 }]
          while (pending.length > 0) {
            const next = pending.shift()!
            if (next.attempts > 0) {
              counters.retries++
              yield* pause
            }
            const result = yield* attempt(next.records)
            let rest: ReadonlyArray<T>
            let functionError = false
            if (Either.isLeft(result)) {
              functionError = true
              rest = next.records
              yield* Effect.logDebug(`shard ${shardId}: function error`, result.left)
            } else {
              const failures = reportFailures ? result.right ?? [] : []
              if (failures.length === 0) continue
              counters.partialFailures++
              const lowest = failures.map((f) => f.itemIdentifier).reduce((a, b) =>
                Sequence.isSequenceNumber(a) && Sequence.isSequenceNumber(b) ? Sequence.min(a, b) : a
              )
              const at = next.records.findIndex((r) => r.sequenceNumber === lowest)
              // an item Lambda cannot find in the batch fails the whole batch
              rest = at < 0 ? next.records : next.records.slice(at)
            }
            const attempts = next.attempts + 1
            if (exhausted(attempts)) {
              counters.failedBatches.push(batchInfo(shardId, rest))
              continue
            }
            if (functionError && bisect && rest.length > 1) {
              counters.bisections++
              const half = rest.length >>> 1
              pending.unshift({ records: rest.slice(0, half), attempts }, { records: rest.slice(half), attempts })
            } else {
              pending.unshift({ records: rest, attempts })
            }
          }
        })

      const retryingFinal: ShardContext<T>["retryingFinal"] = (window, attempt) =>
        Effect.gen(function*() {
          for (let attempts = 0;; attempts++) {
            if (attempts > 0) {
              counters.retries++
              yield* pause
            }
            const result = yield* attempt()
            if (Either.isRight(result)) return
            if (exhausted(attempts + 1)) {
              counters.failedBatches.push(batchInfo(shardId, [], window))
              return
            }
          }
        })

      return {
        context: () => ({ getRemainingTimeInMillis: () => Math.max(0, timeout - (Date.now() - startedAt)) }),
        invoke,
        retrying,
        retryingFinal
      }
    }

    yield* Effect.forEach(shards, (shard) => {
      const counted = shard.batches.pipe(Stream.tap((page) => Effect.sync(() => void (counters.records += page.length))))
      const batches = Duration.toMillis(batchingWindow) > 0
        ? counted.pipe(
          Stream.flattenIterables,
          Stream.groupedWithin(batchSize, batchingWindow),
          Stream.map((chunk) => Chunk.toReadonlyArray(chunk))
        )
        : counted
      return perShard(batches, contextFor(shard.shardId), shard.shardId)
    }, { concurrency: "unbounded", discard: true })

    return { ...counters, failedBatches: counters.failedBatches.slice() }
  })

const modulo = (a: number, b: number): number => ((a % b) + b) % b
