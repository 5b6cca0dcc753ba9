/**
 * A TTL cache in front of a results reader, on Effect's `Cache`: answers are kept `ttl` milliseconds,
 * concurrent requests for the same query share one read, failures are not kept, and answers are dropped at
 * once when told new results landed for a pipeline (or one of its keys).
 *
 * @since 0.1.0
 */
import * as Cache from "effect/Cache"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"

/**
 * One request for results: a pipeline's windows of one key over a time range.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResultsQuery {
  /** The pipeline's name (`Pipeline.make(name)`). */
  readonly pipeline: string
  /** The window key, e.g. `activity:login`. */
  readonly key: string
  /** Windows starting at or after (epoch ms). */
  readonly from: number
  /** Windows starting before (epoch ms). */
  readonly to: number
}

/**
 * What serves results, e.g. `(q) => ResultsTable.query({ tableName, ...q }).pipe(Effect.provide(dynamodb))`.
 *
 * @since 0.1.0
 * @category models
 */
export type ResultsReader = (query: ResultsQuery) => Effect.Effect<ReadonlyArray<unknown>, unknown>

/**
 * The cache the gateway answers `GET /v1/results/...` from.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResultsCache {
  /** The answer to the query: cached when younger than the TTL, else read (once for concurrent callers). */
  readonly get: (query: ResultsQuery) => Effect.Effect<ReadonlyArray<unknown>, unknown>
  /** New results landed: forget the pipeline's cached answers (all keys, or one). */
  readonly invalidate: (pipeline: string, key?: string) => Effect.Effect<void>
  /** The number of queries cached now. */
  readonly size: Effect.Effect<number>
}

/**
 * A cache over `reader`: answers kept `ttlMillis` (default 2,000), at most `maxEntries` queries (default
 * 10,000); a failed read is not kept.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (reader: ResultsReader, options: { readonly ttlMillis?: number; readonly maxEntries?: number } = {}): ResultsCache => {
  const ttl = Duration.millis(options.ttlMillis ?? 2_000)
  // queries as keys with structural equality; `Cache.makeWith` needs no service, so it is built at once
  const cache = Effect.runSync(Cache.makeWith({
    capacity: options.maxEntries ?? 10_000,
    lookup: (query: ResultsQuery) => reader(query),
    timeToLive: (exit) => Exit.isSuccess(exit) ? ttl : Duration.zero
  }))
  return {
    get: (query) => {
      const key = Data.struct({ pipeline: query.pipeline, key: query.key, from: query.from, to: query.to })
      // a failure is shared by the requests that waited on it, then forgotten
      return Effect.tapError(cache.get(key), () => cache.invalidate(key))
    },
    invalidate: (pipeline, key) =>
      Effect.flatMap(cache.keys, (queries) =>
        Effect.forEach(
          queries.filter((q) => q.pipeline === pipeline && (key === undefined || q.key === key)),
          (q) => cache.invalidate(q),
          { discard: true }
        )),
    size: cache.size
  }
}
