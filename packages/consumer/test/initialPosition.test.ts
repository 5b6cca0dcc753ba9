/**
 * AT_TIMESTAMP as a consumer's initial position: the leases shard sync creates (memory store, TestClock),
 * the configuration, and a consumer on kinesis-mock and dynalite reading from a time, across a split
 * (kinesalite never answers GetShardIterator AT_TIMESTAMP in a shard with nothing after the time).
 */
import { describe, expect, it, layer } from "@effect/vitest"
import * as DeadLetter from "@tributary/core/DeadLetter"
import * as LeaseStore from "@tributary/core/LeaseStore"
import * as Pipeline from "@tributary/core/Pipeline"
import * as RecordSink from "@tributary/core/RecordSink"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import { StreamAdmin } from "@tributary/kinesis"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as Consumer from "../src/Consumer.js"
import * as LeaseCoordinator from "../src/LeaseCoordinator.js"
import { advance, provideStore, shard, startWorker } from "./coordinators.js"
import { fidelityEmulators, produce, setup, waitUntil } from "./helpers.js"

const checkpoints = Effect.flatMap(LeaseStore.LeaseStore, (store) =>
  Effect.map(store.list, (leases) => Object.fromEntries(leases.map((lease) => [lease.leaseKey, lease.checkpoint]))))

describe("AT_TIMESTAMP", () => {
  it.effect("shard sync: every shard without a leased parent at AT_TIMESTAMP, closed ones too; children at TRIM_HORIZON once their parent started", () =>
    provideStore(Effect.gen(function*() {
      const listed = yield* Ref.make([shard("old"), shard("a", ["old"]), shard("b", ["old"]), shard("root")])
      const worker = yield* startWorker("w1", Ref.get(listed), { initialPosition: { atTimestamp: new Date("2024-06-01T00:00:00Z") } })
      yield* advance(500)
      // "old" may hold records after the time: it gets a lease; its children were found with it, before it
      // started, and start at the time too (a parent closed before it has nothing after it, nor they before it)
      expect(yield* checkpoints).toStrictEqual({ old: "AT_TIMESTAMP", a: "AT_TIMESTAMP", b: "AT_TIMESTAMP", root: "AT_TIMESTAMP" })
      expect(worker.coordinator.settings.initialPosition).toStrictEqual({ atTimestamp: Date.parse("2024-06-01T00:00:00Z") })
      // root splits once it is being read: its children continue where it ends
      const owned = yield* worker.coordinator.owned
      yield* owned.get("root")!.checkpoint({ sequenceNumber: "7", subSequenceNumber: 0 })
      yield* Ref.update(listed, (s) => [...s, shard("r1", ["root"]), shard("r2", ["root"])])
      yield* worker.coordinator.syncShards
      expect(yield* checkpoints).toMatchObject({ r1: "TRIM_HORIZON", r2: "TRIM_HORIZON" })
      yield* worker.stop
    })))

  it.effect("configuration: INITIAL_POSITION=AT_TIMESTAMP with INITIAL_TIMESTAMP (ISO 8601 or epoch milliseconds)", () =>
    Effect.gen(function*() {
      const read = (entries: ReadonlyArray<readonly [string, string]>) =>
        LeaseCoordinator.config.pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map(entries))),
          Effect.map((options) => options.initialPosition),
          Effect.either
        )
      expect(yield* read([["INITIAL_POSITION", "AT_TIMESTAMP"], ["INITIAL_TIMESTAMP", "2024-06-01T00:00:00Z"]])).toStrictEqual(
        Either.right({ atTimestamp: Date.parse("2024-06-01T00:00:00Z") })
      )
      expect(yield* read([["INITIAL_TIMESTAMP", "1717200000000"]])).toStrictEqual(Either.right({ atTimestamp: 1_717_200_000_000 }))
      expect(yield* read([["INITIAL_POSITION", "LATEST"]])).toStrictEqual(Either.right("LATEST"))
      expect(yield* read([])).toStrictEqual(Either.right(undefined))
      const missing = yield* read([["INITIAL_POSITION", "AT_TIMESTAMP"]])
      expect(String(Either.getLeft(missing).pipe((o) => o._tag === "Some" ? o.value : undefined))).toContain("INITIAL_TIMESTAMP")
      const conflicting = yield* read([["INITIAL_POSITION", "TRIM_HORIZON"], ["INITIAL_TIMESTAMP", "1717200000000"]])
      expect(Either.isLeft(conflicting)).toBe(true)
      const invalid = yield* read([["INITIAL_TIMESTAMP", "yesterday"]])
      expect(String(Either.getLeft(invalid).pipe((o) => o._tag === "Some" ? o.value : undefined))).toContain("expected a time")
    }))
})

layer(fidelityEmulators, { excludeTestServices: true, timeout: 120_000 })("AT_TIMESTAMP (kinesis-mock + dynalite, live clock)", (it) => {
  it.scoped("a consumer with no checkpoint reads from the time on, in open and closed shards and the children of a split", () =>
    Effect.gen(function*() {
      const { store, stream } = yield* setup(2)
      yield* produce(stream, 200, 2, (i) => `a-${i}`)
      // shard 0 splits before the time: it and its children hold records from before it
      const children = yield* StreamAdmin.splitShard(stream, "shardId-000000000000")
      expect(children).toHaveLength(2)
      yield* produce(stream, 200, 2, (i) => `c-${i}`)
      // arrival times have millisecond precision: leave a gap on both sides of the time
      yield* Effect.sleep("50 millis")
      const at = Date.now()
      yield* Effect.sleep("50 millis")
      const expected = yield* produce(stream, 300, 2, (i) => `b-${i}`)

      const sink = yield* RecordSink.memory<SourceRecord>()
      const scope = yield* Scope.make()
      yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
      const consumer = yield* Consumer.make(Pipeline.make("from-time").pipe(Pipeline.to(sink)), {
        stream,
        workerId: "w1",
        initialPosition: { atTimestamp: at },
        leaseDuration: "1 second",
        reader: { idleInterval: "50 millis" }
      }).pipe(Scope.extend(scope), Effect.provideService(LeaseStore.LeaseStore, store), Effect.provide(DeadLetter.layerMemory))
      const text = (records: ReadonlyArray<SourceRecord>) => records.map((r) => Buffer.from(r.data).toString("utf8"))
      yield* waitUntil("every record after the time", Effect.map(sink.items, (items) => items.length >= expected.length), 60_000, store.list)
      // the closed parent reached its end with nothing after the time
      yield* waitUntil(
        "the parent finished",
        Effect.map(store.get("shardId-000000000000"), (lease) => lease._tag === "Some" && lease.value.checkpoint === "SHARD_END"),
        10_000
      )
      expect(text(yield* sink.items).sort()).toStrictEqual([...expected].sort())
      expect((yield* consumer.exits).Finished).toBe(1)
    }))
})
