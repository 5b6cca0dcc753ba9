/**
 * Where records come from: a set of shards, each delivering its records in order, one chunk per fetched
 * page, and accepting a checkpoint once what it delivered is durable downstream.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
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
 * What a checkpoint stores: the position, and the shard's highest event time seen up to it (when a window
 * stage runs), so a restart rebuilds watermarks exactly as they were at that position.
 *
 * @since 0.1.0
 * @category models
 */
export interface Checkpoint extends Position {
  readonly maxEventTime?: number
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
