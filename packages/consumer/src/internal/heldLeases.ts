/**
 * The leases a coordinator holds: one holder per lease, its writes (renewals, checkpoints, the release)
 * serialized under its lock, and the state every change goes through, which `changes` turns into
 * `Acquired` and `Lost` events. Every lease this worker stops holding goes through `drop`, once: the one
 * place its loss is counted and announced.
 *
 * A handoff request (another worker asked for a lease) shows in the lease any write of the owner
 * returns: the holder then tells the runner (`OwnedLease.handoffRequested`), which finishes its batch and
 * lets the lease go (`release`), and the lease goes to the requester. A runner that does not react within
 * `handoffTimeout` has the lease handed over anyway.
 */
import type { HeldLease, Lease, LeaseCheckpoint, LeaseStoreError, LeaseStoreShape } from "@tributary/core/LeaseStore"
import { LeaseLost } from "@tributary/core/LeaseStore"
import type { Checkpoint } from "@tributary/core/RecordSource"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as LoadMeter from "./loadMeter.js"

/**
 * Why a lease is no longer held (see `LeaseCoordinator.LostReason`).
 */
export type LostReason = "taken" | "expired" | "deleted" | "finished" | "released" | "shutdown" | "handedOver"

/** A lease this worker holds (see `LeaseCoordinator.OwnedLease`). */
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
  /**
   * Completes, with the requester's worker id, when another worker asked for the lease (to even out the
   * load): finish the batch in flight, checkpoint, then `release` the lease, which goes to the requester.
   * Past `handoffTimeout` the coordinator hands it over anyway (`Lost`, reason `handedOver`).
   */
  readonly handoffRequested: Effect.Effect<string>
  /**
   * Counts records and bytes read from the shard, a page at a time: with throughput-aware assignment
   * (`balance`), the renewals publish the lease's load from these counts.
   */
  readonly countRead: (records: number, bytes: number) => Effect.Effect<void>
}

/** A change of the set of held leases (see `LeaseCoordinator.LeaseEvent`). */
export type LeaseEvent =
  | { readonly _tag: "Acquired"; readonly lease: OwnedLease }
  | { readonly _tag: "Lost"; readonly leaseKey: string; readonly reason: LostReason }

/** One held lease. */
export interface Holder {
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
  /** Completed with the requester once a write returned the lease asked for. */
  readonly handoff: Deferred.Deferred<string>
  readonly owned: OwnedLease
  /** What the runner read from the shard, as rates for the renewals to publish. */
  readonly meter: LoadMeter.LoadMeter
}

export interface Options {
  readonly workerId: string
  readonly store: LeaseStoreShape
  readonly leaseMillis: number
  readonly renewMillis: number
  /** Counted once per lease let go, by reason. */
  readonly dropped: Readonly<Record<LostReason, Metric.Metric.Counter<number>>>
  readonly held: Metric.Metric.Gauge<number>
  /** Forked after a lease is handed back at SHARD_END: the children are looked for and taken. */
  readonly afterShardEnd: Effect.Effect<void>
  /** How long the runner has to let a lease go once another worker asked for it. */
  readonly handoffMillis: number
  /** Where the work forked after SHARD_END runs. */
  readonly scope: Scope.Scope
}

export interface HeldLeases {
  readonly holders: Effect.Effect<ReadonlyMap<string, Holder>>
  readonly owned: Effect.Effect<ReadonlyMap<string, OwnedLease>>
  /** `Acquired` for every lease held when it is run, then every change; ends once `close` was called. */
  readonly changes: Stream.Stream<LeaseEvent>
  /** A lease just acquired, at `acquiredAt` (this clock). */
  readonly add: (lease: Lease, acquiredAt: number) => Effect.Effect<void>
  readonly drop: (holder: Holder, reason: LostReason) => Effect.Effect<void>
  /**
   * A write by the holder (renew, checkpoint, release). A failed condition is checked once: if the lease is
   * still this worker's, the counter moved because of one of its own writes whose answer was lost, and the
   * write is made again at the current counter; otherwise the lease is dropped.
   */
  readonly write: (
    holder: Holder,
    operation: LeaseLost["operation"],
    f: (held: HeldLease) => Effect.Effect<Lease, LeaseLost | LeaseStoreError>
  ) => Effect.Effect<Lease, LeaseLost | LeaseStoreError>
  /** Hands one lease over now: to the worker that asked for it, if one did. */
  readonly release: (leaseKey: string) => Effect.Effect<void, LeaseStoreError>
  /** Others may take a lease once its counter stood still for a lease duration: true when the next renewal would come too late. */
  readonly expiresBeforeNextRenewal: (holder: Holder, now: number) => boolean
  /** Drops every lease (releasing it first, unless told not to) and ends `changes`. */
  readonly close: (release: boolean) => Effect.Effect<void>
}

interface State {
  readonly holders: ReadonlyMap<string, Holder>
  readonly closed: boolean
}

export const make = (options: Options): Effect.Effect<HeldLeases> =>
  Effect.gen(function*() {
    const { store, workerId } = options
    const state = yield* SubscriptionRef.make<State>({ holders: new Map(), closed: false })
    const holders = Effect.map(SubscriptionRef.get(state), (s) => s.holders)

    // The held gauge is set within the state's atomic update, so concurrent changes (the drops of a shutdown)
    // cannot leave it at a stale count; with its own tags only, whichever fiber made the change.
    const updateHolders = (f: (current: ReadonlyMap<string, Holder>) => ReadonlyMap<string, Holder>) =>
      SubscriptionRef.update(state, (s) => {
        const next = f(s.holders)
        if (next === s.holders) return s
        options.held.unsafeUpdate(next.size, [])
        return { ...s, holders: next }
      })

    const drop = (holder: Holder, reason: LostReason): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (holder.state !== "held") return Effect.void
        holder.state = reason
        return Effect.all([
          Deferred.succeed(holder.lost, reason),
          Metric.increment(options.dropped[reason]),
          updateHolders((current) => current.get(holder.leaseKey) === holder ? without(current, holder.leaseKey) : current)
        ], { discard: true })
      })

    const versionOf = (holder: Holder): HeldLease => ({ leaseKey: holder.leaseKey, owner: workerId, counter: holder.counter })

    const write: HeldLeases["write"] = (holder, operation, f) =>
      Effect.gen(function*() {
        if (holder.state !== "held") {
          return yield* new LeaseLost({ leaseKey: holder.leaseKey, owner: workerId, operation, expectedCounter: holder.counter })
        }
        const started = yield* Clock.currentTimeMillis
        const lease = yield* f(versionOf(holder)).pipe(
          Effect.catchTag("LeaseLost", (lost) =>
            Effect.flatMap(store.get(holder.leaseKey), (current) => {
              if (Option.isSome(current) && current.value.owner === workerId && current.value.counter !== holder.counter) {
                holder.counter = current.value.counter
                return f(versionOf(holder))
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
        const requester = requesterOf(holder)
        if (requester !== undefined && (yield* Deferred.succeed(holder.handoff, requester))) {
          yield* Effect.logInfo("handoff requested").pipe(Effect.annotateLogs({ leaseKey: holder.leaseKey, requester }))
          // a runner that does not let go in time: hand the lease over anyway
          yield* Effect.forkIn(
            Effect.zipRight(Effect.sleep(options.handoffMillis), holder.lock.withPermits(1)(letGo(holder, "released"))).pipe(
              Effect.catchAll((error) => Effect.logWarning("handoff failed; the lease will expire", error))
            ),
            options.scope
          )
        }
        return lease
      })

    /**
     * Lets a held lease go (under its lock): to the worker that asked for it, if one did, else to whoever
     * takes it. A lease found taken meanwhile has nothing to hand over.
     */
    const letGo = (holder: Holder, reason: LostReason): Effect.Effect<void, LeaseStoreError> =>
      Effect.suspend(() => {
        if (holder.state !== "held") return Effect.void
        const requester = requesterOf(holder)
        return (requester === undefined
          ? Effect.zipRight(write(holder, "release", store.release), drop(holder, reason))
          : Effect.zipRight(write(holder, "handOver", (held) => store.handOver(held, requester)), drop(holder, "handedOver"))
        ).pipe(Effect.catchTag("LeaseLost", () => Effect.void))
      })

    const checkpointOf = (holder: Holder, checkpoint: LeaseCheckpoint) =>
      holder.lock.withPermits(1)(Effect.gen(function*() {
        yield* write(holder, "checkpoint", (held) => store.checkpoint(held, checkpoint))
        if (checkpoint !== "SHARD_END") return
        // finished: hand the lease back so it counts for nobody, then let its children be created and taken
        yield* write(holder, "release", store.release).pipe(
          Effect.catchAll((error) => Effect.logWarning("release of a finished lease failed", error))
        )
        yield* drop(holder, "finished")
        yield* Effect.forkIn(options.afterShardEnd, options.scope)
      })).pipe(Effect.withSpan("LeaseCoordinator.checkpoint", { attributes: { leaseKey: holder.leaseKey } }))

    const add = (lease: Lease, acquiredAt: number) =>
      Effect.gen(function*() {
        const lost = yield* Deferred.make<LostReason>()
        const handoff = yield* Deferred.make<string>()
        const lock = yield* Effect.makeSemaphore(1)
        const meter = LoadMeter.make(acquiredAt, lease.load)
        const owned: OwnedLease = {
          leaseKey: lease.leaseKey,
          lease,
          lost: Deferred.await(lost),
          checkpoint: (checkpoint) => checkpointOf(holder, checkpoint),
          handoffRequested: Deferred.await(handoff),
          countRead: (records, bytes) => Effect.sync(() => meter.count(records, bytes))
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
          handoff,
          owned,
          meter
        }
        yield* updateHolders((current) => new Map(current).set(lease.leaseKey, holder))
      })

    const release = (leaseKey: string): Effect.Effect<void, LeaseStoreError> =>
      Effect.flatMap(holders, (current) => {
        const holder = current.get(leaseKey)
        return holder === undefined ? Effect.void : holder.lock.withPermits(1)(letGo(holder, "released"))
      })

    // Each release waits for the lease's checkpoint in flight, if any.
    const close = (releaseAll: boolean) =>
      Effect.gen(function*() {
        const current = yield* holders
        yield* Effect.forEach(current.values(), (holder) =>
          holder.lock.withPermits(1)(Effect.gen(function*() {
            if (holder.state !== "held") return
            if (releaseAll) {
              yield* letGo(holder, "shutdown").pipe(
                Effect.catchAll((error) => Effect.logWarning("release at shutdown failed", error))
              )
            }
            yield* drop(holder, "shutdown")
          })), { concurrency: "unbounded", discard: true })
        yield* SubscriptionRef.update(state, (s) => ({ ...s, closed: true }))
      })

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

    const held: HeldLeases = {
      holders,
      owned: Effect.map(holders, (current) => new Map(Array.from(current, ([leaseKey, holder]) => [leaseKey, holder.owned]))),
      changes,
      add,
      drop,
      write,
      release,
      expiresBeforeNextRenewal: (holder, now) => now + options.renewMillis - holder.renewedAt > options.leaseMillis,
      close
    }
    return held
  })

/** The worker another one asked the holder to hand the lease over to, as the holder's last write saw it. */
const requesterOf = (holder: Holder): string | undefined => {
  const requester = holder.lease.handoffTo
  return requester === undefined || requester === holder.lease.owner ? undefined : requester
}

const without = <K, V>(map: ReadonlyMap<K, V>, key: K): ReadonlyMap<K, V> => {
  const copy = new Map(map)
  copy.delete(key)
  return copy
}
