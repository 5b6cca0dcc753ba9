/**
 * The Kinesis event Lambda's event source mapping hands a function, read into core `SourceRecord`s and
 * built from them (for tests and the local runner).
 *
 * - `data` is base64; `approximateArrivalTimestamp` is epoch seconds with a fraction;
 * - the shard is not a field of the record: it is the part of `eventID` before the colon
 *   (`shardId-000000000006:4959...`), and the stream is the last part of `eventSourceARN`;
 * - Lambda does not deaggregate KPL records: `toShards` does, giving each user record its sub-sequence
 *   number (they share the Kinesis record's sequence number, which is what a batch item failure names).
 *
 * @since 0.1.0
 */
import type { SourceRecord } from "@tributary/core/SourceRecord"
import * as Aggregation from "@tributary/kinesis/Aggregation"
import type {
  KinesisStreamEvent,
  KinesisStreamRecord,
  KinesisStreamTumblingWindowEvent
} from "aws-lambda"
import { InvalidEvent, recordsOf } from "./internal/eventSource.js"

/**
 * An event that does not have the shape its handler expects (a test event for another source, a
 * hand-written one); `source` names the shape expected ("Kinesis" when absent).
 *
 * @since 0.1.0
 * @category errors
 */
export { InvalidEvent } from "./internal/eventSource.js"

/**
 * The records of one shard in one event, in shard order: `kinesis` holds the Kinesis records as
 * delivered (what batch item failures refer to), `records` the user records after KPL deaggregation.
 *
 * @since 0.1.0
 * @category models
 */
export interface ShardBatch {
  /** The shard the records come from, the part of their `eventID` before the colon. */
  readonly shardId: string
  /** The stream's name, from the records' `eventSourceARN`. */
  readonly stream: string
  /** One entry per Kinesis record of the event, with the user records it expanded to. */
  readonly kinesis: ReadonlyArray<KinesisRecord>
}

/**
 * One Kinesis record of an event and its user records (one for a plain record, many for a KPL aggregate).
 *
 * @since 0.1.0
 * @category models
 */
export interface KinesisRecord {
  /** The Kinesis record's sequence number: the item identifier of a batch item failure. */
  readonly sequenceNumber: string
  /** The user records it holds: itself for a plain record, the sub-records of a KPL aggregate. */
  readonly records: ReadonlyArray<SourceRecord>
}

/**
 * The shard id of an event record: the part of `eventID` before the colon.
 *
 * @since 0.1.0
 * @category parsing
 */
export const shardIdOf = (record: KinesisStreamRecord): string => {
  const id = record.eventID
  const colon = typeof id === "string" ? id.indexOf(":") : -1
  if (colon <= 0) throw new InvalidEvent({ reason: `eventID ${JSON.stringify(id)} has no "<shardId>:" prefix` })
  return id.slice(0, colon)
}

/**
 * The stream name of an ARN such as `arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const streamNameOf = (arn: string): string => {
  const slash = arn.indexOf(":stream/")
  if (slash < 0) return arn
  const rest = arn.slice(slash + ":stream/".length)
  // a consumer ARN (enhanced fan-out) goes on with /consumer/<name>:<time>
  const end = rest.indexOf("/")
  return end < 0 ? rest : rest.slice(0, end)
}

/**
 * Reads an event's records, grouped by shard in the order each shard first appears, each shard's records
 * in event order (the order Lambda keeps: shard order). An event normally holds one shard; grouping makes
 * a hand-built or merged event safe too.
 *
 * @since 0.1.0
 * @category parsing
 */
export const toShards = (
  event: KinesisStreamEvent,
  options: { readonly deaggregate?: boolean } = {}
): ReadonlyArray<ShardBatch> => {
  if (event === null || typeof event !== "object" || !Array.isArray(event.Records)) {
    throw new InvalidEvent({ reason: "no Records array" })
  }
  const deaggregate = options.deaggregate ?? true
  const shards = new Map<string, { shardId: string; stream: string; kinesis: Array<KinesisRecord> }>()
  for (const record of event.Records) {
    const payload = record?.kinesis
    if (payload === undefined || typeof payload.data !== "string" || typeof payload.sequenceNumber !== "string") {
      throw new InvalidEvent({ reason: `record ${JSON.stringify(record?.eventID)} has no kinesis payload` })
    }
    const shardId = shardIdOf(record)
    let shard = shards.get(shardId)
    if (shard === undefined) {
      shard = { shardId, stream: streamNameOf(record.eventSourceARN ?? ""), kinesis: [] }
      shards.set(shardId, shard)
    }
    const raw: SourceRecord = {
      stream: shard.stream,
      shardId,
      sequenceNumber: payload.sequenceNumber,
      subSequenceNumber: 0,
      partitionKey: payload.partitionKey ?? "",
      arrivalTime: Math.round((payload.approximateArrivalTimestamp ?? 0) * 1000),
      data: fromBase64(payload.data)
    }
    shard.kinesis.push({
      sequenceNumber: payload.sequenceNumber,
      records: deaggregate ? Aggregation.deaggregate([raw]) : [raw]
    })
  }
  return Array.from(shards.values())
}

/**
 * Every user record of a shard batch, in order.
 *
 * @since 0.1.0
 * @category parsing
 */
export const userRecords = (kinesis: ReadonlyArray<KinesisRecord>): ReadonlyArray<SourceRecord> => recordsOf(kinesis)

/**
 * Where the event source mapping says it reads from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Origin {
  /** The region written into the ARNs and records. Default us-east-1. */
  readonly region?: string
  /** The account written into the ARNs. Default 000000000000. */
  readonly account?: string
  /** Default `arn:aws:iam::<account>:role/lambda-role`. */
  readonly invokeIdentityArn?: string
}

/**
 * The stream's ARN as the event source mapping writes it.
 *
 * @since 0.1.0
 * @category building
 */
export const streamArn = (stream: string, origin: Origin = {}): string =>
  `arn:aws:kinesis:${origin.region ?? "us-east-1"}:${origin.account ?? "000000000000"}:stream/${stream}`

/**
 * Builds the event Lambda would send for Kinesis records as read from a shard (not deaggregated: the
 * event carries Kinesis records, aggregated ones included, exactly as the stream holds them).
 *
 * @since 0.1.0
 * @category building
 */
export const fromRecords = (records: ReadonlyArray<SourceRecord>, origin: Origin = {}): KinesisStreamEvent => ({
  Records: records.map((record) => toEventRecord(record, origin))
})

/**
 * Builds a tumbling-window event: the records (possibly none, as in a window's final invocation), the
 * window, the state the previous invocation returned, and the flags.
 *
 * @since 0.1.0
 * @category building
 */
export const tumblingWindowEvent = (options: {
  readonly stream: string
  readonly shardId: string
  readonly records: ReadonlyArray<SourceRecord>
  readonly window: { readonly start: number; readonly end: number }
  readonly state?: { readonly [key: string]: unknown } | undefined
  readonly isFinalInvokeForWindow?: boolean
  readonly isWindowTerminatedEarly?: boolean
  readonly origin?: Origin
}): KinesisStreamTumblingWindowEvent & { shardId: string; eventSourceARN: string } => ({
  Records: options.records.map((record) => toEventRecord(record, options.origin ?? {})),
  window: { start: new Date(options.window.start).toISOString(), end: new Date(options.window.end).toISOString() },
  state: { ...options.state },
  shardId: options.shardId,
  eventSourceARN: streamArn(options.stream, options.origin),
  isFinalInvokeForWindow: options.isFinalInvokeForWindow ?? false,
  isWindowTerminatedEarly: options.isWindowTerminatedEarly ?? false
})

const toEventRecord = (record: SourceRecord, origin: Origin): KinesisStreamRecord => ({
  kinesis: {
    kinesisSchemaVersion: "1.0",
    partitionKey: record.partitionKey,
    sequenceNumber: record.sequenceNumber,
    data: Buffer.from(record.data.buffer, record.data.byteOffset, record.data.byteLength).toString("base64"),
    approximateArrivalTimestamp: record.arrivalTime / 1000
  },
  eventSource: "aws:kinesis",
  eventVersion: "1.0",
  eventID: `${record.shardId}:${record.sequenceNumber}`,
  eventName: "aws:kinesis:record",
  invokeIdentityArn: origin.invokeIdentityArn ?? `arn:aws:iam::${origin.account ?? "000000000000"}:role/lambda-role`,
  awsRegion: origin.region ?? "us-east-1",
  eventSourceARN: streamArn(record.stream, origin)
})

const fromBase64 = (text: string): Uint8Array => {
  const buffer = Buffer.from(text, "base64")
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
}
