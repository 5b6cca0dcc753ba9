/**
 * A small TTL cache in front of a results reader: answers are kept `ttl` milliseconds, and dropped at
 * once when told new results landed for a pipeline (or one of its keys).
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"

/**
 * @since 0.1.0
 * @category models
 */
export interface ResultsQuery {
  readonly pipeline: string
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
 * @since 0.1.0
 * @category models
 */
export interface ResultsCache {
  readonly get: (query: ResultsQuery) => Effect.Effect<ReadonlyArray<unknown>, unknown>
  /** New results landed: forget the pipeline's cached answers (all keys, or one). */
  readonly invalidate: (pipeline: string, key?: string) => Effect.Effect<void>
  readonly size: Effect.Effect<number>
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (reader: ResultsReader, options: { readonly ttlMillis?: number; readonly maxEntries?: number } = {}): ResultsCache => {
  const ttl = options.ttlMillis ?? 2_000
  const maxEntries = options.maxEntries ?? 10_000
  const entries = new Map<string, { readonly expires: number; readonly value: ReadonlyArray<unknown>; readonly pipeline: string; readonly key: string }>()
  const keyOf = (q: ResultsQuery) => JSON.stringify([q.pipeline, q.key, q.from, q.to])
  return {
    get: (query) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const id = keyOf(query)
        const hit = entries.get(id)
        if (hit !== undefined && hit.expires > now) return Effect.succeed(hit.value)
        return Effect.tap(reader(query), (value) =>
          Effect.sync(() => {
            if (entries.size >= maxEntries) {
              for (const [k, v] of entries) if (v.expires <= now) entries.delete(k)
              if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!)
            }
            entries.set(id, { expires: now + ttl, value, pipeline: query.pipeline, key: query.key })
          }))
      }),
    invalidate: (pipeline, key) =>
      Effect.sync(() => {
        for (const [id, entry] of entries) {
          if (entry.pipeline === pipeline && (key === undefined || entry.key === key)) entries.delete(id)
        }
      }),
    size: Effect.sync(() => entries.size)
  }
}
