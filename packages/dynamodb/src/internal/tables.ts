/**
 * What the results table, the item sink, the dead-letter table and the run log share: JSON <-> attribute
 * values, zero-padded numbers for sort keys, tables with a string hash and range key created on demand,
 * BatchWriteItem with retries of UnprocessedItems, and the mapping of DynamoDB errors to `SinkError`s.
 */
import type { AttributeValue, WriteRequest } from "@aws-sdk/client-dynamodb"
import { AwsError } from "@tributary/aws"
import * as Retry from "@tributary/core/Retry"
import { SinkError } from "@tributary/core/TributaryError"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { DynamoDBClient } from "../DynamoDBClient.js"
import type { DynamoDBError } from "../DynamoDBError.js"
import * as LeaseTable from "../LeaseTable.js"

export type Item = Record<string, AttributeValue>

/** DynamoDB's limit of requests per BatchWriteItem call. */
export const maxBatchWrite = 25

// ---------------------------------------------------------------------------------------------------------
// JSON <-> AttributeValue
// ---------------------------------------------------------------------------------------------------------

/** JSON-compatible data as an attribute value (non-finite numbers and undefined are not JSON: refused). */
export const toAttribute = (value: unknown): AttributeValue => {
  if (value === null) return { NULL: true }
  switch (typeof value) {
    case "string":
      return { S: value }
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`cannot store the number ${value}`)
      return { N: String(value) }
    case "boolean":
      return { BOOL: value }
    case "object": {
      if (Array.isArray(value)) return { L: value.map(toAttribute) }
      const out: Item = {}
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) if (v !== undefined) out[k] = toAttribute(v)
      return { M: out }
    }
  }
  throw new TypeError(`cannot store a value of type ${typeof value}`)
}

/** An attribute value back as JSON-compatible data (sets become arrays, binaries base64). */
export const fromAttribute = (value: AttributeValue): unknown => {
  if (value.S !== undefined) return value.S
  if (value.N !== undefined) return Number(value.N)
  if (value.BOOL !== undefined) return value.BOOL
  if (value.NULL !== undefined) return null
  if (value.L !== undefined) return value.L.map(fromAttribute)
  if (value.M !== undefined) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value.M)) out[k] = fromAttribute(v)
    return out
  }
  if (value.SS !== undefined) return value.SS
  if (value.NS !== undefined) return value.NS.map(Number)
  if (value.B !== undefined) return Buffer.from(value.B).toString("base64")
  return null
}

export const s = (value: string): AttributeValue => ({ S: value })
export const n = (value: number): AttributeValue => ({ N: String(value) })

export const str = (item: Item, name: string): string | undefined => item[name]?.S
export const num = (item: Item, name: string): number | undefined => {
  const v = item[name]?.N
  return v === undefined ? undefined : Number(v)
}

/**
 * A non-negative integer as 16 decimal digits, so that strings sort like the numbers (epoch milliseconds up
 * to the year 318857).
 */
export const pad = (value: number): string => {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`expected a non-negative integer, got ${value}`)
  return String(value).padStart(16, "0")
}

// ---------------------------------------------------------------------------------------------------------
// tables
// ---------------------------------------------------------------------------------------------------------

/** Attribute names of the key of every table in this package. */
export const keyNames = { partition: "pk", sort: "sk" } as const

/**
 * Makes sure a table with a string partition key `pk` and string sort key `sk` exists (on-demand billing)
 * and is ACTIVE; tolerates a concurrent creation.
 */
export const ensureTable = Effect.fn("ensureTable")(function*(
  tableName: string,
  options: LeaseTable.WaitOptions = {}
): Effect.fn.Return<void, DynamoDBError | AwsError.NotReady, DynamoDBClient> {
  const dynamodb = yield* DynamoDBClient
  const current = yield* LeaseTable.status(tableName)
  if (current === undefined) {
    yield* dynamodb.createTable({
      TableName: tableName,
      AttributeDefinitions: [
        { AttributeName: keyNames.partition, AttributeType: "S" },
        { AttributeName: keyNames.sort, AttributeType: "S" }
      ],
      KeySchema: [
        { AttributeName: keyNames.partition, KeyType: "HASH" },
        { AttributeName: keyNames.sort, KeyType: "RANGE" }
      ],
      BillingMode: "PAY_PER_REQUEST"
    }).pipe(Effect.catchIf(AwsError.hasReason("ResourceInUse"), () => Effect.void))
  }
  yield* LeaseTable.waitForActive(tableName, options)
})

/**
 * Every item of a table (a consistent Scan, page after page), or only those of one pipeline: the items'
 * `pipelineAttribute` equal to `pipeline`.
 */
export const scanAll = (
  tableName: string,
  options: { readonly pipeline?: string | undefined; readonly pipelineAttribute: string }
): Effect.Effect<Array<Item>, DynamoDBError, DynamoDBClient> =>
  Effect.gen(function*() {
    const dynamodb = yield* DynamoDBClient
    const filter = options.pipeline === undefined ? {} : {
      FilterExpression: "#pipeline = :pipeline",
      ExpressionAttributeNames: { "#pipeline": options.pipelineAttribute },
      ExpressionAttributeValues: { ":pipeline": s(options.pipeline) }
    }
    const items: Array<Item> = []
    let startKey: Item | undefined
    do {
      const page = yield* dynamodb.scan({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: startKey, ...filter })
      items.push(...(page.Items ?? []))
      startKey = page.LastEvaluatedKey
    } while (startKey !== undefined)
    return items
  })

// ---------------------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------------------

export const toSinkError = (sink: string) => (error: DynamoDBError | AwsError.NotReady): SinkError<DynamoDBError | AwsError.NotReady> =>
  new SinkError({ sink, reason: error.message, retryability: error.retryability, cause: error })

// ---------------------------------------------------------------------------------------------------------
// BatchWriteItem
// ---------------------------------------------------------------------------------------------------------

/** How BatchWriteItem's UnprocessedItems are retried: full jitter, `base * 2^attempt` capped at `cap`. */
export interface BatchRetry {
  /** Retries of the unprocessed part of a chunk. Default 10. */
  readonly maxRetries?: number
  /** Default 50 ms. */
  readonly base?: Duration.DurationInput
  /** Default 5 s. */
  readonly cap?: Duration.DurationInput
}

export interface BatchCounters {
  batchCalls: number
  unprocessedRetries: number
}

/**
 * Writes put requests with BatchWriteItem, 25 at a time (`concurrency` chunks at once), retrying the
 * UnprocessedItems of each chunk with jittered exponential backoff (the Clock and Random services, so a
 * TestClock drives it). Fails with a transient `SinkError` when items are still unprocessed after the
 * retries, and with the mapped error of a failed call. Items must have distinct keys within a call.
 */
export const batchPut = (
  sink: string,
  tableName: string,
  items: ReadonlyArray<Item>,
  options: BatchRetry & { readonly concurrency?: number; readonly counters?: BatchCounters } = {}
): Effect.Effect<void, SinkError, DynamoDBClient> =>
  Effect.gen(function*() {
    if (items.length === 0) return
    const dynamodb = yield* DynamoDBClient
    const maxRetries = options.maxRetries ?? 10
    // full jitter: anywhere from 0 to the doubled delay
    const schedule = Retry.exponential({
      base: options.base ?? "50 millis",
      cap: options.cap ?? "5 seconds",
      times: maxRetries,
      jitter: [0, 1]
    })
    const counters = options.counters
    const writeChunk = (chunk: ReadonlyArray<Item>): Effect.Effect<void, SinkError> =>
      Effect.gen(function*() {
        const retries = yield* Schedule.driver(schedule)
        let requests: Array<WriteRequest> = chunk.map((Item) => ({ PutRequest: { Item } }))
        while (true) {
          if (counters !== undefined) counters.batchCalls++
          const output = yield* dynamodb.batchWriteItem({ RequestItems: { [tableName]: requests } }).pipe(
            Effect.mapError(toSinkError(sink))
          )
          const unprocessed = output.UnprocessedItems?.[tableName] ?? []
          if (unprocessed.length === 0) return
          // sleeps the backoff; fails once the retries are spent
          if ((yield* Effect.either(retries.next(undefined)))._tag === "Left") {
            return yield* new SinkError({
              sink,
              reason: `${unprocessed.length} items still unprocessed after ${maxRetries} retries of BatchWriteItem`,
              retryability: "transient"
            })
          }
          if (counters !== undefined) counters.unprocessedRetries++
          requests = unprocessed
        }
      })
    const chunks: Array<ReadonlyArray<Item>> = []
    for (let i = 0; i < items.length; i += maxBatchWrite) chunks.push(items.slice(i, i + maxBatchWrite))
    yield* Effect.forEach(chunks, writeChunk, { concurrency: options.concurrency ?? 4, discard: true })
  })
