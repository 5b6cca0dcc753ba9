/**
 * Steals as handoffs and the crash failover bound, on coordinators sharing a memory lease store, driven by
 * the TestClock: every time below is exact virtual time.
 */
import { describe, expect, it } from "@effect/vitest"
import * as LeaseStore from "@tributary/core/LeaseStore"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import type * as LeaseCoordinator from "../src/LeaseCoordinator.js"
import { advance, leaseDuration, ownership, provideStore, shards, startWorker, type Worker } from "./coordinators.js"

const renewInterval = leaseDuration / 3
/** The requester reads a lease it asked for every twentieth of a renew interval. */
const pollInterval = renewInterval / 20

const checkpointAt = (n: number) => ({ sequenceNumber: String(n), subSequenceNumber: 0 })

/**
 * A runner on a worker: on Acquired it checkpoints at once (as a worker that read a page would); on a
 * handoff request it checkpoints again (its batch in flight) and lets the lease go, unless told to ignore
 * requests. Answers, per lease, when the request was seen.
 */
const runner = (worker: Worker, options: { readonly ignoreRequests?: boolean } = {}) =>
  Effect.gen(function*() {
    const requested = yield* Ref.make(new Map<string, number>())
    yield* worker.coordinator.changes.pipe(
      Stream.runForEach((event) => {
        if (event._tag !== "Acquired") return Effect.void
        const lease = event.lease
        return Effect.gen(function*() {
          yield* lease.checkpoint(checkpointAt(1))
          const requester = yield* lease.handoffRequested
          const at = yield* Clock.currentTimeMillis
          yield* Ref.update(requested, (m) => new Map(m).set(lease.leaseKey, at))
          expect(requester).not.toBe(worker.id)
          if (options.ignoreRequests === true) return
          yield* lease.checkpoint(checkpointAt(2))
          yield* worker.coordinator.release(lease.leaseKey)
        }).pipe(Effect.raceFirst(Effect.asVoid(lease.lost)), Effect.orDie, Effect.fork, Effect.asVoid)
      }),
      Effect.fork
    )
    return { requested: Ref.get(requested) }
  })

const leaseOf = (leaseKey: string) =>
  Effect.flatMap(LeaseStore.LeaseStore, (store) => Effect.map(store.get(leaseKey), Option.getOrThrow))

/** When each lease was first acquired by `worker` after `from`. */
const acquiredAfter = (worker: Worker, from: number) =>
  Effect.map(worker.timeline, (events) => {
    const out = new Map<string, number>()
    for (const [at, event] of events) if (at >= from && event.startsWith("+") && !out.has(event.slice(1))) out.set(event.slice(1), at)
    return out
  })

describe("handoff", () => {
  it.effect("a steal is a handoff: the owner's runner checkpoints and lets go, and the thief holds the lease a poll later", () =>
    provideStore(Effect.gen(function*() {
      const list = Effect.succeed(shards(4))
      const w1 = yield* startWorker("w1", list, { handoffTimeout: "30 seconds" })
      const r1 = yield* runner(w1)
      yield* advance(500)
      expect(yield* ownership).toStrictEqual({ w1: 4 })

      // w2 joins at 500 ms and asks for one lease at once (w1 checkpointed them all: it has started)
      const w2 = yield* startWorker("w2", list)
      yield* advance(1)
      const asked = (yield* LeaseStore.LeaseStore).list.pipe(Effect.map((leases) => leases.filter((l) => l.handoffTo === "w2")))
      const [first] = yield* asked
      expect(first).toMatchObject({ owner: "w1", handoffTo: "w2" })
      // the request leaves the counter alone: w1's writes go on
      yield* advance(renewInterval)
      // w1 saw it at its renewal at 3.33 s, checkpointed and released: w2 holds it within a poll
      const seen = (yield* r1.requested).get(first.leaseKey)!
      expect(seen).toBeCloseTo(renewInterval, 0)
      const taken = (yield* acquiredAfter(w2, 0)).get(first.leaseKey)!
      expect(taken - seen).toBeGreaterThan(0)
      expect(taken - seen).toBeLessThanOrEqual(pollInterval)
      const lease = yield* leaseOf(first.leaseKey)
      // the runner's last checkpoint, and one owner switch since
      expect(lease).toMatchObject({ owner: "w2", checkpoint: checkpointAt(2), ownerSwitchesSinceCheckpoint: 1 })
      expect(lease.handoffTo).toBeUndefined()
      expect((yield* w1.events).at(-1)).toBe(`-${first.leaseKey}:handedOver`)
      expect((yield* w2.coordinator.owned).get(first.leaseKey)!.lease.checkpoint).toStrictEqual(checkpointAt(2))

      // one steal per take round: the second at w2's next round, 10.5 s
      yield* advance(leaseDuration)
      expect(yield* ownership).toStrictEqual({ w1: 2, w2: 2 })
      yield* w1.stop
      yield* w2.stop
    })))

  it.effect("a runner that does not let go has the lease handed over after handoffTimeout", () =>
    provideStore(Effect.gen(function*() {
      const list = Effect.succeed(shards(2))
      // the requester watches for two renew intervals and its own handoff timeout: the same everywhere
      const w1 = yield* startWorker("w1", list, { handoffTimeout: "5 seconds" })
      const r1 = yield* runner(w1, { ignoreRequests: true })
      yield* advance(500)
      const w2 = yield* startWorker("w2", list, { handoffTimeout: "5 seconds" })
      yield* advance(renewInterval + 1)
      const [[leaseKey, seen]] = yield* r1.requested
      yield* advance(seen + 5_000 - 1 - (yield* Clock.currentTimeMillis))
      expect((yield* ownership).w2).toBeUndefined()
      yield* advance(2 * pollInterval)
      expect(yield* ownership).toStrictEqual({ w1: 1, w2: 1 })
      expect((yield* acquiredAfter(w2, 0)).get(leaseKey)! - seen).toBeLessThanOrEqual(5_000 + pollInterval + 1)
      // the runner was not told to stop: the lease's loss is how it learns
      expect((yield* w1.events).at(-1)).toBe(`-${leaseKey}:handedOver`)
      yield* w1.stop
      yield* w2.stop
    })))

  it.effect("an owner that crashes once asked: its lease expires as ever, and whoever takes it clears the request", () =>
    provideStore(Effect.gen(function*() {
      const list = Effect.succeed(shards(2))
      const w1 = yield* startWorker("w1", list, { releaseOnShutdown: false })
      yield* runner(w1)
      yield* advance(500)
      // w1 crashes just before w2 asks: it never sees the request
      yield* w1.stop
      const crashedAt = yield* Clock.currentTimeMillis
      const w2 = yield* startWorker("w2", list)
      yield* advance(1)
      expect((yield* (yield* LeaseStore.LeaseStore).list).filter((l) => l.handoffTo === "w2")).toHaveLength(1)
      yield* advance(2 * leaseDuration)
      expect(yield* ownership).toStrictEqual({ w2: 2 })
      const leases = yield* (yield* LeaseStore.LeaseStore).list
      expect(leases.every((l) => l.handoffTo === undefined)).toBe(true)
      // w1's last write was at 0 (its renewal at 3.3 s never came): taken a lease duration later, give or take a round
      for (const at of (yield* acquiredAfter(w2, crashedAt)).values()) {
        expect(at).toBeGreaterThan(leaseDuration)
        expect(at).toBeLessThanOrEqual(2 * leaseDuration + 1)
      }
      yield* w2.stop
    })))

  it.effect("a lease its owner has not started on is not stolen: not before it checkpointed, or a lease duration passed", () =>
    provideStore(Effect.gen(function*() {
      const list = Effect.succeed(shards(4))
      // w1 never checkpoints (no runner): its leases look as if it had not started on them
      const w1 = yield* startWorker("w1", list)
      yield* advance(500)
      const w2 = yield* startWorker("w2", list)
      yield* advance(leaseDuration - 2)
      expect(yield* ownership).toStrictEqual({ w1: 4 })
      expect((yield* (yield* LeaseStore.LeaseStore).list).some((l) => l.handoffTo !== undefined)).toBe(false)
      // a lease duration after w2 first saw them: asked for at w2's round at 10.5 s, handed over at w1's renewal
      yield* advance(renewInterval + pollInterval + 2)
      expect(yield* ownership).toStrictEqual({ w1: 3, w2: 1 })
      // one that was checkpointed since may go at once
      const owned = yield* w1.coordinator.owned
      yield* Effect.forEach(owned.values(), (lease) => lease.checkpoint(checkpointAt(1)), { discard: true })
      yield* w2.coordinator.takeLeases
      expect((yield* (yield* LeaseStore.LeaseStore).list).filter((l) => l.handoffTo === "w2")).toHaveLength(1)
      yield* w1.stop
      yield* w2.stop
    })))
})

describe("crash failover bound", () => {
  /**
   * Crashes w1 (no release) at `phase` ms after the workers settled, and answers, per lease w1 held, how
   * long after w1's last renewal of it another worker took it.
   */
  const failover = (phase: number, options: Partial<LeaseCoordinator.Options>, lease: number, take: number) =>
    Effect.gen(function*() {
      const memory = LeaseStore.unsafeMakeMemory()
      const renewedAt = new Map<string, number>()
      const store = LeaseStore.make({
        ...memory,
        renew: (held) =>
          Effect.tap(memory.renew(held), () =>
            Effect.map(Clock.currentTimeMillis, (at) => void (held.owner === "w1" && renewedAt.set(held.leaseKey, at))))
      })
      return yield* Effect.gen(function*() {
        const list = Effect.succeed(shards(6))
        const w1 = yield* startWorker("w1", list, { ...options, releaseOnShutdown: false })
        const others = [yield* startWorker("w2", list, options), yield* startWorker("w3", list, options)]
        yield* advance(30_000 + phase)
        const held = [...(yield* w1.coordinator.owned).keys()]
        expect(held.length).toBeGreaterThan(0)
        yield* w1.stop
        const crashedAt = yield* Clock.currentTimeMillis
        // past the bound: whatever is not taken by then fails the test
        yield* advance(lease + take + 1_000)
        const taken = new Map<string, number>()
        for (const worker of others) {
          for (const [leaseKey, at] of yield* acquiredAfter(worker, crashedAt)) taken.set(leaseKey, at)
        }
        for (const worker of others) yield* worker.stop
        return held.map((leaseKey) => taken.get(leaseKey)! - renewedAt.get(leaseKey)!)
      }).pipe(Effect.provide(Layer.succeed(LeaseStore.LeaseStore, store)))
    })

  it.effect("a worker that loses the race for an expired lease runs another round at once, not a take interval later", () =>
    Effect.gen(function*() {
      const memory = LeaseStore.unsafeMakeMemory()
      // w2's first acquisition of an expired lease loses to "another worker" (which took nothing, in fact)
      let races = 0
      const store = LeaseStore.make({
        ...memory,
        acquire: (observed, owner) =>
          owner === "w2" && observed.owner === "w1" && races++ === 0
            ? Effect.fail(new LeaseStore.LeaseConflict({ leaseKey: observed.leaseKey, operation: "acquire", expectedCounter: observed.counter }))
            : memory.acquire(observed, owner)
      })
      return yield* Effect.gen(function*() {
        const list = Effect.succeed(shards(2))
        const w1 = yield* startWorker("w1", list, { releaseOnShutdown: false })
        yield* advance(500)
        yield* w1.stop
        const w2 = yield* startWorker("w2", list)
        // w2 first sees the leases now, and takes them once they stood still for a lease duration
        yield* advance(leaseDuration + 2)
        expect(races).toBe(3) // the lost one, the other, and the lost one again
        expect(yield* ownership).toStrictEqual({ w2: 2 })
        yield* w2.stop
      }).pipe(Effect.provide(Layer.succeed(LeaseStore.LeaseStore, store)))
    }))

  for (
    const [name, options, lease, take] of [
      ["defaults (lease 10 s, take interval 10 s)", {}, 10_000, 10_000],
      ["a take interval shorter than the lease (10 s, 4 s)", { takeInterval: "4 seconds" }, 10_000, 4_000],
      ["a take interval longer than the lease (3 s, 9 s)", { leaseDuration: "3 seconds", takeInterval: "9 seconds" }, 3_000, 9_000]
    ] as const
  ) {
    it.effect(`${name}: taken within lease duration + one take interval of the last renewal, whatever the phase`, () =>
      Effect.gen(function*() {
        const delays: Array<number> = []
        // crashes spread over a take interval and a renew interval
        for (let i = 0; i < 6; i++) delays.push(...yield* failover(Math.round(i * (take + lease / 3) / 6), options, lease, take))
        expect(delays.length).toBeGreaterThanOrEqual(6)
        // no lease is taken before it expired, none later than the bound
        expect(Math.min(...delays)).toBeGreaterThan(lease)
        expect(Math.max(...delays)).toBeLessThanOrEqual(lease + take + 1)
      }))
  }
})
