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
 * With `balance: "records"` or `"bytes"` (throughput-aware assignment), the share is one of the load instead:
 * each lease weighs what its owner published (`Lease.load`, records or bytes per second), a lease without a
 * published load weighs the mean of those with one, and an idle lease a tenth of it (its reader still
 * polls); while no lease has a load, every lease weighs the same. Every worker aims at the mean load per worker. Below it, a worker takes free leases as above,
 * those that fit under the mean first, then one more if it is still below (so a lease heavier than anyone's
 * room is still taken). When none is free, a worker below the mean steals from the most loaded worker
 * above 110 % of the mean the heaviest lease that leaves it, the thief, lighter than the victim by at least
 * a tenth of the mean, and the victim no lighter than the mean. Each steal therefore lowers the sum of the
 * squared loads, so the workers converge without a leader, and the victim of a steal never has a reason to
 * steal back from its thief (it is now the heavier one by the margin). At most `maxLeasesToStealAtOneTime`
 * leases move per round, from one victim.
 *
 * @since 0.1.0
 */
import type { Lease, LeaseLoad } from "@tributary/core/LeaseStore"
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
 * What the take rounds even out between workers: the number of leases (`"leases"`, like the KCL 2.x), or
 * the throughput each reads, in records or bytes per second as published with the leases (`"records"`,
 * `"bytes"`).
 *
 * @since 0.1.0
 * @category models
 */
export type Balance = "leases" | "records" | "bytes"

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
  /** What is evened out. Default `"leases"`. */
  readonly balance?: Balance | undefined
}

/**
 * What to take, and what the decision was made from.
 *
 * @since 0.1.0
 * @category models
 */
export interface TakePlan {
  /**
   * The leases to acquire, in the order to try them, each with why and what it weighs in the balance (1
   * when balancing leases).
   */
  readonly take: ReadonlyArray<{ readonly lease: Lease; readonly reason: TakeReason; readonly weight: number }>
  /** Every worker's share: `ceil(ready / workers)` (1 while workers outnumber leases), capped. */
  readonly target: number
  /** Leases per worker, counting this worker's held leases and the others' unexpired ones. */
  readonly counts: ReadonlyMap<string, number>
  /** The worker the plan steals from, if it steals. */
  readonly stealFrom: string | undefined
  /** When balancing throughput: every worker's load (the weights of its leases, counted like `counts`) and their mean. */
  readonly load?: LoadShare | undefined
}

/**
 * The loads a throughput-balancing plan was made from.
 *
 * @since 0.1.0
 * @category models
 */
export interface LoadShare {
  /** The mean load per worker, over every lease ready to be processed: what each worker aims at. */
  readonly target: number
  /** The load of each worker: the weights of the leases it holds (or is being handed). */
  readonly byWorker: ReadonlyMap<string, number>
}

/**
 * Decides which leases a worker takes at a take round (see the module documentation for the rule).
 *
 * @since 0.1.0
 * @category planning
 */
export const planTake = (input: TakeInput): TakePlan => {
  const table = classify(input)
  return input.balance === undefined || input.balance === "leases" ? byCount(input, table) : byLoad(input, table, input.balance)
}

// ---------------------------------------------------------------------------------------------------------
// internal
// ---------------------------------------------------------------------------------------------------------

/** The lease table as one worker sees it. */
interface Table {
  /** Leases ready to be processed: not finished, not waiting for a parent. */
  readonly ready: ReadonlyArray<Lease>
  readonly counts: Map<string, number>
  /** Leases this worker may take without stealing: unowned, expired, or its own that it does not hold. */
  readonly available: ReadonlyArray<Lease>
  /** The others' unexpired leases that may be stolen, per owner. */
  readonly byOwner: ReadonlyMap<string, ReadonlyArray<Lease>>
  /** The others' unexpired leases per worker they count for (a lease asked for: the requester). */
  readonly countedFor: ReadonlyMap<string, ReadonlyArray<Lease>>
  /** The even share of leases, capped. */
  readonly target: number
}

const classify = (input: TakeInput): Table => {
  const { workerId } = input
  const counts = new Map<string, number>([[workerId, 0]])
  const ready: Array<Lease> = []
  const available: Array<Lease> = []
  const byOwner = new Map<string, Array<Lease>>()
  const countedFor = new Map<string, Array<Lease>>()
  const count = (worker: string, lease: Lease) => {
    counts.set(worker, (counts.get(worker) ?? 0) + 1)
    const leases = countedFor.get(worker)
    if (leases === undefined) countedFor.set(worker, [lease])
    else leases.push(lease)
  }
  for (const lease of input.leases) {
    if (isShardEnd(lease) || input.waiting.has(lease.leaseKey)) continue
    ready.push(lease)
    if (input.held.has(lease.leaseKey)) {
      counts.set(workerId, counts.get(workerId)! + 1)
    } else if (lease.owner === null || lease.owner === workerId || input.expired.has(lease.leaseKey)) {
      // unowned, expired, or this worker's from an earlier holder whose state was lost: take it
      available.push(lease)
    } else if (lease.handoffTo !== undefined) {
      // asked for: the requester's once handed over (this worker's, if it asked)
      count(lease.handoffTo, lease)
    } else {
      count(lease.owner, lease)
      if (input.starting?.has(lease.leaseKey) === true) continue
      const owned = byOwner.get(lease.owner)
      if (owned === undefined) byOwner.set(lease.owner, [lease])
      else owned.push(lease)
    }
  }
  const workers = counts.size
  const target = Math.min(workers >= ready.length ? 1 : Math.ceil(ready.length / workers), input.maxLeasesPerWorker)
  return { ready, counts, available, byOwner, countedFor, target }
}

const reasonOf = (lease: Lease, workerId: string): TakeReason =>
  lease.owner === null ? "unowned" : lease.owner === workerId ? "reclaimed" : "expired"

/** The KCL's rule: the same number of leases each. */
const byCount = (input: TakeInput, table: Table): TakePlan => {
  const { workerId } = input
  const { available, byOwner, counts, target } = table
  const nothing: TakePlan = { take: [], target, counts, stealFrom: undefined }
  const needed = target - counts.get(workerId)!
  if (needed <= 0) return nothing

  if (available.length > 0) {
    const take = available.slice(0, needed).map((lease) => ({ lease, reason: reasonOf(lease, workerId), weight: 1 }))
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
  const take = byOwner.get(mostLoaded)!.slice(0, steal).map((lease) => ({ lease, reason: "stolen" as const, weight: 1 }))
  return { take, target, counts, stealFrom: mostLoaded }
}

/** A victim is above the mean by more than this share of it. */
const tolerance = 0.1
/** After a steal, the thief is lighter than the victim by at least this share of the mean: hysteresis. */
const margin = 0.1
/** An idle lease weighs this share of the mean lease (its reader still polls the shard). */
const idleShare = 0.1

/** Throughput-aware: the same load each (see the module documentation). */
const byLoad = (input: TakeInput, table: Table, balance: "records" | "bytes"): TakePlan => {
  const { workerId } = input
  const { available, byOwner, countedFor, counts, ready, target } = table
  const rate = (load: LeaseLoad) => balance === "records" ? load.recordsPerSecond : load.bytesPerSecond

  // a lease without a published load weighs the mean of those with one; all weigh 1 while none has one
  let known = 0
  let knownSum = 0
  for (const lease of ready) {
    if (lease.load === undefined) continue
    known++
    knownSum += rate(lease.load)
  }
  const mean = knownSum > 0 ? knownSum / known : 0
  const weight = mean === 0
    ? () => 1
    : (lease: Lease) => lease.load === undefined ? mean : Math.max(rate(lease.load), mean * idleShare)

  // loads counted like the leases: this worker's held ones (and those handed to it), the others' unexpired ones
  let total = 0
  let held = 0
  for (const lease of ready) {
    const w = weight(lease)
    total += w
    if (input.held.has(lease.leaseKey)) held += w
  }
  const loads = new Map<string, number>([[workerId, held]])
  for (const [worker, leases] of countedFor) {
    loads.set(worker, (loads.get(worker) ?? 0) + leases.reduce((sum, lease) => sum + weight(lease), 0))
  }
  const share = total / counts.size
  const plan = (take: TakePlan["take"], stealFrom?: string): TakePlan => ({
    take,
    target,
    counts,
    stealFrom,
    load: { target: share, byWorker: loads }
  })

  let mine = loads.get(workerId)!
  let count = counts.get(workerId)!
  if (mine >= share || count >= input.maxLeasesPerWorker) return plan([])

  if (available.length > 0) {
    // those that fit under the share first, then the lightest of the others while still below it: every
    // free lease finds a taker, since the workers below the share have room for all of them together
    const take: Array<TakePlan["take"][number]> = []
    const add = (lease: Lease, w: number) => {
      take.push({ lease, reason: reasonOf(lease, workerId), weight: w })
      mine += w
      count++
    }
    let lightest: Lease | undefined
    for (const lease of available) {
      if (mine >= share || count >= input.maxLeasesPerWorker) break
      const w = weight(lease)
      if (mine + w <= share * (1 + tolerance)) add(lease, w)
      else if (lightest === undefined || w < weight(lightest)) lightest = lease
    }
    if (lightest !== undefined && mine < share && count < input.maxLeasesPerWorker) add(lightest, weight(lightest))
    return plan(take)
  }

  // steal from the most loaded worker above the tolerance that has a lease worth moving
  const victims = Array.from(loads).filter(([owner, load]) => owner !== workerId && byOwner.has(owner) && load > share * (1 + tolerance))
    .sort((a, b) => b[1] - a[1])
  for (const [victim, victimLoad] of victims) {
    const take: Array<TakePlan["take"][number]> = []
    let left = victimLoad
    const candidates = [...byOwner.get(victim)!]
    while (take.length < input.maxLeasesToStealAtOneTime && mine < share && count < input.maxLeasesPerWorker) {
      // the thief stays lighter than the victim by the margin; the victim keeps at least the share
      const limit = Math.min((left - mine - margin * share) / 2, left - share)
      let best = -1
      for (let i = 0; i < candidates.length; i++) {
        const w = weight(candidates[i])
        if (w <= limit && (best < 0 || w > weight(candidates[best]))) best = i
      }
      if (best < 0) break
      const [lease] = candidates.splice(best, 1)
      const w = weight(lease)
      take.push({ lease, reason: "stolen", weight: w })
      mine += w
      left -= w
      count++
    }
    if (take.length > 0) return plan(take, victim)
  }
  return plan([])
}
