/**
 * The take decision of the lease coordinator, as a pure function of what a worker sees: the lease table
 * as listed, the leases it holds, which leases it judged expired and which wait for their parents. The
 * coordinator does the I/O around it (listing, judging expiry on its own clock, reading absent parents,
 * the conditional acquisitions); `planTake` only decides, so it can be tested on its own and simulated at
 * any scale.
 *
 * The rule is the Kinesis Client Library's: every worker aims at an even share of the leases ready to be
 * processed, `ceil(ready / workers)` (the workers being those holding unexpired leases, and this one),
 * capped at `maxLeasesPerWorker`. Below its share, a worker takes leases nobody holds (new, released, or a
 * child whose parents finished), leases whose owner stopped renewing them, and leases the table names it
 * owner of that it does not hold (its own, from before a restart or a failed renewal). When there are none,
 * it steals from the most loaded worker, at most `maxLeasesToStealAtOneTime` per round, and only what that
 * worker holds beyond the share (one lease anyway when it is more than one short), so two workers never
 * trade leases back and forth.
 *
 * A steal is carried out as a handoff (the coordinator asks the owner, which hands the lease over after its
 * batch in flight): a lease asked for counts as the requester's already (so every worker sees the load as
 * it is about to be), and a lease someone asked for, or whose owner has not started on it yet
 * (`starting`), is never stolen.
 *
 * @since 0.1.0
 */
import type { Lease } from "@tributary/core/LeaseStore"
import { isShardEnd } from "@tributary/core/LeaseStore"

/**
 * How a lease is taken: `unowned` (nobody held it: new, released, or a child whose parents finished),
 * `expired` (its owner stopped renewing it), `stolen` (from the most loaded worker, to even out the load),
 * `reclaimed` (the table names this worker, which did not hold it: renewals that failed for a lease
 * duration, or a restart with the same `workerId`).
 *
 * @since 0.1.0
 * @category models
 */
export type TakeReason = "unowned" | "expired" | "stolen" | "reclaimed"

/**
 * What a worker sees at a take round.
 *
 * @since 0.1.0
 * @category models
 */
export interface TakeInput {
  /** The worker deciding, whose held and reclaimable leases the table names it owner of. */
  readonly workerId: string
  /**
   * The lease table as listed, in the order leases are preferred: the coordinator shuffles it, so that
   * workers taking at the same time rarely go for the same leases.
   */
  readonly leases: ReadonlyArray<Lease>
  /** The keys of the leases this worker holds now. */
  readonly held: ReadonlySet<string>
  /** Keys of leases whose counter stood still for a lease duration, as this worker's clock judged it. */
  readonly expired: ReadonlySet<string>
  /** Keys of leases not to be taken yet: a parent shard has not reached SHARD_END. */
  readonly waiting: ReadonlySet<string>
  /** Never hold more leases than this (`Infinity`: no limit). */
  readonly maxLeasesPerWorker: number
  /** Leases stolen per round, at least 1. */
  readonly maxLeasesToStealAtOneTime: number
  // -- handoff --
  /**
   * Keys of leases whose owner has not started on them yet (taken or handed over recently, and not
   * checkpointed since): never stolen, so a shard is not moved again before anyone read it.
   */
  readonly starting?: ReadonlySet<string> | undefined
}

/**
 * What to take, and what the decision was made from.
 *
 * @since 0.1.0
 * @category models
 */
export interface TakePlan {
  /** The leases to acquire, in the order to try them, each with why. */
  readonly take: ReadonlyArray<{ readonly lease: Lease; readonly reason: TakeReason }>
  /** Every worker's share: `ceil(ready / workers)` (1 while workers outnumber leases), capped. */
  readonly target: number
  /** Leases per worker, counting this worker's held leases and the others' unexpired ones. */
  readonly counts: ReadonlyMap<string, number>
  /** The worker the plan steals from, if it steals. */
  readonly stealFrom: string | undefined
}

/**
 * Decides which leases a worker takes at a take round (see the module documentation for the rule).
 *
 * @since 0.1.0
 * @category planning
 */
export const planTake = (input: TakeInput): TakePlan => {
  const { workerId } = input
  const counts = new Map<string, number>([[workerId, 0]])
  const available: Array<Lease> = []
  const byOwner = new Map<string, Array<Lease>>()
  let ready = 0
  for (const lease of input.leases) {
    if (isShardEnd(lease) || input.waiting.has(lease.leaseKey)) continue
    ready++
    if (input.held.has(lease.leaseKey)) {
      counts.set(workerId, counts.get(workerId)! + 1)
    } else if (lease.owner === null || lease.owner === workerId || input.expired.has(lease.leaseKey)) {
      // unowned, expired, or this worker's from an earlier holder whose state was lost: take it
      available.push(lease)
    } else if (lease.handoffTo !== undefined) {
      // asked for: the requester's once handed over (this worker's, if it asked)
      counts.set(lease.handoffTo, (counts.get(lease.handoffTo) ?? 0) + 1)
    } else {
      counts.set(lease.owner, (counts.get(lease.owner) ?? 0) + 1)
      if (input.starting?.has(lease.leaseKey) === true) continue
      const owned = byOwner.get(lease.owner)
      if (owned === undefined) byOwner.set(lease.owner, [lease])
      else owned.push(lease)
    }
  }

  const workers = counts.size
  const target = Math.min(workers >= ready ? 1 : Math.ceil(ready / workers), input.maxLeasesPerWorker)
  const nothing: TakePlan = { take: [], target, counts, stealFrom: undefined }
  const needed = target - counts.get(workerId)!
  if (needed <= 0) return nothing

  if (available.length > 0) {
    const take = available.slice(0, needed).map((lease) => ({
      lease,
      reason: lease.owner === null ? "unowned" as const : lease.owner === workerId ? "reclaimed" as const : "expired" as const
    }))
    return { take, target, counts, stealFrom: undefined }
  }

  // the most loaded worker that has a lease to give
  let mostLoaded: string | undefined
  for (const [owner, count] of counts) {
    if (!byOwner.has(owner)) continue
    if (mostLoaded === undefined || count > counts.get(mostLoaded)!) mostLoaded = owner
  }
  if (mostLoaded === undefined) return nothing
  const load = counts.get(mostLoaded)!
  if (load < target) return nothing
  let steal = Math.min(needed, load - target)
  // the most loaded worker is at the target but this one is more than one short: take one anyway
  if (needed > 1 && steal === 0) steal = 1
  steal = Math.min(steal, input.maxLeasesToStealAtOneTime)
  if (steal <= 0) return nothing
  const take = byOwner.get(mostLoaded)!.slice(0, steal).map((lease) => ({ lease, reason: "stolen" as const }))
  return { take, target, counts, stealFrom: mostLoaded }
}
