/**
 * The contract every `LeaseStore` keeps, as a vitest suite: run it against an implementation with
 * `LeaseStoreContract.run("my store", layer)`. Each test builds the layer afresh (a store must start empty
 * when built); `shared`, when given, is built once for the suite (an emulator, a client) and provided to
 * the store layer. Tests run with the live clock: a store may sleep between retries.
 *
 * @since 0.1.0
 */
import { describe, expect, layer as sharedLayer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { Checkpoint } from "@tributary/core/RecordSource"
import type { Lease, LeaseCheckpoint, NewLease } from "@tributary/core/LeaseStore"
import { isShardEnd, LeaseConflict, LeaseLost, LeaseStore, LeaseStoreError } from "@tributary/core/LeaseStore"

/**
 * @since 0.1.0
 * @category models
 */
export interface ContractOptions {
  /** Leases created by the listing test; more than a store's page. Default 130. */
  readonly manyLeases?: number
}

/**
 * Registers the contract tests for a store.
 *
 * @since 0.1.0
 * @category running
 */
export function run<E>(name: string, store: Layer.Layer<LeaseStore, E>, options?: ContractOptions): void
export function run<E, R, E2>(
  name: string,
  store: Layer.Layer<LeaseStore, E, R>,
  options: ContractOptions & { readonly shared: Layer.Layer<R, E2> }
): void
export function run<E, R, E2>(
  name: string,
  store: Layer.Layer<LeaseStore, E, R>,
  options: ContractOptions & { readonly shared?: Layer.Layer<R, E2> } = {}
): void {
  const shared = (options.shared ?? Layer.empty) as Layer.Layer<R, E2>
  sharedLayer(shared, { excludeTestServices: true, timeout: "60 seconds" })(`LeaseStore contract: ${name}`, (it) => {
    const test = <A, E3>(title: string, body: Effect.Effect<A, E3, LeaseStore>) =>
      it.effect(title, () => Effect.provide(body, store))
    contract(test, options.manyLeases ?? 130)
  })
}

// ---------------------------------------------------------------------------------------------------------
// the tests
// ---------------------------------------------------------------------------------------------------------

type Test = <A, E>(title: string, body: Effect.Effect<A, E, LeaseStore>) => void

const hashRange = { start: "0", end: "340282366920938463463374607431768211455" }

const newLease = (leaseKey: string, overrides: Partial<NewLease> = {}): NewLease => ({
  leaseKey,
  checkpoint: "TRIM_HORIZON",
  hashRange,
  ...overrides
})

// Shaped like Kinesis' (56 digits): the store must keep them exact (they do not fit in a double).
const seq = (n: number) => `4959${String(n).padStart(52, "0")}`

const fullCheckpoint: Checkpoint = {
  sequenceNumber: seq(1_000_001),
  subSequenceNumber: 3,
  maxEventTime: 1_700_000_123_456,
  watermark: -12.5,
  processed: { sequenceNumber: seq(1_000_042), subSequenceNumber: 7 }
}

const getLease = (leaseKey: string) =>
  Effect.flatMap(LeaseStore, (store) => store.get(leaseKey)).pipe(
    Effect.flatMap(Option.match({
      onNone: () => Effect.dieMessage(`lease ${leaseKey} does not exist`),
      onSome: Effect.succeed
    }))
  )

/** Creates a lease and has `owner` acquire it. */
const owned = (leaseKey: string, owner: string) =>
  Effect.gen(function*() {
    const store = yield* LeaseStore
    yield* store.createIfAbsent(newLease(leaseKey))
    return yield* store.acquire(yield* getLease(leaseKey), owner)
  })

const held = (lease: Lease) => {
  if (lease.owner === null) throw new Error(`lease ${lease.leaseKey} has no owner`)
  return { leaseKey: lease.leaseKey, owner: lease.owner, counter: lease.counter }
}

const contract = (test: Test, manyLeases: number) => {
  describe("create, get, list", () => {
    test(
      "createIfAbsent creates an unowned lease at counter 0, and a second call changes nothing",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        expect(yield* store.get("shardId-000000000000")).toStrictEqual(Option.none())
        expect(yield* store.createIfAbsent(newLease("shardId-000000000000", { parentShardIds: ["p2", "p1"] }))).toBe(true)
        const created = yield* getLease("shardId-000000000000")
        expect(created).toStrictEqual({
          leaseKey: "shardId-000000000000",
          owner: null,
          counter: 0,
          checkpoint: "TRIM_HORIZON",
          parentShardIds: ["p1", "p2"],
          hashRange,
          ownerSwitchesSinceCheckpoint: 0
        })
        expect(yield* store.createIfAbsent(newLease("shardId-000000000000", { checkpoint: "LATEST" }))).toBe(false)
        expect(yield* getLease("shardId-000000000000")).toStrictEqual(created)
      })
    )

    test(
      "createIfAbsent is idempotent under concurrency: exactly one of many calls creates the lease",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        const results = yield* Effect.all(
          Array.from({ length: 8 }, () => store.createIfAbsent(newLease("shardId-race"))),
          { concurrency: "unbounded" }
        )
        expect(results.filter((created) => created)).toHaveLength(1)
        expect((yield* store.list).map((lease) => lease.leaseKey)).toStrictEqual(["shardId-race"])
      })
    )

    test(
      "a lease created at AT_TIMESTAMP keeps the sentinel",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        yield* store.createIfAbsent(newLease("s", { checkpoint: "AT_TIMESTAMP" }))
        expect((yield* getLease("s")).checkpoint).toBe("AT_TIMESTAMP")
      })
    )

    test(
      "leases without parents and with full 128-bit hash ranges round-trip",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        const range = { start: "170141183460469231731687303715884105728", end: "340282366920938463463374607431768211455" }
        yield* store.createIfAbsent({ leaseKey: "shardId-000000000007", checkpoint: "LATEST", hashRange: range })
        const lease = yield* getLease("shardId-000000000007")
        expect(lease.parentShardIds).toStrictEqual([])
        expect(lease.hashRange).toStrictEqual(range)
        expect(lease.checkpoint).toBe("LATEST")
      })
    )

    test(
      `list returns every lease, ${manyLeases} of them (more than a page)`,
      Effect.gen(function*() {
        const store = yield* LeaseStore
        expect(yield* store.list).toStrictEqual([])
        const keys = Array.from({ length: manyLeases }, (_, i) => `shardId-${String(i).padStart(12, "0")}`)
        yield* Effect.forEach(keys, (leaseKey) => store.createIfAbsent(newLease(leaseKey)), { concurrency: 8 })
        const listed = yield* store.list
        expect(listed.map((lease) => lease.leaseKey).sort()).toStrictEqual(keys)
        expect(listed.every((lease) => lease.owner === null && lease.counter === 0)).toBe(true)
      })
    )
  })

  describe("acquire", () => {
    test(
      "acquire takes an unowned lease: owner set, counter and owner switches incremented",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        yield* store.createIfAbsent(newLease("s"))
        const lease = yield* store.acquire(yield* getLease("s"), "worker-a")
        expect(lease).toMatchObject({ owner: "worker-a", counter: 1, ownerSwitchesSinceCheckpoint: 1, checkpoint: "TRIM_HORIZON" })
        expect(yield* getLease("s")).toStrictEqual(lease)
      })
    )

    test(
      "two workers acquiring the same leases concurrently: exactly one wins each, the other gets LeaseConflict",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        const keys = Array.from({ length: 12 }, (_, i) => `race-${i}`)
        yield* Effect.forEach(keys, (leaseKey) => store.createIfAbsent(newLease(leaseKey)))
        const observed = yield* store.list
        const attempts = observed.flatMap((lease) =>
          ["worker-a", "worker-b"].map((worker) =>
            Effect.either(store.acquire(lease, worker)).pipe(Effect.map((result) => ({ leaseKey: lease.leaseKey, worker, result })))
          )
        )
        const results = yield* Effect.all(attempts, { concurrency: "unbounded" })
        for (const leaseKey of keys) {
          const mine = results.filter((r) => r.leaseKey === leaseKey)
          const winners = mine.filter((r) => Either.isRight(r.result))
          expect(winners, leaseKey).toHaveLength(1)
          const loser = mine.find((r) => Either.isLeft(r.result))!
          expect(Either.getLeft(loser.result).pipe(Option.getOrThrow)).toBeInstanceOf(LeaseConflict)
          expect((yield* getLease(leaseKey)).owner).toBe(winners[0].worker)
          expect((yield* getLease(leaseKey)).counter).toBe(1)
        }
      })
    )

    test(
      "acquire with a stale observation fails with LeaseConflict and changes nothing",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        yield* store.createIfAbsent(newLease("s"))
        const observed = yield* getLease("s")
        const a = yield* store.acquire(observed, "worker-a")
        const renewed = yield* store.renew(held(a))
        const stale = yield* Effect.flip(store.acquire(observed, "worker-b"))
        expect(stale).toBeInstanceOf(LeaseConflict)
        expect(stale).toMatchObject({ leaseKey: "s", operation: "acquire", expectedCounter: 0, retryability: "permanent" })
        // the right counter with the wrong owner is no observation either
        const wrongOwner = yield* Effect.flip(store.acquire({ leaseKey: "s", counter: renewed.counter, owner: null }, "worker-b"))
        expect(wrongOwner).toBeInstanceOf(LeaseConflict)
        expect(yield* getLease("s")).toStrictEqual(renewed)
      })
    )

    test(
      "stealing: acquire of a lease owned by another worker, as observed, moves it and counts the switch",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        const a = yield* owned("s", "worker-a")
        const b = yield* store.acquire(a, "worker-b")
        expect(b).toMatchObject({ owner: "worker-b", counter: 2, ownerSwitchesSinceCheckpoint: 2 })
        // re-acquiring one's own lease is no switch
        const again = yield* store.acquire(b, "worker-b")
        expect(again).toMatchObject({ owner: "worker-b", counter: 3, ownerSwitchesSinceCheckpoint: 2 })
      })
    )
  })

  describe("renew, release", () => {
    test(
      "renew increments the counter and keeps everything else",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        const a = yield* owned("s", "worker-a")
        const checkpointed = yield* store.checkpoint(held(a), fullCheckpoint)
        const renewed = yield* store.renew(held(checkpointed))
        expect(renewed).toStrictEqual({ ...checkpointed, counter: checkpointed.counter + 1 })
        const again = yield* store.renew(held(renewed))
        expect(again.counter).toBe(renewed.counter + 1)
        expect(yield* getLease("s")).toStrictEqual(again)
      })
    )

    test(
      "renew after the lease was stolen fails with LeaseLost; the new owner keeps it",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        const a = yield* owned("s", "worker-a")
        const b = yield* store.acquire(a, "worker-b")
        const error = yield* Effect.flip(store.renew(held(a)))
        expect(error).toBeInstanceOf(LeaseLost)
        expect(error).toMatchObject({ leaseKey: "s", owner: "worker-a", operation: "renew", expectedCounter: a.counter })
        expect(yield* getLease("s")).toStrictEqual(b)
        expect(yield* store.renew(held(b))).toMatchObject({ owner: "worker-b", counter: b.counter + 1 })
      })
    )

    test(
      "renew with a stale counter fails even for the owner (its own writes must be serialized)",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        const a = yield* owned("s", "worker-a")
        yield* store.renew(held(a))
        expect(yield* Effect.flip(store.renew(held(a)))).toBeInstanceOf(LeaseLost)
      })
    )

    test(
      "release clears the owner at once; the old owner cannot renew; another worker acquires it",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        const a = yield* owned("s", "worker-a")
        const released = yield* store.release(held(a))
        expect(released).toMatchObject({ owner: null, counter: a.counter + 1, ownerSwitchesSinceCheckpoint: 1 })
        expect(yield* getLease("s")).toStrictEqual(released)
        expect(yield* Effect.flip(store.renew(held(a)))).toMatchObject({ _tag: "LeaseLost", operation: "renew" })
        expect(yield* Effect.flip(store.release(held(a)))).toMatchObject({ _tag: "LeaseLost", operation: "release" })
        const b = yield* store.acquire(released, "worker-b")
        expect(b).toMatchObject({ owner: "worker-b", counter: a.counter + 2, ownerSwitchesSinceCheckpoint: 2 })
      })
    )

    test(
      "writes to a lease that does not exist: acquire conflicts, held writes are lost",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        const version = { leaseKey: "missing", owner: "worker-a", counter: 0 }
        expect(yield* Effect.flip(store.acquire({ ...version, owner: null }, "worker-a"))).toBeInstanceOf(LeaseConflict)
        expect(yield* Effect.flip(store.renew(version))).toBeInstanceOf(LeaseLost)
        expect(yield* Effect.flip(store.release(version))).toBeInstanceOf(LeaseLost)
        expect(yield* Effect.flip(store.checkpoint(version, fullCheckpoint))).toBeInstanceOf(LeaseLost)
        expect(yield* store.list).toStrictEqual([])
      })
    )
  })

  describe("checkpoint", () => {
    test(
      "a checkpoint round-trips every field; a later one without optional fields removes them",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        const a = yield* owned("s", "worker-a")
        const first = yield* store.checkpoint(held(a), fullCheckpoint)
        expect(first.checkpoint).toStrictEqual(fullCheckpoint)
        expect(first).toMatchObject({ owner: "worker-a", counter: a.counter + 1, ownerSwitchesSinceCheckpoint: 0 })
        expect(yield* getLease("s")).toStrictEqual(first)

        const plain: Checkpoint = { sequenceNumber: "9".repeat(128), subSequenceNumber: 0 }
        const second = yield* store.checkpoint(held(first), plain)
        expect(second.checkpoint).toStrictEqual(plain)
        expect((yield* getLease("s")).checkpoint).toStrictEqual(plain)

        const some: Checkpoint = { sequenceNumber: seq(5), subSequenceNumber: 1, watermark: 0 }
        const third = yield* store.checkpoint(held(second), some)
        expect((yield* getLease("s")).checkpoint).toStrictEqual(some)

        for (const sentinel of ["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"] as const) {
          const at = yield* store.checkpoint(held(yield* getLease("s")), sentinel)
          expect(at.checkpoint).toBe(sentinel)
          expect((yield* getLease("s")).checkpoint).toBe(sentinel)
        }
        expect((yield* getLease("s")).counter).toBe(third.counter + 3)
      })
    )

    test(
      "a checkpoint resets the owner switches and keeps owner, parents and hash range",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        yield* store.createIfAbsent(newLease("child", { parentShardIds: ["parent-b", "parent-a"] }))
        const a = yield* store.acquire(yield* getLease("child"), "worker-a")
        const b = yield* store.acquire(a, "worker-b")
        expect(b.ownerSwitchesSinceCheckpoint).toBe(2)
        const checkpointed = yield* store.checkpoint(held(b), fullCheckpoint)
        expect(checkpointed).toStrictEqual({
          leaseKey: "child",
          owner: "worker-b",
          counter: b.counter + 1,
          checkpoint: fullCheckpoint,
          parentShardIds: ["parent-a", "parent-b"],
          hashRange,
          ownerSwitchesSinceCheckpoint: 0
        })
      })
    )

    test(
      "a zombie (its lease was taken) cannot checkpoint: LeaseLost, the new owner's checkpoint stays",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        const a = yield* owned("s", "worker-a")
        const a1 = yield* store.checkpoint(held(a), { sequenceNumber: seq(10), subSequenceNumber: 0 })
        const b = yield* store.acquire(a1, "worker-b")
        const b1 = yield* store.checkpoint(held(b), { sequenceNumber: seq(20), subSequenceNumber: 0 })
        const error = yield* Effect.flip(store.checkpoint(held(a1), { sequenceNumber: seq(30), subSequenceNumber: 0 }))
        expect(error).toBeInstanceOf(LeaseLost)
        expect(error).toMatchObject({ leaseKey: "s", owner: "worker-a", operation: "checkpoint", expectedCounter: a1.counter })
        expect(yield* getLease("s")).toStrictEqual(b1)
      })
    )

    test(
      "a checkpoint with a stale counter fails even for the owner",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        const a = yield* owned("s", "worker-a")
        const renewed = yield* store.renew(held(a))
        expect(yield* Effect.flip(store.checkpoint(held(a), fullCheckpoint))).toBeInstanceOf(LeaseLost)
        expect(yield* getLease("s")).toStrictEqual(renewed)
      })
    )

    test(
      "SHARD_END is stored and read back; the finished lease can be released and stays finished",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        const a = yield* owned("s", "worker-a")
        const ended = yield* store.checkpoint(held(a), "SHARD_END")
        expect(ended.checkpoint).toBe("SHARD_END")
        expect(isShardEnd(ended)).toBe(true)
        const released = yield* store.release(held(ended))
        expect(released).toMatchObject({ owner: null, checkpoint: "SHARD_END" })
        expect(isShardEnd(yield* getLease("s"))).toBe(true)
      })
    )

    test(
      "invalid checkpoints fail with a permanent LeaseStoreError and change nothing",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        const a = yield* owned("s", "worker-a")
        const invalid: ReadonlyArray<LeaseCheckpoint> = [
          { sequenceNumber: "12a", subSequenceNumber: 0 },
          { sequenceNumber: seq(1), subSequenceNumber: -1 },
          { sequenceNumber: seq(1), subSequenceNumber: 0, watermark: Number.NEGATIVE_INFINITY },
          { sequenceNumber: seq(1), subSequenceNumber: 0, maxEventTime: Number.NaN },
          { sequenceNumber: seq(1), subSequenceNumber: 0, processed: { sequenceNumber: "", subSequenceNumber: 0 } },
          "AT_SEQUENCE_NUMBER" as LeaseCheckpoint
        ]
        for (const checkpoint of invalid) {
          const error = yield* Effect.flip(store.checkpoint(held(a), checkpoint))
          expect(error).toBeInstanceOf(LeaseStoreError)
          expect(error.retryability).toBe("permanent")
        }
        expect(yield* getLease("s")).toStrictEqual(a)
      })
    )
  })

  // -- handoff --
  describe("handoff", () => {
    test(
      "requestHandoff marks the lease for the requester and leaves the counter alone; renewals and checkpoints keep the mark",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        const a = yield* owned("s", "worker-a")
        const requested = yield* store.requestHandoff(held(a), "worker-b")
        expect(requested).toStrictEqual({ ...a, handoffTo: "worker-b" })
        expect(yield* getLease("s")).toStrictEqual(requested)
        // the owner's writes, made with the counter of its last write, go through and return the mark
        const renewed = yield* store.renew(held(a))
        expect(renewed).toStrictEqual({ ...requested, counter: a.counter + 1 })
        const checkpointed = yield* store.checkpoint(held(renewed), fullCheckpoint)
        expect(checkpointed).toMatchObject({ owner: "worker-a", handoffTo: "worker-b", checkpoint: fullCheckpoint })
      })
    )

    test(
      "requestHandoff conflicts when the lease changed, is not owned as observed, or was asked for already",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        const a = yield* owned("s", "worker-a")
        const renewed = yield* store.renew(held(a))
        const stale = yield* Effect.flip(store.requestHandoff(held(a), "worker-b"))
        expect(stale).toBeInstanceOf(LeaseConflict)
        expect(stale).toMatchObject({ leaseKey: "s", operation: "requestHandoff", expectedCounter: a.counter })
        expect(yield* Effect.flip(store.requestHandoff({ ...held(renewed), owner: "worker-c" }, "worker-b"))).toBeInstanceOf(LeaseConflict)
        yield* store.requestHandoff(held(renewed), "worker-b")
        expect(yield* Effect.flip(store.requestHandoff(held(renewed), "worker-c"))).toBeInstanceOf(LeaseConflict)
        expect((yield* getLease("s")).handoffTo).toBe("worker-b")
        // an unowned or missing lease has nobody to ask
        yield* store.createIfAbsent(newLease("free"))
        expect(yield* Effect.flip(store.requestHandoff({ leaseKey: "free", owner: "worker-a", counter: 0 }, "worker-b")))
          .toBeInstanceOf(LeaseConflict)
        expect(yield* Effect.flip(store.requestHandoff({ leaseKey: "missing", owner: "worker-a", counter: 0 }, "worker-b")))
          .toBeInstanceOf(LeaseConflict)
        // asking oneself is no request
        const self = yield* Effect.flip(store.requestHandoff(held(renewed), "worker-a"))
        expect(self).toBeInstanceOf(LeaseStoreError)
      })
    )

    test(
      "handOver passes the lease to the requester in one write; the old owner's writes are then lost",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        const a = yield* owned("s", "worker-a")
        const checkpointed = yield* store.checkpoint(held(a), fullCheckpoint)
        yield* store.requestHandoff(held(checkpointed), "worker-b")
        const handed = yield* store.handOver(held(checkpointed), "worker-b")
        expect(handed).toStrictEqual({
          ...checkpointed,
          owner: "worker-b",
          counter: checkpointed.counter + 1,
          ownerSwitchesSinceCheckpoint: 1
        })
        expect(yield* getLease("s")).toStrictEqual(handed)
        const error = yield* Effect.flip(store.renew(held(checkpointed)))
        expect(error).toBeInstanceOf(LeaseLost)
        expect(yield* Effect.flip(store.handOver(held(checkpointed), "worker-c"))).toMatchObject({
          _tag: "LeaseLost",
          operation: "handOver",
          expectedCounter: checkpointed.counter
        })
        // the new owner holds it at the counter of the handover
        expect(yield* store.renew(held(handed))).toMatchObject({ owner: "worker-b", counter: handed.counter + 1 })
      })
    )

    test(
      "a lease that changes hands otherwise loses the request: release, acquire",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        const a = yield* owned("s", "worker-a")
        yield* store.requestHandoff(held(a), "worker-b")
        const released = yield* store.release(held(a))
        expect(released.handoffTo).toBeUndefined()
        expect("handoffTo" in (yield* getLease("s"))).toBe(false)
        const c = yield* store.acquire(released, "worker-c")
        yield* store.requestHandoff(held(c), "worker-b")
        const d = yield* store.acquire(yield* getLease("s"), "worker-d")
        expect(d).toMatchObject({ owner: "worker-d", counter: c.counter + 1 })
        expect("handoffTo" in d).toBe(false)
        expect(yield* getLease("s")).toStrictEqual(d)
      })
    )
  })

  // --- published load (throughput-aware assignment) ---
  describe("published load", () => {
    const load = { recordsPerSecond: 812.5, bytesPerSecond: 1_048_576 }

    test(
      "a renewal with a load stores it; later writes keep it, whoever makes them",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        const a = yield* owned("s", "worker-a")
        expect(a.load).toBeUndefined()
        const published = yield* store.renew(held(a), load)
        expect(published).toStrictEqual({ ...a, counter: a.counter + 1, load })
        expect(yield* getLease("s")).toStrictEqual(published)
        const renewed = yield* store.renew(held(published))
        expect(renewed.load).toStrictEqual(load)
        const checkpointed = yield* store.checkpoint(held(renewed), fullCheckpoint)
        expect(checkpointed.load).toStrictEqual(load)
        // a new owner sees what the shard weighs before it measured it
        const stolen = yield* store.acquire(checkpointed, "worker-b")
        expect(stolen.load).toStrictEqual(load)
        const idle = { recordsPerSecond: 0, bytesPerSecond: 0 }
        const measured = yield* store.renew(held(stolen), idle)
        expect(measured.load).toStrictEqual(idle)
        const released = yield* store.release(held(measured))
        expect(released).toMatchObject({ owner: null, load: idle })
        expect((yield* store.list).map((lease) => lease.load)).toStrictEqual([idle])
      })
    )

    test(
      "a renewal with an invalid load fails with a permanent LeaseStoreError and changes nothing",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        const a = yield* owned("s", "worker-a")
        const invalid = [
          { recordsPerSecond: -1, bytesPerSecond: 0 },
          { recordsPerSecond: 0, bytesPerSecond: Number.NaN },
          { recordsPerSecond: Number.POSITIVE_INFINITY, bytesPerSecond: 0 }
        ]
        for (const bad of invalid) {
          const error = yield* Effect.flip(store.renew(held(a), bad))
          expect(error).toBeInstanceOf(LeaseStoreError)
          expect(error.retryability).toBe("permanent")
        }
        expect(yield* getLease("s")).toStrictEqual(a)
      })
    )

    test(
      "a renewal with a load of a lease taken by another worker is lost and publishes nothing",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        const a = yield* owned("s", "worker-a")
        const b = yield* store.acquire(a, "worker-b")
        expect(yield* Effect.flip(store.renew(held(a), load))).toBeInstanceOf(LeaseLost)
        expect(yield* getLease("s")).toStrictEqual(b)
      })
    )
  })

  describe("delete", () => {
    test(
      "delete is conditional on the counter and says whether it deleted; deleting a lease that does not exist succeeds",
      Effect.gen(function*() {
        const store = yield* LeaseStore
        const a = yield* owned("s", "worker-a")
        const error = yield* Effect.flip(store.delete({ leaseKey: "s", counter: 0 }))
        expect(error).toBeInstanceOf(LeaseConflict)
        expect(error).toMatchObject({ operation: "delete", expectedCounter: 0 })
        expect(Option.isSome(yield* store.get("s"))).toBe(true)
        expect(yield* store.delete(a)).toBe(true)
        expect(yield* store.get("s")).toStrictEqual(Option.none())
        expect(yield* store.delete(a)).toBe(false)
        // a deleted lease can be created again
        expect(yield* store.createIfAbsent(newLease("s"))).toBe(true)
        expect(yield* Effect.flip(store.renew(held(a)))).toBeInstanceOf(LeaseLost)
      })
    )
  })
}
