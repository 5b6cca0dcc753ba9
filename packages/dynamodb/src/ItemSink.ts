/**
 * A `RecordSink` of plain items (non-windowed outputs): each value is put under a key computed from it, so a
 * re-delivered batch overwrites its items instead of adding copies. Puts go through BatchWriteItem, 25 per
 * call, with UnprocessedItems retried with jittered backoff.
 *
 * The table has string keys `pk` and `sk` (created on demand, on-demand billing); the value's fields are
 * stored as top-level attributes next to them (JSON-compatible data: strings, finite numbers, booleans,
 * null, arrays, objects).
 *
 * @since 0.1.0
 */
import type { AwsError } from "@tributary/aws"
import type { RecordSink } from "@tributary/core/RecordSink"
import { SinkError } from "@tributary/core/TributaryError"
import * as Effect from "effect/Effect"
import { DynamoDBClient } from "./DynamoDBClient.js"
import type { DynamoDBError } from "./DynamoDBError.js"
import type { BatchCounters, BatchRetry, Item } from "./internal/tables.js"
import { batchPut, ensureTable, fromAttribute, keyNames, s, toAttribute } from "./internal/tables.js"

/**
 * The key of an item: a partition key, and a sort key ("-" when omitted).
 *
 * @since 0.1.0
 * @category models
 */
export interface ItemKey {
  /** The partition key, stored as `pk`; must not be empty. */
  readonly pk: string
  /** The sort key, stored as `sk`; must not be empty. Default "-". */
  readonly sk?: string
}

/**
 * The table, how a value becomes a keyed item, and how items are written.
 *
 * @since 0.1.0
 * @category models
 */
export interface ItemSinkOptions<A> {
  /**
   * The table of the items, created when missing (keys `pk` and `sk`, on-demand billing) unless
   * `createTable` is false.
   */
  readonly tableName: string
  /** The key of a value: a function of the value only, so a re-delivery writes the same key. */
  readonly key: (value: A) => ItemKey | string
  /** The attributes stored (besides the key). Default: the value itself, which must be an object. */
  readonly item?: (value: A) => Record<string, unknown>
  /** BatchWriteItem calls in flight. Default 4. */
  readonly concurrency?: number
  /**
   * How BatchWriteItem's unprocessed items are retried: full jitter, `base * 2^attempt` capped at `cap`.
   * Default 10 retries, base 50 ms, cap 5 s.
   */
  readonly retry?: BatchRetry
  /** Default true. */
  readonly createTable?: boolean
  /** Default `dynamodb:<table>`. */
  readonly name?: string
}

/**
 * The item sink: a `RecordSink` of values, with its table and counts of its writes.
 *
 * @since 0.1.0
 * @category models
 */
export interface ItemSink<A> extends RecordSink<A> {
  /** The table the sink writes to. */
  readonly tableName: string
  /**
   * Counts since the sink was made: items written (after deduplication by key within a batch),
   * BatchWriteItem calls, and retries of unprocessed items.
   */
  readonly stats: Effect.Effect<{ readonly written: number; readonly batchCalls: number; readonly unprocessedRetries: number }>
}

/**
 * Makes the item sink (and the table, unless `createTable: false`). Values of one batch with the same key:
 * the last one is stored. A value that cannot be an item fails its write permanently (the pipeline
 * isolates it and dead-letters it).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A>(
  options: ItemSinkOptions<A>
): Effect.Effect<ItemSink<A>, DynamoDBError | AwsError.NotReady, DynamoDBClient> =>
  Effect.gen(function*() {
    const dynamodb = yield* DynamoDBClient
    const { tableName } = options
    const name = options.name ?? `dynamodb:${tableName}`
    if (options.createTable ?? true) yield* ensureTable(tableName)
    const counters: BatchCounters & { written: number } = { written: 0, batchCalls: 0, unprocessedRetries: 0 }
    const toItem = (value: A): Item => {
      const key = options.key(value)
      const pk = typeof key === "string" ? key : key.pk
      const sk = typeof key === "string" ? "-" : key.sk ?? "-"
      if (pk.length === 0 || sk.length === 0) throw new RangeError("key attributes must not be empty")
      const fields = options.item === undefined ? value : options.item(value)
      const attribute = toAttribute(fields)
      if (attribute.M === undefined) throw new TypeError("an item must be an object")
      return { ...attribute.M, [keyNames.partition]: s(pk), [keyNames.sort]: s(sk) }
    }
    const write = (values: ReadonlyArray<A>): Effect.Effect<void, SinkError> =>
      Effect.gen(function*() {
        const byKey = new Map<string, Item>()
        for (let i = 0; i < values.length; i++) {
          const item = yield* Effect.try({
            try: () => toItem(values[i]),
            catch: (error) =>
              new SinkError({ sink: name, reason: `item ${i} cannot be stored: ${String(error)}`, retryability: "permanent" })
          })
          byKey.set(`${item[keyNames.partition].S}\u0000${item[keyNames.sort].S}`, item)
        }
        const items = [...byKey.values()]
        yield* batchPut(name, tableName, items, { ...options.retry, concurrency: options.concurrency ?? 4, counters })
        counters.written += items.length
      }).pipe(Effect.provideService(DynamoDBClient, dynamodb))
    const sink: ItemSink<A> = {
      name,
      tableName,
      write,
      stats: Effect.sync(() => ({ ...counters }))
    }
    return sink
  })

/**
 * Reads an item back as JSON-compatible data (without its key attributes), or undefined.
 *
 * @since 0.1.0
 * @category reading
 */
export const get = (
  tableName: string,
  key: ItemKey | string
): Effect.Effect<Record<string, unknown> | undefined, DynamoDBError, DynamoDBClient> =>
  Effect.gen(function*() {
    const dynamodb = yield* DynamoDBClient
    const pk = typeof key === "string" ? key : key.pk
    const sk = typeof key === "string" ? "-" : key.sk ?? "-"
    const output = yield* dynamodb.getItem({
      TableName: tableName,
      Key: { [keyNames.partition]: s(pk), [keyNames.sort]: s(sk) },
      ConsistentRead: true
    })
    if (output.Item === undefined) return undefined
    const { [keyNames.partition]: _pk, [keyNames.sort]: _sk, ...rest } = output.Item
    return fromAttribute({ M: rest }) as Record<string, unknown>
  })
