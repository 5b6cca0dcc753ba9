/**
 * Lambda handlers for Kinesis and DynamoDB Streams event source mappings.
 *
 * `handler(pipeline, layer)` (Kinesis) and `dynamoDBStreamHandler(pipeline, layer)` (DynamoDB Streams) run
 * a pipeline over each event and answer with a partial batch response
 * (`FunctionResponseTypes: ["ReportBatchItemFailures"]`): the sequence number of the first record that is
 * not durable, so Lambda checkpoints before it and retries from there.
 *
 * `tumblingWindowHandler(...)` and `dynamoDBTumblingWindowHandler(...)` aggregate per key over Lambda's
 * tumbling windows (`TumblingWindowInSeconds`), carrying the aggregate state between the invocations of a
 * window in the returned `state` and writing the results on the window's final invocation.
 *
 * Both sources share one mechanism: the handlers differ only in how an event is read (an internal event
 * source: the records per shard, and the identifier a batch item failure names).
 *
 * In both, the layer is built once per container: a `ManagedRuntime` made on the first invocation and
 * reused by every later one (clients, connection pools and sinks outlive the invocation, as Lambda intends
 * for what is created outside the handler body).
 *
 * @since 0.1.0
 */
import type { Aggregate, Json } from "@tributary/core/Aggregate"
import type { DeadLetter } from "@tributary/core/DeadLetter"
import * as DeadLetters from "@tributary/core/DeadLetter"
import { DeadLetterSink } from "@tributary/core/DeadLetter"
import type { Decoder } from "@tributary/core/Decoder"
import { decodeAll } from "@tributary/core/Decoder"
import type { Pipeline } from "@tributary/core/Pipeline"
import { processor } from "@tributary/core/Pipeline"
import type { Checkpoint } from "@tributary/core/RecordSource"
import type { RecordSink } from "@tributary/core/RecordSink"
import * as Retry from "@tributary/core/Retry"
import * as Sequence from "@tributary/core/SequenceNumber"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import type { SinkError } from "@tributary/core/TributaryError"
import { isTransient } from "@tributary/core/TributaryError"
import type { WindowResult } from "@tributary/core/Window"
import type {
  DynamoDBBatchResponse,
  DynamoDBStreamEvent as DynamoDBEvent,
  KinesisStreamBatchResponse,
  KinesisStreamEvent,
  KinesisStreamStateResponse,
  KinesisStreamTumblingWindowEvent
} from "aws-lambda"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type { DynamoDBStreamStateResponse, DynamoDBStreamTumblingWindowEvent } from "./DynamoDBStreamEvent.js"
import * as DynamoDBStreamEvent from "./DynamoDBStreamEvent.js"
import type { EventItem, EventShard, EventSource } from "./internal/eventSource.js"
import { InvalidEvent, recordsOf } from "./internal/eventSource.js"
import * as KinesisEvent from "./KinesisEvent.js"

/**
 * The part of Lambda's context object the handlers read (the real one has it; tests may pass nothing).
 *
 * @since 0.1.0
 * @category models
 */
export interface InvocationContext {
  /** Milliseconds left before the function times out; without it, `timeMargin` does not apply. */
  readonly getRemainingTimeInMillis?: () => number
}

/**
 * A Lambda handler that owns a runtime: `dispose` releases the layer (tests, local runs; Lambda itself
 * just freezes and eventually discards the container).
 *
 * @since 0.1.0
 * @category models
 */
export interface LambdaHandler<Event, Response> {
  (event: Event, context?: InvocationContext): Promise<Response>
  /**
   * Releases the layer's resources (its finalizers run) and forgets the runtime; a later invocation builds
   * the layer again.
   */
  readonly dispose: () => Promise<void>
}

/**
 * The handler `handler` makes.
 *
 * @since 0.1.0
 * @category models
 */
export interface KinesisHandler extends LambdaHandler<KinesisStreamEvent, KinesisStreamBatchResponse> {}

/**
 * The handler `tumblingWindowHandler` makes.
 *
 * @since 0.1.0
 * @category models
 */
export interface TumblingWindowHandler
  extends LambdaHandler<KinesisStreamTumblingWindowEvent, KinesisStreamStateResponse>
{}

/**
 * The handler `dynamoDBStreamHandler` makes.
 *
 * @since 0.1.0
 * @category models
 */
export interface DynamoDBStreamHandler extends LambdaHandler<DynamoDBEvent, DynamoDBBatchResponse> {}

/**
 * The handler `dynamoDBTumblingWindowHandler` makes.
 *
 * @since 0.1.0
 * @category models
 */
export interface DynamoDBTumblingWindowHandler
  extends LambdaHandler<DynamoDBStreamTumblingWindowEvent, DynamoDBStreamStateResponse>
{}

/**
 * How a handler hands records to the pipeline, and how close to the function's timeout it stops.
 *
 * @since 0.1.0
 * @category models
 */
export interface HandlerOptions {
  /**
   * Kinesis records handed to the pipeline at a time. Default 100 (Lambda's default BatchSize: one chunk
   * per invocation). The pipeline makes a chunk durable as a whole, so a failure is reported at the first
   * record of the first chunk that did not get through; smaller chunks mean less is retried after a
   * failure, larger ones mean fewer, bigger sink writes. Chunks never split a KPL-aggregated record.
   */
  readonly chunkSize?: number
  /**
   * Stop starting chunks (and interrupt the running one) when less than this is left before the function's
   * timeout, and report the rest as failed: a partial success beats a timeout, which fails the whole
   * batch. Default 5 seconds. Needs the context's `getRemainingTimeInMillis`.
   */
  readonly timeMargin?: Duration.DurationInput
}

/**
 * Makes a Lambda handler that runs `pipeline` over Kinesis events with the services of `layer` (which
 * must provide the `DeadLetterSink` and whatever the pipeline's sinks need).
 *
 * Each shard of the event is processed in order, in chunks of `chunkSize` Kinesis records (KPL
 * aggregates expanded); the first chunk that fails after the pipeline's retries stops that shard, and the
 * answer names the first Kinesis record that is not durable. Records that cannot be decoded, or that a
 * sink rejects permanently, go to the dead-letter sink and do not fail the batch.
 *
 * The pipeline's stages are built afresh for each invocation: a Lambda container may be frozen, reused
 * for another shard or discarded at any time, so nothing is held between invocations. A `window` stage
 * therefore fires at the end of every invocation (its records are checkpointed only when its results are
 * written); for windows that span invocations use `tumblingWindowHandler`.
 *
 * An event that does not have the Kinesis shape, or a layer that cannot be built, makes the invocation
 * fail (a function error: Lambda retries the batch, or bisects it with BisectBatchOnFunctionError).
 *
 * @since 0.1.0
 * @category constructors
 */
export const handler = <A, R, E>(
  pipeline: Pipeline<A, R>,
  layer: Layer.Layer<R | DeadLetterSink, E>,
  options: HandlerOptions = {}
): KinesisHandler => batchHandler(kinesisSource, pipeline, layer, options)

/**
 * Makes a Lambda handler that runs `pipeline` over DynamoDB stream events, with the guarantees of
 * `handler`: the event's changes are processed in order, in chunks of `chunkSize`; the first chunk that
 * fails after the pipeline's retries stops the batch, and the answer names the `SequenceNumber` of the
 * first change that is not durable (the partial batch response of DynamoDB Streams mappings). Changes that
 * cannot be decoded go to the dead-letter sink, within the time margin as for Kinesis.
 *
 * Each change reaches the pipeline as a record whose payload is its JSON: decode it with
 * `ChangeRecord.decoder(Item)` of `@tributary/dynamodb` (see `DynamoDBStreamEvent`). Lambda's DynamoDB
 * events do not say which shard they come from: dead letters carry `DynamoDBStreamEvent.unknownShard`, and
 * the change itself (its `eventSourceARN` and `SequenceNumber`) in their data.
 *
 * @since 0.1.0
 * @category constructors
 */
export const dynamoDBStreamHandler = <A, R, E>(
  pipeline: Pipeline<A, R>,
  layer: Layer.Layer<R | DeadLetterSink, E>,
  options: HandlerOptions = {}
): DynamoDBStreamHandler => batchHandler(dynamoDBSource, pipeline, layer, options)

const kinesisSource: EventSource<KinesisStreamEvent> = {
  name: "Kinesis",
  toShards: (event) =>
    KinesisEvent.toShards(event).map((shard) => ({ shardId: shard.shardId, stream: shard.stream, items: shard.kinesis }))
}

const dynamoDBSource: EventSource<DynamoDBEvent> = {
  name: "DynamoDB stream",
  // an event holds one shard's changes; each change is an item of its own
  toShards: (event) => {
    const records = DynamoDBStreamEvent.toRecords(event)
    if (records.length === 0) return []
    return [{
      shardId: records[0].shardId,
      stream: records[0].stream,
      items: records.map((record) => ({ sequenceNumber: record.sequenceNumber, records: [record] }))
    }]
  }
}

/** The batch handler of every source: partial batch responses per shard, in order, within the time margin. */
const batchHandler = <Event, A, R, E>(
  source: EventSource<Event>,
  pipeline: Pipeline<A, R>,
  layer: Layer.Layer<R | DeadLetterSink, E>,
  options: HandlerOptions
): LambdaHandler<Event, { batchItemFailures: Array<{ itemIdentifier: string }> }> => {
  const chunkSize = Math.max(1, Math.floor(options.chunkSize ?? 100))
  const margin = Duration.toMillis(Duration.decode(options.timeMargin ?? "5 seconds"))
  const runtime = lazyRuntime(layer)

  const processShard = (
    running: Effect.Effect.Success<ReturnType<typeof processor>>,
    shard: EventShard,
    deadline: number | undefined
  ) =>
    Effect.gen(function*() {
      let durable: Checkpoint | undefined
      const failAt = (reason: string, cause?: unknown) =>
        Effect.as(
          Effect.logWarning(
            `shard ${shard.shardId}: ${reason}; reporting the first record not yet durable`,
            ...(cause === undefined ? [] : [cause])
          ),
          firstAfter(shard.items, durable)
        )
      yield* running.startShard(shard.shardId)
      for (let from = 0; from < shard.items.length; from += chunkSize) {
        const left = deadline === undefined ? Infinity : deadline - Date.now()
        if (left <= 0) return yield* failAt("too close to the function's timeout to start another chunk")
        const chunk = recordsOf(shard.items.slice(from, from + chunkSize))
        const outcome = yield* running.process(shard.shardId, chunk).pipe(
          left === Infinity ? Effect.asSome : Effect.timeoutOption(Duration.millis(left)),
          Effect.either
        )
        if (Either.isLeft(outcome)) return yield* failAt("the pipeline failed", outcome.left)
        if (Option.isNone(outcome.right)) return yield* failAt("the function's time ran out while writing")
        if (outcome.right.value.checkpoint !== undefined) durable = outcome.right.value.checkpoint
      }
      // stages flush what they hold (windows fire): nothing may be left in a container for next time
      const flushed = yield* Effect.either(running.endShard(shard.shardId))
      if (Either.isLeft(flushed)) return yield* failAt("flushing the pipeline's stages failed", flushed.left)
      return undefined
    })

  const invoke = Effect.fn("Lambda.handler")(function*(shards: ReadonlyArray<EventShard>, deadline: number | undefined) {
    // options that cannot work (an invalid aggregate) fail every invocation: the handler rejects with them
    const running = yield* Effect.orDie(processor(pipeline))
    // shards are independent: one failing does not hold the others back
    const failed = yield* Effect.forEach(shards, (shard) => processShard(running, shard, deadline), {
      concurrency: "unbounded"
    })
    return {
      batchItemFailures: failed.flatMap((sequenceNumber) =>
        sequenceNumber === undefined ? [] : [{ itemIdentifier: sequenceNumber }]
      )
    }
  }, Effect.annotateSpans("source", source.name))

  const handle = async (event: Event, context?: InvocationContext) => {
    const deadline = context?.getRemainingTimeInMillis === undefined
      ? undefined
      : Date.now() + context.getRemainingTimeInMillis() - margin
    const shards = source.toShards(event)
    if (shards.length === 0) return { batchItemFailures: [] }
    return runtime.run(invoke(shards, deadline))
  }
  return Object.assign(handle, { dispose: runtime.dispose })
}

// ---------------------------------------------------------------------------------------------------------
// tumbling windows
// ---------------------------------------------------------------------------------------------------------

/**
 * What a tumbling-window handler writes for each key on a window's final invocation.
 *
 * Results are per shard (Lambda keeps a state per shard and window): `(shardId, key, start, segment)`
 * identifies a result, so writing it again (a retried final invocation) overwrites it with the same
 * value. Aggregates are mergeable: merge the shards' results on read.
 *
 * @since 0.1.0
 * @category models
 */
export interface TumblingWindowResult<K, O> extends WindowResult<K, O> {
  /** The shard whose records the result aggregates (Lambda keeps a state per shard and window). */
  readonly shardId: string
  /**
   * 0, unless the state outgrew the limit: the window then ends early with the results so far (segment
   * 0), and the rest of the window's records make segment 1, and so on. Merge the segments on read.
   */
  readonly segment: number
  /** True for a segment written because the state outgrew the limit (or Lambda ended the window early). */
  readonly terminatedEarly: boolean
}

/**
 * What a tumbling-window handler does: how it decodes and groups records, aggregates them, and where the
 * results and dead letters go.
 *
 * @since 0.1.0
 * @category models
 */
export interface TumblingWindowOptions<A, K extends string | number, S, O, R, E> {
  /** Names the dead letters' pipeline. Default "lambda-tumbling-window". */
  readonly name?: string
  /** Reads each record's payload; records it cannot read go to the dead-letter sink. */
  readonly decoder: Decoder<A>
  /** The key a value is grouped by in its window; a record whose key throws goes to the dead-letter sink. */
  readonly key: (value: A) => K
  /** The fold of a key's values: its state goes back to Lambda between invocations, encoded with its `state` Schema. */
  readonly aggregate: Aggregate<A, S, O>
  /** Where results go: a sink, or an Effect that provides one (a `Context.Tag`). */
  readonly sink: RecordSink<TumblingWindowResult<K, O>> | Effect.Effect<RecordSink<TumblingWindowResult<K, O>>, never, R>
  /** Provides the dead-letter sink and what the result sink needs. */
  readonly layer: Layer.Layer<R | DeadLetterSink, E>
  /**
   * The largest state handed back to Lambda, in bytes of JSON. Default 1 MiB (1,048,576), Lambda's limit;
   * lower it to leave room.
   */
  readonly maxStateBytes?: number
  /** How transient sink failures are retried within an invocation. Default 100 ms doubling, 5 retries. */
  readonly retry?: Schedule.Schedule<unknown, SinkError>
}

/**
 * The state an invocation was handed is not one this handler wrote (another function's state, or a
 * version it cannot read). It fails the invocation: nothing safe can be done with the window.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidState extends Data.TaggedError("InvalidState")<{
  readonly reason: string
}> {
  /**
   * Why the state handed to the invocation cannot be read.
   *
   * @since 0.1.0
   */
  override get message(): string {
    return `tumbling window state cannot be read: ${this.reason}`
  }
}

/**
 * A Lambda handler for Kinesis tumbling windows: decodes each record, groups by `key` and folds into
 * `aggregate`, hands the state back to Lambda (`state`, encoded with the aggregate's state Schema) and,
 * on the window's final invocation (`isFinalInvokeForWindow`), writes one `TumblingWindowResult` per key.
 *
 * - Records that cannot be decoded (or whose `key` throws) go to the dead-letter sink.
 * - The state remembers the last record folded in, so records Lambda delivers again (a retry) are not
 *   counted twice.
 * - If a write fails after retries, the invocation answers with the state it was given and a batch item
 *   failure at its first record (or fails, when it had no records): the retry starts from the same state.
 * - When the state would exceed `maxStateBytes` it cannot go back to Lambda, so the handler ends the
 *   window early as Lambda does when its state limit is crossed: it writes the results so far with
 *   `terminatedEarly: true` and hands back an empty state for the next segment of the window. An event with
 *   `isWindowTerminatedEarly` is handled as a final invocation, its results marked `terminatedEarly`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const tumblingWindowHandler = <A, K extends string | number, S, O, R, E>(
  options: TumblingWindowOptions<A, K, S, O, R, E>
): TumblingWindowHandler => windowHandler<KinesisStreamTumblingWindowEvent, A, K, S, O, R, E>(kinesisSource, options)

/**
 * `tumblingWindowHandler` for DynamoDB stream mappings with `TumblingWindowInSeconds`: the same state,
 * results, retries and early ends, over the changes of the window (decode them with
 * `ChangeRecord.decoder(Item)` of `@tributary/dynamodb`). A batch item failure names the first change's
 * `SequenceNumber`; results carry the event's `shardId`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const dynamoDBTumblingWindowHandler = <A, K extends string | number, S, O, R, E>(
  options: TumblingWindowOptions<A, K, S, O, R, E>
): DynamoDBTumblingWindowHandler =>
  windowHandler<DynamoDBStreamTumblingWindowEvent, A, K, S, O, R, E>(dynamoDBSource, options)

/** What the tumbling-window handlers read of an event besides its records. */
interface WindowEvent {
  readonly window: { readonly start: string; readonly end: string }
  readonly state?: { readonly [key: string]: any } | undefined
  readonly shardId?: string
  readonly isFinalInvokeForWindow: boolean
  readonly isWindowTerminatedEarly: boolean
}

interface WindowResponse {
  state: { [key: string]: any }
  batchItemFailures: Array<{ itemIdentifier: string }>
}

const windowHandler = <Event extends WindowEvent, A, K extends string | number, S, O, R, E>(
  source: EventSource<Event>,
  options: TumblingWindowOptions<A, K, S, O, R, E>
): LambdaHandler<Event, WindowResponse> => {
  const name = options.name ?? "lambda-tumbling-window"
  const maxStateBytes = options.maxStateBytes ?? 1_048_576
  const retry = options.retry ?? (Retry.exponential({ times: 5, cap: "2 seconds" }) as Schedule.Schedule<unknown, SinkError>)
  const runtime = lazyRuntime(options.layer)
  const { aggregate, decoder, key } = options
  const encodeState = Schema.encodeSync(aggregate.state)
  const decodeState = Schema.decodeUnknownEither(aggregate.state)
  const sinkEffect: Effect.Effect<RecordSink<TumblingWindowResult<K, O>>, never, R> = Effect.isEffect(options.sink)
    ? options.sink
    : Effect.succeed(options.sink)
  const withRetry = (write: Effect.Effect<void, SinkError>) => Effect.retry(write, { schedule: retry, while: isTransient })

  const readState = (raw: unknown): WindowState<K, S> => {
    if (raw === undefined || raw === null || (typeof raw === "object" && Object.keys(raw).length === 0)) {
      return { segment: 0, through: undefined, groups: new Map() }
    }
    const stored = Schema.decodeUnknownEither(StoredState)(raw)
    if (Either.isLeft(stored)) throw new InvalidState({ reason: `not written by this handler (${stored.left.message})` })
    const groups = new Map<K, Group<S>>()
    for (const [k, count, encoded] of stored.right.tributary.groups) {
      const state = decodeState(encoded)
      if (Either.isLeft(state)) throw new InvalidState({ reason: `the state of key ${k}: ${state.left.message}` })
      groups.set(k as K, { count, state: state.right })
    }
    return { segment: stored.right.tributary.segment, through: stored.right.tributary.through, groups }
  }

  const writeState = (state: WindowState<K, S>): StoredState => ({
    tributary: {
      version: 1,
      segment: state.segment,
      through: state.through,
      groups: Array.from(state.groups, ([k, group]) => [k, group.count, encodeState(group.state)] as const)
    }
  })

  const resultsOf = (
    state: WindowState<K, S>,
    window: { readonly start: number; readonly end: number },
    shardId: string,
    terminatedEarly: boolean
  ): Array<TumblingWindowResult<K, O>> =>
    Array.from(state.groups, ([k, group]) => ({
      key: k,
      start: window.start,
      end: window.end,
      value: aggregate.result(group.state),
      count: group.count,
      shards: [shardId],
      firing: "onTime" as const,
      shardId,
      segment: state.segment,
      terminatedEarly
    }))

  const invoke = Effect.fn("Lambda.tumblingWindowHandler")(function*(event: Event) {
    const shards = source.toShards(event)
    const items: ReadonlyArray<EventItem> = shards.flatMap((shard) => shard.items)
    const shardId = event.shardId ?? shards[0]?.shardId ?? "unknown"
    const window = { start: Date.parse(event.window.start), end: Date.parse(event.window.end) }
    const given = event.state ?? {}
    const state = readState(given)
    const now = Date.now()

    // records at or before the last one folded in were counted by an earlier invocation
    const fresh = recordsOf(items).filter((r) => state.through === undefined || isAfter(r, state.through))
    const decoded = decodeAll(decoder, fresh)
    const letters: Array<DeadLetter> = decoded.failures.map((failure, i) =>
      DeadLetters.fromRecord(fresh[decoded.failureOrigins[i]], {
        pipeline: name,
        stage: "decode",
        reason: failure.reason,
        format: failure.format,
        failedAt: now
      })
    )
    const failedAt = new Set(decoded.failureOrigins)
    let value = 0
    for (let i = 0; i < fresh.length; i++) {
      if (failedAt.has(i)) continue
      const a = decoded.values[value++]
      let k: K
      try {
        k = key(a)
      } catch (error) {
        letters.push(DeadLetters.fromRecord(fresh[i], { pipeline: name, stage: "key", reason: String(error), failedAt: now }))
        continue
      }
      const group = state.groups.get(k)
      if (group === undefined) state.groups.set(k, { count: 1, state: aggregate.add(aggregate.empty(), a) })
      else {
        group.count++
        group.state = aggregate.add(group.state, a)
      }
    }
    const last = fresh[fresh.length - 1]
    if (last !== undefined) state.through = { sequenceNumber: last.sequenceNumber, subSequenceNumber: last.subSequenceNumber }

    const write = (results: ReadonlyArray<TumblingWindowResult<K, O>>) =>
      Effect.gen(function*() {
        if (letters.length > 0) {
          const deadLetters = yield* DeadLetterSink
          yield* withRetry(deadLetters.write(letters))
        }
        if (results.length > 0) {
          const sink = yield* sinkEffect
          yield* withRetry(sink.write(results))
        }
      })

    const final = event.isFinalInvokeForWindow || event.isWindowTerminatedEarly
    let response: WindowResponse
    let results: Array<TumblingWindowResult<K, O>> = []
    if (final) {
      results = resultsOf(state, window, shardId, event.isWindowTerminatedEarly)
      response = { state: {}, batchItemFailures: [] }
    } else {
      const stored = writeState(state)
      const bytes = Buffer.byteLength(JSON.stringify(stored))
      if (bytes <= maxStateBytes) {
        response = { state: stored, batchItemFailures: [] }
      } else {
        yield* Effect.logWarning(
          `shard ${shardId}: window state of ${bytes} bytes exceeds ${maxStateBytes}; ending segment ${state.segment} ` +
            `of the window early`
        )
        results = resultsOf(state, window, shardId, true)
        response = {
          state: writeState({ segment: state.segment + 1, through: state.through, groups: new Map() }),
          batchItemFailures: []
        }
      }
    }
    const written = yield* Effect.either(write(results))
    if (Either.isRight(written)) return response
    if (items.length === 0) return yield* Effect.die(written.left)
    yield* Effect.logWarning(`shard ${shardId}: writing the window failed; the batch will be retried`, written.left)
    // the state given is handed back unchanged, so the retry folds these records in again from it
    return { state: given, batchItemFailures: [{ itemIdentifier: items[0].sequenceNumber }] }
  }, Effect.annotateSpans("source", source.name))

  const handle = async (event: Event): Promise<WindowResponse> => {
    // an aggregate made with options that cannot work fails every invocation
    if (aggregate.invalid !== undefined) throw aggregate.invalid
    if (event === null || typeof event !== "object" || typeof event.window !== "object" || event.window === null) {
      throw new InvalidEvent({ reason: "no window: is TumblingWindowInSeconds set on the mapping?", source: source.name })
    }
    return runtime.run(invoke(event))
  }
  return Object.assign(handle, { dispose: runtime.dispose })
}

// ---------------------------------------------------------------------------------------------------------
// internal
// ---------------------------------------------------------------------------------------------------------

interface Group<S> {
  count: number
  state: S
}

interface WindowState<K, S> {
  segment: number
  through: { readonly sequenceNumber: string; readonly subSequenceNumber: number } | undefined
  groups: Map<K, Group<S>>
}

/** What goes into Lambda's state: under one key, so a foreign state is told apart from ours. */
const StoredState = Schema.Struct({
  tributary: Schema.Struct({
    version: Schema.Literal(1),
    segment: Schema.NonNegativeInt,
    through: Schema.optionalWith(
      Schema.Struct({ sequenceNumber: Schema.String, subSequenceNumber: Schema.NonNegativeInt }),
      { exact: true }
    ),
    groups: Schema.Array(Schema.Tuple(Schema.Union(Schema.String, Schema.Number), Schema.NonNegativeInt, Schema.Unknown))
  })
})

type StoredState = {
  readonly tributary: {
    readonly version: 1
    readonly segment: number
    readonly through: { readonly sequenceNumber: string; readonly subSequenceNumber: number } | undefined
    readonly groups: ReadonlyArray<readonly [string | number, number, Json]>
  }
}

const isAfter = (record: SourceRecord, position: { readonly sequenceNumber: string; readonly subSequenceNumber: number }) => {
  const order = Sequence.compare(record.sequenceNumber, position.sequenceNumber)
  return order > 0 || (order === 0 && record.subSequenceNumber > position.subSequenceNumber)
}

/** The first item with a record after `durable` (the first item when nothing is durable). */
const firstAfter = (items: ReadonlyArray<EventItem>, durable: Checkpoint | undefined): string | undefined => {
  for (const k of items) {
    if (durable === undefined) return k.sequenceNumber
    const lastUser = k.records[k.records.length - 1]
    if (lastUser === undefined || isAfter(lastUser, durable)) return k.sequenceNumber
  }
  return undefined
}

/**
 * A runtime made on first use and kept for the container's life. A layer that failed to build is
 * dropped, so the next invocation tries again (a throttled or unreachable dependency at a cold start
 * must not poison the container for good).
 */
const lazyRuntime = <R, E>(layer: Layer.Layer<R, E>) => {
  let runtime: ManagedRuntime.ManagedRuntime<R, E> | undefined
  return {
    run: async <A>(effect: Effect.Effect<A, never, R>): Promise<A> => {
      const current = runtime ??= ManagedRuntime.make(layer)
      try {
        await current.runtime()
      } catch (error) {
        if (runtime === current) runtime = undefined
        await current.dispose().catch(() => undefined)
        throw error
      }
      return current.runPromise(effect)
    },
    dispose: async (): Promise<void> => {
      const current = runtime
      runtime = undefined
      if (current !== undefined) await current.dispose()
    }
  }
}
