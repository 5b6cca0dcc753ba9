/**
 * Window results in DynamoDB: a `RecordSink` of `WindowResult`s keyed so that a re-delivered batch rewrites
 * its items instead of adding to them, versioned by the result's `count` so that an older result never
 * replaces a newer one, and a reader that merges the per-shard partials of a window into one result.
 *
 * Layout (one table, created on demand, billed per request):
 *
 * | attribute   | type | meaning                                                                        |
 * | ----------- | ---- | ------------------------------------------------------------------------------ |
 * | pk          | S    | `<pipeline>#<key>` (partition key)                                             |
 * | sk          | S    | `<start, 16 digits>#<end, 16 digits>#<partial>` (sort key)                      |
 * | pipeline    | S    | the pipeline name                                                              |
 * | key         | S, N | the window's key, with its type                                                |
 * | windowStart | N    | epoch milliseconds, inclusive                                                  |
 * | windowEnd   | N    | epoch milliseconds, exclusive                                                  |
 * | partial     | S    | which part of the input the item aggregates; default the shards joined by `+`  |
 * | shards      | L    | the shards whose records are in the partial                                    |
 * | count       | N    | records aggregated: the version                                                |
 * | firing      | S    | "onTime", "late" or "update"                                                   |
 * | value       | S    | the result, as JSON text                                                       |
 * | state       | S    | the aggregate's encoded state, as JSON text (results of `withState` only)      |
 * | writtenAt   | N    | when the item was written (Clock), epoch milliseconds                          |
 *
 * See docs/storage-results.md.
 *
 * @since 0.1.0
 */
import type { AwsError } from "@tributary/aws"
import type { AttributeValue } from "@aws-sdk/client-dynamodb"
import type { Aggregate, Json } from "@tributary/core/Aggregate"
import { make as makeAggregate } from "@tributary/core/Aggregate"
import type { RecordSink } from "@tributary/core/RecordSink"
import type { InvalidOptions } from "@tributary/core/TributaryError"
import { SinkError } from "@tributary/core/TributaryError"
import type { WindowResult } from "@tributary/core/Window"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { DynamoDBClient } from "./DynamoDBClient.js"
import type { DynamoDBError } from "./DynamoDBError.js"
import type { BatchCounters, BatchRetry, Item } from "./internal/tables.js"
import { batchPut, ensureTable, n, num, pad, s, scanAll, str, toSinkError } from "./internal/tables.js"

// ---------------------------------------------------------------------------------------------------------
// results that carry their state
// ---------------------------------------------------------------------------------------------------------

/**
 * A window's result together with its aggregate's encoded state, so partials can be merged on read.
 *
 * @since 0.1.0
 * @category models
 */
export interface WithState<O> {
  /** The aggregate's result, stored as the item's `value`. */
  readonly value: O
  /** The aggregate's state, encoded with its `state` Schema, stored as the item's `state` for `merge`. */
  readonly state: Json
}

/** The results of `withState` are instances, so the sink tells them from values that merely look alike. */
class Stateful<O> implements WithState<O> {
  constructor(readonly value: O, readonly state: Json) {}
}

const isWithState = (u: unknown): u is WithState<unknown> => u instanceof Stateful

/**
 * The same aggregate, whose result also carries the encoded state: use it as the window's aggregate when
 * the results table must merge per-shard partials on read. The state is encoded (with the aggregate's
 * `state` Schema) once per emitted result, not per record.
 *
 * @since 0.1.0
 * @category aggregates
 */
export const withState = <I, S, O>(aggregate: Aggregate<I, S, O>): Aggregate<I, S, WithState<O>> => {
  const encode = Schema.encodeSync(aggregate.state)
  const result = aggregate.result
  return makeAggregate({
    empty: aggregate.empty,
    add: aggregate.add,
    merge: aggregate.merge,
    result: (state: S): WithState<O> => new Stateful(result(state), encode(state)),
    state: aggregate.state,
    invalid: aggregate.invalid
  })
}

// ---------------------------------------------------------------------------------------------------------
// keys
// ---------------------------------------------------------------------------------------------------------

/**
 * The attribute names of a result item.
 *
 * @since 0.1.0
 * @category constants
 */
export const attributes = {
  partition: "pk",
  sort: "sk",
  pipeline: "pipeline",
  key: "key",
  start: "windowStart",
  end: "windowEnd",
  partial: "partial",
  shards: "shards",
  count: "count",
  firing: "firing",
  value: "value",
  state: "state",
  writtenAt: "writtenAt"
} as const

/**
 * The partition key of a pipeline's results for one key.
 *
 * @since 0.1.0
 * @category keys
 */
export const partitionKey = (pipeline: string, key: string | number): string => `${pipeline}#${key}`

/**
 * The sort key of one partial of one window: windows sort by start, then end.
 *
 * @since 0.1.0
 * @category keys
 */
export const sortKey = (start: number, end: number, partial: string): string => `${pad(start)}#${pad(end)}#${partial}`

/**
 * The default partial: the shards in the result, joined by `+` (one shard with per-shard windows, the
 * default).
 *
 * @since 0.1.0
 * @category keys
 */
export const shardsPartial = (result: WindowResult<unknown, unknown>): string =>
  result.shards.length === 0 ? "-" : result.shards.join("+")

// ---------------------------------------------------------------------------------------------------------
// sink
// ---------------------------------------------------------------------------------------------------------

/**
 * How results are written.
 *
 * - "conditional": every result with a conditional PutItem (`attribute_not_exists(pk) OR #count <= :count`),
 *   `concurrency` at a time: a result never replaces one with a higher count, whatever the order of
 *   (re-)deliveries.
 * - "batch": BatchWriteItem, 25 per call, unconditionally: for pipelines that emit one result per window
 *   and partial (emit "onClose" and no allowed lateness); a re-delivery writes the same items again.
 * - "auto" (default): "onTime" results with BatchWriteItem, "update" and "late" results conditionally.
 *
 * @since 0.1.0
 * @category models
 */
export type WriteMode = "auto" | "conditional" | "batch"

/**
 * The table, the pipeline the results belong to, and how they are written.
 *
 * @since 0.1.0
 * @category models
 */
export interface SinkOptions<K> {
  /**
   * The table of the results, created when missing (keys `pk` and `sk`, on-demand billing) unless
   * `createTable` is false.
   */
  readonly tableName: string
  /** The first part of the partition key (usually the pipeline's name). */
  readonly pipeline: string
  /** Default "auto". */
  readonly mode?: WriteMode
  /** Conditional puts in flight. Default 16. */
  readonly concurrency?: number
  /** BatchWriteItem calls in flight. Default 4. */
  readonly batchConcurrency?: number
  /** Retries of BatchWriteItem's UnprocessedItems. */
  readonly retry?: BatchRetry
  /** What the item of a result stands for within its window. Default `shardsPartial`. */
  readonly partial?: (result: WindowResult<K, unknown>) => string
  /** Create the table when it does not exist. Default true. */
  readonly createTable?: boolean
  /** Sink name in errors and dead letters. Default `dynamodb:<table>`. */
  readonly name?: string
}

/**
 * Counts of a results sink's writes since it was made.
 *
 * @since 0.1.0
 * @category models
 */
export interface SinkStats {
  /** Items written (a re-delivered result counts again). */
  readonly written: number
  /** Results not written because the table holds a higher count for their window and partial. */
  readonly skippedOlder: number
  /** Results dropped because a later result of the same window and partial was in the same batch. */
  readonly superseded: number
  /** BatchWriteItem calls made, retries of unprocessed items included. */
  readonly batchCalls: number
  /** Conditional PutItem calls made, those that failed their condition included. */
  readonly conditionalCalls: number
  /** BatchWriteItem calls that sent UnprocessedItems again. */
  readonly unprocessedRetries: number
}

/**
 * The results sink: a `RecordSink` of window results, with its table and counts of its writes.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResultsSink<K, O> extends RecordSink<WindowResult<K, O>> {
  /** The table the sink writes to. */
  readonly tableName: string
  /** Counts of the sink's writes since it was made. */
  readonly stats: Effect.Effect<SinkStats>
}

const conditionExpression = "attribute_not_exists(#pk) OR #count <= :count"

/**
 * The results sink. Makes the table (unless `createTable: false`), then writes each batch of results as
 * the `mode` says, returning once every item is stored (or skipped as older). Failures map to `SinkError`
 * with the DynamoDB error's retryability; a result that cannot be an item (a negative or fractional
 * window bound, a key that is not a string or number, a value JSON cannot carry) fails permanently.
 *
 * @since 0.1.0
 * @category constructors
 */
export const sink = <K extends string | number, O>(
  options: SinkOptions<K>
): Effect.Effect<ResultsSink<K, O>, DynamoDBError | AwsError.NotReady, DynamoDBClient> =>
  Effect.gen(function*() {
    const dynamodb = yield* DynamoDBClient
    const { tableName, pipeline } = options
    const name = options.name ?? `dynamodb:${tableName}`
    const mode = options.mode ?? "auto"
    const concurrency = Math.max(1, options.concurrency ?? 16)
    const partialOf = options.partial ?? shardsPartial
    if (options.createTable ?? true) yield* ensureTable(tableName)
    const counters: BatchCounters & { written: number; skippedOlder: number; superseded: number; conditionalCalls: number } = {
      written: 0,
      skippedOlder: 0,
      superseded: 0,
      batchCalls: 0,
      conditionalCalls: 0,
      unprocessedRetries: 0
    }

    const conditionalPut = (item: Item) =>
      Effect.suspend(() => {
        counters.conditionalCalls++
        return dynamodb.putItem({
          TableName: tableName,
          Item: item,
          ConditionExpression: conditionExpression,
          ExpressionAttributeNames: { "#pk": attributes.partition, "#count": attributes.count },
          ExpressionAttributeValues: { ":count": item[attributes.count] }
        })
      }).pipe(
        Effect.matchEffect({
          onSuccess: () => Effect.sync(() => void counters.written++),
          onFailure: (error) =>
            error._tag === "DynamoDBError" && error.reason === "ConditionFailed"
              ? Effect.sync(() => void counters.skippedOlder++)
              : Effect.fail(toSinkError(name)(error))
        })
      )

    const write = (results: ReadonlyArray<WindowResult<K, O>>): Effect.Effect<void, SinkError> =>
      Effect.gen(function*() {
        if (results.length === 0) return
        const now = yield* Clock.currentTimeMillis
        // one item per window and partial: the highest count wins (BatchWriteItem refuses duplicate keys)
        const byKey = new Map<string, { item: Item; count: number; onTime: boolean }>()
        for (const result of results) {
          const item = yield* Effect.try({
            try: () => toItem(pipeline, result, partialOf(result), now),
            catch: (error) =>
              new SinkError({
                sink: name,
                reason: `cannot store the result of ${String(result.key)} [${result.start}, ${result.end}): ${String(error)}`,
                retryability: "permanent"
              })
          })
          const id = item[attributes.partition].S + "\u0000" + item[attributes.sort].S
          const previous = byKey.get(id)
          if (previous !== undefined) {
            counters.superseded++
            if (previous.count > result.count) continue
          }
          byKey.set(id, { item, count: result.count, onTime: result.firing === "onTime" })
        }
        const batched: Array<Item> = []
        const conditional: Array<Item> = []
        for (const { item, onTime } of byKey.values()) {
          if (mode === "batch" || (mode === "auto" && onTime)) batched.push(item)
          else conditional.push(item)
        }
        yield* Effect.all([
          batchPut(name, tableName, batched, {
            ...options.retry,
            concurrency: options.batchConcurrency ?? 4,
            counters
          }).pipe(
            Effect.tap(() => Effect.sync(() => void (counters.written += batched.length))),
            Effect.provideService(DynamoDBClient, dynamodb)
          ),
          Effect.forEach(conditional, conditionalPut, { concurrency, discard: true })
        ], { concurrency: 2, discard: true })
      })

    const shape: ResultsSink<K, O> = {
      name,
      tableName,
      write,
      stats: Effect.sync(() => ({
        written: counters.written,
        skippedOlder: counters.skippedOlder,
        superseded: counters.superseded,
        batchCalls: counters.batchCalls,
        conditionalCalls: counters.conditionalCalls,
        unprocessedRetries: counters.unprocessedRetries
      }))
    }
    return shape
  })

const toItem = (pipeline: string, result: WindowResult<unknown, unknown>, partial: string, now: number): Item => {
  const key = result.key
  if (typeof key !== "string" && typeof key !== "number") throw new TypeError("the key must be a string or a number")
  if (typeof key === "number" && !Number.isFinite(key)) throw new TypeError(`the key ${key} is not finite`)
  const stateful = isWithState(result.value)
  const value = stateful ? (result.value as WithState<unknown>).value : result.value
  const valueText = JSON.stringify(value === undefined ? null : value)
  const item: Item = {
    [attributes.partition]: s(partitionKey(pipeline, key)),
    [attributes.sort]: s(sortKey(result.start, result.end, partial)),
    [attributes.pipeline]: s(pipeline),
    [attributes.key]: typeof key === "string" ? s(key) : n(key),
    [attributes.start]: n(result.start),
    [attributes.end]: n(result.end),
    [attributes.partial]: s(partial),
    [attributes.shards]: { L: result.shards.map(s) },
    [attributes.count]: n(result.count),
    [attributes.firing]: s(result.firing),
    [attributes.value]: s(valueText),
    [attributes.writtenAt]: n(now)
  }
  if (stateful) item[attributes.state] = s(JSON.stringify((result.value as WithState<unknown>).state))
  return item
}

// ---------------------------------------------------------------------------------------------------------
// reader
// ---------------------------------------------------------------------------------------------------------

/**
 * One item of the table: a partial result of one window.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoredPartial<K> {
  /** The pipeline name, the first part of the partition key. */
  readonly pipeline: string
  /** The window's key, a string or number as it was written. */
  readonly key: K
  /** The window's start, epoch milliseconds, inclusive. */
  readonly start: number
  /** The window's end, epoch milliseconds, exclusive. */
  readonly end: number
  /** Which part of the input the item aggregates; by default the shards joined by `+`. */
  readonly partial: string
  /** The shards whose records are in the partial. */
  readonly shards: ReadonlyArray<string>
  /** Records aggregated: the item's version, which a write with a lower count does not replace. */
  readonly count: number
  /** Why the result was emitted: "onTime", "late" or "update". */
  readonly firing: WindowResult<K, unknown>["firing"]
  /** The stored value, parsed from JSON. */
  readonly value: unknown
  /** The encoded state, for results of `withState`. */
  readonly state: Json | undefined
  /** When the item was written, epoch milliseconds (the writer's Clock). */
  readonly writtenAt: number
}

/**
 * The result of one window, merged over its partials.
 *
 * @since 0.1.0
 * @category models
 */
export interface MergedResult<K, O> {
  /** The window's key. */
  readonly key: K
  /** The window's start, epoch milliseconds, inclusive. */
  readonly start: number
  /** The window's end, epoch milliseconds, exclusive. */
  readonly end: number
  /** The aggregate's result over the merged states, or the single partial's value when no aggregate was given. */
  readonly value: O
  /** Records over the merged partials. */
  readonly count: number
  /** Shards over the merged partials, sorted. */
  readonly shards: ReadonlyArray<string>
  /** How many partials were merged. */
  readonly partials: number
}

/**
 * The partials of a window cannot be merged: several partials without states, or a state the aggregate
 * cannot decode.
 *
 * @since 0.1.0
 * @category errors
 */
export class MergeError extends Data.TaggedError("MergeError")<{
  readonly key: string
  readonly start: number
  readonly end: number
  readonly reason: string
}> {
  /**
   * Which window's partials could not be merged, and why.
   *
   * @since 0.1.0
   */
  override get message(): string {
    return `cannot merge the partials of ${this.key} [${this.start}, ${this.end}): ${this.reason}`
  }
}

/**
 * Which partials `partials` reads: one key of one pipeline, windows starting in [from, to).
 *
 * @since 0.1.0
 * @category models
 */
export interface QueryOptions<K> {
  /** The results table. */
  readonly tableName: string
  /** The pipeline, the first part of the partition key. */
  readonly pipeline: string
  /** The window's key, as the results were written. */
  readonly key: K
  /** Windows starting at or after this time (epoch milliseconds). */
  readonly from: number
  /** Windows starting before this time. */
  readonly to: number
}

const fromItem = <K>(item: Record<string, AttributeValue>): StoredPartial<K> => {
  const keyAttr = item[attributes.key]
  const stateText = str(item, attributes.state)
  return {
    pipeline: str(item, attributes.pipeline) ?? "",
    key: (keyAttr?.N !== undefined ? Number(keyAttr.N) : keyAttr?.S) as K,
    start: num(item, attributes.start) ?? 0,
    end: num(item, attributes.end) ?? 0,
    partial: str(item, attributes.partial) ?? "",
    shards: (item[attributes.shards]?.L ?? []).map((v) => v.S ?? ""),
    count: num(item, attributes.count) ?? 0,
    firing: (str(item, attributes.firing) ?? "onTime") as StoredPartial<K>["firing"],
    value: JSON.parse(str(item, attributes.value) ?? "null"),
    state: stateText === undefined ? undefined : JSON.parse(stateText) as Json,
    writtenAt: num(item, attributes.writtenAt) ?? 0
  }
}

/**
 * Every partial stored for a key whose window starts in [from, to), by window start, end, then partial
 * (a Query, paginated, strongly consistent).
 *
 * @since 0.1.0
 * @category reading
 */
export const partials = <K extends string | number>(
  options: QueryOptions<K>
): Effect.Effect<Array<StoredPartial<K>>, DynamoDBError, DynamoDBClient> =>
  Effect.gen(function*() {
    const dynamodb = yield* DynamoDBClient
    const out: Array<StoredPartial<K>> = []
    if (!(options.to > options.from)) return out
    const from = Math.max(0, Math.ceil(options.from))
    const last = Math.ceil(options.to) - 1
    let startKey: Record<string, AttributeValue> | undefined
    do {
      const page = yield* dynamodb.query({
        TableName: options.tableName,
        KeyConditionExpression: "#pk = :pk AND #sk BETWEEN :lo AND :hi",
        ExpressionAttributeNames: { "#pk": attributes.partition, "#sk": attributes.sort },
        ExpressionAttributeValues: {
          ":pk": s(partitionKey(options.pipeline, options.key)),
          ":lo": s(pad(from)),
          // every sort key of a window starting at `last`: `<last>#...` sorts below `<last>$`
          ":hi": s(`${pad(last)}$`)
        },
        ConsistentRead: true,
        ExclusiveStartKey: startKey
      })
      for (const item of page.Items ?? []) out.push(fromItem<K>(item))
      startKey = page.LastEvaluatedKey
    } while (startKey !== undefined)
    return out
  })

/**
 * Every partial in the table (a paginated Scan: for tests, checks and small tables), optionally of one
 * pipeline.
 *
 * @since 0.1.0
 * @category reading
 */
export const scanPartials = <K extends string | number>(
  tableName: string,
  options: { readonly pipeline?: string | undefined } = {}
): Effect.Effect<Array<StoredPartial<K>>, DynamoDBError, DynamoDBClient> =>
  Effect.map(
    scanAll(tableName, { pipeline: options.pipeline, pipelineAttribute: attributes.pipeline }),
    (items) => items.map((item) => fromItem<K>(item))
  )

/**
 * Merges partials into one result per key and window, sorted by key, start, end.
 *
 * Which partials are merged: those of a window are taken by count, highest first, skipping any that shares
 * a shard with one already taken (a partial over shards {a} superseded by a later one over {a, b}, as
 * windows shared by shards produce). The taken ones are merged in partial order, so the result does not
 * depend on the order items were read.
 *
 * With an aggregate, states are decoded, merged and the result recomputed (partials need states: write
 * them with `withState`); without one, a window must have a single partial, whose value is returned.
 *
 * @since 0.1.0
 * @category reading
 */
export const merge = <K extends string | number, S, O>(
  stored: ReadonlyArray<StoredPartial<K>>,
  aggregate?: Aggregate<any, S, O>
): Effect.Effect<Array<MergedResult<K, O>>, MergeError | InvalidOptions> =>
  Effect.suspend((): Effect.Effect<Array<MergedResult<K, O>>, MergeError | InvalidOptions> => {
    if (aggregate?.invalid !== undefined) return Effect.fail(aggregate.invalid)
    const windows = new Map<string, Array<StoredPartial<K>>>()
    for (const p of stored) {
      const id = `${typeof p.key}:${p.key}\u0000${pad(p.start)}\u0000${pad(p.end)}`
      const list = windows.get(id)
      if (list === undefined) windows.set(id, [p])
      else list.push(p)
    }
    const decode = aggregate === undefined ? undefined : Schema.decodeUnknownEither(aggregate.state)
    const out: Array<MergedResult<K, O>> = []
    for (const id of [...windows.keys()].sort()) {
      const candidates = windows.get(id)!.slice().sort((a, b) =>
        b.count - a.count || (a.partial < b.partial ? -1 : a.partial > b.partial ? 1 : 0)
      )
      const taken: Array<StoredPartial<K>> = []
      const used = new Set<string>()
      for (const p of candidates) {
        if (p.shards.some((shard) => used.has(shard))) continue
        for (const shard of p.shards) used.add(shard)
        taken.push(p)
      }
      taken.sort((a, b) => (a.partial < b.partial ? -1 : a.partial > b.partial ? 1 : 0))
      const first = taken[0]
      const fail = (reason: string) =>
        Effect.fail(new MergeError({ key: String(first.key), start: first.start, end: first.end, reason }))
      let value: O
      if (aggregate === undefined || decode === undefined) {
        if (taken.length > 1) return fail(`${taken.length} partials and no aggregate to merge them with`)
        value = first.value as O
      } else {
        let state: S | undefined
        for (const p of taken) {
          if (p.state === undefined) return fail(`partial ${p.partial} has no state (write results of ResultsTable.withState)`)
          const decoded = decode(p.state)
          if (decoded._tag === "Left") return fail(`the state of partial ${p.partial} does not decode: ${decoded.left.message}`)
          state = state === undefined ? decoded.right : aggregate.merge(state, decoded.right)
        }
        value = aggregate.result(state as S)
      }
      out.push({
        key: first.key,
        start: first.start,
        end: first.end,
        value,
        count: taken.reduce((sum, p) => sum + p.count, 0),
        shards: [...new Set(taken.flatMap((p) => p.shards))].sort(),
        partials: taken.length
      })
    }
    return Effect.succeed(out)
  })

/**
 * The results of a key whose windows start in [from, to), each window's partials merged (see `merge`).
 *
 * @since 0.1.0
 * @category reading
 */
export const query = <K extends string | number, S = unknown, O = unknown>(
  options: QueryOptions<K> & { readonly aggregate?: Aggregate<any, S, O> }
): Effect.Effect<Array<MergedResult<K, O>>, DynamoDBError | MergeError | InvalidOptions, DynamoDBClient> =>
  Effect.flatMap(partials(options), (stored) => merge(stored, options.aggregate))

/**
 * Makes sure a results table exists and is ACTIVE (string keys `pk` and `sk`, on-demand billing).
 *
 * @since 0.1.0
 * @category admin
 */
export const ensure = (tableName: string): Effect.Effect<void, DynamoDBError | AwsError.NotReady, DynamoDBClient> =>
  ensureTable(tableName)
