/**
 * The cleanup of finished leases: on a memory lease store with the TestClock, and on dynalite (the listing
 * is the test's: a closed shard expires from ListShards only after the stream's retention, 24 hours at
 * least, also on the emulators).
 */
import { describe, expect, it, layer } from "@effect/vitest"
import * as LeaseStore from "@tributary/core/LeaseStore"
import { DynamoDBLeaseStore } from "@tributary/dynamodb"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as LeaseCoordinator from "../src/LeaseCoordinator.js"
import { advance, provideStore, shard, startWorker, type Worker } from "./coordinators.js"
import { emulators, uniqueName, waitUntil } from "./helpers.js"

const checkpointAt = (n: number) => ({ sequenceNumber: String(n), subSequenceNumber: 0 })

const keys = Effect.flatMap(LeaseStore.LeaseStore, (store) => Effect.map(store.list, (leases) => leases.map((l) => l.leaseKey).sort()))

const cleaned = (application: string, worker: string) =>
  Effect.map(
    Metric.value(LeaseCoordinator.metrics.cleaned.pipe(Metric.tagged("application", application), Metric.tagged("worker", worker))),
    (state) => state.count
  )

/** Checkpoints a lease the worker holds, or finishes it. */
const checkpoint = (worker: Worker, leaseKey: string, at: number | "SHARD_END") =>
  Effect.flatMap(worker.coordinator.owned, (owned) => owned.get(leaseKey)!.checkpoint(at === "SHARD_END" ? at : checkpointAt(at)))

describe("lease cleanup", () => {
  it.effect("a finished lease goes once its shard expired and its children started, and is never created again", () =>
    provideStore(Effect.gen(function*() {
      const store = yield* LeaseStore.LeaseStore
      // p splits into c1 and c2
      const listed = yield* Ref.make([shard("p"), shard("c1", ["p"]), shard("c2", ["p"])])
      const w1 = yield* startWorker("w1", Ref.get(listed), { application: "cleanup" })
      yield* advance(500)
      yield* checkpoint(w1, "p", "SHARD_END")
      yield* advance(500)
      expect([...(yield* w1.coordinator.owned).keys()].sort()).toStrictEqual(["c1", "c2"])

      // p expires from the listing, but c2 has not started: p stays
      yield* Ref.set(listed, [shard("c1", ["p"]), shard("c2", ["p"])])
      yield* checkpoint(w1, "c1", 10)
      yield* w1.coordinator.syncShards
      expect(yield* keys).toStrictEqual(["c1", "c2", "p"])
      // both children started: p goes at the next sync
      yield* checkpoint(w1, "c2", 20)
      yield* w1.coordinator.syncShards
      expect(yield* keys).toStrictEqual(["c1", "c2"])
      expect(yield* cleaned("cleanup", "w1")).toBe(1)

      // listed again (a listing that lags), p is not created anew: its children hold leases
      yield* Ref.set(listed, [shard("p"), shard("c1", ["p"]), shard("c2", ["p"])])
      yield* w1.coordinator.syncShards
      yield* advance(10_000)
      expect(yield* keys).toStrictEqual(["c1", "c2"])
      // and the children, whose parent is gone, are not held back by it
      expect([...(yield* w1.coordinator.owned).keys()].sort()).toStrictEqual(["c1", "c2"])
      expect(Option.getOrThrow(yield* store.get("c1")).checkpoint).toStrictEqual(checkpointAt(10))
      yield* w1.stop
    })))

  it.effect("a chain goes from the top: the grandparent once its child finished, the parent once the grandchild started", () =>
    provideStore(Effect.gen(function*() {
      const listed = yield* Ref.make([shard("g"), shard("p", ["g"]), shard("c", ["p"])])
      const w1 = yield* startWorker("w1", Ref.get(listed), { application: "cleanup-chain" })
      yield* advance(500)
      yield* checkpoint(w1, "g", "SHARD_END")
      yield* advance(500)
      yield* checkpoint(w1, "p", 5)
      yield* checkpoint(w1, "p", "SHARD_END")
      yield* advance(500)
      expect([...(yield* w1.coordinator.owned).keys()]).toStrictEqual(["c"])
      // g and p expire; g's child p finished, so g goes; c has not started, so p stays
      yield* Ref.set(listed, [shard("c", ["p"])])
      yield* w1.coordinator.syncShards
      expect(yield* keys).toStrictEqual(["c", "p"])
      yield* checkpoint(w1, "c", 1)
      yield* w1.coordinator.syncShards
      expect(yield* keys).toStrictEqual(["c"])
      expect(yield* cleaned("cleanup-chain", "w1")).toBe(2)
      yield* w1.stop
    })))

  it.effect("cleanupLeases: false keeps finished leases", () =>
    provideStore(Effect.gen(function*() {
      const listed = yield* Ref.make([shard("p"), shard("c", ["p"])])
      const w1 = yield* startWorker("w1", Ref.get(listed), { cleanupLeases: false })
      yield* advance(500)
      yield* checkpoint(w1, "p", "SHARD_END")
      yield* advance(500)
      yield* checkpoint(w1, "c", 1)
      yield* Ref.set(listed, [shard("c", ["p"])])
      yield* w1.coordinator.syncShards
      expect(yield* keys).toStrictEqual(["c", "p"])
      yield* w1.stop
    })))
})

layer(emulators, { excludeTestServices: true, timeout: 60_000 })("lease cleanup (dynalite, live clock)", (it) => {
  it.scoped("two workers; the finished lease is deleted from the table once expired, by one of them, once", () =>
    Effect.gen(function*() {
      const store = yield* DynamoDBLeaseStore.make({ tableName: uniqueName("cleanup") })
      const listed = yield* Ref.make([shard("p"), shard("c1", ["p"]), shard("c2", ["p"])])
      const start = (workerId: string) =>
        Effect.gen(function*() {
          const scope = yield* Scope.make()
          yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
          return yield* LeaseCoordinator.make({
            workerId,
            application: "cleanup-dynalite",
            listShards: Ref.get(listed),
            initialPosition: "TRIM_HORIZON",
            leaseDuration: "600 millis",
            shardSyncInterval: "200 millis",
            handoffTimeout: 0
          }).pipe(Scope.extend(scope), Effect.provideService(LeaseStore.LeaseStore, store))
        })
      const [w1, w2] = [yield* start("w1"), yield* start("w2")]
      const holderOf = (leaseKey: string) =>
        Effect.map(Effect.all([w1.owned, w2.owned]), (owned) => owned.find((o) => o.has(leaseKey))?.get(leaseKey))
      yield* waitUntil("p is held", Effect.map(holderOf("p"), (o) => o !== undefined), 10_000)
      yield* (yield* holderOf("p"))!.checkpoint("SHARD_END")
      yield* waitUntil("c1 and c2 are held", Effect.map(Effect.all([holderOf("c1"), holderOf("c2")]), (o) => o.every((x) => x !== undefined)), 10_000)
      for (const child of ["c1", "c2"]) yield* (yield* holderOf(child))!.checkpoint(checkpointAt(1))
      yield* Ref.set(listed, [shard("c1", ["p"]), shard("c2", ["p"])])
      yield* waitUntil("p is deleted", Effect.map(store.get("p"), Option.isNone), 10_000)
      // a few more syncs by both: deleted once, and not created again
      yield* Effect.sleep("600 millis")
      expect((yield* store.list).map((l) => l.leaseKey).sort()).toStrictEqual(["c1", "c2"])
      expect((yield* cleaned("cleanup-dynalite", "w1")) + (yield* cleaned("cleanup-dynalite", "w2"))).toBe(1)
    }))
})
