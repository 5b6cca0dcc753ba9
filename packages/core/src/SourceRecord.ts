/**
 * A record as a source delivers it: where it came from, where it sits in its shard, and its raw bytes.
 *
 * @since 0.1.0
 */
import type { SequenceNumber } from "./SequenceNumber.js"
import * as Sequence from "./SequenceNumber.js"

/**
 * One record read from a shard, before decoding: what a `ShardReader` emits and a `Decoder` turns into
 * values.
 *
 * @since 0.1.0
 * @category models
 */
export interface SourceRecord {
  /** Name of the stream the record was read from. */
  readonly stream: string
  /** The shard the record was read from. */
  readonly shardId: string
  /** The record's position in its shard, assigned by the stream when it was written. */
  readonly sequenceNumber: SequenceNumber
  /**
   * Position of a user record inside a KPL-aggregated Kinesis record (all of them share one sequence
   * number); 0 for a plain record.
   */
  readonly subSequenceNumber: number
  /** The key the producer chose; the stream hashes it to pick the shard. */
  readonly partitionKey: string
  /** Approximate arrival time at the stream, epoch milliseconds. */
  readonly arrivalTime: number
  /** The record's payload, as written by the producer. */
  readonly data: Uint8Array
}

/**
 * Builds a `SourceRecord` from its fields; `subSequenceNumber` defaults to 0 (a plain record).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (fields: {
  readonly stream: string
  readonly shardId: string
  readonly sequenceNumber: SequenceNumber
  readonly subSequenceNumber?: number
  readonly partitionKey: string
  readonly arrivalTime: number
  readonly data: Uint8Array
}): SourceRecord => ({
  stream: fields.stream,
  shardId: fields.shardId,
  sequenceNumber: fields.sequenceNumber,
  subSequenceNumber: fields.subSequenceNumber ?? 0,
  partitionKey: fields.partitionKey,
  arrivalTime: fields.arrivalTime,
  data: fields.data
})

/**
 * Orders records of one shard by (sequence number, sub-sequence number).
 *
 * @since 0.1.0
 * @category ordering
 */
export const comparePosition = (self: SourceRecord, that: SourceRecord): -1 | 0 | 1 => {
  const bySequence = Sequence.compare(self.sequenceNumber, that.sequenceNumber)
  if (bySequence !== 0) return bySequence
  return self.subSequenceNumber < that.subSequenceNumber ? -1 : self.subSequenceNumber > that.subSequenceNumber ? 1 : 0
}
