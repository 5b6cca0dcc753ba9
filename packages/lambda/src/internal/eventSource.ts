/**
 * What the handlers need to know about one kind of event source mapping (Kinesis, DynamoDB Streams): how
 * an event's records are read, grouped by shard, and which identifier a batch item failure gives back.
 * The handlers' guarantees (partial batch responses per shard in order, dead letters, the time margin,
 * tumbling windows with state) are written once over this.
 */
import type { SourceRecord } from "@tributary/core/SourceRecord"
import * as Data from "effect/Data"

/**
 * An event that does not have the shape of its source (a test event for another source, a hand-written
 * one). `source` names the shape expected.
 */
export class InvalidEvent extends Data.TaggedError("InvalidEvent")<{
  readonly reason: string
  readonly source?: string
}> {
  /** Which source's shape the event lacks, and what is wrong with it. */
  override get message(): string {
    return `not a ${this.source ?? "Kinesis"} event: ${this.reason}`
  }
}

/** One record of an event, as a batch item failure names it, and the records it holds for the pipeline. */
export interface EventItem {
  /** The item identifier of a batch item failure. */
  readonly sequenceNumber: string
  /** One for a plain record, the user records of a KPL aggregate. */
  readonly records: ReadonlyArray<SourceRecord>
}

/** The items of one shard in one event, in shard order. */
export interface EventShard {
  readonly shardId: string
  readonly stream: string
  readonly items: ReadonlyArray<EventItem>
}

export interface EventSource<Event> {
  /** "Kinesis", "DynamoDB stream": names the source in errors and spans. */
  readonly name: string
  readonly toShards: (event: Event) => ReadonlyArray<EventShard>
}

/** Every record of a shard's items, in order. */
export const recordsOf = (items: ReadonlyArray<EventItem>): ReadonlyArray<SourceRecord> => {
  if (items.length === 1) return items[0].records
  const out: Array<SourceRecord> = []
  for (const item of items) for (const r of item.records) out.push(r)
  return out
}
