/**
 * Dead letters in DynamoDB: a `RecordSink<DeadLetter>` for core's `DeadLetterSink`, one item per record and
 * failing stage, keyed by where the record came from, so a batch dead-lettered again after a crash rewrites
 * its items instead of adding copies.
 *
 * | attribute        | type | meaning                                                                      |
 * | ---------------- | ---- | ---------------------------------------------------------------------------- |
 * | pk               | S    | `<pipeline>#<stream>#<shardId>` (partition key)                              |
 * | sk               | S    | `<sequence number, 64 digits>#<sub-sequence, 10 digits>#<stage>` (sort key)  |
 * | pipeline, stage, reason, format, stream, shardId, sequenceNumber, partitionKey | S | as in the dead letter |
 * | subSequenceNumber, arrivalTime, failedAt | N | as in the dead letter                                  |
 * | data             | B    | the payload, cut to what fits (at most 350,000 bytes): items are limited to 400 KB |
 * | dataSize         | N    | the payload's full size in bytes                                             |
 * | dataTruncated    | BOOL | present (true) when `data` was cut                                           |
 * | reasonTruncated  | BOOL | present (true) when `reason` was cut to `DeadLetter.maxReasonLength` characters |
 *
 * Every dead letter is stored, whatever its size: the item is fitted to DynamoDB's 400 KB limit (every
 * attribute name and value counted), the reason first, then the payload.
 *
 * @since 0.1.0
 */
import type { AwsError } from "@tributary/aws"
import type { AttributeValue } from "@aws-sdk/client-dynamodb"
import type { DeadLetter } from "@tributary/core/DeadLetter"
import { DeadLetterSink, maxReasonLength } from "@tributary/core/DeadLetter"
import type { RecordSink } from "@tributary/core/RecordSink"
import { SinkError } from "@tributary/core/TributaryError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { DynamoDBClient } from "./DynamoDBClient.js"
import type { DynamoDBError } from "./DynamoDBError.js"
import type { BatchRetry, Item } from "./internal/tables.js"
import { batchPut, ensureTable, keyNames, n, num, s, scanAll, str } from "./internal/tables.js"

/**
 * The largest payload stored whole; larger ones are cut (and flagged). Less fits when the rest of the item
 * is large (a long reason).
 *
 * @since 0.1.0
 * @category constants
 */
export const maxDataBytes = 350_000

/**
 * DynamoDB's limit on an item: the UTF-8 lengths of its attribute names and values.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxItemBytes = 400 * 1024

/**
 * Where the dead letters go and how they are written.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * The table of the dead letters, created when missing (keys `pk` and `sk`, on-demand billing) unless
   * `createTable` is false.
   */
  readonly tableName: string
  /** Default true. */
  readonly createTable?: boolean
  /**
   * How BatchWriteItem's unprocessed items are retried: full jitter, `base * 2^attempt` capped at `cap`.
   * Default 10 retries, base 50 ms, cap 5 s.
   */
  readonly retry?: BatchRetry
  /** Default `dynamodb-dead-letters:<table>`. */
  readonly name?: string
}

/**
 * A dead letter read back; `dataTruncated` when the stored payload is the first part of it (`dataSize` is
 * its full size), `reasonTruncated` when the reason was cut.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoredDeadLetter extends DeadLetter {
  /** The payload's full size in bytes, which `data` is shorter than when it was cut. */
  readonly dataSize: number
  /** True when `data` holds only the first `maxDataBytes` (or fewer) bytes of the payload. */
  readonly dataTruncated: boolean
  /** True when `reason` was cut to `DeadLetter.maxReasonLength` characters. */
  readonly reasonTruncated: boolean
}

const keyOf = (letter: DeadLetter) => ({
  pk: `${letter.pipeline}#${letter.stream}#${letter.shardId}`,
  sk: `${letter.sequenceNumber.padStart(64, "0")}#${String(letter.subSequenceNumber).padStart(10, "0")}#${letter.stage}`
})

const toItem = (letter: DeadLetter): Item => {
  const { pk, sk } = keyOf(letter)
  const reasonTruncated = letter.reason.length > maxReasonLength
  const reason = reasonTruncated ? letter.reason.slice(0, maxReasonLength) : letter.reason
  const item: Item = {
    [keyNames.partition]: s(pk),
    [keyNames.sort]: s(sk),
    pipeline: s(letter.pipeline),
    stage: s(letter.stage),
    reason: s(reason.length > 0 ? reason : "-"),
    stream: s(letter.stream),
    shardId: s(letter.shardId),
    sequenceNumber: s(letter.sequenceNumber),
    subSequenceNumber: n(letter.subSequenceNumber),
    partitionKey: s(letter.partitionKey),
    arrivalTime: n(letter.arrivalTime),
    failedAt: n(letter.failedAt),
    dataSize: n(letter.data.length),
    // counted now, set below: the flag's size must not depend on whether it is set
    dataTruncated: { BOOL: true }
  }
  if (letter.format !== undefined) item.format = s(letter.format)
  if (reasonTruncated) item.reasonTruncated = { BOOL: true }
  // whatever room the rest leaves (a margin for the size arithmetic), up to maxDataBytes
  const room = Math.max(0, Math.min(maxDataBytes, maxItemBytes - 1024 - itemBytes(item) - "data".length))
  const truncated = letter.data.length > room
  item.data = { B: truncated ? letter.data.subarray(0, room) : letter.data }
  if (!truncated) delete item.dataTruncated
  return item
}

/** An item's size as DynamoDB counts it (numbers at most their digits plus one byte). */
const itemBytes = (item: Item): number => {
  let bytes = 0
  for (const [name, value] of Object.entries(item)) {
    bytes += Buffer.byteLength(name, "utf8")
    if (value.S !== undefined) bytes += Buffer.byteLength(value.S, "utf8")
    else if (value.N !== undefined) bytes += value.N.length + 1
    else if (value.B !== undefined) bytes += value.B.length
    else bytes += 1
  }
  return bytes
}

const fromItem = (item: Record<string, AttributeValue>): StoredDeadLetter => {
  const format = str(item, "format")
  return {
    pipeline: str(item, "pipeline") ?? "",
    stage: str(item, "stage") ?? "",
    reason: str(item, "reason") ?? "",
    ...(format === undefined ? {} : { format }),
    stream: str(item, "stream") ?? "",
    shardId: str(item, "shardId") ?? "",
    sequenceNumber: str(item, "sequenceNumber") ?? "",
    subSequenceNumber: num(item, "subSequenceNumber") ?? 0,
    partitionKey: str(item, "partitionKey") ?? "",
    arrivalTime: num(item, "arrivalTime") ?? 0,
    failedAt: num(item, "failedAt") ?? 0,
    data: item.data?.B ?? new Uint8Array(),
    dataSize: num(item, "dataSize") ?? 0,
    dataTruncated: item.dataTruncated?.BOOL === true,
    reasonTruncated: item.reasonTruncated?.BOOL === true
  }
}

/**
 * The dead-letter sink (and its table, unless `createTable: false`). Letters of one batch with the same
 * record and stage: the last is stored.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<RecordSink<DeadLetter>, DynamoDBError | AwsError.NotReady, DynamoDBClient> =>
  Effect.gen(function*() {
    const dynamodb = yield* DynamoDBClient
    const { tableName } = options
    const name = options.name ?? `dynamodb-dead-letters:${tableName}`
    if (options.createTable ?? true) yield* ensureTable(tableName)
    const write = (letters: ReadonlyArray<DeadLetter>): Effect.Effect<void, SinkError> =>
      Effect.gen(function*() {
        const byKey = new Map<string, Item>()
        for (const letter of letters) {
          const item = yield* Effect.try({
            try: () => toItem(letter),
            catch: (error) => new SinkError({ sink: name, reason: String(error), retryability: "permanent" })
          })
          byKey.set(`${item[keyNames.partition].S}\u0000${item[keyNames.sort].S}`, item)
        }
        yield* batchPut(name, tableName, [...byKey.values()], options.retry)
      }).pipe(Effect.provideService(DynamoDBClient, dynamodb))
    return { name, write }
  })

/**
 * Core's `DeadLetterSink` backed by the table.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<DeadLetterSink, DynamoDBError | AwsError.NotReady, DynamoDBClient> =>
  Layer.effect(DeadLetterSink, make(options))

/**
 * Every dead letter of the table (a paginated Scan), optionally of one pipeline, ordered by pipeline,
 * stream, shard and position.
 *
 * @since 0.1.0
 * @category reading
 */
export const readAll = (
  tableName: string,
  options: { readonly pipeline?: string | undefined } = {}
): Effect.Effect<Array<StoredDeadLetter>, DynamoDBError, DynamoDBClient> =>
  Effect.map(scanAll(tableName, { pipeline: options.pipeline, pipelineAttribute: "pipeline" }), (items) =>
    items
      .map((item) => ({ key: `${str(item, keyNames.partition)}\u0000${str(item, keyNames.sort)}`, letter: fromItem(item) }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map((x) => x.letter))
