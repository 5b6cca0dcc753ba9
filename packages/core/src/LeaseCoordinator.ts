/**
 * Which shards this worker processes, decided with the other workers of the same application through a
 * `LeaseStore`, the way the Kinesis Client Library does it: every worker creates leases for new shards,
 * renews the leases it holds, takes leases whose owner stopped renewing (their counter did not move for a
 * lease duration, judged on this worker's own clock), and steals one lease at a time from the most loaded
 * worker until every worker holds its even share. A child shard's lease is taken only once all its parents
 * reached SHARD_END, so records of a key are processed in order across resharding.
 *
 * Unlike the KCL, a worker whose scope closes releases its leases at once, so the others take them at their
 * next take round instead of waiting for them to expire.
 *
 * The coordinator only decides; a runner subscribes to `changes` and starts processing a shard (a scoped
 * fiber) when its lease is acquired, stops it when the lease is lost, and checkpoints through the
 * `OwnedLease` it was given. It depends on nothing but the `LeaseStore` and the `Clock`, so the
 * `TestClock` drives it in tests.
 *
 * It counts leases taken, lost and released, failed renewals, and the leases held (`metrics`, tagged with
 * `application` and `worker`), where it already logs those events.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import { hostname } from "node:os"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { HashRange, HeldLease, Lease, LeaseCheckpoint, LeaseStoreError } from "./LeaseStore.js"
import { isShardEnd, LeaseLost, LeaseStore } from "./LeaseStore.js"
import type { Checkpoint } from "./RecordSource.js"

// ---------------------------------------------------------------------------------------------------------
// models
// ---------------------------------------------------------------------------------------------------------

/**
 * A shard as the coordinator needs to know it (from Kinesis' ListShards, for instance).
 *
 * @since 0.1.0
 * @category models
 */
export interface ShardInfo {
  readonly shardId: string
  /** ParentShardId and AdjacentParentShardId, when present. */
  readonly parentShardIds: ReadonlyArray<string>
  readonly hashRange: HashRange
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options<E = never, R = never> {
  /** The stream's shards, open and closed (ListShards). Called at start and every `shardSyncInterval`. */
  readonly listShards: Effect.Effect<ReadonlyArray<ShardInfo>, E, R>
  /** Unique per worker. Default: `<hostname>:<pid>:<8 random hex digits>`. */
  readonly workerId?: string
  /**
   * Names the application in the metrics (tag `application`): the lease table's name is a good choice (one
   * table per consumer application, like a KCL application name). Default `"default"`.
   */
  readonly application?: string
  /** A lease whose counter did not move for this long is expired and may be taken. Default 10 seconds. */
  readonly leaseDuration?: Duration.DurationInput
  /** How often held leases are renewed. Default a third of the lease duration. */
  readonly renewInterval?: Duration.DurationInput
  /** How often the lease table is scanned to take expired leases and steal. Default twice the lease duration. */
  readonly takeInterval?: Duration.DurationInput
  /** How often new shards are looked for. Default 1 minute (also right after a lease reaches SHARD_END). */
  readonly shardSyncInterval?: Duration.DurationInput
  /**
   * Where a shard without a leased parent starts: "LATEST" (default, like the KCL) or "TRIM_HORIZON".
   * With LATEST, closed shards without a leased ancestor get no lease (nothing in them comes after LATEST).
   * A shard whose parent has a lease always starts at TRIM_HORIZON.
   */
  readonly initialPosition?: "TRIM_HORIZON" | "LATEST"
  /** Never hold more leases than this. Default: no limit. */
  readonly maxLeasesPerWorker?: number
  /** Leases stolen per take round. Default 1. */
  readonly maxLeasesToStealAtOneTime?: number
  /**
   * Release every held lease when the coordinator's scope closes, so other workers take them at once.
   * Default true; false behaves like the KCL (the leases expire).
   */
  readonly releaseOnShutdown?: boolean
}

/**
 * The options in force, defaults filled in.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  readonly workerId: string
  readonly application: string
  readonly leaseDuration: Duration.Duration
  readonly renewInterval: Duration.Duration
  readonly takeInterval: Duration.Duration
  readonly shardSyncInterval: Duration.Duration
  readonly initialPosition: "TRIM_HORIZON" | "LATEST"
  readonly maxLeasesPerWorker: number
  readonly maxLeasesToStealAtOneTime: number
  readonly releaseOnShutdown: boolean
}

/**
 * Why a lease is no longer held: `taken` (another worker acquired it, found at a renewal or checkpoint),
 * `expired` (renewals failed for a whole lease duration: others may have taken it), `deleted` (the lease
 * is gone), `finished` (checkpointed at SHARD_END and handed back), `released` (`release` was called),
 * `shutdown` (the coordinator's scope closed).
 *
 * @since 0.1.0
 * @category models
 */
export type LostReason = "taken" | "expired" | "deleted" | "finished" | "released" | "shutdown"

/**
 * How a lease was taken: `unowned` (nobody held it: new, released, or a child whose parents finished),
 * `expired` (its owner stopped renewing it), `stolen` (from the most loaded worker, to even out the load),
 * `reclaimed` (the table names this worker, which did not hold it: renewals that failed for a lease
 * duration, or a restart with the same `workerId`).
 *
 * @since 0.1.0
 * @category models
 */
export type TakeReason = "unowned" | "expired" | "stolen" | "reclaimed"

/**
 * A lease this worker holds: process its shard from `lease.checkpoint` on, checkpoint through
 * `checkpoint`, stop when `lost` completes.
 *
 * @since 0.1.0
 * @category models
 */
export interface OwnedLease {
  readonly leaseKey: string
  /** The lease as acquired: its checkpoint is where processing resumes. */
  readonly lease: Lease
  /**
   * Stores progress, serialized with this worker's renewals of the lease (so the two never race each
   * other's counter). Fails with `LeaseLost` once the lease is no longer held: the caller must stop. A
   * SHARD_END checkpoint also hands the lease back (lost with reason `finished`) and looks for children.
   */
  readonly checkpoint: (checkpoint: Checkpoint | "SHARD_END") => Effect.Effect<void, LeaseLost | LeaseStoreError>
  /** Completes, with the reason, when the lease is no longer held. */
  readonly lost: Effect.Effect<LostReason>
}

/**
 * A change of the set of held leases.
 *
 * @since 0.1.0
 * @category models
 */
export type LeaseEvent =
  | { readonly _tag: "Acquired"; readonly lease: OwnedLease }
  | { readonly _tag: "Lost"; readonly leaseKey: string; readonly reason: LostReason }

/**
 * @since 0.1.0
 * @category models
 */
export interface LeaseCoordinatorShape {
  readonly workerId: string
  readonly settings: Settings
  /** The leases held now. */
  readonly owned: Effect.Effect<ReadonlyMap<string, OwnedLease>>
  /**
   * `Acquired` for every lease held when the stream is run, then `Acquired` and `Lost` as they happen;
   * ends after the `Lost` events of the shutdown, when the coordinator's scope closes.
   */
  readonly changes: Stream.Stream<LeaseEvent>
  /** Hands one lease over now (it may be taken again at a later take round, by any worker). */
  readonly release: (leaseKey: string) => Effect.Effect<void, LeaseStoreError>
  /** Creates leases for new shards now, instead of at the next sync. */
  readonly syncShards: Effect.Effect<void>
  /** Runs a take round now, instead of at the next take interval. */
  readonly takeLeases: Effect.Effect<void>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class LeaseCoordinator extends Context.Tag("@tributary/core/LeaseCoordinator")<
  LeaseCoordinator,
  LeaseCoordinatorShape
>() {}

// ---------------------------------------------------------------------------------------------------------
// metrics
// ---------------------------------------------------------------------------------------------------------

/**
 * Effect metrics of every coordinator, tagged with `application` (the `application` option) and `worker`
 * (the worker id). A lease is taken once and leaves once, lost or released: over a coordinator's life,
 * `taken = lost + released + held`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const metrics = {
  /** Leases acquired, tagged `reason` (a `TakeReason`): `unowned`, `expired`, `stolen` or `reclaimed`. */
  taken: Metric.counter("tributary_leases_taken_total", { description: "leases taken, by reason", incremental: true }),
  /**
   * Leases no longer held against this worker's will, tagged `reason`: `taken` (another worker acquired
   * it: a steal, or after this one stopped renewing), `expired` (renewals failed for a lease duration) or
   * `deleted`.
   */
  lost: Metric.counter("tributary_leases_lost_total", { description: "leases lost, by reason", incremental: true }),
  /**
   * Leases this worker let go, tagged `reason`: `finished` (SHARD_END), `released` (`release`, as a
   * consumer does after a shard failed) or `shutdown` (the coordinator stopped; with `releaseOnShutdown:
   * false` the leases are left to expire instead).
   */
  released: Metric.counter("tributary_leases_released_total", { description: "leases let go, by reason", incremental: true }),
  /** Renewals that failed without the lease being found taken (throttling, a network error). */
  renewalFailures: Metric.counter("tributary_lease_renewal_failures_total", {
    description: "lease renewals that failed",
    incremental: true
  }),
  /** Leases held now; 0 once the coordinator stopped. */
  held: Metric.gauge("tributary_leases_held", { description: "leases held" })
} as const

// ---------------------------------------------------------------------------------------------------------
// constructors
// ---------------------------------------------------------------------------------------------------------

/**
 * A worker id unique per process: `<hostname>:<pid>:<8 random hex digits>`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultWorkerId = (): string => `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`

/**
 * Fills in defaults and checks the options (invalid ones throw a RangeError).
 *
 * @since 0.1.0
 * @category constructors
 */
export const settings = <E, R>(options: Options<E, R>): Settings => {
  const leaseDuration = Duration.decode(options.leaseDuration ?? "10 seconds")
  const leaseMillis = Duration.toMillis(leaseDuration)
  const resolved: Settings = {
    workerId: options.workerId ?? defaultWorkerId(),
    application: options.application ?? "default",
    leaseDuration,
    renewInterval: Duration.decode(options.renewInterval ?? Duration.millis(leaseMillis / 3)),
    takeInterval: Duration.decode(options.takeInterval ?? Duration.millis(leaseMillis * 2)),
    shardSyncInterval: Duration.decode(options.shardSyncInterval ?? "1 minute"),
    initialPosition: options.initialPosition ?? "LATEST",
    maxLeasesPerWorker: options.maxLeasesPerWorker ?? Number.POSITIVE_INFINITY,
    maxLeasesToStealAtOneTime: options.maxLeasesToStealAtOneTime ?? 1,
    releaseOnShutdown: options.releaseOnShutdown ?? true
  }
  const positive = (name: string, duration: Duration.Duration) => {
    if (!Duration.isFinite(duration) || Duration.toMillis(duration) <= 0) {
      throw new RangeError(`${name} must be a positive finite duration, got ${Duration.format(duration)}`)
    }
  }
  positive("leaseDuration", resolved.leaseDuration)
  positive("renewInterval", resolved.renewInterval)
  positive("takeInterval", resolved.takeInterval)
  positive("shardSyncInterval", resolved.shardSyncInterval)
  if (Duration.greaterThanOrEqualTo(resolved.renewInterval, resolved.leaseDuration)) {
    throw new RangeError("renewInterval must be shorter than leaseDuration (a lease would expire between renewals)")
  }
  if (resolved.workerId.length === 0) throw new RangeError("workerId must not be empty")
  if (resolved.application.length === 0) throw new RangeError("application must not be empty")
  if (!(resolved.maxLeasesPerWorker >= 1)) throw new RangeError("maxLeasesPerWorker must be at least 1")
  if (!Number.isInteger(resolved.maxLeasesToStealAtOneTime) || resolved.maxLeasesToStealAtOneTime < 1) {
    throw new RangeError("maxLeasesToStealAtOneTime must be a positive integer")
  }
  return resolved
}

/**
 * Starts a coordinator: it syncs shards and runs a take round at once, then renews, takes and syncs in
 * background fibers until the scope closes (then, by default, it releases every lease it holds).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E, R>(
  options: Options<E, R>
): Effect.Effect<LeaseCoordinatorShape, never, LeaseStore | Scope.Scope | R> =>
  Effect.gen(function*() {
    const config = settings(options)
    const store = yield* LeaseStore
    const { workerId } = config
    const leaseMillis = Duration.toMillis(config.leaseDuration)
    const renewMillis = Duration.toMillis(config.renewInterval)
    const state = yield* SubscriptionRef.make<State>({ holders: new Map(), closed: false })
    // per lease: the counter last seen and when this worker first saw it (expiry is judged on this clock)
    const lastSeen = new Map<string, { readonly counter: number; readonly at: number }>()
    const absentParents = new Set<string>()
    const takeLock = yield* Effect.makeSemaphore(1)
    const syncLock = yield* Effect.makeSemaphore(1)
    const scope = yield* Effect.scope
    // the shards are listed from background fibers and from `syncShards`: with the caller's services
    const listShards = Effect.provide(options.listShards, yield* Effect.context<R>())
    const annotate = <A, E2, R2>(effect: Effect.Effect<A, E2, R2>) => Effect.annotateLogs(effect, "workerId", workerId)

    // tagged once per coordinator; Effect tells series apart by their tags in order: application, worker, reason
    const tag = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>) =>
      metric.pipe(Metric.tagged("application", config.application), Metric.tagged("worker", workerId))
    const byReason = (metric: Metric.Metric.Counter<number>, value: string) => Metric.tagged(tag(metric), "reason", value)
    const takenBy: Record<TakeReason, Metric.Metric.Counter<number>> = {
      unowned: byReason(metrics.taken, "unowned"),
      expired: byReason(metrics.taken, "expired"),
      stolen: byReason(metrics.taken, "stolen"),
      reclaimed: byReason(metrics.taken, "reclaimed")
    }
    const droppedBy: Record<LostReason, Metric.Metric.Counter<number>> = {
      taken: byReason(metrics.lost, "taken"),
      expired: byReason(metrics.lost, "expired"),
      deleted: byReason(metrics.lost, "deleted"),
      finished: byReason(metrics.released, "finished"),
      released: byReason(metrics.released, "released"),
      shutdown: byReason(metrics.released, "shutdown")
    }
    const renewalFailures = tag(metrics.renewalFailures)
    const held = tag(metrics.held)

    const holders = Effect.map(SubscriptionRef.get(state), (s) => s.holders)

    // The held gauge is set within the state's atomic update, so concurrent changes (the drops of a shutdown)
    // cannot leave it at a stale count; with its own tags only, whichever fiber made the change.
    const updateHolders = (f: (current: ReadonlyMap<string, Holder>) => ReadonlyMap<string, Holder>) =>
      SubscriptionRef.update(state, (s) => {
        const next = f(s.holders)
        if (next === s.holders) return s
        held.unsafeUpdate(next.size, [])
        return { ...s, holders: next }
      })

    // every lease this worker stops holding goes through here, once: the one place to count it
    const drop = (holder: Holder, reason: LostReason): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (holder.state !== "held") return Effect.void
        holder.state = reason
        return Effect.all([
          Deferred.succeed(holder.lost, reason),
          Metric.increment(droppedBy[reason]),
          updateHolders((current) => current.get(holder.leaseKey) === holder ? without(current, holder.leaseKey) : current)
        ], { discard: true })
      })

    const versionOf = (holder: Holder): HeldLease => ({ leaseKey: holder.leaseKey, owner: workerId, counter: holder.counter })

    /**
     * A write by the holder (renew, checkpoint, release), under its lock. A failed condition is checked
     * once: if the lease is still this worker's, the counter moved because of one of its own writes whose
     * answer was lost, and the write is made again at the current counter; otherwise the lease is dropped.
     */
    const holderWrite = (
      holder: Holder,
      operation: LeaseLost["operation"],
      write: (held: HeldLease) => Effect.Effect<Lease, LeaseLost | LeaseStoreError>
    ): Effect.Effect<Lease, LeaseLost | LeaseStoreError> =>
      Effect.gen(function*() {
        if (holder.state !== "held") {
          return yield* new LeaseLost({ leaseKey: holder.leaseKey, owner: workerId, operation, expectedCounter: holder.counter })
        }
        const started = yield* Clock.currentTimeMillis
        const lease = yield* write(versionOf(holder)).pipe(
          Effect.catchTag("LeaseLost", (lost) =>
            Effect.flatMap(store.get(holder.leaseKey), (current) => {
              if (Option.isSome(current) && current.value.owner === workerId && current.value.counter !== holder.counter) {
                holder.counter = current.value.counter
                return write(versionOf(holder))
              }
              return Effect.fail(lost)
            })),
          Effect.tapErrorTag("LeaseLost", () =>
            Effect.flatMap(
              Effect.orElseSucceed(store.get(holder.leaseKey), () => Option.some(holder.lease)),
              (current) => drop(holder, Option.isNone(current) ? "deleted" : "taken")
            ))
        )
        holder.counter = lease.counter
        holder.lease = lease
        // every successful write tells the others this worker is alive, like a renewal
        holder.renewedAt = started
        return lease
      })

    // others may take a lease once its counter stood still for a lease duration on their clocks: stop
    // before that, when the next renewal would come too late
    const expiresBeforeNextRenewal = (holder: Holder, now: number) => now + renewMillis - holder.renewedAt > leaseMillis

    const renewOne = (holder: Holder): Effect.Effect<void> =>
      holder.lock.withPermits(1)(Effect.gen(function*() {
        if (holder.state !== "held") return
        const result = yield* Effect.either(holderWrite(holder, "renew", store.renew))
        if (result._tag === "Right") return
        if (result.left._tag === "LeaseLost") {
          // stolen by a worker with fewer leases, or taken after this one failed to renew: no fault
          return yield* Effect.logInfo(`lease lost (${holder.state})`).pipe(Effect.annotateLogs("leaseKey", holder.leaseKey))
        }
        yield* Effect.logWarning("lease renewal failed", result.left).pipe(Effect.annotateLogs("leaseKey", holder.leaseKey))
        yield* Metric.increment(renewalFailures)
        if (expiresBeforeNextRenewal(holder, yield* Clock.currentTimeMillis)) yield* drop(holder, "expired")
      }))

    // Each renewal runs in its own fiber, so a hung call delays no other lease; a lease whose renewal
    // (or checkpoint) is still stuck when it is about to expire is dropped without waiting for it.
    const renewAll = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      for (const holder of (yield* holders).values()) {
        if (holder.renewing) {
          if (expiresBeforeNextRenewal(holder, now)) yield* drop(holder, "expired")
          continue
        }
        holder.renewing = true
        yield* Effect.forkIn(
          Effect.ensuring(renewOne(holder), Effect.sync(() => void (holder.renewing = false))),
          scope
        )
      }
    })

    const addHolder = (lease: Lease, acquiredAt: number) =>
      Effect.gen(function*() {
        const lost = yield* Deferred.make<LostReason>()
        const lock = yield* Effect.makeSemaphore(1)
        const owned: OwnedLease = {
          leaseKey: lease.leaseKey,
          lease,
          lost: Deferred.await(lost),
          checkpoint: (checkpoint) => checkpointOf(holder, checkpoint)
        }
        const holder: Holder = {
          leaseKey: lease.leaseKey,
          state: "held",
          counter: lease.counter,
          lease,
          renewedAt: acquiredAt,
          renewing: false,
          lock,
          lost,
          owned
        }
        yield* updateHolders((current) => new Map(current).set(lease.leaseKey, holder))
      })

    const checkpointOf = (holder: Holder, checkpoint: LeaseCheckpoint) =>
      holder.lock.withPermits(1)(Effect.gen(function*() {
        yield* holderWrite(holder, "checkpoint", (held) => store.checkpoint(held, checkpoint))
        if (checkpoint !== "SHARD_END") return
        // finished: hand the lease back so it counts for nobody, then let its children be created and taken
        yield* holderWrite(holder, "release", store.release).pipe(
          Effect.catchAll((error) => Effect.logWarning("release of a finished lease failed", error))
        )
        yield* drop(holder, "finished")
        yield* Effect.forkIn(Effect.zipRight(syncShards, takeLeases), scope)
      })).pipe(Effect.withSpan("LeaseCoordinator.checkpoint", { attributes: { leaseKey: holder.leaseKey } }))

    const release = (leaseKey: string): Effect.Effect<void, LeaseStoreError> =>
      Effect.flatMap(holders, (current) => {
        const holder = current.get(leaseKey)
        if (holder === undefined) return Effect.void
        return holder.lock.withPermits(1)(
          holderWrite(holder, "release", store.release).pipe(
            Effect.zipRight(drop(holder, "released")),
            Effect.catchTag("LeaseLost", () => Effect.void)
          )
        )
      })

    // -------------------------------------------------------------------------------------------------
    // shard sync: a lease for every shard that has none
    // -------------------------------------------------------------------------------------------------

    const syncShards: Effect.Effect<void> = syncLock.withPermits(1)(Effect.gen(function*() {
      const shards = yield* listShards
      const known = new Set((yield* store.list).map((lease) => lease.leaseKey))
      // shards named as parents were closed by a split or merge
      const closed = new Set(shards.flatMap((shard) => shard.parentShardIds))
      for (const shard of parentsFirst(shards)) {
        if (known.has(shard.shardId)) continue
        let checkpoint: LeaseCheckpoint
        if (shard.parentShardIds.some((parent) => known.has(parent)) || config.initialPosition === "TRIM_HORIZON") {
          checkpoint = "TRIM_HORIZON"
        } else if (closed.has(shard.shardId)) {
          continue
        } else {
          checkpoint = "LATEST"
        }
        const created = yield* store.createIfAbsent({
          leaseKey: shard.shardId,
          checkpoint,
          parentShardIds: shard.parentShardIds,
          hashRange: shard.hashRange
        })
        if (created) yield* Effect.logDebug("lease created").pipe(Effect.annotateLogs({ leaseKey: shard.shardId, checkpoint }))
        known.add(shard.shardId)
      }
    })).pipe(
      logFailures("shard sync failed"),
      Effect.withSpan("LeaseCoordinator.syncShards", { root: true }),
      annotate
    )

    // -------------------------------------------------------------------------------------------------
    // take round: expired and unowned leases first, else steal one from the most loaded worker
    // -------------------------------------------------------------------------------------------------

    const takeLeases: Effect.Effect<void> = takeLock.withPermits(1)(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const leases = yield* store.list
      const present = new Set<string>()
      for (const lease of leases) {
        present.add(lease.leaseKey)
        const seen = lastSeen.get(lease.leaseKey)
        if (seen === undefined || seen.counter !== lease.counter) lastSeen.set(lease.leaseKey, { counter: lease.counter, at: now })
      }
      for (const leaseKey of lastSeen.keys()) if (!present.has(leaseKey)) lastSeen.delete(leaseKey)
      const isExpired = (lease: Lease) => now - lastSeen.get(lease.leaseKey)!.at > leaseMillis

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
            // a parent found absent while its child exists never gets a lease later: no need to read again
            if (Option.isNone(read)) absentParents.add(parentKey)
            done = Option.match(read, { onNone: () => true, onSome: isShardEnd })
          }
          parentDone.set(parentKey, done)
          return done
        })

      const held = yield* holders
      const counts = new Map<string, number>([[workerId, 0]])
      const available: Array<Lease> = []
      const byOwner = new Map<string, Array<Lease>>()
      let ready = 0
      for (const lease of leases) {
        if (isShardEnd(lease)) continue
        let parentsDone = true
        for (const parent of lease.parentShardIds) {
          if (!(yield* isParentDone(parent))) {
            parentsDone = false
            break
          }
        }
        if (!parentsDone) continue
        ready++
        if (held.has(lease.leaseKey)) {
          counts.set(workerId, counts.get(workerId)! + 1)
        } else if (lease.owner === null || lease.owner === workerId || isExpired(lease)) {
          // unowned, expired, or this worker's from an earlier holder whose state was lost: take it
          available.push(lease)
        } else {
          counts.set(lease.owner, (counts.get(lease.owner) ?? 0) + 1)
          const owned = byOwner.get(lease.owner)
          if (owned === undefined) byOwner.set(lease.owner, [lease])
          else owned.push(lease)
        }
      }

      // the even share: ceil(leases / workers), workers being those holding unexpired leases, and this one
      const workers = counts.size
      const target = Math.min(workers >= ready ? 1 : Math.ceil(ready / workers), config.maxLeasesPerWorker)
      const needed = target - counts.get(workerId)!
      if (needed <= 0) return

      let toTake: ReadonlyArray<Lease>
      let stealing = false
      if (available.length > 0) {
        // shuffled, so workers taking at the same time rarely go for the same leases
        toTake = Chunk.toReadonlyArray(yield* Random.shuffle(available)).slice(0, needed)
      } else {
        let mostLoaded: string | undefined
        for (const [owner, count] of counts) {
          if (owner !== workerId && (mostLoaded === undefined || count > counts.get(mostLoaded)!)) mostLoaded = owner
        }
        if (mostLoaded === undefined) return
        const load = counts.get(mostLoaded)!
        if (load < target) return
        let steal = Math.min(needed, load - target)
        // the most loaded worker is at the target but this one is more than one short: take one anyway
        if (needed > 1 && steal === 0) steal = 1
        steal = Math.min(steal, config.maxLeasesToStealAtOneTime)
        if (steal <= 0) return
        toTake = Chunk.toReadonlyArray(yield* Random.shuffle(byOwner.get(mostLoaded)!)).slice(0, steal)
        stealing = true
        yield* Effect.logDebug("stealing leases").pipe(Effect.annotateLogs({ from: mostLoaded, count: steal }))
      }

      for (const lease of toTake) {
        // as `available` was filled: no owner, this worker, or expired
        const why: TakeReason = stealing
          ? "stolen"
          : lease.owner === null
          ? "unowned"
          : lease.owner === workerId
          ? "reclaimed"
          : "expired"
        const acquiredAt = yield* Clock.currentTimeMillis
        yield* store.acquire(lease, workerId).pipe(
          Effect.flatMap((acquired) => {
            lastSeen.set(acquired.leaseKey, { counter: acquired.counter, at: acquiredAt })
            return Effect.zipRight(addHolder(acquired, acquiredAt), Metric.increment(takenBy[why]))
          }),
          // another worker was faster: nothing lost
          Effect.catchTag("LeaseConflict", () => Effect.void),
          Effect.catchTag("LeaseStoreError", (error) => Effect.logWarning("lease acquisition failed", error)),
          // a shutdown must not come between the write and the holder that releases it
          Effect.uninterruptible
        )
      }
    })).pipe(
      logFailures("take round failed"),
      Effect.withSpan("LeaseCoordinator.takeLeases", { root: true }),
      annotate
    )

    // -------------------------------------------------------------------------------------------------
    // lifecycle
    // -------------------------------------------------------------------------------------------------

    // Registered before the loops are forked, so it runs after they are interrupted (finalizers run in
    // reverse order). Each release waits for the lease's checkpoint in flight, if any.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        const current = yield* holders
        yield* Effect.forEach(current.values(), (holder) =>
          holder.lock.withPermits(1)(Effect.gen(function*() {
            if (holder.state !== "held") return
            if (config.releaseOnShutdown) {
              yield* holderWrite(holder, "release", store.release).pipe(
                // taken by another worker in the meantime: nothing to hand over
                Effect.catchTag("LeaseLost", () => Effect.void),
                Effect.catchAll((error) => Effect.logWarning("release at shutdown failed", error))
              )
            }
            yield* drop(holder, "shutdown")
          })), { concurrency: "unbounded", discard: true })
        yield* SubscriptionRef.update(state, (s) => ({ ...s, closed: true }))
      }).pipe(annotate))

    const every = (interval: Duration.Duration, effect: Effect.Effect<void>) =>
      Effect.forever(Effect.zipRight(Effect.sleep(interval), effect))

    // every round is a trace of its own (see Pipeline.runShard): a worker's life would be one endless trace
    yield* Effect.forkScoped(annotate(every(
      config.renewInterval,
      logFailures("renewals failed")(renewAll).pipe(Effect.withSpan("LeaseCoordinator.renewLeases", { root: true }))
    )))
    yield* Effect.forkScoped(Effect.zipRight(
      Effect.zipRight(syncShards, takeLeases),
      Effect.zipRight(
        Effect.forkScoped(every(config.shardSyncInterval, syncShards)),
        every(config.takeInterval, takeLeases)
      )
    ))

    const changes: Stream.Stream<LeaseEvent> = state.changes.pipe(
      Stream.mapAccum(
        new Map<string, Holder>() as ReadonlyMap<string, Holder>,
        (previous, next): readonly [ReadonlyMap<string, Holder>, readonly [ReadonlyArray<LeaseEvent>, boolean]] => {
          const events: Array<LeaseEvent> = []
          for (const [leaseKey, holder] of previous) {
            if (next.holders.get(leaseKey) !== holder) {
              events.push({ _tag: "Lost", leaseKey, reason: holder.state === "held" ? "released" : holder.state })
            }
          }
          for (const [leaseKey, holder] of next.holders) {
            if (previous.get(leaseKey) !== holder) events.push({ _tag: "Acquired", lease: holder.owned })
          }
          return [next.holders, [events, next.closed]] as const
        }
      ),
      Stream.takeUntil(([, closed]) => closed),
      Stream.flatMap(([events]) => Stream.fromIterable(events))
    )

    return {
      workerId,
      settings: config,
      owned: Effect.map(holders, (current) => new Map(Array.from(current, ([leaseKey, holder]) => [leaseKey, holder.owned]))),
      changes,
      release,
      syncShards,
      takeLeases
    }
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = <E, R>(options: Options<E, R>): Layer.Layer<LeaseCoordinator, never, LeaseStore | R> =>
  Layer.scoped(LeaseCoordinator, make(options))

// ---------------------------------------------------------------------------------------------------------
// internal
// ---------------------------------------------------------------------------------------------------------

interface State {
  readonly holders: ReadonlyMap<string, Holder>
  readonly closed: boolean
}

interface Holder {
  readonly leaseKey: string
  state: "held" | LostReason
  /** The counter of this worker's last write: the next write expects it. */
  counter: number
  lease: Lease
  /** When the last successful write was sent (this clock). */
  renewedAt: number
  /** A renewal is in flight (or waiting for the lock). */
  renewing: boolean
  /** Serializes this worker's writes to the lease: renewals, checkpoints, the release. */
  readonly lock: Effect.Semaphore
  readonly lost: Deferred.Deferred<LostReason>
  readonly owned: OwnedLease
}

const without = <K, V>(map: ReadonlyMap<K, V>, key: K): ReadonlyMap<K, V> => {
  const copy = new Map(map)
  copy.delete(key)
  return copy
}

/** Background rounds never fail: a failure is logged and the next round tries again. */
const logFailures = (message: string) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<void, never, R> =>
  Effect.catchAllCause(Effect.asVoid(effect), (cause) =>
    Cause.isInterruptedOnly(cause) ? Effect.failCause(cause as Cause.Cause<never>) : Effect.logWarning(message, cause))

/** Parents before their children (by depth in the listed family tree). */
const parentsFirst = (shards: ReadonlyArray<ShardInfo>): ReadonlyArray<ShardInfo> => {
  const byId = new Map(shards.map((shard) => [shard.shardId, shard]))
  const depths = new Map<string, number>()
  const depthOf = (shard: ShardInfo, visiting: Set<string>): number => {
    const known = depths.get(shard.shardId)
    if (known !== undefined) return known
    if (visiting.has(shard.shardId)) return 0
    visiting.add(shard.shardId)
    let depth = 0
    for (const parentId of shard.parentShardIds) {
      const parent = byId.get(parentId)
      if (parent !== undefined) depth = Math.max(depth, depthOf(parent, visiting) + 1)
    }
    depths.set(shard.shardId, depth)
    return depth
  }
  return shards.map((shard) => ({ shard, depth: depthOf(shard, new Set()) }))
    .sort((a, b) => a.depth - b.depth)
    .map(({ shard }) => shard)
}
