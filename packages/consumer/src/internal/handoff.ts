/**
 * The requester's side of a handoff (the owner's is in `heldLeases`): a steal decided by the take round
 * asks the owner for the lease, with a mark that leaves the counter alone, then watches the lease (one
 * consistent read every `pollMillis`) until the owner hands it over after its batch in flight, and holds it
 * at once. The new owner renews it first, so its own expiry is measured from a write it made.
 *
 * The watch ends when the lease goes elsewhere, or after `waitMillis`. A lease handed over later names
 * this worker, which takes it back at its next take round (`reclaimed`); the lease of an owner that
 * crashed meanwhile expires as ever, and whoever takes it clears the mark.
 */
import type { HeldLease, Lease, LeaseStoreError, LeaseStoreShape } from "@tributary/core/LeaseStore"
import { isShardEnd } from "@tributary/core/LeaseStore"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { HeldLeases } from "./heldLeases.js"

export interface Options {
  readonly workerId: string
  readonly store: LeaseStoreShape
  readonly held: HeldLeases
  /** Between reads of a lease asked for. */
  readonly pollMillis: number
  /** How long to watch a lease asked for. */
  readonly waitMillis: number
  /** Counted once per lease handed over to this worker, and per lease asked for that its owner released. */
  readonly taken: { readonly stolen: Metric.Metric.Counter<number>; readonly unowned: Metric.Metric.Counter<number> }
  /** Where the watches run. */
  readonly scope: Scope.Scope
}

/** Asks the owner of `lease` (as listed) for it, and watches for the handover in the background. */
export const make = (options: Options) => (lease: Lease): Effect.Effect<void, LeaseStoreError> => {
  const { held, store, workerId } = options
  const { leaseKey, owner } = lease
  // nobody to ask: the take round acquires unowned leases itself
  if (owner === null) return Effect.void

  /** Holds the lease that a write of this worker just made its own. */
  const hold = (write: Effect.Effect<Lease, unknown>, reason: "stolen" | "unowned") =>
    Effect.gen(function*() {
      const startedAt = yield* Clock.currentTimeMillis
      const taken = yield* Effect.option(write)
      if (Option.isNone(taken)) return
      yield* held.add(taken.value, startedAt)
      yield* Metric.increment(options.taken[reason])
      yield* Effect.logDebug("lease taken").pipe(Effect.annotateLogs({ leaseKey, reason }))
    }).pipe(
      // a shutdown must not come between the write and the holder that releases it
      Effect.uninterruptible
    )

  const watch = Effect.gen(function*() {
    const deadline = (yield* Clock.currentTimeMillis) + options.waitMillis
    while ((yield* Clock.currentTimeMillis) < deadline) {
      yield* Effect.sleep(options.pollMillis)
      const read = yield* Effect.option(store.get(leaseKey))
      if (Option.isNone(read)) continue // the store failed: read again
      if (Option.isNone(read.value) || (yield* held.holders).has(leaseKey)) return
      const current = read.value.value
      if (isShardEnd(current)) return
      if (current.owner === workerId) {
        return yield* hold(store.renew({ leaseKey, owner: workerId, counter: current.counter }), "stolen")
      }
      // let go without a handover (an owner of an earlier version, say): take it like any unowned lease
      if (current.owner === null) return yield* hold(store.acquire(current, workerId), "unowned")
      if (current.owner !== owner || current.handoffTo !== workerId) return
    }
  }).pipe(Effect.annotateLogs("leaseKey", leaseKey), Effect.withSpan("LeaseCoordinator.awaitHandoff", { root: true }))

  // The owner's writes move the counter (a busy shard checkpoints every page): a request that lost the
  // race to one is made again at the counter read back, while the lease is still the same owner's.
  const request = (observed: HeldLease, attempts: number): Effect.Effect<boolean, LeaseStoreError> =>
    store.requestHandoff(observed, workerId).pipe(
      Effect.as(true),
      Effect.catchTag("LeaseConflict", () =>
        attempts <= 1 ? Effect.succeed(false) : Effect.flatMap(store.get(leaseKey), (current) =>
          Option.isSome(current) && current.value.owner === owner && current.value.handoffTo === undefined
            ? request({ leaseKey, owner, counter: current.value.counter }, attempts - 1)
            : Effect.succeed(false)))
    )

  return Effect.flatMap(request({ leaseKey, owner, counter: lease.counter }, 3), (requested) =>
    requested
      ? Effect.zipRight(
        Effect.logDebug("lease asked for").pipe(Effect.annotateLogs({ leaseKey, owner })),
        Effect.asVoid(Effect.forkIn(watch, options.scope))
      )
      // another worker asked first, or the lease moved: nothing to wait for
      : Effect.void)
}
