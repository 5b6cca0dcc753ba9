/**
 * A whole stream as a core `RecordSource`, without leases: every shard is read by one polling
 * `ShardReader` in this process, parents before children (a child starts only after every parent it has
 * was read to its end, so records of one partition key stay in order across a split or merge). For one
 * process and for tests; checkpoints can be kept in memory so a source made again resumes.
 *
 * @since 0.1.0
 */
import type { Position, RecordSourceShape, ShardReader as CoreShardReader } from "@tributary/core/RecordSource"
import { RecordSource } from "@tributary/core/RecordSource"
import * as Sequence from "@tributary/core/SequenceNumber"
import type { CheckpointError } from "@tributary/core/TributaryError"
import { SourceError } from "@tributary/core/TributaryError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import * as Take from "effect/Take"
import { Kinesis } from "./Kinesis.js"
import type { KinesisShardReader, ReaderOptions, StartingPosition } from "./ShardReader.js"
import * as ShardReader from "./ShardReader.js"
import type { Shard } from "./StreamAdmin.js"
import * as StreamAdmin from "./StreamAdmin.js"

/**
 * A shard's stored progress: a position, or the mark that it was read to its end.
 *
 * @since 0.1.0
 * @category models
 */
export type Checkpoint = Position | "SHARD_END"

/**
 * Where checkpoints live.
 *
 * @since 0.1.0
 * @category models
 */
export interface CheckpointStore {
  /** The shard's checkpoint; undefined when it has none. */
  readonly get: (shardId: string) => Effect.Effect<Checkpoint | undefined, CheckpointError>
  /** Stores a shard's checkpoint (a store may ignore one behind what it has, as `memoryCheckpoints` does). */
  readonly set: (shardId: string, checkpoint: Checkpoint) => Effect.Effect<void, CheckpointError>
  /** Every shard's checkpoint, by shard id. */
  readonly all: Effect.Effect<ReadonlyMap<string, Checkpoint>>
}

/**
 * Checkpoints in a `Map` of this process. A position never moves back (a late checkpoint of an older
 * batch is ignored).
 *
 * @since 0.1.0
 * @category constructors
 */
export const memoryCheckpoints = (): CheckpointStore => {
  const store = new Map<string, Checkpoint>()
  return {
    get: (shardId) => Effect.sync(() => store.get(shardId)),
    set: (shardId, checkpoint) =>
      Effect.sync(() => {
        const current = store.get(shardId)
        if (current === "SHARD_END") return
        if (checkpoint === "SHARD_END") return void store.set(shardId, checkpoint)
        if (current !== undefined && !isAfter(checkpoint, current)) return
        // only the position: a pipeline hands over the whole last record
        store.set(shardId, { sequenceNumber: checkpoint.sequenceNumber, subSequenceNumber: checkpoint.subSequenceNumber })
      }),
    all: Effect.sync(() => new Map(store))
  }
}

/**
 * Where shards without a checkpoint start: TRIM_HORIZON, LATEST or AT_TIMESTAMP (see
 * `SourceOptions.initialPosition`).
 *
 * @since 0.1.0
 * @category models
 */
export type InitialPosition = Extract<StartingPosition, { readonly type: "TRIM_HORIZON" | "LATEST" | "AT_TIMESTAMP" }>

/**
 * Which stream a source reads, where it starts, whether it follows new records, and where it keeps
 * checkpoints.
 *
 * @since 0.1.0
 * @category models
 */
export interface SourceOptions {
  /** The Kinesis stream to read. */
  readonly stream: string
  /**
   * Where to start in shards without a checkpoint. Default TRIM_HORIZON (every shard from its oldest
   * record, parents first). With LATEST only the open shards are read, from their newest record;
   * AT_TIMESTAMP reads every shard from that time. Children found later always start at TRIM_HORIZON.
   */
  readonly initialPosition?: InitialPosition
  /**
   * true (default): keep reading open shards for new records, forever; false: a bounded read that ends
   * once every shard is read to its end or to its newest record.
   */
  readonly follow?: boolean
  /** Where to keep checkpoints (e.g. `memoryCheckpoints()`); none by default. */
  readonly checkpoints?: CheckpointStore
  /** Options for every shard reader. */
  readonly reader?: Omit<ReaderOptions, "stream" | "shardId" | "position" | "follow" | "checkpoint">
}

/**
 * Makes the source: the stream's shards as core `ShardReader`s, parents before children, plus the
 * checkpoints stored so far. Listing the shards and reading them fail with `SourceError`s.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fn("StreamSource.make")(function*(options: SourceOptions) {
  const kinesis = yield* Kinesis
  const { stream } = options
  const follow = options.follow ?? true
  const initial: InitialPosition = options.initialPosition ?? { type: "TRIM_HORIZON" }
  const checkpoints = options.checkpoints
  const name = `kinesis:${stream}`

  const toSourceError = (error: { readonly message: string; readonly retryability: "transient" | "permanent" }) =>
    new SourceError({ source: name, reason: error.message, retryability: error.retryability, cause: error })

  const shards: Stream.Stream<CoreShardReader, SourceError> = Stream.unwrapScoped(Effect.gen(function*() {
    const scope = yield* Effect.scope
    const queue = yield* Queue.unbounded<Take.Take<CoreShardReader, SourceError>>()
    const known = new Map<string, Shard>()
    const done = new Set<string>()
    const started = new Set<string>()
    let running = 0

    const refresh = Effect.gen(function*() {
      const listed = yield* StreamAdmin.listShards(stream).pipe(
        Effect.provideService(Kinesis, kinesis),
        Effect.mapError(toSourceError)
      )
      for (const shard of listed) known.set(shard.shardId, shard)
    })

    // A parent that is no longer listed has aged out of retention: nothing is left to read in it.
    const parentsDone = (shard: Shard) =>
      [shard.parentShardId, shard.adjacentParentShardId].every((parent) =>
        parent === undefined || done.has(parent) || !known.has(parent)
      )

    const positionOf = (checkpoint: Checkpoint | undefined, isInitial: boolean): StartingPosition => {
      if (checkpoint !== undefined && checkpoint !== "SHARD_END") return ShardReader.StartingPosition.after(checkpoint)
      // a child of a split long ago may hold records older than the timestamp
      if (isInitial || initial.type === "AT_TIMESTAMP") return initial
      return ShardReader.StartingPosition.trimHorizon
    }

    const startReady = (isInitial: boolean): Effect.Effect<void, SourceError> =>
      Effect.gen(function*() {
        // in shard id order, which is creation order
        const ready = [...known.values()]
          .filter((shard) => !started.has(shard.shardId) && !done.has(shard.shardId) && parentsDone(shard))
          .sort((a, b) => a.shardId < b.shardId ? -1 : a.shardId > b.shardId ? 1 : 0)
        for (const shard of ready) {
          // another watcher may have started it while this one waited
          if (started.has(shard.shardId)) continue
          started.add(shard.shardId)
          const checkpoint = checkpoints === undefined ? undefined : yield* Effect.mapError(checkpoints.get(shard.shardId), toSourceError)
          if (checkpoint === "SHARD_END") {
            done.add(shard.shardId)
            continue
          }
          const reader = yield* ShardReader.make({
            ...options.reader,
            stream,
            shardId: shard.shardId,
            position: positionOf(checkpoint, isInitial),
            // a closed shard is read to its end even in a bounded read: some endpoints (kinesalite) answer
            // an empty, caught-up page before the page that ends the shard
            follow: follow || StreamAdmin.isClosed(shard),
            checkpoint: (position) =>
              checkpoints === undefined ? Effect.void : checkpoints.set(shard.shardId, position)
          }).pipe(Effect.provideService(Kinesis, kinesis))
          running++
          yield* Effect.forkIn(watch(reader), scope)
          yield* Queue.offer(queue, Take.of(reader))
        }
        // finished shards may have made more shards ready
        if (ready.some((shard) => done.has(shard.shardId))) yield* startReady(isInitial)
      })

    const watch = (reader: KinesisShardReader): Effect.Effect<void> =>
      reader.ended.pipe(
        Effect.flatMap((end) =>
          Effect.gen(function*() {
            if (end._tag === "ShardEnd") {
              done.add(reader.shardId)
              if (checkpoints !== undefined) yield* Effect.mapError(checkpoints.set(reader.shardId, "SHARD_END"), toSourceError)
              if (end.childShardIds.some((child) => !known.has(child))) yield* refresh
              yield* startReady(false)
            }
            // counted as running until its children are started, so the source cannot end in between
            running--
            if (running === 0) yield* Queue.offer(queue, Take.end)
          })
        ),
        Effect.catchAll((error) => Queue.offer(queue, Take.fail(error))),
        Effect.asVoid
      )

    yield* refresh
    if (initial.type === "LATEST") {
      // closed shards get no new records: only the open ones are read, from their newest record; but a
      // closed shard an earlier run checkpointed is read on from there (its records are unread, not old)
      for (const shard of known.values()) {
        if (!StreamAdmin.isClosed(shard)) continue
        const checkpoint = checkpoints === undefined ? undefined : yield* Effect.mapError(checkpoints.get(shard.shardId), toSourceError)
        if (checkpoint === undefined) done.add(shard.shardId)
      }
    }
    yield* startReady(true)
    if (running === 0) yield* Queue.offer(queue, Take.end)
    return Stream.fromQueue(queue).pipe(Stream.flattenTake)
  }))

  const shape: RecordSourceShape & { readonly checkpoints: Effect.Effect<ReadonlyMap<string, Checkpoint>> } = {
    name,
    shards,
    checkpoints: checkpoints === undefined ? Effect.succeed(new Map()) : checkpoints.all
  }
  return shape
})

/**
 * The source as the core `RecordSource` service.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: SourceOptions): Layer.Layer<RecordSource, never, Kinesis> =>
  Layer.effect(RecordSource, make(options))

const isAfter = (a: Position, b: Position): boolean => {
  const order = Sequence.compare(a.sequenceNumber, b.sequenceNumber)
  return order > 0 || (order === 0 && a.subSequenceNumber > b.subSequenceNumber)
}
