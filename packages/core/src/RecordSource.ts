/**
 * Where records come from: a set of shards, each delivering its records in order, one chunk per fetched
 * page, and accepting a checkpoint once what it delivered is durable downstream.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
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
  readonly sequenceNumber: SequenceNumber
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
  readonly maxEventTime?: number
  readonly watermark?: number
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
  readonly shardId: string
  readonly batches: Stream.Stream<ReadonlyArray<SourceRecord>, SourceError>
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
 * @since 0.1.0
 * @category models
 */
export interface RecordSourceShape {
  readonly name: string
  /** The shards to process; each is processed in its own fiber as soon as it is emitted. */
  readonly shards: Stream.Stream<ShardReader, SourceError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class RecordSource extends Context.Tag("@tributary/core/RecordSource")<RecordSource, RecordSourceShape>() {}
