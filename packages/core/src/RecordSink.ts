/**
 * A `RecordSink` makes batches durable: `write` returns only when every item of the batch is stored, and
 * fails with a `SinkError` that says whether trying again can help. (Named so it reads well next to
 * effect's own `Sink`, which consumes a `Stream`.)
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type { Retryability } from "./TributaryError.js"
import { SinkError } from "./TributaryError.js"

/**
 * A destination for a pipeline's values, written one batch at a time.
 *
 * @since 0.1.0
 * @category models
 */
export interface RecordSink<in A> {
  /** Names the sink in spans and in the stage (`sink:<name>`) of the dead letters it causes. */
  readonly name: string
  /** Stores the whole batch or fails; a failed batch may be written again, so writes must be idempotent. */
  readonly write: (items: ReadonlyArray<A>) => Effect.Effect<void, SinkError>
}

/**
 * A sink from its name and its `write` function.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A>(
  name: string,
  write: (items: ReadonlyArray<A>) => Effect.Effect<void, SinkError>
): RecordSink<A> => ({ name, write })

/**
 * A sink that drops everything (for outputs nobody reads, e.g. in benchmarks).
 *
 * @since 0.1.0
 * @category constructors
 */
export const drain: RecordSink<unknown> = make("drain", () => Effect.void)

/**
 * An in-memory sink that records what it received and fails on demand, for tests of pipelines and of the
 * code around them.
 *
 * @since 0.1.0
 * @category models
 */
export interface MemorySink<A> extends RecordSink<A> {
  /** Every item stored, in write order (items of failed writes are not stored). */
  readonly items: Effect.Effect<ReadonlyArray<A>>
  /** Number of `write` calls, failed ones included. */
  readonly writeCount: Effect.Effect<number>
  /** Makes the next `times` writes fail with the given retryability, storing nothing. */
  readonly failNext: (times: number, retryability: Retryability) => Effect.Effect<void>
  /** Makes every write that contains a matching item fail permanently (a poison item) until cleared. */
  readonly rejectWhen: (predicate: (item: A) => boolean, reason?: string) => Effect.Effect<void>
  /** Cancels `failNext` and `rejectWhen`: writes succeed again. */
  readonly clearFailures: Effect.Effect<void>
}

/**
 * Creates an empty `MemorySink` (named `memory` unless given a name) whose writes all succeed until told
 * otherwise.
 *
 * @since 0.1.0
 * @category constructors
 */
export const memory = <A>(name = "memory"): Effect.Effect<MemorySink<A>> =>
  Effect.sync(() => {
    const stored: Array<A> = []
    let writes = 0
    let failures: { times: number; retryability: Retryability } | undefined
    let poison: { predicate: (item: A) => boolean; reason: string } | undefined
    const write = (items: ReadonlyArray<A>) =>
      Effect.suspend(() => {
        writes++
        if (failures !== undefined && failures.times > 0) {
          failures.times--
          return Effect.fail(
            new SinkError({ sink: name, reason: `injected ${failures.retryability} failure`, retryability: failures.retryability })
          )
        }
        if (poison !== undefined) {
          const rejected = items.find(poison.predicate)
          if (rejected !== undefined) {
            return Effect.fail(new SinkError({ sink: name, reason: poison.reason, retryability: "permanent" }))
          }
        }
        for (let i = 0; i < items.length; i++) stored.push(items[i])
        return Effect.void
      })
    return {
      name,
      write,
      items: Effect.sync(() => stored.slice()),
      writeCount: Effect.sync(() => writes),
      failNext: (times, retryability) => Effect.sync(() => void (failures = { times, retryability })),
      rejectWhen: (predicate, reason = "rejected item") => Effect.sync(() => void (poison = { predicate, reason })),
      clearFailures: Effect.sync(() => {
        failures = undefined
        poison = undefined
      })
    }
  })
