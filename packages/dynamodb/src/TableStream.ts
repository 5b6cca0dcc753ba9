/**
 * A table's change stream, recorded locally: the writes a test or a local run makes through it (put,
 * update, delete) go to the table, and each change is recorded the way DynamoDB Streams would have it, so a
 * change pipeline can run end to end on dynalite, which has no streams.
 *
 * - Images are read the way the stream writes them, per `StreamViewType`: PutItem and DeleteItem return the
 *   item before (`ReturnValues: ALL_OLD`), and an update reads the item after it with a consistent read.
 *   A write that changes nothing (a put of the same item, a delete of a missing one, a failed condition)
 *   records nothing, as DynamoDB Streams writes nothing for it.
 * - Changes are sharded by partition key (the service keeps the changes of one item in order in one shard)
 *   over `shards` shards, with sequence numbers that grow in each shard (and are unique in the stream).
 * - `ApproximateCreationDateTime` is the Clock's time in whole seconds, as DynamoDB Streams writes it.
 * - `kinesisRecords` gives the same changes as Kinesis Data Streams for DynamoDB writes them into a
 *   Kinesis stream: the change JSON as data, under a partition key derived from the item's partition key,
 *   the Clock's time in milliseconds.
 *
 * Writes through one `TableStream` are serialized, so the images are exact as long as nothing else
 * writes the table meanwhile. Not reproduced: the 24-hour retention, shard splits over time, and the
 * reordering and duplicates Kinesis Data Streams for DynamoDB allows.
 *
 * @since 0.1.0
 */
import type { AttributeValue } from "@aws-sdk/client-dynamodb"
import type { NativeAttributeValue } from "@aws-sdk/util-dynamodb"
import { marshall } from "@aws-sdk/util-dynamodb"
import { createHash } from "node:crypto"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { EventName, ItemJson, StreamRecordJson, StreamViewType } from "./ChangeRecord.js"
import * as ChangeRecord from "./ChangeRecord.js"
import { DynamoDBClient } from "./DynamoDBClient.js"
import type { DynamoDBError } from "./DynamoDBError.js"

/**
 * Which table to record, and how its stream looks.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The table, which must exist: its key schema is read with DescribeTable. */
  readonly tableName: string
  /** What each change carries. Default NEW_AND_OLD_IMAGES. */
  readonly streamViewType?: StreamViewType
  /** Shards the changes are spread over, by partition key. Default 1. */
  readonly shards?: number
  /** Written into the records. Default us-east-1. */
  readonly region?: string
  /** Written into the stream's ARN. Default 000000000000. */
  readonly account?: string
}

/**
 * The recorded changes of one shard, in order.
 *
 * @since 0.1.0
 * @category models
 */
export interface Shard {
  /** The shard's id, in the form `shardId-<20 digits>-<8 hex digits>`. */
  readonly shardId: string
  /** The shard's changes, in the order they were made. */
  readonly records: ReadonlyArray<StreamRecordJson>
}

/**
 * A change as Kinesis Data Streams for DynamoDB puts it into a Kinesis stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface KinesisRecord {
  /** Derived from the item's partition key (a hex digest), so the changes of one item share a partition key. */
  readonly partitionKey: string
  /** The change's JSON (`ChangeRecord.KinesisChangeJson`), UTF-8. */
  readonly data: Uint8Array
}

/**
 * An item's attributes as JavaScript values (marshalled with `@aws-sdk/util-dynamodb`).
 *
 * @since 0.1.0
 * @category models
 */
export type Item = Record<string, NativeAttributeValue>

/**
 * An UpdateItem request, less what the recorder sets itself.
 *
 * @since 0.1.0
 * @category models
 */
export interface Update {
  /** The UpdateExpression, e.g. "SET #n = #n + :one". */
  readonly updateExpression: string
  /** The ExpressionAttributeNames, e.g. `{ "#n": "count" }`. */
  readonly names?: Record<string, string>
  /** The ExpressionAttributeValues as JavaScript values (marshalled for the call), e.g. `{ ":one": 1 }`. */
  readonly values?: Item
  /** The ConditionExpression; when it fails, the update fails with the `DynamoDBError` and records nothing. */
  readonly conditionExpression?: string
}

/**
 * A recording table stream: write the table through it, then read the changes as DynamoDB Streams or
 * Kinesis Data Streams for DynamoDB would have delivered them.
 *
 * @since 0.1.0
 * @category models
 */
export interface TableStream {
  /** The table written to. */
  readonly tableName: string
  /** What each recorded change carries. */
  readonly streamViewType: StreamViewType
  /** `arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>` */
  readonly streamArn: string
  /** PutItem: an INSERT, or a MODIFY of the item it replaces. */
  readonly put: (item: Item) => Effect.Effect<void, DynamoDBError>
  /** UpdateItem (creating the item if missing, as UpdateItem does): an INSERT or a MODIFY. */
  readonly update: (key: Item, update: Update) => Effect.Effect<void, DynamoDBError>
  /**
   * DeleteItem: a REMOVE of the item, if there was one. `timeToLive: true` records it as Time to Live
   * deletes are (with the DynamoDB service as `userIdentity`).
   */
  readonly delete: (key: Item, options?: { readonly timeToLive?: boolean }) => Effect.Effect<void, DynamoDBError>
  /** The changes recorded so far, per shard. */
  readonly shards: () => ReadonlyArray<Shard>
  /** Every change recorded so far, in the order they were made. */
  readonly records: () => ReadonlyArray<StreamRecordJson>
  /** The changes as Kinesis Data Streams for DynamoDB writes them, in the order they were made. */
  readonly kinesisRecords: () => ReadonlyArray<KinesisRecord>
}

/**
 * Records the changes of an existing table (its key schema is read with DescribeTable).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<TableStream, DynamoDBError, DynamoDBClient> =>
  Effect.gen(function*() {
    const dynamodb = yield* DynamoDBClient
    const { tableName } = options
    const streamViewType = options.streamViewType ?? "NEW_AND_OLD_IMAGES"
    const shardCount = Math.max(1, Math.floor(options.shards ?? 1))
    const region = options.region ?? "us-east-1"
    const described = yield* dynamodb.describeTable({ TableName: tableName })
    const keySchema = described.Table?.KeySchema ?? []
    const partitionKey = keySchema.find((k) => k.KeyType === "HASH")?.AttributeName
    if (partitionKey === undefined) return yield* Effect.dieMessage(`table ${tableName} has no partition key`)
    const keyNames = keySchema.map((k) => k.AttributeName!)
    const created = described.Table?.CreationDateTime ?? new Date(0)
    const streamArn = `arn:aws:dynamodb:${region}:${options.account ?? "000000000000"}:table/${tableName}/stream/` +
      created.toISOString().replace("Z", "")
    const shardIds = Array.from(
      { length: shardCount },
      (_, i) => `shardId-${String(created.getTime()).padStart(20, "0")}-${hex(`${streamArn}#${i}`).slice(0, 8)}`
    )
    const shards = shardIds.map((): Array<StreamRecordJson> => [])
    const all: Array<StreamRecordJson> = []
    // the time of each change in milliseconds: DynamoDB Streams rounds it to seconds, Kinesis does not
    const millis: Array<number> = []
    let sequence = 0n
    const lock = yield* Effect.makeSemaphore(1)

    const record = (
      eventName: EventName,
      keys: ItemJson,
      oldImage: ItemJson | undefined,
      newImage: ItemJson | undefined,
      userIdentity?: ChangeRecord.UserIdentity
    ) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const shard = shardOf(keys[partitionKey], shardCount)
        const newShown = streamViewType === "NEW_IMAGE" || streamViewType === "NEW_AND_OLD_IMAGES" ? newImage : undefined
        const oldShown = streamViewType === "OLD_IMAGE" || streamViewType === "NEW_AND_OLD_IMAGES" ? oldImage : undefined
        sequence += 1n
        const change: StreamRecordJson = {
          eventID: hex(`${streamArn}#${sequence}`),
          eventName,
          eventVersion: "1.1",
          eventSource: "aws:dynamodb",
          awsRegion: region,
          eventSourceARN: streamArn,
          dynamodb: {
            ApproximateCreationDateTime: Math.floor(now / 1000),
            Keys: keys,
            ...(newShown === undefined ? {} : { NewImage: newShown }),
            ...(oldShown === undefined ? {} : { OldImage: oldShown }),
            SequenceNumber: String(10n ** 20n + sequence * 100n),
            SizeBytes: ChangeRecord.sizeBytes(keys, newShown, oldShown),
            StreamViewType: streamViewType
          },
          ...(userIdentity === undefined ? {} : { userIdentity })
        }
        shards[shard].push(change)
        all.push(change)
        millis.push(now)
      })

    const keysOf = (item: Record<string, AttributeValue>): ItemJson => {
      const keys: Record<string, AttributeValue> = {}
      for (const name of keyNames) keys[name] = item[name]
      return toJson(keys)
    }

    const changed = (
      keys: ItemJson,
      before: Record<string, AttributeValue> | undefined,
      after: Record<string, AttributeValue> | undefined,
      userIdentity?: ChangeRecord.UserIdentity
    ) => {
      const oldImage = before === undefined ? undefined : toJson(before)
      const newImage = after === undefined ? undefined : toJson(after)
      if (oldImage === undefined && newImage === undefined) return Effect.void
      if (oldImage !== undefined && newImage !== undefined && sameItem(oldImage, newImage)) return Effect.void
      const eventName: EventName = oldImage === undefined ? "INSERT" : newImage === undefined ? "REMOVE" : "MODIFY"
      return record(eventName, keys, oldImage, newImage, userIdentity)
    }

    const stream: TableStream = {
      tableName,
      streamViewType,
      streamArn,
      put: (item) =>
        lock.withPermits(1)(Effect.gen(function*() {
          const marshalled = marshall(item, { removeUndefinedValues: true })
          const out = yield* dynamodb.putItem({ TableName: tableName, Item: marshalled, ReturnValues: "ALL_OLD" })
          yield* changed(keysOf(marshalled), out.Attributes, marshalled)
        })),
      update: (key, update) =>
        lock.withPermits(1)(Effect.gen(function*() {
          const marshalledKey = marshall(key)
          const out = yield* dynamodb.updateItem({
            TableName: tableName,
            Key: marshalledKey,
            UpdateExpression: update.updateExpression,
            ...(update.names === undefined ? {} : { ExpressionAttributeNames: update.names }),
            ...(update.values === undefined ? {} : { ExpressionAttributeValues: marshall(update.values) }),
            ...(update.conditionExpression === undefined ? {} : { ConditionExpression: update.conditionExpression }),
            ReturnValues: "ALL_OLD"
          })
          const after = yield* dynamodb.getItem({ TableName: tableName, Key: marshalledKey, ConsistentRead: true })
          yield* changed(toJson(marshalledKey), out.Attributes, after.Item)
        })),
      delete: (key, deleteOptions = {}) =>
        lock.withPermits(1)(Effect.gen(function*() {
          const marshalledKey = marshall(key)
          const out = yield* dynamodb.deleteItem({ TableName: tableName, Key: marshalledKey, ReturnValues: "ALL_OLD" })
          yield* changed(
            toJson(marshalledKey),
            out.Attributes,
            undefined,
            deleteOptions.timeToLive === true ? { type: "Service", principalId: "dynamodb.amazonaws.com" } : undefined
          )
        })),
      shards: () => shardIds.map((shardId, i) => ({ shardId, records: shards[i].slice() })),
      records: () => all.slice(),
      kinesisRecords: () =>
        all.map((change, i) => ({
          partitionKey: hex(JSON.stringify(change.dynamodb.Keys[partitionKey])).toUpperCase(),
          data: new TextEncoder().encode(
            JSON.stringify(ChangeRecord.toKinesisChange(change, { approximateCreationDateTime: millis[i] }))
          )
        }))
    }
    return stream
  })

/**
 * An item in DynamoDB's JSON (binary values in base64), from the SDK's attribute values.
 *
 * @since 0.1.0
 * @category building
 */
export const toJson = (item: Record<string, AttributeValue>): ItemJson => {
  const out: Record<string, ChangeRecord.AttributeValueJson> = {}
  for (const name of Object.keys(item)) out[name] = valueToJson(item[name])
  return out
}

const valueToJson = (value: AttributeValue): ChangeRecord.AttributeValueJson => {
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString("base64") }
  if (value.BS !== undefined) return { BS: value.BS.map((b) => Buffer.from(b).toString("base64")) }
  if (value.L !== undefined) return { L: value.L.map(valueToJson) }
  if (value.M !== undefined) return { M: toJson(value.M) }
  if (value.S !== undefined) return { S: value.S }
  if (value.N !== undefined) return { N: value.N }
  if (value.BOOL !== undefined) return { BOOL: value.BOOL }
  if (value.NULL !== undefined) return { NULL: value.NULL }
  if (value.SS !== undefined) return { SS: value.SS }
  if (value.NS !== undefined) return { NS: value.NS }
  throw new TypeError(`unsupported attribute value ${JSON.stringify(Object.keys(value))}`)
}

const hex = (text: string): string => createHash("md5").update(text).digest("hex")

const shardOf = (partitionKey: ChangeRecord.AttributeValueJson | undefined, shards: number): number =>
  shards === 1 ? 0 : parseInt(hex(JSON.stringify(partitionKey)).slice(0, 8), 16) % shards

/** The same attributes and values, whatever their order. */
const sameItem = (a: ItemJson, b: ItemJson): boolean => canonicalJson(a) === canonicalJson(b)

const canonicalJson = (value: unknown): string =>
  Array.isArray(value)
    ? `[${value.map(canonicalJson).join(",")}]`
    : value !== null && typeof value === "object"
    ? `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(",")}}`
    : JSON.stringify(value)
