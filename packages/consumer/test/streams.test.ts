/**
 * Several streams under one lease table: workers of two streams, each with its own pipeline, on kinesalite
 * and dynalite (live clock); a single-stream table adopted by a worker of several streams.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import * as DeadLetter from "@tributary/core/DeadLetter"
import * as LeaseStore from "@tributary/core/LeaseStore"
import * as Pipeline from "@tributary/core/Pipeline"
import * as RecordSink from "@tributary/core/RecordSink"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import { StreamAdmin } from "@tributary/kinesis"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Consumer from "../src/Consumer.js"
import * as LeaseKey from "../src/LeaseKey.js"
import * as LeaseView from "../src/LeaseView.js"
import { emulators, ownership, produce, setup, split, uniqueName, waitUntil } from "./helpers.js"

const timing = { leaseDuration: "1 second", reader: { idleInterval: "50 millis" } } as const

const text = (records: ReadonlyArray<SourceRecord>) => records.map((r) => Buffer.from(r.data).toString("utf8"))

/** Runs `make` in a scope of its own, closed when the test ends or by `stop`. */
const started = <E, R>(make: Effect.Effect<Consumer.ConsumerShape, E, R | Scope.Scope>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const consumer = yield* make.pipe(Scope.extend(scope))
    return { consumer, stop: Scope.close(scope, Exit.void) }
  })

describe("LeaseKey", () => {
  it("names the stream and the shard, or the shard alone", () => {
    expect(LeaseKey.make("orders", "shardId-000000000001")).toBe("orders:shardId-000000000001")
    expect(LeaseKey.parse("orders:shardId-000000000001")).toStrictEqual({ stream: "orders", shardId: "shardId-000000000001" })
    expect(LeaseKey.parse("shardId-000000000001")).toStrictEqual({ stream: undefined, shardId: "shardId-000000000001" })
    expect(LeaseKey.validateStream("orders.v2_x-1")).toBeUndefined()
    expect(LeaseKey.validateStream("a:b")).toContain("not a Kinesis stream name")
  })
})

layer(emulators, { excludeTestServices: true, timeout: 90_000 })("several streams, one lease table (kinesalite + dynalite)", (it) => {
  it.scoped("two workers of two streams: each record through its stream's pipeline, leases keyed by stream, one balance", () =>
    Effect.gen(function*() {
      const { store, stream: orders } = yield* setup(2)
      const clicks = uniqueName("clicks")
      yield* StreamAdmin.ensureStream(clicks, { shards: 2 })
      const sinks = { orders: yield* RecordSink.memory<SourceRecord>(), clicks: yield* RecordSink.memory<SourceRecord>() }
      const streams = [
        { stream: orders, pipeline: Pipeline.make("orders").pipe(Pipeline.to(sinks.orders)) },
        { stream: clicks, pipeline: Pipeline.make("clicks").pipe(Pipeline.to(sinks.clicks)) }
      ] as const
      const worker = (workerId: string) =>
        started(Consumer.makeStreams(streams, { ...timing, workerId, initialPosition: "TRIM_HORIZON" }).pipe(
          Effect.provideService(LeaseStore.LeaseStore, store),
          Effect.provide(DeadLetter.layerMemory)
        ))
      const w1 = yield* worker("w1")
      const w2 = yield* worker("w2")
      expect(w1.consumer.streams).toStrictEqual([orders, clicks])
      const producedOrders = yield* produce(orders, 400, 2, (i) => `order-${i}`)
      const producedClicks = yield* produce(clicks, 600, 2, (i) => `click-${i}`)
      yield* waitUntil(
        "every record in its stream's sink",
        Effect.map(Effect.all([sinks.orders.items, sinks.clicks.items]), ([o, c]) => o.length >= 400 && c.length >= 600),
        30_000
      )
      expect(text(yield* sinks.orders.items).sort()).toStrictEqual([...producedOrders].sort())
      expect(text(yield* sinks.clicks.items).sort()).toStrictEqual([...producedClicks].sort())
      // four leases, keyed by stream, shared out 2/2 over both streams
      const keys = (yield* store.list).map((lease) => lease.leaseKey).sort()
      expect(keys).toStrictEqual([
        `${clicks}:shardId-000000000000`,
        `${clicks}:shardId-000000000001`,
        `${orders}:shardId-000000000000`,
        `${orders}:shardId-000000000001`
      ])
      yield* waitUntil("2/2", Effect.map(ownership(store), (c) => split(c).join() === "2,2"), 10_000, ownership(store))
      const summaries = yield* Effect.all([w1.consumer.summary, w2.consumer.summary])
      expect(summaries[0].recordsIn + summaries[1].recordsIn).toBe(1000)
      // read again, the totals are the same (the summary is read every second by dashboards and the demo)
      const again = yield* Effect.all([w1.consumer.summary, w2.consumer.summary])
      expect(again).toStrictEqual(summaries)
      // the lease view reads each key's stream for its lag
      const rows = yield* LeaseView.rows().pipe(Effect.provideService(LeaseStore.LeaseStore, store))
      expect(rows.map((row) => row.lagMillis)).toStrictEqual([0, 0, 0, 0])
    }))

  it.scoped("a single-stream table keeps working: its worker's leases adopted by a worker of several streams, the others left alone", () =>
    Effect.gen(function*() {
      const { store, stream: orders } = yield* setup(2)
      const clicks = uniqueName("clicks")
      yield* StreamAdmin.ensureStream(clicks, { shards: 1 })
      const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        effect.pipe(Effect.provideService(LeaseStore.LeaseStore, store), Effect.provide(DeadLetter.layerMemory))

      // a worker of one stream reads what is there, checkpoints and stops
      const first = yield* produce(orders, 300, 2, (i) => `a-${i}`)
      const before = yield* RecordSink.memory<SourceRecord>()
      const single = yield* started(provide(Consumer.make(Pipeline.make("orders").pipe(Pipeline.to(before)), {
        ...timing,
        stream: orders,
        workerId: "single",
        initialPosition: "TRIM_HORIZON"
      })))
      yield* waitUntil("the first records", Effect.map(before.items, (items) => items.length >= first.length), 30_000)
      yield* single.stop
      expect((yield* store.list).map((lease) => lease.leaseKey).sort()).toStrictEqual(["shardId-000000000000", "shardId-000000000001"])

      // the same table, now with a second stream: orders resumes after its checkpoints
      const second = yield* produce(orders, 200, 2, (i) => `b-${i}`)
      yield* produce(clicks, 100, 1, (i) => `click-${i}`)
      const after = yield* RecordSink.memory<SourceRecord>()
      const clickSink = yield* RecordSink.memory<SourceRecord>()
      yield* started(provide(Consumer.makeStreams([
        { stream: orders, pipeline: Pipeline.make("orders").pipe(Pipeline.to(after)), shardIdLeaseKeys: true },
        { stream: clicks, pipeline: Pipeline.make("clicks").pipe(Pipeline.to(clickSink)) }
      ], { ...timing, workerId: "multi", initialPosition: "TRIM_HORIZON" })))
      yield* waitUntil(
        "the records since",
        Effect.map(Effect.all([after.items, clickSink.items]), ([a, c]) => a.length >= second.length && c.length >= 100),
        30_000
      )
      // nothing read twice: the single-stream checkpoints held
      expect(text(yield* after.items).sort()).toStrictEqual([...second].sort())
      expect((yield* store.list).map((lease) => lease.leaseKey).sort()).toStrictEqual([
        `${clicks}:shardId-000000000000`,
        "shardId-000000000000",
        "shardId-000000000001"
      ])

      // a worker of the other stream alone, on the same table, leaves the orders leases alone
      const alone = yield* started(provide(Consumer.makeStreams(
        [{ stream: clicks, pipeline: Pipeline.make("clicks").pipe(Pipeline.to(RecordSink.drain)) }],
        { ...timing, workerId: "clicks-only", initialPosition: "TRIM_HORIZON" }
      )))
      yield* Effect.sleep("2 seconds")
      for (const key of yield* alone.consumer.shards) expect(LeaseKey.parse(key).stream).toBe(clicks)
    }))

  it.scoped("makeStreams refuses no stream, a stream twice, and two streams keyed by shard id alone", () =>
    Effect.gen(function*() {
      const pipeline = Pipeline.make("p").pipe(Pipeline.to(RecordSink.drain))
      const refused = (streams: ReadonlyArray<Consumer.StreamOptions>) =>
        Consumer.makeStreams(streams).pipe(
          Effect.flip,
          Effect.map((error) => `${error.option}: ${error.message}`),
          Effect.provideService(LeaseStore.LeaseStore, LeaseStore.unsafeMakeMemory()),
          Effect.provide(DeadLetter.layerMemory)
        )
      expect(yield* refused([])).toContain("must name at least one stream")
      expect(yield* refused([{ stream: "a", pipeline }, { stream: "a", pipeline }])).toContain("must not name a stream twice")
      expect(yield* refused([{ stream: "a:b", pipeline }])).toContain("not a Kinesis stream name")
      expect(yield* refused([{ stream: "a", pipeline, shardIdLeaseKeys: true }, { stream: "b", pipeline, shardIdLeaseKeys: true }]))
        .toContain("one stream at most")
    }))
})
