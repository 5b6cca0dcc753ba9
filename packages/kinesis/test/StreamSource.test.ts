import { describe, expect, it } from "@effect/vitest"
import * as DeadLetter from "@tributary/core/DeadLetter"
import * as Pipeline from "@tributary/core/Pipeline"
import { RecordSource } from "@tributary/core/RecordSource"
import * as RecordSink from "@tributary/core/RecordSink"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Producer from "../src/Producer.js"
import * as StreamAdmin from "../src/StreamAdmin.js"
import * as StreamSource from "../src/StreamSource.js"
import { kinesalite, streamName, text, waitForPolls } from "./helpers.js"

/** Array#findLastIndex is ES2023; the project targets ES2022. */
const lastIndex = <A>(items: ReadonlyArray<A>, predicate: (a: A) => boolean): number => {
  for (let i = items.length - 1; i >= 0; i--) if (predicate(items[i])) return i
  return -1
}

/** Runs a pipeline that copies every record into a memory sink, in the order the shards' fibers wrote them. */
const copyInto = (sink: RecordSink.MemorySink<SourceRecord>, options: StreamSource.SourceOptions) =>
  Pipeline.make("copy").pipe(Pipeline.to(sink), Pipeline.run).pipe(
    Effect.provide(Layer.merge(StreamSource.layer(options), DeadLetter.layerMemory))
  )

const waitFor = (condition: Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1000 && !(yield* condition); i++) yield* Effect.sleep("20 millis")
  })

/** Every shard's records appear in the log only after every record of each of its parents. */
const parentsFirst = (log: ReadonlyArray<SourceRecord>, shards: ReadonlyArray<StreamAdmin.Shard>) =>
  shards.flatMap((shard) =>
    [shard.parentShardId, shard.adjacentParentShardId].flatMap((parent) => {
      if (parent === undefined) return []
      const lastOfParent = lastIndex(log, (r) => r.shardId === parent)
      const firstOfChild = log.findIndex((r) => r.shardId === shard.shardId)
      return firstOfChild === -1 || lastOfParent === -1 ? [] : [[parent, shard.shardId, lastOfParent < firstOfChild] as const]
    })
  )

const inKeyOrder = (log: ReadonlyArray<SourceRecord>) => {
  const last = new Map<string, number>()
  return log.every((r) => {
    const value = Number(text(r))
    const ok = (last.get(r.partitionKey) ?? -1) < value
    last.set(r.partitionKey, value)
    return ok
  })
}

describe("StreamSource (kinesalite)", () => {
  it.scopedLive("reads every record through a split and a merge made while reading, parents before children", () =>
    Effect.gen(function*() {
      const stream = streamName()
      yield* StreamAdmin.ensureStream(stream, { shards: 2 })
      const sink = yield* RecordSink.memory<SourceRecord>()
      const reading = yield* Effect.fork(copyInto(sink, { stream, reader: { idleInterval: "50 millis" } }))
      const producer = yield* Producer.make<number>({ stream, partitionKey: (i) => `key-${i % 40}`, data: String, concurrency: 1 })
      const write = (from: number, count: number) => producer.write(Array.from({ length: count }, (_, i) => from + i))
      yield* write(0, 2_000)
      yield* StreamAdmin.splitShard(stream, "shardId-000000000000")
      yield* write(2_000, 2_000)
      yield* StreamAdmin.mergeShards(stream, "shardId-000000000003", "shardId-000000000001")
      yield* write(4_000, 2_000)
      yield* waitFor(Effect.map(sink.items, (items) => items.length >= 6_000))
      yield* Effect.sleep("200 millis")
      yield* Fiber.interrupt(reading)
      const log = yield* sink.items
      expect(log.map((r) => Number(text(r))).sort((a, b) => a - b)).toEqual(Array.from({ length: 6_000 }, (_, i) => i))
      const shards = yield* StreamAdmin.listShards(stream)
      expect(new Set(log.map((r) => r.shardId))).toEqual(new Set(shards.map((s) => s.shardId)))
      expect(parentsFirst(log, shards)).toEqual([
        ["shardId-000000000000", "shardId-000000000002", true],
        ["shardId-000000000000", "shardId-000000000003", true],
        ["shardId-000000000003", "shardId-000000000004", true],
        ["shardId-000000000001", "shardId-000000000004", true]
      ])
      expect(inKeyOrder(log)).toBe(true)
    }).pipe(Effect.provide(kinesalite)), 60_000)

  it.scopedLive("a bounded read of a resharded stream ends once every shard is read", () =>
    Effect.gen(function*() {
      const stream = streamName()
      yield* StreamAdmin.ensureStream(stream, { shards: 2 })
      const producer = yield* Producer.make<number>({ stream, partitionKey: (i) => `key-${i % 40}`, data: String, concurrency: 1 })
      yield* producer.write(Array.from({ length: 1_000 }, (_, i) => i))
      yield* StreamAdmin.splitShard(stream, "shardId-000000000001")
      yield* producer.write(Array.from({ length: 1_000 }, (_, i) => 1_000 + i))
      const sink = yield* RecordSink.memory<SourceRecord>()
      const summary = yield* copyInto(sink, { stream, follow: false })
      const log = yield* sink.items
      expect([summary.recordsIn, summary.recordsOut]).toEqual([2_000, 2_000])
      expect(log.map((r) => Number(text(r))).sort((a, b) => a - b)).toEqual(Array.from({ length: 2_000 }, (_, i) => i))
      expect(parentsFirst(log, yield* StreamAdmin.listShards(stream)).every(([, , ok]) => ok)).toBe(true)
      expect(inKeyOrder(log)).toBe(true)
    }).pipe(Effect.provide(kinesalite)))

  it.scopedLive("keeps checkpoints in memory: a source made again resumes after them", () =>
    Effect.gen(function*() {
      const stream = streamName()
      yield* StreamAdmin.ensureStream(stream, { shards: 2 })
      const producer = yield* Producer.make<number>({ stream, partitionKey: (i) => `k${i}`, data: String })
      yield* producer.write(Array.from({ length: 700 }, (_, i) => i))
      const checkpoints = StreamSource.memoryCheckpoints()
      const first = yield* RecordSink.memory<SourceRecord>()
      yield* copyInto(first, { stream, follow: false, checkpoints })
      expect((yield* first.items).length).toBe(700)
      const stored = yield* checkpoints.all
      const lastPerShard = new Map((yield* first.items).map((r) => [r.shardId, { sequenceNumber: r.sequenceNumber, subSequenceNumber: 0 }]))
      expect(stored.size).toBe(2)
      expect(stored).toStrictEqual(lastPerShard)

      yield* producer.write(Array.from({ length: 300 }, (_, i) => 700 + i))
      const second = yield* RecordSink.memory<SourceRecord>()
      yield* copyInto(second, { stream, follow: false, checkpoints })
      expect((yield* second.items).map((r) => Number(text(r))).sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => 700 + i))

      // a shard read to its end is marked so, and skipped next time
      yield* StreamAdmin.splitShard(stream, "shardId-000000000000")
      const third = yield* RecordSink.memory<SourceRecord>()
      yield* copyInto(third, { stream, follow: false, checkpoints })
      expect((yield* third.items).length).toBe(0)
      expect((yield* checkpoints.all).get("shardId-000000000000")).toBe("SHARD_END")
    }).pipe(Effect.provide(kinesalite)))

  it.scopedLive("LATEST reads only open shards, only what arrives after it started", () =>
    Effect.gen(function*() {
      const stream = streamName()
      yield* StreamAdmin.ensureStream(stream, { shards: 2 })
      const producer = yield* Producer.make<number>({ stream, partitionKey: (i) => `k${i}`, data: String })
      yield* producer.write(Array.from({ length: 100 }, (_, i) => i))
      yield* StreamAdmin.splitShard(stream, "shardId-000000000000")
      yield* producer.write(Array.from({ length: 100 }, (_, i) => 100 + i))
      const source = yield* StreamSource.make({ stream, initialPosition: { type: "LATEST" }, reader: { idleInterval: "20 millis" } })
      const started: Array<string> = []
      const sink = yield* RecordSink.memory<SourceRecord>()
      const reading = yield* Effect.fork(
        Pipeline.make("latest").pipe(Pipeline.to(sink), Pipeline.run).pipe(
          Effect.provide(Layer.merge(
            Layer.succeed(RecordSource, {
              ...source,
              shards: source.shards.pipe(Stream.tap((shard) => Effect.sync(() => started.push(shard.shardId))))
            }),
            DeadLetter.layerMemory
          ))
        )
      )
      yield* waitFor(Effect.sync(() => started.length === 3))
      for (const shardId of ["shardId-000000000001", "shardId-000000000002", "shardId-000000000003"]) {
        yield* waitForPolls(stream, shardId)
      }
      yield* producer.write(Array.from({ length: 100 }, (_, i) => 200 + i))
      yield* waitFor(Effect.map(sink.items, (items) => items.length >= 100))
      yield* Effect.sleep("100 millis")
      yield* Fiber.interrupt(reading)
      expect(started.sort()).toEqual(["shardId-000000000001", "shardId-000000000002", "shardId-000000000003"])
      expect((yield* sink.items).map((r) => Number(text(r))).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => 200 + i))
    }).pipe(Effect.provide(kinesalite)))

  it.scopedLive("LATEST after a reshard goes on where an earlier run stopped: the rest of a closed shard it checkpointed, then its children", () =>
    Effect.gen(function*() {
      const stream = streamName()
      yield* StreamAdmin.ensureStream(stream, { shards: 1 })
      const producer = yield* Producer.make<number>({ stream, partitionKey: (i) => `k${i}`, data: String })
      yield* producer.write(Array.from({ length: 100 }, (_, i) => i))
      // an earlier run read the shard up to record 49, then stopped
      const checkpoints = StreamSource.memoryCheckpoints()
      const earlier = yield* RecordSink.memory<SourceRecord>()
      yield* copyInto(earlier, { stream, follow: false })
      const fiftieth = (yield* earlier.items)[49]
      expect(text(fiftieth)).toBe("49")
      yield* checkpoints.set("shardId-000000000000", { sequenceNumber: fiftieth.sequenceNumber, subSequenceNumber: 0 })
      // meanwhile the shard was split, and records went on to its children
      yield* StreamAdmin.splitShard(stream, "shardId-000000000000")
      yield* producer.write(Array.from({ length: 100 }, (_, i) => 100 + i))

      const sink = yield* RecordSink.memory<SourceRecord>()
      yield* copyInto(sink, { stream, follow: false, checkpoints, initialPosition: { type: "LATEST" } })
      const log = yield* sink.items
      expect(log.map((r) => Number(text(r))).sort((a, b) => a - b)).toEqual(Array.from({ length: 150 }, (_, i) => 50 + i))
      expect(parentsFirst(log, yield* StreamAdmin.listShards(stream)).every(([, , ok]) => ok)).toBe(true)
      expect((yield* checkpoints.all).get("shardId-000000000000")).toBe("SHARD_END")
    }).pipe(Effect.provide(kinesalite)))
})
