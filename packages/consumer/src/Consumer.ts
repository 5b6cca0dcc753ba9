/**
 * A Kinesis consumer worker: runs a core `Pipeline` on the shards of a stream, sharing them out with the
 * other workers of the same application through a lease table, the way the Kinesis Client Library does.
 *
 * - A `LeaseCoordinator` (shards from Kinesis' ListShards) decides which shards this worker processes.
 * - Each acquired lease gets a scoped fiber that reads the shard with a polling `ShardReader`, starting
 *   after the lease's checkpoint, and runs `Pipeline.runShard` on it with the worker's one `Processor`.
 *   Checkpoints go through the lease (conditional on owner and counter), so a worker that lost the lease
 *   can never move the new owner's position back: its checkpoint fails with a permanent `CheckpointError`
 *   and the fiber stops.
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
 *
 * @since 0.1.0
 */
import type { DeadLetterSink } from "@tributary/core/DeadLetter"
import type { LeaseLost, LeaseStore, LeaseStoreError } from "@tributary/core/LeaseStore"
import * as Pipeline from "@tributary/core/Pipeline"
import type { Checkpoint, ShardReader as CoreShardReader } from "@tributary/core/RecordSource"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import type { InvalidOptions } from "@tributary/core/TributaryError"
import { CheckpointError, SourceError } from "@tributary/core/TributaryError"
import type { Kinesis } from "@tributary/kinesis/Kinesis"
import * as ShardReader from "@tributary/kinesis/ShardReader"
import * as StreamAdmin from "@tributary/kinesis/StreamAdmin"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberMap from "effect/FiberMap"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as ConfigReaders from "./internal/config.js"
import type { OwnedLease, ShardInfo } from "./LeaseCoordinator.js"
import * as LeaseCoordinator from "./LeaseCoordinator.js"

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
  /** Options of each shard's reader (batch size, idle time, retries). */
  readonly reader?: ReaderOptions | undefined
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
   * Shard fibers that ended, tagged `exit`: `Finished`, `Stopped`, `LeaseLost`, `Failed` or `Interrupted`,
   * counted as `exits` counts them.
   */
  shardExits: Metric.counter("tributary_consumer_shard_exits_total", { description: "shard fibers that ended, by exit", incremental: true })
} as const

/**
 * A running worker.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConsumerShape {
  readonly workerId: string
  readonly stream: string
  readonly coordinator: LeaseCoordinator.LeaseCoordinatorShape
  /** The shards being processed now. */
  readonly shards: Effect.Effect<ReadonlyArray<string>>
  /** Totals of the worker's processor over every shard it processed. */
  readonly summary: Effect.Effect<Pipeline.Summary>
  /** Shard fibers that ended, per reason, since the worker started. */
  readonly exits: Effect.Effect<ExitCounts>
}

/**
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
 *
 * @since 0.1.0
 * @category constructors
 */
export const startingPosition = (checkpoint: Checkpoint | "TRIM_HORIZON" | "LATEST"): ShardReader.StartingPosition =>
  checkpoint === "TRIM_HORIZON"
    ? ShardReader.StartingPosition.trimHorizon
    : checkpoint === "LATEST"
    ? ShardReader.StartingPosition.latest
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
  Effect.gen(function*() {
    const { stream } = options
    const restartDelay = Duration.decode(options.restartDelay ?? "5 seconds")
    const shutdownTimeout = Duration.decode(options.shutdownTimeout ?? "30 seconds")
    // one processor for every shard of the worker: windows over several shards see them all
    const processor = yield* Pipeline.processor(pipeline)
    const kinesis = yield* Effect.context<Kinesis>()

    // the worker's options are the coordinator's, and more
    const coordinator = yield* LeaseCoordinator.make({
      ...options,
      application: options.application ?? stream,
      listShards: listShards(stream)
    })
    const { workerId } = coordinator

    // Made after the coordinator, so it closes first: shard fibers stop before the leases are released.
    const running = yield* FiberMap.make<string, ShardExit>()
    const stopping = yield* Deferred.make<void>()
    const exits: { -readonly [K in keyof ExitCounts]: number } = { Finished: 0, Stopped: 0, LeaseLost: 0, Failed: 0, Interrupted: 0 }
    const exitCounters = {} as Record<keyof ExitCounts, Metric.Metric.Counter<number>>
    for (const exit of Object.keys(exits) as Array<keyof ExitCounts>) {
      exitCounters[exit] = metrics.shardExits.pipe(
        Metric.tagged("stream", stream),
        Metric.tagged("worker", workerId),
        Metric.tagged("exit", exit)
      )
    }
    const countExit = (exit: keyof ExitCounts) =>
      Effect.zipRight(Effect.sync(() => void exits[exit]++), Metric.increment(exitCounters[exit]))

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

    // The stop marker: batches fail with it once the worker stops, after the batch in flight was processed
    // (the stream is consumed one page at a time). It is never a real source failure.
    const stopped = new SourceError({ source: `kinesis:${stream}`, reason: "worker stopping", retryability: "permanent" })

    const processShard = (lease: OwnedLease): Effect.Effect<ShardExit> => {
      const shardId = lease.leaseKey
      return Effect.gen(function*() {
        const at = lease.lease.checkpoint
        if (at === "SHARD_END") return { _tag: "Finished" } as const
        const resumeFrom = typeof at === "string" ? undefined : at
        const reader = yield* ShardReader.make({
          ...options.reader,
          stream,
          shardId,
          position: startingPosition(at)
        }).pipe(Effect.provide(kinesis))
        const shard: CoreShardReader = {
          shardId,
          resumeFrom,
          batches: Stream.concat(
            reader.batches.pipe(
              // the shard's load, published with the lease's renewals when the workers balance throughput
              Stream.tap((records) => lease.countRead(records.length, bytesOf(records))),
              Stream.interruptWhen(Deferred.await(stopping))
            ),
            // ended by the stop (not by the shard's end): fail, so runShard does not flush the shard's
            // windows as if it had ended
            Stream.unwrap(Effect.map(Deferred.isDone(stopping), (done) => done ? Stream.fail(stopped) : Stream.empty))
          ),
          checkpoint: (checkpoint) => Effect.mapError(lease.checkpoint(checkpoint), (error) => toCheckpointError(shardId, error))
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
        const failure = Cause.failureOption(cause)
        if (failure._tag === "Some") {
          if (failure.value === stopped) return { _tag: "Stopped" } as const
          if (isLeaseLost(failure.value)) return { _tag: "LeaseLost" } as const
        }
        return { _tag: "Failed", cause } as const
      }).pipe(
        // whatever ended the shard here, the processor's state for it (its windows) goes too: whoever
        // processes it next replays from the lease's checkpoint
        Effect.ensuring(processor.stopShard(shardId)),
        Effect.catchAllDefect((defect) => Effect.succeed<ShardExit>({ _tag: "Failed", cause: Cause.die(defect) })),
        // interrupted: by the runner when the lease was lost, or by the shutdown timeout
        Effect.onInterrupt(() => Effect.flatMap(Deferred.isDone(stopping), (done) => countExit(done ? "Interrupted" : "LeaseLost"))),
        Effect.tap((exit) =>
          Effect.gen(function*() {
            yield* countExit(exit._tag)
            if (exit._tag === "Failed") {
              yield* Effect.logWarning(`shard failed; its lease is handed back in ${Duration.format(restartDelay)}`, exit.cause)
              // keep the lease meanwhile (nobody else starts on it), then let any worker take it again; a
              // shutdown cuts the wait short (the coordinator releases the lease then)
              yield* Effect.raceFirst(Effect.sleep(restartDelay), Deferred.await(stopping))
              yield* coordinator.release(shardId).pipe(
                Effect.catchAll((error) => Effect.logWarning("release after a failure failed; the lease will expire", error))
              )
            } else {
              yield* Effect.logDebug(`shard ${exit._tag}`)
            }
          })
        ),
        Effect.annotateLogs({ workerId, shardId }),
        Effect.withSpan("Consumer.processShard", { attributes: { shardId } })
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
      stream,
      coordinator,
      shards: Effect.map(coordinator.owned, (owned) => Array.from(owned.keys()).sort()),
      summary: processor.summary,
      exits: Effect.sync(() => ({ ...exits }))
    }
    return shape
  }).pipe(Effect.withSpan("Consumer.make", { attributes: { stream: options.stream } }))

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
 * The options from configuration: `STREAM` (required), the lease coordinator's variables
 * (`LeaseCoordinator.config`: `WORKER_ID`, `APPLICATION`, `LEASE_DURATION`, `RENEW_INTERVAL`,
 * `TAKE_INTERVAL`, `SHARD_SYNC_INTERVAL`, `INITIAL_POSITION`, `MAX_LEASES_PER_WORKER`,
 * `MAX_LEASES_TO_STEAL_AT_ONE_TIME`, `RELEASE_ON_SHUTDOWN`, `BALANCE`), `RESTART_DELAY`, `SHUTDOWN_TIMEOUT`, and of the
 * readers `IDLE_INTERVAL`, `MAX_RECORDS` and `MAX_CALLS_PER_SECOND`. Durations are Effect durations
 * (`10 seconds`) or milliseconds; every variable but `STREAM` may be unset (the option's default).
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Options> = Config.all({
  coordinator: LeaseCoordinator.config,
  stream: Config.nonEmptyString("STREAM"),
  restartDelay: ConfigReaders.optional(ConfigReaders.duration("RESTART_DELAY")),
  shutdownTimeout: ConfigReaders.optional(ConfigReaders.duration("SHUTDOWN_TIMEOUT")),
  reader: Config.all({
    idleInterval: ConfigReaders.optional(ConfigReaders.duration("IDLE_INTERVAL")),
    maxRecords: ConfigReaders.optional(Config.integer("MAX_RECORDS")),
    maxCallsPerSecond: ConfigReaders.optional(Config.number("MAX_CALLS_PER_SECOND"))
  })
}).pipe(Config.map(({ coordinator, ...options }): Options => ({ ...coordinator, ...options })))

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

const bytesOf = (records: ReadonlyArray<SourceRecord>): number => {
  let bytes = 0
  for (const record of records) bytes += record.data.byteLength
  return bytes
}

const isLeaseLost = (error: Pipeline.PipelineError): boolean =>
  error._tag === "CheckpointError" && (error.cause as { readonly _tag?: unknown } | undefined)?._tag === "LeaseLost"

const toCheckpointError = (shardId: string, error: LeaseLost | LeaseStoreError): CheckpointError =>
  error._tag === "LeaseLost"
    ? new CheckpointError({
      shardId,
      reason: `the lease was lost (${error.operation} expected counter ${error.expectedCounter}): another worker owns the shard`,
      retryability: "permanent",
      cause: error
    })
    : new CheckpointError({ shardId, reason: error.reason, retryability: error.retryability, cause: error })
