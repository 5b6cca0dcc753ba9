/**
 * A Kinesis consumer worker: runs a core `Pipeline` on the shards of a stream, sharing them out with the
 * other workers of the same application through a lease table, the way the Kinesis Client Library does.
 *
 * - A `LeaseCoordinator` (shards from Kinesis' ListShards) decides which shards this worker processes.
 * - Each acquired lease gets a scoped fiber that reads the shard, starting after the lease's checkpoint,
 *   with a polling `ShardReader` or, with `reader: { fanOut: { consumerName } }`, a `FanOutReader` through
 *   the stream's enhanced fan-out consumer (registered, or found, by the first shard that needs it), and
 *   runs `Pipeline.runShard` on it with the worker's one `Processor`.
 *   Checkpoints are stored off the read path, at most every `checkpointInterval` (the newest wins, the
 *   last is stored when the shard stops, before its lease is handed over or released), and go through the
 *   lease (conditional on owner and counter), so a worker that lost the lease can never move the new
 *   owner's position back: its checkpoint fails with a permanent `CheckpointError` and the fiber stops.
 * - At the shard's end the fiber checkpoints `SHARD_END` through the lease, which hands the lease back and
 *   lets the coordinator start the children at once.
 * - Losing the lease interrupts the shard's fiber (one fiber per lease in a `FiberMap`).
 * - A shard whose fiber fails (a sink still failing after the pipeline's retries, a source error) does not
 *   stop the worker: after `restartDelay` the lease is released, and any worker (this one included) takes
 *   it at its next take round and resumes after the last checkpoint.
 * - When the worker's scope closes, every shard stops fetching, finishes the batch in flight and stores its
 *   checkpoint (for at most `shutdownTimeout`), and only then are the leases released: the other workers
 *   take them at their next take round, without reprocessing anything.
 * - Shard fibers that end are counted per exit (`metrics`), next to the coordinator's lease metrics and
 *   the readers' metrics.
 * - `makeStreams` runs one worker on several streams, each with its own pipeline, sharing one lease table
 *   and one balance: the leases of its streams are keyed `<stream>:<shardId>` (`LeaseKey`).
 *
 * @since 0.1.0
 */
import type { DeadLetterSink } from "@tributary/core/DeadLetter"
import type { LeaseCheckpoint, LeaseStore } from "@tributary/core/LeaseStore"
import * as Pipeline from "@tributary/core/Pipeline"
import type { Checkpoint, Position, ShardReader as CoreShardReader } from "@tributary/core/RecordSource"
import * as SequenceNumber from "@tributary/core/SequenceNumber"
import { checkOptions, InvalidOptions, SourceError } from "@tributary/core/TributaryError"
import type * as FanOutReader from "@tributary/kinesis/FanOutReader"
import type { Kinesis } from "@tributary/kinesis/Kinesis"
import * as ShardReader from "@tributary/kinesis/ShardReader"
import * as StreamAdmin from "@tributary/kinesis/StreamAdmin"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberMap from "effect/FiberMap"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { isLeaseLost, toCheckpointError } from "./internal/checkpointFailure.js"
import * as ConfigReaders from "./internal/config.js"
import * as LoadMeter from "./internal/loadMeter.js"
import * as ShardReaders from "./internal/shardReaders.js"
import type { OwnedLease, ShardInfo } from "./LeaseCoordinator.js"
import * as LeaseCoordinator from "./LeaseCoordinator.js"
import * as LeaseKey from "./LeaseKey.js"

// ---------------------------------------------------------------------------------------------------------
// models
// ---------------------------------------------------------------------------------------------------------

/**
 * How each shard is read (the `ShardReader` options that do not depend on the shard).
 *
 * @since 0.1.0
 * @category models
 */
export type ReaderOptions = Omit<ShardReader.ReaderOptions, "stream" | "shardId" | "position" | "follow" | "checkpoint">

/**
 * Reading through an enhanced fan-out consumer of the stream (SubscribeToShard): the consumer's name (the
 * same for every worker of the application), and the `FanOutReader` options that do not depend on the
 * shard. The consumer is registered if it does not exist yet (and kept: deregister it with
 * `StreamConsumer.deregister` when the application is retired). See docs/consumer.md for when to use it and
 * what it costs.
 *
 * @since 0.1.0
 * @category models
 */
export interface FanOutOptions
  extends Omit<FanOutReader.FanOutReaderOptions, "stream" | "shardId" | "consumerArn" | "position" | "checkpoint">
{
  /** 1 to 128 of `a-z A-Z 0-9 _ . -`; e.g. the application's name. */
  readonly consumerName: string
}

/**
 * A worker's options: the stream, its lease coordinator's (`LeaseCoordinator.ConfigOptions`: worker id,
 * lease duration, intervals, initial position, limits), each shard's reader, and how shards fail and stop.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends LeaseCoordinator.ConfigOptions {
  /** The Kinesis stream to consume. */
  readonly stream: string
  /**
   * Names the application in the coordinator's lease metrics (tag `application`), e.g. the lease table's
   * name. Default: the stream's name.
   */
  readonly application?: string | undefined
  /**
   * How each shard is read: by polling (`"polling"`, the default, or the polling reader's options: batch
   * size, idle time, retries), or through an enhanced fan-out consumer (`{ fanOut: { consumerName } }`).
   */
  readonly reader?: ReaderOptions | "polling" | { readonly fanOut: FanOutOptions } | undefined
  /**
   * How often each shard's checkpoint is stored at most, while it is processed (the newest one wins). The
   * last one is always stored when the shard stops (graceful shutdown, shard end, a failure); a crash reads
   * again what was processed since the last stored checkpoint: at most this long of the shard's records,
   * and the batch in flight. Checkpoints are written off the read path. Default 5 seconds (Kafka's
   * auto-commit interval): each write costs a DynamoDB write per shard, which at one a second is most of a
   * quiet worker's calls after GetRecords; 0 stores one after every batch.
   */
  readonly checkpointInterval?: Duration.DurationInput | undefined
  /**
   * How long a shard whose processing failed (beyond the pipeline's own retries) keeps its lease before
   * the worker hands it back. Meanwhile no other worker starts on it; afterwards any worker may take it at
   * its next take round. Default 5 seconds.
   */
  readonly restartDelay?: Duration.DurationInput | undefined
  /**
   * At shutdown, how long shards may take to finish their batch in flight and checkpoint before they are
   * interrupted (an interrupted batch is processed again by the next owner). Default 30 seconds.
   */
  readonly shutdownTimeout?: Duration.DurationInput | undefined
}

/**
 * One stream of a worker of several streams (`makeStreams`), with its own pipeline.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamOptions<A = any, R = any> {
  /** The Kinesis stream's name. */
  readonly stream: string
  /** Processes this stream's records (its own `Processor`: windows see this stream's shards). */
  readonly pipeline: Pipeline.Pipeline<A, R>
  /** How this stream's shards are read (as the worker's `reader`). Default: the worker's `reader`. */
  readonly reader?: Options["reader"]
  /**
   * Key this stream's leases by shard id alone, as a worker of this one stream does: to add streams to
   * the lease table of a single-stream consumer, whose leases and checkpoints then keep working. At most
   * one stream. Default false: `<stream>:<shardId>`.
   */
  readonly shardIdLeaseKeys?: boolean | undefined
}

/**
 * A worker's options when it consumes several streams: those of `Options` but the stream.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamsOptions = Omit<Options, "stream">

/**
 * Why a shard's fiber ended.
 *
 * @since 0.1.0
 * @category models
 */
export type ShardExit =
  /** The shard is closed and fully processed; SHARD_END was checkpointed. */
  | { readonly _tag: "Finished" }
  /** The worker is shutting down: the batch in flight was finished and checkpointed. */
  | { readonly _tag: "Stopped" }
  /** Another worker asked for the shard: the batch in flight was finished and checkpointed, the lease passed to it. */
  | { readonly _tag: "HandedOver" }
  /** The lease was lost (a checkpoint failed its condition): another worker owns the shard. */
  | { readonly _tag: "LeaseLost" }
  /** Processing failed; the lease is handed back after `restartDelay`. */
  | { readonly _tag: "Failed"; readonly cause: Cause.Cause<unknown> }

/**
 * Counts of shard fibers that ended, per reason. `LeaseLost` also counts fibers interrupted because the
 * coordinator found the lease taken first; `Interrupted` counts those cut short by `shutdownTimeout`.
 *
 * @since 0.1.0
 * @category models
 */
export type ExitCounts = Readonly<Record<ShardExit["_tag"] | "Interrupted", number>>

/**
 * Effect metrics of every worker, tagged with `stream` and `worker` (the worker id). The coordinator's lease
 * metrics (`LeaseCoordinator.metrics`) and the readers' (`Metrics.reader` of `@tributary/kinesis`) come
 * with them.
 *
 * @since 0.1.0
 * @category metrics
 */
export const metrics = {
  /**
   * Shard fibers that ended, tagged `exit`: `Finished`, `Stopped`, `HandedOver`, `LeaseLost`, `Failed` or `Interrupted`,
   * counted as `exits` counts them.
   */
  shardExits: Metric.counter("tributary_consumer_shard_exits_total", { description: "shard fibers that ended, by exit", incremental: true })
} as const

/**
 * Where a shard this worker processes stands: the last record written to the pipeline's sinks, and the
 * checkpoint stored in its lease. The checkpoint stays behind while a stage holds records back: a window
 * stage checkpoints no further than the earliest record an open window still needs, so a restart rebuilds
 * it (see docs/windows.md).
 *
 * @since 0.1.0
 * @category models
 */
export interface ShardPosition {
  /** The shard's lease key (its shard id, or `<stream>:<shardId>` for a worker of several streams). */
  readonly shardId: string
  /** The last record processed; undefined before the first batch. */
  readonly processed: Position | undefined
  /** The lease's checkpoint: a position, or where a shard without one starts. */
  readonly checkpoint: LeaseCheckpoint
  /** True when records after the checkpoint were processed already: a restart reads them again. */
  readonly heldBack: boolean
}

/**
 * A running worker.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConsumerShape {
  /** The worker's id in the lease table, as the coordinator was given or generated it. */
  readonly workerId: string
  /** The Kinesis stream the worker consumes, or the first of several. */
  readonly stream: string
  /** Every stream the worker consumes. */
  readonly streams: ReadonlyArray<string>
  /** The worker's lease coordinator: the leases it owns, its settings, its lease events. */
  readonly coordinator: LeaseCoordinator.LeaseCoordinatorShape
  /** The shards being processed now, by lease key (`<stream>:<shardId>` with several streams). */
  readonly shards: Effect.Effect<ReadonlyArray<string>>
  /** Totals of the worker's processors over every shard it processed. */
  readonly summary: Effect.Effect<Pipeline.Summary>
  /** Shard fibers that ended, per reason, since the worker started. */
  readonly exits: Effect.Effect<ExitCounts>
  /** The processed position and the checkpoint of each shard being processed now, by lease key. */
  readonly positions: Effect.Effect<ReadonlyArray<ShardPosition>>
}

/**
 * The tag of a running worker, which `layer` and `layerConfig` provide.
 *
 * @since 0.1.0
 * @category tags
 */
export class Consumer extends Context.Tag("@tributary/consumer/Consumer")<Consumer, ConsumerShape>() {}

// ---------------------------------------------------------------------------------------------------------
// constructors
// ---------------------------------------------------------------------------------------------------------

/**
 * The stream's shards as the coordinator needs them: hash ranges as decimal strings, ParentShardId and
 * AdjacentParentShardId merged into `parentShardIds`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const listShards = (stream: string): Effect.Effect<ReadonlyArray<ShardInfo>, StreamAdmin.StreamAdminError, Kinesis> =>
  Effect.map(StreamAdmin.listShards(stream), (shards) => shards.map(toShardInfo))

/**
 * A shard as `StreamAdmin.listShards` gives it, in the coordinator's terms (see `listShards`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const toShardInfo = (shard: StreamAdmin.Shard): ShardInfo => ({
  shardId: shard.shardId,
  parentShardIds: [shard.parentShardId, shard.adjacentParentShardId].filter((id): id is string => id !== undefined),
  hashRange: { start: shard.hashKeyRange.start.toString(), end: shard.hashKeyRange.end.toString() }
})

/**
 * The reader's starting position for a lease's checkpoint: the sentinels as such, a checkpoint as "after
 * it" (an aggregated record partly processed is read again from the sub-record after the checkpoint).
 * `AT_TIMESTAMP` is read at the time of the consumer's initial position (the lease does not store it); a
 * worker configured without one reads such a shard from TRIM_HORIZON (more, never less).
 *
 * @since 0.1.0
 * @category constructors
 */
export const startingPosition = (
  checkpoint: Checkpoint | "TRIM_HORIZON" | "LATEST" | "AT_TIMESTAMP",
  initialPosition?: LeaseCoordinator.Settings["initialPosition"]
): ShardReader.StartingPosition =>
  checkpoint === "TRIM_HORIZON"
    ? ShardReader.StartingPosition.trimHorizon
    : checkpoint === "LATEST"
    ? ShardReader.StartingPosition.latest
    : checkpoint === "AT_TIMESTAMP"
    ? typeof initialPosition === "object"
      ? ShardReader.StartingPosition.atTimestamp(initialPosition.atTimestamp)
      : ShardReader.StartingPosition.trimHorizon
    : ShardReader.StartingPosition.after(checkpoint)

/**
 * Starts a worker in the current scope: it runs until the scope closes, then stops its shards gracefully
 * and releases its leases.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A, R>(
  pipeline: Pipeline.Pipeline<A, R>,
  options: Options
): Effect.Effect<ConsumerShape, InvalidOptions, Kinesis | LeaseStore | DeadLetterSink | Scope.Scope | R> =>
  start([{ stream: options.stream, pipeline, reader: options.reader, shardIdLeaseKeys: true }], {
    ...options,
    application: options.application ?? options.stream
  }).pipe(Effect.withSpan("Consumer.make", { attributes: { stream: options.stream } }))

/**
 * Starts a worker of several streams in the current scope, each stream with its own pipeline, sharing one
 * lease table (and one balance) with the other workers of the application: leases are keyed
 * `<stream>:<shardId>` (see `LeaseKey`), and the worker leaves other leases of the table alone. The
 * `application` tag of its lease metrics defaults to the streams' names joined by `,`. Fails with
 * `InvalidOptions` for no stream, a stream given twice, or more than one stream keyed by shard id alone.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeStreams = <const Streams extends ReadonlyArray<StreamOptions>>(
  streams: Streams,
  options: StreamsOptions = {}
): Effect.Effect<ConsumerShape, InvalidOptions, Kinesis | LeaseStore | DeadLetterSink | Scope.Scope | RequirementsOf<Streams[number]>> =>
  Effect.gen(function*() {
    const names = streams.map((s) => s.stream)
    const invalid = checkOptions("Consumer", [
      ["streams", names.length === 0 ? "must name at least one stream" : undefined],
      ["streams", names.map(LeaseKey.validateStream).find((reason) => reason !== undefined)],
      ["streams", new Set(names).size === names.length ? undefined : "must not name a stream twice"],
      ["shardIdLeaseKeys", streams.filter((s) => s.shardIdLeaseKeys === true).length > 1 ? "is for one stream at most" : undefined]
    ])
    if (invalid !== undefined) return yield* invalid
    return yield* start(streams, { ...options, application: options.application ?? names.join(",") })
  }).pipe(Effect.withSpan("Consumer.makeStreams", { attributes: { streams: streams.map((s) => s.stream).join(",") } }))

/**
 * What a worker of several streams needs: what their pipelines need.
 *
 * @since 0.1.0
 * @category models
 */
export type RequirementsOf<S> = S extends StreamOptions<any, infer R> ? R : never

/** The worker itself, on one stream or several. */
const start = <R>(
  streams: ReadonlyArray<StreamOptions<unknown, R>>,
  options: StreamsOptions & { readonly application: string }
): Effect.Effect<ConsumerShape, InvalidOptions, Kinesis | LeaseStore | DeadLetterSink | Scope.Scope | R> =>
  Effect.gen(function*() {
    const restartDelay = Duration.decode(options.restartDelay ?? "5 seconds")
    const shutdownTimeout = Duration.decode(options.shutdownTimeout ?? "30 seconds")
    const checkpointInterval = Duration.decode(options.checkpointInterval ?? "5 seconds")
    const kinesis = yield* Effect.context<Kinesis>()
    // one processor per stream for every shard of the stream: windows over several shards see them all
    const byStream = new Map<string, ConsumedStream>()
    for (const { pipeline, reader, shardIdLeaseKeys, stream } of streams) {
      const leaseKey = shardIdLeaseKeys === true ? (shardId: string) => shardId : (shardId: string) => LeaseKey.make(stream, shardId)
      byStream.set(shardIdLeaseKeys === true ? "" : stream, {
        stream,
        processor: yield* Pipeline.processor(pipeline),
        readerOf: yield* ShardReaders.make(stream, reader ?? options.reader),
        listShards: Effect.map(listShards(stream), (shards) =>
          shards.map((shard) => ({
            ...shard,
            shardId: leaseKey(shard.shardId),
            parentShardIds: shard.parentShardIds.map(leaseKey)
          })))
      })
    }
    /** The stream a lease belongs to, and its shard id; undefined for a lease of another application's stream. */
    const route = (leaseKey: string) => {
      const key = LeaseKey.parse(leaseKey)
      const of = byStream.get(key.stream ?? "")
      return of === undefined ? undefined : { ...of, shardId: key.shardId }
    }

    // the worker's options are the coordinator's, and more
    const coordinator = yield* LeaseCoordinator.make({
      ...options,
      listShards: Effect.map(Effect.all(Array.from(byStream.values(), (s) => s.listShards)), (lists) => lists.flat()),
      manages: (leaseKey) => route(leaseKey) !== undefined
    })
    const { workerId } = coordinator
    // pages are counted only for a throughput balance, the only reader of the counts
    const measuresLoad = coordinator.settings.balance !== "leases"

    // Made after the coordinator, so it closes first: shard fibers stop before the leases are released.
    const running = yield* FiberMap.make<string, ShardExit>()
    const stopping = yield* Deferred.make<void>()
    const exits: { -readonly [K in keyof ExitCounts]: number } = { Finished: 0, Stopped: 0, HandedOver: 0, LeaseLost: 0, Failed: 0, Interrupted: 0 }
    const countExit = (stream: string, exit: keyof ExitCounts) => {
      const counter: Metric.Metric.Counter<number> = metrics.shardExits.pipe(
        Metric.tagged("stream", stream),
        Metric.tagged("worker", workerId),
        Metric.tagged("exit", exit)
      )
      return Effect.zipRight(Effect.sync(() => void exits[exit]++), Metric.increment(counter))
    }

    // Registered after the FiberMap, so it runs before the FiberMap interrupts what is left: shards are
    // asked to stop after their batch in flight, and given `shutdownTimeout` to do so.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* Deferred.succeed(stopping, undefined)
        const left = yield* FiberMap.size(running)
        if (left === 0) return
        yield* Effect.logDebug(`stopping ${left} shards`)
        yield* FiberMap.awaitEmpty(running).pipe(
          Effect.timeout(shutdownTimeout),
          Effect.catchAllCause(() => Effect.logWarning(`shards still running after ${Duration.format(shutdownTimeout)}: interrupted`))
        )
      }).pipe(Effect.annotateLogs("workerId", workerId))
    )

    // The stop marker: batches fail with it once the worker stops or the shard is asked for, after the batch
    // in flight was processed (the stream is consumed one page at a time). It is never a real source failure.
    const stopped = new SourceError({ source: "kinesis", reason: "worker stopping", retryability: "permanent" })

    // each running shard's last processed record and stored checkpoint, by lease key
    const positions = new Map<string, { processed: Position | undefined; checkpoint: LeaseCheckpoint }>()

    const processShard = (lease: OwnedLease): Effect.Effect<ShardExit> => {
      const { leaseKey } = lease
      // the coordinator hands over only the leases of these streams
      const { processor: streamProcessor, readerOf, shardId, stream } = route(leaseKey)!
      const position = {
        // a window stage's checkpoint carries the last record processed when it was taken
        processed: typeof lease.lease.checkpoint === "string" ? undefined : lease.lease.checkpoint.processed ?? lease.lease.checkpoint,
        checkpoint: lease.lease.checkpoint
      }
      // the stream's processor, noting the last record processed of this shard
      const processor: Pipeline.Processor = {
        ...streamProcessor,
        process: (id, records) =>
          Effect.tap(streamProcessor.process(id, records), () => {
            const last = records[records.length - 1]
            if (last !== undefined) position.processed = { sequenceNumber: last.sequenceNumber, subSequenceNumber: last.subSequenceNumber }
          })
      }
      return Effect.gen(function*() {
        const at = lease.lease.checkpoint
        if (at === "SHARD_END") return { _tag: "Finished" } as const
        positions.set(leaseKey, position)
        const resumeFrom = typeof at === "string" ? undefined : at
        // stop after the batch in flight: at shutdown, or once another worker asked for the shard
        const stop = yield* Deferred.make<void>()
        yield* Effect.fork(Effect.intoDeferred(Effect.raceFirst(Deferred.await(stopping), Effect.asVoid(lease.handoffRequested)), stop))
        const made = yield* Effect.exit(
          Effect.provide(readerOf(shardId, startingPosition(at, coordinator.settings.initialPosition), Deferred.await(stop)), kinesis)
        )
        if (made._tag === "Failure") {
          if (Cause.isInterruptedOnly(made.cause)) return yield* Effect.failCause(made.cause as Cause.Cause<never>)
          return { _tag: "Failed", cause: made.cause } as const
        }
        const reader = made.value
        const shard: CoreShardReader = {
          shardId,
          resumeFrom,
          ...ShardReaders.pagesOf(reader, {
            endedByStop: Deferred.isDone(stop),
            stopped,
            // the shard's load, published with the lease's renewals when the workers balance throughput
            countRead: measuresLoad
              ? (records) => lease.countRead(records.length, LoadMeter.bytesOf(records))
              : undefined
          }),
          checkpoint: (checkpoint) =>
            lease.checkpoint(checkpoint).pipe(
              Effect.tap(() => Effect.sync(() => void (position.checkpoint = checkpoint))),
              Effect.mapError((error) => toCheckpointError(shardId, error))
            ),
          checkpointInterval
        }
        const result = yield* Effect.exit(Pipeline.runShard(processor, shard))
        if (result._tag === "Success") {
          const end = yield* Effect.either(reader.ended)
          if (end._tag === "Right" && end.right._tag === "ShardEnd") {
            // hands the lease back; the coordinator then creates and takes the children
            const done = yield* Effect.either(lease.checkpoint("SHARD_END"))
            if (done._tag === "Right") return { _tag: "Finished" } as const
            if (done.left._tag === "LeaseLost") return { _tag: "LeaseLost" } as const
            return { _tag: "Failed", cause: Cause.fail(done.left) } as const
          }
          return { _tag: "Stopped" } as const
        }
        const cause = result.cause
        if (Cause.isInterruptedOnly(cause)) return yield* Effect.failCause(cause as Cause.Cause<never>)
        const failures = Chunk.toReadonlyArray(Cause.failures(cause))
        if (failures.some(isLeaseLost)) return { _tag: "LeaseLost" } as const
        // stopped, and the last checkpoint stored (a failed one follows the stop: Failed, handed back later)
        // (an error failed inside a span is a proxy of itself: compared by its original)
        if (failures.length > 0 && failures.every((failure) => Cause.originalError(failure) === stopped)) {
          return (yield* Deferred.isDone(stopping)) ? { _tag: "Stopped" } as const : { _tag: "HandedOver" } as const
        }
        return { _tag: "Failed", cause } as const
      }).pipe(
        // whatever ended the shard here, the processor's state for it (its windows) goes too: whoever
        // processes it next replays from the lease's checkpoint
        Effect.ensuring(Effect.zipRight(
          processor.stopShard(shardId),
          Effect.sync(() => positions.get(leaseKey) === position && positions.delete(leaseKey))
        )),
        Effect.catchAllDefect((defect) => Effect.succeed<ShardExit>({ _tag: "Failed", cause: Cause.die(defect) })),
        // interrupted: by the runner when the lease was lost, or by the shutdown timeout
        Effect.onInterrupt(() => Effect.flatMap(Deferred.isDone(stopping), (done) => countExit(stream, done ? "Interrupted" : "LeaseLost"))),
        Effect.tap((exit) =>
          Effect.gen(function*() {
            yield* countExit(stream, exit._tag)
            if (exit._tag === "Failed") {
              yield* Effect.logWarning(`shard failed; its lease is handed back in ${Duration.format(restartDelay)}`, exit.cause)
              // keep the lease meanwhile (nobody else starts on it), then let any worker take it again; a
              // shutdown cuts the wait short (the coordinator releases the lease then)
              yield* Effect.raceFirst(Effect.sleep(restartDelay), Deferred.await(stopping))
              yield* coordinator.release(leaseKey).pipe(
                Effect.catchAll((error) => Effect.logWarning("release after a failure failed; the lease will expire", error))
              )
            } else if (exit._tag === "HandedOver") {
              // checkpointed: the lease goes to the worker that asked for it
              yield* coordinator.release(leaseKey).pipe(
                Effect.catchAll((error) => Effect.logWarning("handoff failed; the lease will expire", error))
              )
            } else {
              yield* Effect.logDebug(`shard ${exit._tag}`)
            }
          })
        ),
        Effect.annotateLogs({ workerId, stream, shardId }),
        Effect.withSpan("Consumer.processShard", { attributes: { stream, shardId } })
      )
    }

    // Lost: FiberMap.remove interrupts the shard's fiber (a checkpoint it attempts first fails anyway).
    yield* coordinator.changes.pipe(
      Stream.runForEach((event) =>
        event._tag === "Acquired"
          ? Effect.flatMap(Deferred.isDone(stopping), (done) =>
            done ? Effect.void : FiberMap.run(running, event.lease.leaseKey, processShard(event.lease)))
          : FiberMap.remove(running, event.leaseKey)
      ),
      Effect.forkScoped
    )

    const shape: ConsumerShape = {
      workerId,
      stream: streams[0].stream,
      streams: streams.map((s) => s.stream),
      coordinator,
      shards: Effect.map(coordinator.owned, (owned) => Array.from(owned.keys()).sort()),
      // an array, not the map's iterator: the summary is read again and again
      summary: Effect.map(Effect.forEach(Array.from(byStream.values()), (s) => s.processor.summary), sumOf),
      exits: Effect.sync(() => ({ ...exits })),
      positions: Effect.sync(() =>
        Array.from(positions, ([shardId, { checkpoint, processed }]) => ({
          shardId,
          processed,
          checkpoint,
          heldBack: processed !== undefined && (typeof checkpoint === "string" || isBefore(checkpoint, processed))
        })).sort((a, b) => a.shardId.localeCompare(b.shardId))
      )
    }
    return shape
  })

/**
 * Runs a worker until interrupted (SIGTERM with `NodeRuntime.runMain`, or the scope of a test): then its
 * shards finish their batches in flight, checkpoint, and its leases are released.
 *
 * @since 0.1.0
 * @category running
 */
export const run = <A, R>(
  pipeline: Pipeline.Pipeline<A, R>,
  options: Options
): Effect.Effect<never, InvalidOptions, Kinesis | LeaseStore | DeadLetterSink | R> =>
  Effect.scoped(Effect.zipRight(make(pipeline, options), Effect.never))

/**
 * The worker as a layer providing `Consumer`: it runs while the layer is alive, e.g. next to an HTTP
 * server under `Layer.launch`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <A, R>(
  pipeline: Pipeline.Pipeline<A, R>,
  options: Options
): Layer.Layer<Consumer, InvalidOptions, Kinesis | LeaseStore | DeadLetterSink | R> =>
  Layer.scoped(Consumer, make(pipeline, options))

/**
 * A worker of several streams (`makeStreams`) as a layer providing `Consumer`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerStreams = <const Streams extends ReadonlyArray<StreamOptions>>(
  streams: Streams,
  options: StreamsOptions = {}
): Layer.Layer<Consumer, InvalidOptions, Kinesis | LeaseStore | DeadLetterSink | RequirementsOf<Streams[number]>> =>
  Layer.scoped(Consumer, makeStreams(streams, options))

/**
 * The options from configuration: `STREAM` (required), the lease coordinator's variables
 * (`LeaseCoordinator.config`: `WORKER_ID`, `APPLICATION`, `LEASE_DURATION`, `RENEW_INTERVAL`,
 * `TAKE_INTERVAL`, `SHARD_SYNC_INTERVAL`, `INITIAL_POSITION`, `INITIAL_TIMESTAMP`, `MAX_LEASES_PER_WORKER`,
 * `MAX_LEASES_TO_STEAL_AT_ONE_TIME`, `RELEASE_ON_SHUTDOWN`, `HANDOFF_TIMEOUT`, `CLEANUP_LEASES`, `BALANCE`),
 * `RESTART_DELAY`, `SHUTDOWN_TIMEOUT`, `CHECKPOINT_INTERVAL`, `READER` (`polling`, the default, or `fan-out`
 * with `CONSUMER_NAME`), and of the polling readers `IDLE_INTERVAL`, `EMPTY_PAGES_BEFORE_IDLE`, `MAX_RECORDS`
 * and `MAX_CALLS_PER_SECOND`. Durations are Effect durations (`10 seconds`) or milliseconds; every variable
 * but `STREAM` may be unset (the option's default).
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Options> = Config.all({
  coordinator: LeaseCoordinator.config,
  stream: Config.nonEmptyString("STREAM"),
  restartDelay: ConfigReaders.optional(ConfigReaders.duration("RESTART_DELAY")),
  checkpointInterval: ConfigReaders.optional(ConfigReaders.duration("CHECKPOINT_INTERVAL")),
  shutdownTimeout: ConfigReaders.optional(ConfigReaders.duration("SHUTDOWN_TIMEOUT")),
  reader: Config.all({
    idleInterval: ConfigReaders.optional(ConfigReaders.duration("IDLE_INTERVAL")),
    emptyPagesBeforeIdle: ConfigReaders.optional(Config.integer("EMPTY_PAGES_BEFORE_IDLE")),
    maxRecords: ConfigReaders.optional(Config.integer("MAX_RECORDS")),
    maxCallsPerSecond: ConfigReaders.optional(Config.number("MAX_CALLS_PER_SECOND"))
  }),
  fanOut: Config.all({
    reader: Config.withDefault(Config.literal("polling", "fan-out")("READER"), "polling"),
    consumerName: ConfigReaders.optional(Config.nonEmptyString("CONSUMER_NAME"))
  }).pipe(Config.mapOrFail(({ consumerName, reader }) =>
    reader === "polling"
      ? Either.right(undefined)
      : consumerName === undefined
      ? Either.left(ConfigError.MissingData(["CONSUMER_NAME"], "READER=fan-out needs CONSUMER_NAME, the stream consumer's name"))
      : Either.right({ consumerName })
  ))
}).pipe(Config.map(({ coordinator, fanOut, ...options }): Options => ({
  ...coordinator,
  ...options,
  ...(fanOut === undefined ? {} : { reader: { fanOut } })
})))

/**
 * The worker as a layer, its options from configuration (default: `config`, the documented variables), e.g.
 * `Consumer.layerConfig(pipeline)`, or `Consumer.layerConfig(pipeline, Config.nested(Consumer.config,
 * "ORDERS"))` for `ORDERS_STREAM` and so on.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = <A, R>(
  pipeline: Pipeline.Pipeline<A, R>,
  options: Config.Config.Wrap<Options> = config
): Layer.Layer<Consumer, ConfigError.ConfigError | InvalidOptions, Kinesis | LeaseStore | DeadLetterSink | R> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(options), (read) => layer(pipeline, read)))

// ---------------------------------------------------------------------------------------------------------
// internal
// ---------------------------------------------------------------------------------------------------------

const isBefore = (a: Position, b: Position): boolean => {
  const bySequence = SequenceNumber.compare(a.sequenceNumber, b.sequenceNumber)
  return bySequence < 0 || (bySequence === 0 && a.subSequenceNumber < b.subSequenceNumber)
}

/** A stream of the worker, as its shards need it. */
interface ConsumedStream {
  readonly stream: string
  readonly processor: Pipeline.Processor
  /** Makes a reader of one of its shards: polling, or through its enhanced fan-out consumer. */
  readonly readerOf: ShardReaders.ReaderOf
  /** Its shards, keyed as its leases are. */
  readonly listShards: Effect.Effect<ReadonlyArray<ShardInfo>, StreamAdmin.StreamAdminError, Kinesis>
}

const sumOf = (summaries: ReadonlyArray<Pipeline.Summary>): Pipeline.Summary => {
  const total = { recordsIn: 0, recordsOut: 0, deadLettered: 0, late: 0, filtered: 0, batches: 0 }
  for (const summary of summaries) for (const key of Object.keys(total) as Array<keyof typeof total>) total[key] += summary[key]
  return total
}

