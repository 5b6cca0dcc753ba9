/**
 * A take round: the I/O around `LeaseTaker.planTake`. It lists the lease table, judges expiry on this
 * worker's clock (a lease whose counter did not move for a lease duration since this worker first saw it),
 * finds the leases still waiting for a parent (reading parents the listing lacks), shuffles the leases so
 * that workers taking at the same time rarely go for the same ones, and acquires what the plan says.
 */
import type { Lease, LeaseStoreError, LeaseStoreShape } from "@tributary/core/LeaseStore"
import { isShardEnd } from "@tributary/core/LeaseStore"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type { Balance, TakeReason } from "../LeaseTaker.js"
import { planTake } from "../LeaseTaker.js"
import type { HeldLeases } from "./heldLeases.js"
import { shuffle } from "./shuffle.js"

export interface Options {
  readonly workerId: string
  readonly store: LeaseStoreShape
  readonly held: HeldLeases
  readonly leaseMillis: number
  readonly maxLeasesPerWorker: number
  readonly maxLeasesToStealAtOneTime: number
  readonly balance: Balance
  /** Counted once per lease acquired, by reason. */
  readonly taken: Readonly<Record<TakeReason, Metric.Metric.Counter<number>>>
}

/** A take round, with the memory of the counters seen that expiry is judged by. */
export const make = (options: Options): Effect.Effect<void, LeaseStoreError> => {
  const { held, store, workerId } = options
  // per lease: the counter last seen and when this worker first saw it (expiry is judged on this clock)
  const lastSeen = new Map<string, { readonly counter: number; readonly at: number }>()
  // parents found absent while their child exists never get a lease later: no need to read them again
  const absentParents = new Set<string>()

  const judgeExpiry = (leases: ReadonlyArray<Lease>, now: number): ReadonlySet<string> => {
    const present = new Set<string>()
    const expired = new Set<string>()
    for (const lease of leases) {
      present.add(lease.leaseKey)
      const seen = lastSeen.get(lease.leaseKey)
      if (seen === undefined || seen.counter !== lease.counter) lastSeen.set(lease.leaseKey, { counter: lease.counter, at: now })
      else if (now - seen.at > options.leaseMillis) expired.add(lease.leaseKey)
    }
    for (const leaseKey of lastSeen.keys()) if (!present.has(leaseKey)) lastSeen.delete(leaseKey)
    return expired
  }

  /** The leases (not finished) with a parent that has not reached SHARD_END. */
  const waitingForParents = (leases: ReadonlyArray<Lease>) =>
    Effect.gen(function*() {
      const byKey = new Map(leases.map((lease) => [lease.leaseKey, lease]))
      const parentDone = new Map<string, boolean>()
      const isParentDone = (parentKey: string) =>
        Effect.gen(function*() {
          const known = parentDone.get(parentKey)
          if (known !== undefined) return known
          const parent = byKey.get(parentKey)
          // missing from the listing: never created (a LATEST start), deleted after the stream trimmed it,
          // or created while the Scan ran (a Scan is no snapshot): a consistent read decides
          let done: boolean
          if (parent !== undefined) done = isShardEnd(parent)
          else if (absentParents.has(parentKey)) done = true
          else {
            const read = yield* store.get(parentKey)
            if (Option.isNone(read)) absentParents.add(parentKey)
            done = Option.match(read, { onNone: () => true, onSome: isShardEnd })
          }
          parentDone.set(parentKey, done)
          return done
        })
      const waiting = new Set<string>()
      for (const lease of leases) {
        if (isShardEnd(lease)) continue
        for (const parent of lease.parentShardIds) {
          if (!(yield* isParentDone(parent))) {
            waiting.add(lease.leaseKey)
            break
          }
        }
      }
      return waiting
    })

  return Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const listed = yield* store.list
    const expired = judgeExpiry(listed, now)
    const waiting = yield* waitingForParents(listed)
    const leases = yield* shuffle(listed)
    const plan = planTake({
      workerId,
      leases,
      held: new Set((yield* held.holders).keys()),
      expired,
      waiting,
      maxLeasesPerWorker: options.maxLeasesPerWorker,
      maxLeasesToStealAtOneTime: options.maxLeasesToStealAtOneTime,
      balance: options.balance
    })
    if (plan.stealFrom !== undefined) {
      yield* Effect.logDebug("stealing leases").pipe(Effect.annotateLogs({ from: plan.stealFrom, count: plan.take.length }))
    }
    for (const { lease, reason } of plan.take) {
      const acquiredAt = yield* Clock.currentTimeMillis
      yield* store.acquire(lease, workerId).pipe(
        Effect.flatMap((acquired) => {
          lastSeen.set(acquired.leaseKey, { counter: acquired.counter, at: acquiredAt })
          return Effect.zipRight(held.add(acquired, acquiredAt), Metric.increment(options.taken[reason]))
        }),
        // another worker was faster: nothing lost
        Effect.catchTag("LeaseConflict", () => Effect.void),
        Effect.catchTag("LeaseStoreError", (error) => Effect.logWarning("lease acquisition failed", error)),
        // a shutdown must not come between the write and the holder that releases it
        Effect.uninterruptible
      )
    }
  })
}
