/**
 * Where records come from: a set of shards, each delivering its records in order, one chunk per fetched
 * page, and accepting a checkpoint once what it delivered is durable downstream.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { SequenceNumber } from "./SequenceNumber.js"
import type { SourceRecord } from "./SourceRecord.js"
import type { CheckpointError, SourceError } from "./TributaryError.js"

/**
 * A position in a shard: everything at or before it has been processed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Position {
  /** Sequence number of the last record processed. */
  readonly sequenceNumber: SequenceNumber
  /** Its sub-sequence number inside a KPL-aggregated record; 0 for a plain record. */
  readonly subSequenceNumber: number
}

/**
 * What a checkpoint stores: the position to resume after and, when a window stage holds the position
 * back, what a restart needs to rebuild exactly the windows that were open: the shard's highest event time
 * up to the position (so watermarks replay as they were), the watermark when the checkpoint was taken
 * (windows closed for good by then emit nothing again) and the last record processed then (records up to
 * it were dealt with before: a replay does not send them to the late output again).
 *
 * @since 0.1.0
 * @category models
 */
export interface Checkpoint extends Position {
  /** The shard's highest event time up to the position, epoch milliseconds; absent without a window stage. */
  readonly maxEventTime?: number
  /** The watermark when the checkpoint was taken, epoch milliseconds; absent without a window stage. */
  readonly watermark?: number
  /** The last record processed when the checkpoint was taken, at or after the position. */
  readonly processed?: Position
}

/**
 * One shard being read. `batches` emits one array per fetched page, in shard order; it ends when the shard
 * ends (or, for a bounded source, when it is drained).
 *
 * @since 0.1.0
 * @category models
 */
export interface ShardReader {
  /** The shard this reader reads. */
  readonly shardId: string
  /** The shard's records, one array per fetched page, in shard order; fails when the source does. */
  readonly batches: Stream.Stream<ReadonlyArray<SourceRecord>, SourceError>
  /**
   * The same pages as `batches`, pulled one at a time, for a reader whose pages come one call at a time (a
   * polling reader). Opening it in a scope starts a run as running `batches` would; each pull answers the
   * next page, and fails with `None` at the end or `Some` with the source's failure. A pipeline prefers it
   * to `batches` when it has no timer to merge in: pages handed through a `Stream` outlive V8's
   * young-generation collections and are promoted, which costs CPU and memory (see docs/consumer.md).
   * Optional: a reader without it is read through `batches`.
   */
  readonly pull?: Effect.Effect<Effect.Effect<ReadonlyArray<SourceRecord>, Option.Option<SourceError>>, never, Scope.Scope> | undefined
  /** The checkpoint this reader resumes after, if any. */
  readonly resumeFrom?: Checkpoint | undefined
  /** Records that everything up to and including the position is durable; a restart resumes after it. */
  readonly checkpoint: (checkpoint: Checkpoint) => Effect.Effect<void, CheckpointError>
  /**
   * Stores checkpoints at most this often (the newest one wins; the last one is stored when the shard's
   * processing ends). Default: after every batch. Checkpoints are stored off the read path either way.
   */
  readonly checkpointInterval?: Duration.DurationInput | undefined
}

/**
 * What a `RecordSource` provides: a name and the stream of shards to read.
 *
 * @since 0.1.0
 * @category models
 */
export interface RecordSourceShape {
  /** Names the source in spans and errors (for a stream source, the stream's name). */
  readonly name: string
  /** The shards to process; each is processed in its own fiber as soon as it is emitted. */
  readonly shards: Stream.Stream<ShardReader, SourceError>
}

/**
 * The service a pipeline reads from; provide it with a source layer (`MemoryStream.layerSource`,
 * `Archive.layerSource`, or the Kinesis one).
 *
 * @since 0.1.0
 * @category tags
 */
export class RecordSource extends Context.Tag("@tributary/core/RecordSource")<RecordSource, RecordSourceShape>() {}
