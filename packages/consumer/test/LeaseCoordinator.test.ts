import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as FiberMap from "effect/FiberMap"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as LeaseStore from "@tributary/core/LeaseStore"
import * as LeaseCoordinator from "../src/LeaseCoordinator.js"
import {
  advance,
  expectViewsAgree,
  leaseDuration,
  leaseMetrics,
  ownersOf,
  ownership,
  provideStore,
  shard,
  shards,
  startWorker,
  takeInterval
} from "./coordinators.js"

describe("LeaseCoordinator", () => {
  it("settings: KCL-like defaults, and invalid options are InvalidOptions naming the option", () => {
    const settings = (options: LeaseCoordinator.ConfigOptions) => Either.getOrThrow(LeaseCoordinator.settings(options))
    const defaults = settings({})
    expect(Duration.toMillis(defaults.leaseDuration)).toBe(10_000)
    expect(Duration.toMillis(defaults.renewInterval)).toBeCloseTo(3_333.33, 1)
    expect(Duration.toMillis(defaults.takeInterval)).toBe(10_000)
    expect(Duration.toMillis(defaults.handoffTimeout)).toBe(30_000)
    expect(Duration.toMillis(defaults.shardSyncInterval)).toBe(60_000)
    expect(defaults).toMatchObject({
      initialPosition: "LATEST",
      maxLeasesPerWorker: Number.POSITIVE_INFINITY,
      maxLeasesToStealAtOneTime: 1,
      releaseOnShutdown: true,
      balance: "leases"
    })
    expect(defaults.workerId).toMatch(/^.+:\d+:[0-9a-f]{8}$/)
    expect(LeaseCoordinator.defaultWorkerId()).not.toBe(LeaseCoordinator.defaultWorkerId())
    expect(Duration.toMillis(settings({ leaseDuration: "3 seconds" }).takeInterval)).toBe(3_000)
    expect(settings({ initialPosition: { atTimestamp: new Date(1_700_000_000_000) } }).initialPosition).toStrictEqual({
      atTimestamp: 1_700_000_000_000
    })
    const invalid = (options: LeaseCoordinator.ConfigOptions) =>
      Either.match(LeaseCoordinator.settings(options), { onLeft: (error) => error.message, onRight: () => "valid" })
    expect(invalid({ renewInterval: "10 seconds" })).toBe(
      "LeaseCoordinator: renewInterval must be shorter than leaseDuration (a lease would expire between renewals)"
    )
    expect(invalid({ leaseDuration: 0 })).toBe("LeaseCoordinator: leaseDuration must be a positive finite duration, got 0")
    expect(invalid({ maxLeasesToStealAtOneTime: 0 })).toBe("LeaseCoordinator: maxLeasesToStealAtOneTime must be a positive integer")
    expect(invalid({ workerId: "" })).toBe("LeaseCoordinator: workerId must not be empty")
    expect(invalid({ initialPosition: { atTimestamp: new Date("never") } })).toBe(
      "LeaseCoordinator: initialPosition atTimestamp must be a valid time"
    )
    expect(invalid({ balance: "cpu" as "bytes" })).toBe(`LeaseCoordinator: balance must be "leases", "records" or "bytes"`)
  })

  it.effect("make fails with InvalidOptions; config reads the documented variables", () =>
    provideStore(Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(LeaseCoordinator.make({ listShards: Effect.succeed([]), leaseDuration: -1 })))
      expect([error._tag, error.option]).toStrictEqual(["InvalidOptions", "leaseDuration"])
      const read = yield* LeaseCoordinator.config.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map([
        ["WORKER_ID", "w9"],
        ["LEASE_DURATION", "2 seconds"],
        ["TAKE_INTERVAL", "1500"],
        ["INITIAL_POSITION", "TRIM_HORIZON"],
        ["MAX_LEASES_PER_WORKER", "4"],
        ["RELEASE_ON_SHUTDOWN", "false"],
        ["BALANCE", "bytes"]
      ]))))
      const resolved = Either.getOrThrow(LeaseCoordinator.settings(read))
      expect([
        resolved.workerId,
        Duration.toMillis(resolved.leaseDuration),
        Duration.toMillis(resolved.takeInterval),
        resolved.initialPosition,
        resolved.maxLeasesPerWorker,
        resolved.releaseOnShutdown,
        resolved.maxLeasesToStealAtOneTime,
        resolved.balance
      ]).toStrictEqual(["w9", 2_000, 1_500, "TRIM_HORIZON", 4, false, 1, "bytes"])
      const bad = yield* Effect.flip(LeaseCoordinator.config.pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["LEASE_DURATION", "soon"]])))
      ))
      expect(String(bad)).toContain("LEASE_DURATION")
    })))

  it.effect("3 workers on 8 shards settle to an even split within 3 take intervals, and stay there", () =>
    provideStore(Effect.gen(function*() {
      const list = Effect.succeed(shards(8))
      const workers = [yield* startWorker("w1", list), yield* startWorker("w2", list), yield* startWorker("w3", list)]
      yield* advance(3 * takeInterval + leaseDuration)
      const settled = yield* ownership
      expect(Object.keys(settled).sort()).toStrictEqual(["w1", "w2", "w3"])
      expect(Object.values(settled).sort()).toStrictEqual([2, 3, 3])
      yield* expectViewsAgree(workers)
      // stable: no lease moves any more
      const owners = yield* ownersOf
      yield* advance(5 * takeInterval)
      expect(yield* ownersOf).toStrictEqual(owners)
      yield* expectViewsAgree(workers)
      for (const worker of workers) yield* worker.stop
    })))

  it.effect("a 4th worker joining takes its share by stealing one lease per take round, once it watched them for a lease duration", () =>
    provideStore(Effect.gen(function*() {
      const list = Effect.succeed(shards(8))
      const workers = [yield* startWorker("w1", list), yield* startWorker("w2", list), yield* startWorker("w3", list)]
      yield* advance(3 * takeInterval + leaseDuration)
      const handedOver = Effect.map(Effect.forEach(workers.slice(0, 3), (w) => w.events), (events) =>
        events.flat().filter((e) => e.endsWith(":handedOver")).length)
      const before = yield* handedOver
      workers.push(yield* startWorker("w4", list))
      // nobody checkpointed these leases: for all w4 knows, their owners just took them and have not started
      yield* advance(leaseDuration - 1)
      expect((yield* ownership).w4).toBeUndefined()
      // asked at the next round, handed over at the owner's next renewal (a third of a lease duration)
      yield* advance(1 + leaseDuration / 3 + 500)
      expect((yield* ownership).w4).toBe(1)
      yield* advance(takeInterval)
      expect(yield* ownership).toStrictEqual({ w1: 2, w2: 2, w3: 2, w4: 2 })
      yield* advance(leaseDuration)
      yield* expectViewsAgree(workers)
      // the workers it stole from were asked, and handed the leases over
      expect((yield* handedOver) - before).toBe(2)
      for (const worker of workers) yield* worker.stop
    })))

  it.effect("a stopped worker releases its leases at once; the others take them within one take interval", () =>
    provideStore(Effect.gen(function*() {
      const list = Effect.succeed(shards(8))
      const [w1, w2, w3] = [yield* startWorker("w1", list), yield* startWorker("w2", list), yield* startWorker("w3", list)]
      yield* advance(3 * takeInterval + leaseDuration)
      const held = (yield* ownership).w1
      expect(held).toBeGreaterThan(0)
      yield* w1.stop
      expect((yield* ownership)[""]).toBe(held)
      yield* advance(1)
      expect((yield* w1.events).filter((e) => e.endsWith(":shutdown"))).toHaveLength(held)
      expect(yield* w1.coordinator.owned).toStrictEqual(new Map())
      yield* advance(takeInterval)
      expect(yield* ownership).toStrictEqual({ w2: 4, w3: 4 })
      yield* expectViewsAgree([w2, w3])
      yield* w2.stop
      yield* w3.stop
    })))

  it.effect("a crashed worker (no release) keeps its leases for a lease duration; others take them within two take intervals", () =>
    provideStore(Effect.gen(function*() {
      const list = Effect.succeed(shards(8))
      const w1 = yield* startWorker("w1", list, { releaseOnShutdown: false })
      const others = [yield* startWorker("w2", list), yield* startWorker("w3", list)]
      yield* advance(3 * takeInterval + leaseDuration)
      const held = (yield* ownership).w1
      expect(held).toBeGreaterThan(0)
      yield* w1.stop
      // nobody takes a lease before its counter stood still for a lease duration
      yield* advance(leaseDuration - 500)
      expect((yield* ownership).w1).toBe(held)
      // expiry is seen at the first scan after the last renewal plus a lease duration: at most 2 take intervals
      yield* advance(2 * takeInterval - leaseDuration + 500)
      expect(yield* ownership).toStrictEqual({ w2: 4, w3: 4 })
      yield* advance(leaseDuration)
      yield* expectViewsAgree(others)
      for (const worker of others) yield* worker.stop
    })))

  it.effect("a child is taken only after all its parents reached SHARD_END (a split and a merge)", () =>
    provideStore(Effect.gen(function*() {
      const store = yield* LeaseStore.LeaseStore
      // p0 splits into c1 and c2; c1 and c2 later merge into m
      const list = Effect.succeed([shard("p0"), shard("c1", ["p0"]), shard("c2", ["p0"]), shard("m", ["c1", "c2"])])
      const worker = yield* startWorker("w1", list)
      yield* advance(3 * takeInterval)
      expect([...(yield* worker.coordinator.owned).keys()]).toStrictEqual(["p0"])
      const leases = new Map((yield* store.list).map((lease) => [lease.leaseKey, lease]))
      expect([...leases.keys()].sort()).toStrictEqual(["c1", "c2", "m", "p0"])
      expect(leases.get("m")).toMatchObject({ owner: null, checkpoint: "TRIM_HORIZON", parentShardIds: ["c1", "c2"] })

      const owned = (leaseKey: string) =>
        Effect.flatMap(worker.coordinator.owned, (o) => Effect.succeed(Option.fromNullable(o.get(leaseKey)).pipe(Option.getOrThrow)))
      yield* (yield* owned("p0")).checkpoint({ sequenceNumber: "100", subSequenceNumber: 0 })
      yield* (yield* owned("p0")).checkpoint("SHARD_END")
      // the finished lease is handed back, and the children are taken right away, not at the next round
      yield* advance(500)
      expect((yield* store.get("p0")).pipe(Option.getOrThrow)).toMatchObject({ owner: null, checkpoint: "SHARD_END" })
      expect([...(yield* worker.coordinator.owned).keys()].sort()).toStrictEqual(["c1", "c2"])
      expect((yield* owned("c1")).lease.checkpoint).toBe("TRIM_HORIZON")

      yield* (yield* owned("c1")).checkpoint("SHARD_END")
      yield* advance(3 * takeInterval)
      // one parent of m is done, the other is not
      expect([...(yield* worker.coordinator.owned).keys()]).toStrictEqual(["c2"])
      yield* (yield* owned("c2")).checkpoint("SHARD_END")
      yield* advance(500)
      expect([...(yield* worker.coordinator.owned).keys()]).toStrictEqual(["m"])
      const events = yield* worker.events
      // c1 and c2 are taken in the same round, in either order
      expect([...events.slice(0, 2), ...events.slice(2, 4).sort(), ...events.slice(4)]).toStrictEqual([
        "+p0",
        "-p0:finished",
        "+c1",
        "+c2",
        "-c1:finished",
        "-c2:finished",
        "+m"
      ])
      yield* worker.stop
    })))

  it.effect("another worker waits for the parent too, even when the parent's owner is slow", () =>
    provideStore(Effect.gen(function*() {
      const list = Effect.succeed([shard("p0"), shard("c1", ["p0"])])
      const w1 = yield* startWorker("w1", list)
      const w2 = yield* startWorker("w2", list)
      yield* advance(5 * takeInterval)
      // c1 is nobody's while p0 is being processed, though w2 holds nothing
      expect(yield* ownership).toStrictEqual({ w1: 1, "": 1 })
      expect(yield* w2.coordinator.owned).toStrictEqual(new Map())
      const p0 = (yield* w1.coordinator.owned).get("p0")!
      yield* p0.checkpoint("SHARD_END")
      yield* advance(takeInterval)
      expect((yield* ownersOf).get("c1")).not.toBeNull()
      yield* w1.stop
      yield* w2.stop
    })))

  it.effect("shard sync: LATEST for new root shards, no lease for closed shards without leased ancestors, TRIM_HORIZON below a leased parent", () =>
    provideStore(Effect.gen(function*() {
      const store = yield* LeaseStore.LeaseStore
      const listed = yield* Ref.make([shard("old"), shard("a", ["old"]), shard("b", ["old"]), shard("root")])
      const worker = yield* startWorker("w1", Ref.get(listed), { initialPosition: "LATEST" })
      yield* advance(500)
      const checkpoints = Effect.map(store.list, (leases) =>
        Object.fromEntries(leases.map((lease) => [lease.leaseKey, lease.checkpoint])))
      // "old" is closed (it has children) and nothing of it comes after LATEST: no lease
      expect(yield* checkpoints).toStrictEqual({ a: "LATEST", b: "LATEST", root: "LATEST" })
      // a splits later: its children continue where it ends
      yield* Ref.update(listed, (s) => [...s, shard("a1", ["a"]), shard("a2", ["a"])])
      yield* worker.coordinator.syncShards
      expect(yield* checkpoints).toStrictEqual({ a: "LATEST", b: "LATEST", root: "LATEST", a1: "TRIM_HORIZON", a2: "TRIM_HORIZON" })
      // children are not taken before their parent ends, though their parent "old" of a has no lease
      expect([...(yield* worker.coordinator.owned).keys()].sort()).toStrictEqual(["a", "b", "root"])
      yield* worker.stop
    })))

  it.effect("new shards are found at the next shard sync", () =>
    provideStore(Effect.gen(function*() {
      const listed = yield* Ref.make(shards(2))
      const worker = yield* startWorker("w1", Ref.get(listed), { shardSyncInterval: "30 seconds" })
      yield* advance(500)
      expect((yield* worker.coordinator.owned).size).toBe(2)
      yield* Ref.set(listed, shards(3))
      yield* advance(30_000 + takeInterval)
      expect((yield* worker.coordinator.owned).size).toBe(3)
      yield* worker.stop
    })))

  it.scoped("changes: a runner starts a fiber per acquired lease and interrupts it when the lease is lost", () =>
    provideStore(Effect.gen(function*() {
      const list = Effect.succeed(shards(4))
      const w1 = yield* startWorker("w1", list)
      yield* advance(500)
      // the runner: one fiber per lease, started on Acquired, interrupted on Lost
      const running = yield* Ref.make(new Set<string>())
      const fibers = yield* FiberMap.make<string>()
      const runner = yield* w1.coordinator.changes.pipe(
        Stream.runForEach((event) =>
          event._tag === "Acquired"
            ? FiberMap.run(
              fibers,
              event.lease.leaseKey,
              Effect.acquireRelease(
                Ref.update(running, (s) => new Set(s).add(event.lease.leaseKey)),
                () => Ref.update(running, (s) => new Set([...s].filter((k) => k !== event.lease.leaseKey)))
              ).pipe(Effect.zipRight(Effect.never), Effect.scoped)
            )
            : FiberMap.remove(fibers, event.leaseKey)
        ),
        Effect.fork
      )
      yield* advance(500)
      expect([...(yield* Ref.get(running))].sort()).toStrictEqual(shards(4).map((s) => s.shardId))
      const w2 = yield* startWorker("w2", list)
      yield* advance(3 * takeInterval)
      expect(yield* ownership).toStrictEqual({ w1: 2, w2: 2 })
      expect([...(yield* Ref.get(running))].sort()).toStrictEqual([...(yield* w1.coordinator.owned).keys()].sort())
      // the stream ends after the shutdown's Lost events: the runner stops with it
      yield* w1.stop
      yield* Fiber.join(runner)
      expect(yield* Ref.get(running)).toStrictEqual(new Set())
      yield* w2.stop
    })))

  it.effect("a zombie cannot checkpoint: the lease was taken, the checkpoint fails with LeaseLost and the lease is lost", () =>
    provideStore(Effect.gen(function*() {
      const store = yield* LeaseStore.LeaseStore
      const w1 = yield* startWorker("w1", Effect.succeed(shards(1)))
      yield* advance(500)
      const owned = (yield* w1.coordinator.owned).get(shards(1)[0].shardId)!
      yield* owned.checkpoint({ sequenceNumber: "10", subSequenceNumber: 0 })
      // another worker takes the lease behind w1's back (as after a long GC pause on w1)
      const current = (yield* store.get(owned.leaseKey)).pipe(Option.getOrThrow)
      yield* store.acquire(current, "w2")
      const error = yield* Effect.flip(owned.checkpoint({ sequenceNumber: "20", subSequenceNumber: 0 }))
      expect(error._tag).toBe("LeaseLost")
      expect(yield* owned.lost).toBe("taken")
      expect(yield* w1.coordinator.owned).toStrictEqual(new Map())
      expect((yield* store.get(owned.leaseKey)).pipe(Option.getOrThrow)).toMatchObject({
        owner: "w2",
        checkpoint: { sequenceNumber: "10", subSequenceNumber: 0 }
      })
      // and later checkpoints fail at once
      expect((yield* Effect.flip(owned.checkpoint({ sequenceNumber: "30", subSequenceNumber: 0 })))._tag).toBe("LeaseLost")
      yield* w1.stop
    })))

  it.effect("checkpoints never race the owner's renewals: 100 checkpoints while renewals run all succeed, and stand in for the renewals", () =>
    provideStore(Effect.gen(function*() {
      const store = yield* LeaseStore.LeaseStore
      const w1 = yield* startWorker("w1", Effect.succeed(shards(1)))
      yield* advance(500)
      const owned = (yield* w1.coordinator.owned).get(shards(1)[0].shardId)!
      const checkpoints = yield* Effect.fork(Effect.forEach(
        Array.from({ length: 100 }, (_, i) => i),
        (i) => Effect.zipRight(owned.checkpoint({ sequenceNumber: String(i + 1), subSequenceNumber: 0 }), Effect.sleep("200 millis")),
        { discard: true }
      ))
      yield* advance(100 * 200)
      yield* Fiber.join(checkpoints)
      const lease = (yield* store.get(owned.leaseKey)).pipe(Option.getOrThrow)
      expect(lease.checkpoint).toStrictEqual({ sequenceNumber: "100", subSequenceNumber: 0 })
      // 1 acquisition + 100 checkpoints: a lease checkpointed this often skips its renewals
      expect(lease.counter).toBe(101)
      expect(yield* owned.lost.pipe(Effect.timeoutOption(0))).toStrictEqual(Option.none())
      // once the checkpoints stop, the renewals come back
      yield* advance(10_000)
      const renewed = (yield* store.get(owned.leaseKey)).pipe(Option.getOrThrow)
      expect(renewed.counter).toBeGreaterThan(101)
      expect(renewed.owner).toBe("w1")
      yield* w1.stop
    })))

  it.effect("a lease whose renewals keep failing is dropped as expired after a lease duration, then taken back", () =>
    Effect.gen(function*() {
      const failing = yield* Ref.make(false)
      const memory = LeaseStore.unsafeMakeMemory()
      const flaky = Layer.succeed(
        LeaseStore.LeaseStore,
        LeaseStore.make({
          ...memory,
          renew: (held) =>
            Effect.flatMap(Ref.get(failing), (fail) =>
              fail
                ? Effect.fail(new LeaseStore.LeaseStoreError({ operation: "renew", reason: "throttled", retryability: "transient" }))
                : memory.renew(held))
        })
      )
      yield* Effect.gen(function*() {
        // take rounds at 0, 20 and 40 s: none at the moment of the drop
        const w1 = yield* startWorker("w1", Effect.succeed(shards(2)), { application: "metrics-renewals", takeInterval: "20 seconds" })
        yield* advance(500)
        expect((yield* w1.coordinator.owned).size).toBe(2)
        yield* Ref.set(failing, true)
        yield* advance(leaseDuration - 1_000)
        expect((yield* w1.coordinator.owned).size).toBe(2)
        yield* advance(1_500)
        expect(yield* w1.coordinator.owned).toStrictEqual(new Map())
        expect((yield* w1.events).filter((e) => e.endsWith(":expired"))).toHaveLength(2)
        // the renewals at 3.3, 6.7 and 10 s failed for each lease; after the third, the next would come too late
        expect(yield* leaseMetrics("metrics-renewals", "w1")).toStrictEqual({
          held: 0,
          "taken.unowned": 2,
          "lost.expired": 2,
          renewalFailures: 6
        })
        // the store still names w1: once renewals work again, its next take round takes them back
        yield* Ref.set(failing, false)
        yield* advance(20_000)
        expect((yield* w1.coordinator.owned).size).toBe(2)
        // the table still named w1: taken back
        expect(yield* leaseMetrics("metrics-renewals", "w1")).toMatchObject({ held: 2, "taken.reclaimed": 2 })
        yield* w1.stop
      }).pipe(Effect.provide(flaky))
    }))

  it.effect("balancing throughput, renewals publish each lease's load from what the runner read; a new owner starts from it", () =>
    provideStore(Effect.gen(function*() {
      const store = yield* LeaseStore.LeaseStore
      const loadOf = (leaseKey: string) => Effect.map(store.get(leaseKey), (lease) => Option.getOrThrow(lease).load)
      const [a, b] = shards(2).map((shard) => shard.shardId)
      const renewal = 10_000 / 3
      const w1 = yield* startWorker("w1", Effect.succeed(shards(2)), { balance: "records" })
      yield* advance(1)
      const owned = yield* w1.coordinator.owned
      expect(owned.size).toBe(2)
      // 300 records of 10 bytes read from one shard, nothing from the other, before the first renewal
      yield* owned.get(a)!.countRead(200, 2_000)
      yield* owned.get(a)!.countRead(100, 1_000)
      yield* advance(renewal - 1)
      expect(yield* loadOf(a)).toStrictEqual({ recordsPerSecond: 90, bytesPerSecond: 900 })
      expect(yield* loadOf(b)).toStrictEqual({ recordsPerSecond: 0, bytesPerSecond: 0 })

      // a lease moves: its new owner starts from the published load, and smooths what it reads into it
      yield* w1.coordinator.release(a)
      const w2 = yield* startWorker("w2", Effect.succeed(shards(2)), { balance: "records" })
      yield* advance(1)
      expect([...(yield* w2.coordinator.owned).keys()]).toStrictEqual([a])
      yield* advance(renewal - 1)
      // nothing read for one renewal interval: 90 + (1 - e^(-3.33 s / 30 s)) * (0 - 90)
      expect(yield* loadOf(a)).toStrictEqual({ recordsPerSecond: 80.5, bytesPerSecond: 805 })

      // counting leases, nothing is published
      const w3 = yield* startWorker("w3", Effect.succeed([shard("shardId-other")]))
      yield* advance(1)
      yield* (yield* w3.coordinator.owned).get("shardId-other")!.countRead(1_000, 1_000)
      yield* advance(renewal)
      expect(yield* loadOf("shardId-other")).toBeUndefined()
      yield* Effect.all([w1.stop, w2.stop, w3.stop])
    })))

  it.effect("release hands one lease over; maxLeasesPerWorker caps what a worker takes", () =>
    provideStore(Effect.gen(function*() {
      const w1 = yield* startWorker("w1", Effect.succeed(shards(5)), { maxLeasesPerWorker: 3 })
      yield* advance(500)
      expect(yield* ownership).toStrictEqual({ w1: 3, "": 2 })
      const [first] = (yield* w1.coordinator.owned).keys()
      yield* w1.coordinator.release(first)
      expect(yield* ownership).toStrictEqual({ w1: 2, "": 3 })
      yield* advance(1)
      expect((yield* w1.events).at(-1)).toBe(`-${first}:released`)
      yield* advance(takeInterval)
      expect((yield* ownership).w1).toBe(3)
      yield* w1.stop
      expect(yield* ownership).toStrictEqual({ "": 5 })
    })))

  it.effect("metrics: leases taken unowned and stolen, lost when taken, released at shutdown, and held", () =>
    provideStore(Effect.gen(function*() {
      const list = Effect.succeed(shards(4))
      const options = { application: "metrics-steal" }
      const w1 = yield* startWorker("w1", list, options)
      yield* advance(500)
      expect(yield* leaseMetrics("metrics-steal", "w1")).toStrictEqual({ held: 4, "taken.unowned": 4 })
      const w2 = yield* startWorker("w2", list, options)
      // one steal per take round, until 2/2; w1 finds out at its next renewals
      yield* advance(3 * takeInterval + leaseDuration)
      expect(yield* ownership).toStrictEqual({ w1: 2, w2: 2 })
      expect(yield* leaseMetrics("metrics-steal", "w2")).toStrictEqual({ held: 2, "taken.stolen": 2 })
      expect(yield* leaseMetrics("metrics-steal", "w1")).toStrictEqual({ held: 2, "taken.unowned": 4, "released.handedOver": 2 })
      // a graceful stop releases what w1 holds; w2 takes them at its next take round
      yield* w1.stop
      expect(yield* leaseMetrics("metrics-steal", "w1")).toStrictEqual({
        held: 0,
        "taken.unowned": 4,
        "released.handedOver": 2,
        "released.shutdown": 2
      })
      yield* advance(takeInterval)
      expect(yield* leaseMetrics("metrics-steal", "w2")).toStrictEqual({ held: 4, "taken.stolen": 2, "taken.unowned": 2 })
      yield* w2.stop
      expect(yield* leaseMetrics("metrics-steal", "w2")).toStrictEqual({
        held: 0,
        "taken.stolen": 2,
        "taken.unowned": 2,
        "released.shutdown": 4
      })
    })))

  it.effect("metrics: leases of a crashed worker taken once expired; a release and a finished shard", () =>
    provideStore(Effect.gen(function*() {
      const list = Effect.succeed(shards(4))
      const options = { application: "metrics-expiry" }
      const w1 = yield* startWorker("w1", list, { ...options, releaseOnShutdown: false })
      yield* advance(500)
      const w2 = yield* startWorker("w2", list, options)
      yield* advance(3 * takeInterval + leaseDuration)
      expect(yield* ownership).toStrictEqual({ w1: 2, w2: 2 })
      // the crash: w1 stops without releasing (its leases are counted as let go at shutdown)
      yield* w1.stop
      expect(yield* leaseMetrics("metrics-expiry", "w1")).toMatchObject({ held: 0, "released.shutdown": 2 })
      yield* advance(2 * takeInterval + 500)
      expect(yield* ownership).toStrictEqual({ w2: 4 })
      expect(yield* leaseMetrics("metrics-expiry", "w2")).toStrictEqual({ held: 4, "taken.stolen": 2, "taken.expired": 2 })

      // a release (as a consumer does after a shard failed), taken back at the next round as unowned
      const [first, second] = [...(yield* w2.coordinator.owned).keys()].sort()
      yield* w2.coordinator.release(first)
      expect(yield* leaseMetrics("metrics-expiry", "w2")).toMatchObject({ held: 3, "released.released": 1 })
      // a shard read to its end
      yield* (yield* w2.coordinator.owned).get(second)!.checkpoint("SHARD_END")
      yield* advance(takeInterval)
      expect(yield* leaseMetrics("metrics-expiry", "w2")).toStrictEqual({
        held: 3,
        "taken.stolen": 2,
        "taken.expired": 2,
        "taken.unowned": 1,
        "released.released": 1,
        "released.finished": 1
      })
      yield* w2.stop
    })))

  it.effect("layer: the coordinator as a service, released when the layer's scope closes", () =>
    provideStore(Effect.gen(function*() {
      const store = yield* LeaseStore.LeaseStore
      const program = Effect.gen(function*() {
        const coordinator = yield* LeaseCoordinator.LeaseCoordinator
        yield* advance(500)
        return (yield* coordinator.owned).size
      })
      const layer = LeaseCoordinator.layer({ workerId: "w1", listShards: Effect.succeed(shards(3)), initialPosition: "TRIM_HORIZON" })
      expect(yield* Effect.provide(program, layer.pipe(Layer.provide(Layer.succeed(LeaseStore.LeaseStore, store))))).toBe(3)
      expect((yield* store.list).every((lease) => lease.owner === null)).toBe(true)
    })))
})
