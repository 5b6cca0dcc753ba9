/**
 * The DynamoDB stream event Lambda's event source mapping hands a function, read into core
 * `SourceRecord`s (one per change), and built from stream records (for tests and the local runner).
 *
 * - A change becomes a record whose payload is the change's JSON, so `ChangeRecord.decoder(Item)` of
 *   `@tributary/dynamodb` decodes it like any other payload, and a dead letter keeps the whole change;
 * - its sequence number is `dynamodb.SequenceNumber` (what a batch item failure names), its partition key
 *   the item's keys, its arrival time `ApproximateCreationDateTime` (epoch seconds) in milliseconds, its
 *   stream the table's name (from `eventSourceARN`);
 * - an event holds the changes of one shard, but does not say which: the shard is the event's `shardId`
 *   when it has one (tumbling-window events), else `unknownShard`.
 *
 * @since 0.1.0
 */
import type { SourceRecord } from "@tributary/core/SourceRecord"
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda"
import { InvalidEvent } from "./internal/eventSource.js"

/**
 * The event of a mapping with `TumblingWindowInSeconds` (the DynamoDB flavour of
 * `KinesisStreamTumblingWindowEvent`).
 *
 * @since 0.1.0
 * @category models
 */
export interface DynamoDBStreamTumblingWindowEvent extends DynamoDBStreamEvent {
  /** The window's start and end, ISO 8601 timestamps. */
  window: { start: string; end: string }
  /** The state the previous invocation of the window handed back; empty or absent at the window's first invocation. */
  state?: { [key: string]: any }
  /** The shard the event's records come from. */
  shardId: string
  /** The ARN of the table's stream. */
  eventSourceARN: string
  /** True for the window's last invocation: its state is final, the time to write the window's results. */
  isFinalInvokeForWindow: boolean
  /** True when Lambda ended the window before its end, because the state outgrew its 1 MB limit. */
  isWindowTerminatedEarly: boolean
}

/**
 * The answer to a tumbling-window event.
 *
 * @since 0.1.0
 * @category models
 */
export interface DynamoDBStreamStateResponse extends Partial<DynamoDBBatchResponse> {
  /** The state the next invocation of the window is handed; its JSON is at most 1 MB. */
  state: { [key: string]: any }
}

/**
 * The shard of an event that does not name one (Lambda's plain DynamoDB stream events do not).
 *
 * @since 0.1.0
 * @category constants
 */
export const unknownShard = "unknown-shard"

/**
 * The table of a stream ARN (`arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>`); the ARN
 * itself when it names no table.
 *
 * @since 0.1.0
 * @category parsing
 */
export const tableNameOf = (arn: string): string => /:table\/([^/]+)/.exec(arn)?.[1] ?? arn

/**
 * Reads an event's changes as records, in event order: the pipeline's input for one shard.
 *
 * @since 0.1.0
 * @category parsing
 */
export const toRecords = (event: DynamoDBStreamEvent): ReadonlyArray<SourceRecord> => {
  if (event === null || typeof event !== "object" || !Array.isArray(event.Records)) {
    throw new InvalidEvent({ reason: "no Records array", source })
  }
  const shardId = (event as { readonly shardId?: unknown }).shardId
  const shard = typeof shardId === "string" && shardId !== "" ? shardId : unknownShard
  const encoder = new TextEncoder()
  return event.Records.map((record) => {
    const change = record?.dynamodb
    if (change === undefined || change === null || typeof change.SequenceNumber !== "string") {
      throw new InvalidEvent({ reason: `record ${JSON.stringify(record?.eventID)} has no dynamodb.SequenceNumber`, source })
    }
    return {
      stream: tableNameOf(record.eventSourceARN ?? ""),
      shardId: shard,
      sequenceNumber: change.SequenceNumber,
      subSequenceNumber: 0,
      partitionKey: JSON.stringify(change.Keys ?? {}),
      arrivalTime: Math.round((change.ApproximateCreationDateTime ?? 0) * 1000),
      data: encoder.encode(JSON.stringify(record))
    }
  })
}

/**
 * Builds the event Lambda would send for stream records of one shard.
 *
 * @since 0.1.0
 * @category building
 */
export const fromRecords = (records: ReadonlyArray<DynamoDBRecord>): DynamoDBStreamEvent => ({ Records: records.slice() })

/**
 * Builds a tumbling-window event: the changes (possibly none, as in a window's final invocation), the
 * window, the state the previous invocation returned, and the flags.
 *
 * @since 0.1.0
 * @category building
 */
export const tumblingWindowEvent = (options: {
  readonly streamArn: string
  readonly shardId: string
  readonly records: ReadonlyArray<DynamoDBRecord>
  readonly window: { readonly start: number; readonly end: number }
  readonly state?: { readonly [key: string]: unknown } | undefined
  readonly isFinalInvokeForWindow?: boolean
  readonly isWindowTerminatedEarly?: boolean
}): DynamoDBStreamTumblingWindowEvent => ({
  Records: options.records.slice(),
  window: { start: new Date(options.window.start).toISOString(), end: new Date(options.window.end).toISOString() },
  state: { ...options.state },
  shardId: options.shardId,
  eventSourceARN: options.streamArn,
  isFinalInvokeForWindow: options.isFinalInvokeForWindow ?? false,
  isWindowTerminatedEarly: options.isWindowTerminatedEarly ?? false
})

const source = "DynamoDB stream"
