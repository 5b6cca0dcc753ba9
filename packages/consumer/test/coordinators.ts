/**
 * Coordinators on a memory lease store driven by the TestClock: workers, the lease table as owners see it,
 * and their metrics.
 */
import { expect } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as LeaseStore from "@tributary/core/LeaseStore"
import * as LeaseCoordinator from "../src/LeaseCoordinator.js"

export const hashRange = { start: "0", end: "340282366920938463463374607431768211455" }
export const shard = (shardId: string, parentShardIds: ReadonlyArray<string> = []): LeaseCoordinator.ShardInfo => ({
  shardId,
  parentShardIds,
  hashRange
})
export const shards = (n: number) => Array.from({ length: n }, (_, i) => shard(`shardId-${String(i).padStart(12, "0")}`))

// the defaults: lease 10 s, renew every 3.3 s, take every 10 s
export const leaseDuration = 10_000
export const takeInterval = 10_000

/**
 * Lets virtual time pass. The TestClock wakes every sleeper due in between in order, and waits for all
 * fibers to settle after each, so one adjustment is as good as many small ones.
 */
export const advance = (millis: number) => TestClock.adjust(Duration.millis(millis))

export interface Worker {
  readonly id: string
  readonly coordinator: LeaseCoordinator.LeaseCoordinatorShape
  /** Closes the coordinator's scope (a graceful stop, or a crash with `releaseOnShutdown: false`). */
  readonly stop: Effect.Effect<void>
  /** Every event of `changes`, in order: `+<leaseKey>` for Acquired, `-<leaseKey>:<reason>` for Lost. */
  readonly events: Effect.Effect<ReadonlyArray<string>>
  /** The same events with the (test) clock's time of each. */
  readonly timeline: Effect.Effect<ReadonlyArray<readonly [number, string]>>
}

export const startWorker = (
  id: string,
  listShards: Effect.Effect<ReadonlyArray<LeaseCoordinator.ShardInfo>>,
  options: Partial<LeaseCoordinator.Options> = {}
) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    // no runner here: a lease asked for is handed over as soon as the request is seen, as a runner that
    // lets go at once would
    const coordinator = yield* LeaseCoordinator.make({
      workerId: id,
      listShards,
      initialPosition: "TRIM_HORIZON",
      handoffTimeout: 0,
      ...options
    })
      .pipe(Scope.extend(scope))
    const log = yield* Ref.make<ReadonlyArray<readonly [number, string]>>([])
    yield* coordinator.changes.pipe(
      Stream.runForEach((event) =>
        Effect.flatMap(Clock.currentTimeMillis, (at) =>
          Ref.update(log, (events) => [
            ...events,
            [at, event._tag === "Acquired" ? `+${event.lease.leaseKey}` : `-${event.leaseKey}:${event.reason}`] as const
          ]))
      ),
      // not in the worker's scope: the Lost events of its shutdown come after that scope's fibers stop
      Effect.fork
    )
    const worker: Worker = {
      id,
      coordinator,
      stop: Scope.close(scope, Exit.void),
      events: Effect.map(Ref.get(log), (events) => events.map(([, event]) => event)),
      timeline: Ref.get(log)
    }
    return worker
  })

/** How many unfinished leases each owner holds, as the store says ("" for none). */
export const ownership = Effect.gen(function*() {
  const store = yield* LeaseStore.LeaseStore
  const counts: Record<string, number> = {}
  for (const lease of yield* store.list) {
    if (LeaseStore.isShardEnd(lease)) continue
    const owner = lease.owner ?? ""
    counts[owner] = (counts[owner] ?? 0) + 1
  }
  return counts
})

export const ownersOf = Effect.gen(function*() {
  const store = yield* LeaseStore.LeaseStore
  return new Map((yield* store.list).map((lease) => [lease.leaseKey, lease.owner]))
})

/** Each worker's own view agrees with the store. */
export const expectViewsAgree = (workers: ReadonlyArray<Worker>) =>
  Effect.gen(function*() {
    const owners = yield* ownersOf
    for (const worker of workers) {
      const owned = yield* worker.coordinator.owned
      for (const leaseKey of owned.keys()) expect(owners.get(leaseKey), `${worker.id} holds ${leaseKey}`).toBe(worker.id)
      const inStore = [...owners].filter(([, owner]) => owner === worker.id).map(([leaseKey]) => leaseKey).sort()
      expect([...owned.keys()].sort(), worker.id).toStrictEqual(inStore)
    }
  })

/**
 * A worker's lease metrics (tags application, worker, reason, in that order): held, and every count that
 * is not 0, as "taken.stolen" and so on.
 */
export const leaseMetrics = (application: string, worker: string) =>
  Effect.gen(function*() {
    const { metrics } = LeaseCoordinator
    const tag = <T, I, O>(metric: Metric.Metric<T, I, O>) =>
      metric.pipe(Metric.tagged("application", application), Metric.tagged("worker", worker))
    const out: Record<string, number> = { held: (yield* Metric.value(tag(metrics.held))).value }
    const counts = {
      taken: ["unowned", "expired", "stolen", "reclaimed"],
      lost: ["taken", "expired", "deleted"],
      released: ["finished", "released", "shutdown", "handedOver"]
    } as const
    for (const [name, reasons] of Object.entries(counts)) {
      for (const reason of reasons) {
        const { count } = yield* Metric.value(Metric.tagged(tag(metrics[name as keyof typeof counts]), "reason", reason))
        if (count > 0) out[`${name}.${reason}`] = count
      }
    }
    const failures = (yield* Metric.value(tag(metrics.renewalFailures))).count
    if (failures > 0) out.renewalFailures = failures
    return out
  })

export const provideStore = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, LeaseStore.layerMemory)
