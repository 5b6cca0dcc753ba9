/**
 * A shard's checkpoints, stored off the read path: `offer` hands the newest checkpoint over and returns at
 * once, so the next page is read while the previous one's checkpoint is written. One write is in flight at
 * a time; a checkpoint offered meanwhile waits, and a newer one replaces it (the latest wins). With an
 * interval, writes start at most once per interval (a waiting checkpoint is written when the interval has
 * passed, however quiet the shard). `flush` writes what waits at once and returns when everything offered is
 * stored. A failed write fails the next `offer` and `flush`, and completes `failed`.
 *
 * A checkpoint is only ever offered once the records it covers are durable, so storing it later, or not at
 * all (a crash), only means reading those records again.
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import type { Checkpoint } from "../RecordSource.js"
import type { CheckpointError } from "../TributaryError.js"

export interface Checkpointer {
  readonly offer: (checkpoint: Checkpoint) => Effect.Effect<void, CheckpointError>
  readonly flush: Effect.Effect<void, CheckpointError>
  /** Fails with the first write's failure; never succeeds. */
  readonly failed: Effect.Effect<never, CheckpointError>
}

/** The writer runs in the scope: closing it interrupts a write in flight. */
export const make = (
  write: (checkpoint: Checkpoint) => Effect.Effect<void, CheckpointError>,
  intervalMillis: number
): Effect.Effect<Checkpointer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const failure = yield* Deferred.make<never, CheckpointError>()
    // set by flush: whatever waits is written without waiting for the interval
    const hurry = yield* Deferred.make<void>()
    let pending: Checkpoint | undefined
    let writer: Fiber.RuntimeFiber<void, CheckpointError> | undefined
    let running = false
    let failedWith: CheckpointError | undefined
    let lastStartedAt = Number.NEGATIVE_INFINITY

    const writeAll: Effect.Effect<void, CheckpointError> = Effect.gen(function*() {
      // `running` is cleared in the same step that finds nothing pending: an offer never finds the writer
      // about to stop without its checkpoint
      while (pending !== undefined) {
        const wait = lastStartedAt + intervalMillis - (yield* Clock.currentTimeMillis)
        if (wait > 0) yield* Effect.raceFirst(Effect.sleep(wait), Deferred.await(hurry))
        const next = pending
        pending = undefined
        lastStartedAt = yield* Clock.currentTimeMillis
        yield* write(next)
      }
      running = false
    }).pipe(Effect.tapError((error) =>
      Effect.suspend(() => {
        failedWith = error
        running = false
        return Deferred.fail(failure, error)
      })
    ))

    const offer = (checkpoint: Checkpoint): Effect.Effect<void, CheckpointError> =>
      Effect.suspend(() => {
        if (failedWith !== undefined) return Effect.fail(failedWith)
        pending = checkpoint
        if (running) return Effect.void
        running = true
        return Effect.map(Effect.forkIn(writeAll, scope), (fiber) => void (writer = fiber))
      })

    const flush: Effect.Effect<void, CheckpointError> = Effect.zipRight(
      Deferred.succeed(hurry, undefined),
      Effect.suspend(() => {
        if (failedWith !== undefined) return Effect.fail(failedWith)
        return writer === undefined ? Effect.void : Fiber.join(writer)
      })
    )

    const checkpointer: Checkpointer = { offer, flush, failed: Deferred.await(failure) }
    return checkpointer
  })
