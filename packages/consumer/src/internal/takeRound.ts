/**
 * A take round: the I/O around `LeaseTaker.planTake`. It lists the lease table, judges expiry on this
 * worker's clock (a lease whose counter did not move for a lease duration since this worker first saw it),
 * finds the leases still waiting for a parent (reading parents the listing lacks) and those whose owner has
 * not started on them yet, shuffles the leases so that workers taking at the same time rarely go for the
 * same ones, and acquires what the plan says; a steal is a handoff request (`internal/handoff`).
 *
 * It also says when the next round is due besides the take interval: as soon as a lease this worker
 * watches (held by another) could have expired. So a crashed owner's lease is taken within a lease
 * duration and a take interval of its last renewal: seen with its last counter at most a take interval
 * after it, expired a lease duration later, taken at that moment.
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
  /** A lease taken or handed over less than this long ago, and not checkpointed since, is not stolen. */
  readonly startingMillis: number
  readonly maxLeasesPerWorker: number
  readonly maxLeasesToStealAtOneTime: number
  readonly balance: Balance
  /** Counted once per lease acquired, by reason. */
  readonly taken: Readonly<Record<TakeReason, Metric.Metric.Counter<number>>>
  /** Asks the owner of a lease to steal for it (see `internal/handoff`). */
  readonly requestHandoff: (lease: Lease) => Effect.Effect<void, LeaseStoreError>
  /** The leases of the table this coordinator shares out. */
  readonly manages: (leaseKey: string) => boolean
}

export interface TakeRound {
  readonly run: Effect.Effect<void, LeaseStoreError>
  /** When (this clock) the last round ended: the next is due a take interval later. */
  readonly lastEndedAt: () => number
  /**
   * When (this clock) the earliest lease this worker watches could have expired, if any; now, when the last
   * round lost an acquisition to another worker.
   */
  readonly nextExpiry: () => number | undefined
}

/** Per lease: the counter last seen, when this worker first saw it, and the owner and since when. */
interface Seen {
  readonly counter: number
  readonly at: number
  readonly owner: string | null
  readonly ownerSince: number
}

/** A take round, with the memory of the counters seen that expiry is judged by. */
export const make = (options: Options): TakeRound => {
  const { held, store, workerId } = options
  // expiry and the start of a new owner are judged on this worker's clock
  const lastSeen = new Map<string, Seen>()
  // parents found absent while their child exists never get a lease later: no need to read them again
  const absentParents = new Set<string>()
  let lastEndedAt = Number.NEGATIVE_INFINITY
  let nextExpiry: number | undefined

  const observe = (leases: ReadonlyArray<Lease>, now: number) => {
    const present = new Set<string>()
    const expired = new Set<string>()
    const starting = new Set<string>()
    let watch: number | undefined
    for (const lease of leases) {
      present.add(lease.leaseKey)
      let seen = lastSeen.get(lease.leaseKey)
      if (seen === undefined || seen.counter !== lease.counter) {
        const ownerSince = seen !== undefined && seen.owner === lease.owner ? seen.ownerSince : now
        lastSeen.set(lease.leaseKey, seen = { counter: lease.counter, at: now, owner: lease.owner, ownerSince })
      } else if (now - seen.at > options.leaseMillis) {
        expired.add(lease.leaseKey)
        continue
      }
      if (lease.owner === null || lease.owner === workerId || isShardEnd(lease)) continue
      // another worker's lease: it could expire a lease duration after this worker first saw its counter
      const expiresAt = seen.at + options.leaseMillis + 1
      if (watch === undefined || expiresAt < watch) watch = expiresAt
      if (lease.ownerSwitchesSinceCheckpoint > 0 && now - seen.ownerSince < options.startingMillis) starting.add(lease.leaseKey)
    }
    for (const leaseKey of lastSeen.keys()) if (!present.has(leaseKey)) lastSeen.delete(leaseKey)
    return { expired, starting, watch }
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

  const run = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    // a failed round watches nothing: the next one comes a take interval later
    nextExpiry = undefined
    const listed = (yield* store.list).filter((lease) => options.manages(lease.leaseKey))
    const { expired, starting, watch } = observe(listed, now)
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
      starting,
      balance: options.balance
    })
    nextExpiry = watch
    if (plan.stealFrom !== undefined) {
      yield* Effect.logDebug("stealing leases").pipe(Effect.annotateLogs({ from: plan.stealFrom, count: plan.take.length }))
    }
    let lostRace = false
    for (const { lease, reason } of plan.take) {
      if (reason === "stolen") {
        yield* options.requestHandoff(lease)
        continue
      }
      const acquiredAt = yield* Clock.currentTimeMillis
      yield* store.acquire(lease, workerId).pipe(
        Effect.flatMap((acquired) => {
          lastSeen.set(acquired.leaseKey, { counter: acquired.counter, at: acquiredAt, owner: workerId, ownerSince: acquiredAt })
          return Effect.all([
            held.add(acquired, acquiredAt),
            Metric.increment(options.taken[reason]),
            Effect.logDebug("lease taken").pipe(Effect.annotateLogs({ leaseKey: acquired.leaseKey, reason }))
          ], { discard: true })
        }),
        // another worker was faster: nothing lost, but this worker is still short
        Effect.catchTag("LeaseConflict", () => Effect.sync(() => void (lostRace = true))),
        Effect.catchTag("LeaseStoreError", (error) => Effect.logWarning("lease acquisition failed", error)),
        // a shutdown must not come between the write and the holder that releases it
        Effect.uninterruptible
      )
    }
    // Two workers taking a crashed one's leases at once may go for the same: the loser runs another round
    // at once (on a fresh listing), instead of leaving the other expired leases a take interval longer.
    if (lostRace) nextExpiry = yield* Clock.currentTimeMillis
  })

  return {
    // measured from the end, so that rounds slower than the take interval (a throttled or loaded table)
    // never run back to back
    run: Effect.ensuring(run, Effect.map(Clock.currentTimeMillis, (at) => void (lastEndedAt = at))),
    lastEndedAt: () => lastEndedAt,
    nextExpiry: () => nextExpiry
  }
}
