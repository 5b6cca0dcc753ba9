/**
 * Fidelity tests against kinesis-mock (a child process): what kinesalite lacks, ChildShards in GetRecords
 * and UpdateShardCount. It is slow to write to, so record counts stay small and every test has its stream.
 */
import { describe, expect, layer } from "@effect/vitest"
import * as DeadLetter from "@tributary/core/DeadLetter"
import * as Pipeline from "@tributary/core/Pipeline"
import * as RecordSink from "@tributary/core/RecordSink"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Kinesis from "../src/Kinesis.js"
import * as Producer from "../src/Producer.js"
import * as ShardReader from "../src/ShardReader.js"
import * as StreamAdmin from "../src/StreamAdmin.js"
import * as StreamSource from "../src/StreamSource.js"
import { kinesisMock, streamName, text } from "./helpers.js"

/** Array#findLastIndex is ES2023; the project targets ES2022. */
const lastIndex = <A>(items: ReadonlyArray<A>, predicate: (a: A) => boolean): number => {
  for (let i = items.length - 1; i >= 0; i--) if (predicate(items[i])) return i
  return -1
}

/** The Kinesis service, counting calls per operation. */
const counting = Effect.gen(function*() {
  const kinesis = yield* Kinesis.Kinesis
  const counts: Record<string, number> = {}
  const count = (operation: string) => Effect.sync(() => void (counts[operation] = (counts[operation] ?? 0) + 1))
  const shape: Kinesis.KinesisShape = {
    ...kinesis,
    listShards: (input) => Effect.zipRight(count("ListShards"), kinesis.listShards(input)),
    getRecords: (input) => Effect.zipRight(count("GetRecords"), kinesis.getRecords(input))
  }
  return { shape, counts }
})

const readAllParentsFirst = (stream: string) =>
  Effect.gen(function*() {
    const sink = yield* RecordSink.memory<SourceRecord>()
    yield* Pipeline.make("copy").pipe(Pipeline.to(sink), Pipeline.run).pipe(
      Effect.provide(Layer.merge(StreamSource.layer({ stream, follow: false, reader: { idleInterval: "50 millis" } }), DeadLetter.layerMemory))
    )
    return yield* sink.items
  })

const parentsFirst = (log: ReadonlyArray<SourceRecord>, shards: ReadonlyArray<StreamAdmin.Shard>) =>
  shards.every((shard) =>
    [shard.parentShardId, shard.adjacentParentShardId].every((parent) => {
      if (parent === undefined) return true
      const firstOfChild = log.findIndex((r) => r.shardId === shard.shardId)
      return firstOfChild === -1 || lastIndex(log, (r) => r.shardId === parent) < firstOfChild
    })
  )

describe("kinesis-mock", () => {
  // live services (no TestClock): real sockets, real time; `it.scoped` runs in the layer's runtime
  layer(kinesisMock, { timeout: 90_000, excludeTestServices: true })((it) => {
    it.scoped("a split parent's last GetRecords page names its children (ChildShards): no ListShards needed", () =>
      Effect.gen(function*() {
        const stream = streamName("mock")
        yield* StreamAdmin.ensureStream(stream, { shards: 1 })
        const producer = yield* Producer.make<number>({ stream, partitionKey: (i) => `k${i}`, data: String })
        yield* producer.write(Array.from({ length: 40 }, (_, i) => i))
        const children = yield* StreamAdmin.splitShard(stream, "shardId-000000000000")
        const { counts, shape } = yield* counting
        const reader = yield* ShardReader.make({ stream, shardId: "shardId-000000000000", idleInterval: "50 millis" }).pipe(
          Effect.provideService(Kinesis.Kinesis, shape)
        )
        const records = Array.from(yield* Stream.runCollect(reader.batches)).flat()
        expect(records.map((r) => Number(text(r)))).toEqual(Array.from({ length: 40 }, (_, i) => i))
        expect(yield* reader.ended).toEqual({ _tag: "ShardEnd", childShardIds: children.map((c) => c.shardId) })
        expect(children.length).toBe(2)
        expect(counts.ListShards ?? 0).toBe(0)
      }))

    it.scoped("UpdateShardCount doubles the shards; every record is read once, parents before children", () =>
      Effect.gen(function*() {
        const stream = streamName("mock")
        yield* StreamAdmin.ensureStream(stream, { shards: 2 })
        const producer = yield* Producer.make<number>({ stream, partitionKey: (i) => `key-${i % 10}`, data: String, concurrency: 1 })
        yield* producer.write(Array.from({ length: 150 }, (_, i) => i))
        const scaled = yield* StreamAdmin.updateShardCount(stream, 4)
        expect([scaled.status, scaled.openShardCount]).toEqual(["ACTIVE", 4])
        yield* producer.write(Array.from({ length: 150 }, (_, i) => 150 + i))
        const shards = yield* StreamAdmin.listShards(stream)
        expect(shards.filter((s) => !StreamAdmin.isClosed(s)).length).toBe(4)
        const log = yield* readAllParentsFirst(stream)
        expect(log.map((r) => Number(text(r))).sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i))
        expect(parentsFirst(log, shards)).toBe(true)
        expect(new Set(log.map((r) => r.shardId)).size).toBeGreaterThan(2)
      }))

    it.scoped("a merge: the child has both parents and is read after both", () =>
      Effect.gen(function*() {
        const stream = streamName("mock")
        yield* StreamAdmin.ensureStream(stream, { shards: 2 })
        const producer = yield* Producer.make<number>({ stream, partitionKey: (i) => `key-${i % 10}`, data: String, concurrency: 1 })
        yield* producer.write(Array.from({ length: 100 }, (_, i) => i))
        const child = yield* StreamAdmin.mergeShards(stream, "shardId-000000000000", "shardId-000000000001")
        expect([child.parentShardId, child.adjacentParentShardId]).toEqual(["shardId-000000000000", "shardId-000000000001"])
        yield* producer.write(Array.from({ length: 100 }, (_, i) => 100 + i))
        const log = yield* readAllParentsFirst(stream)
        expect(log.map((r) => Number(text(r))).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i))
        expect(parentsFirst(log, yield* StreamAdmin.listShards(stream))).toBe(true)
        expect(log.filter((r) => r.shardId === child.shardId).length).toBe(100)
      }))

    it.scoped("lists shards page by page", () =>
      Effect.gen(function*() {
        const stream = streamName("mock")
        yield* StreamAdmin.ensureStream(stream, { shards: 5 })
        const { counts, shape } = yield* counting
        const shards = yield* StreamAdmin.listShards(stream, { pageSize: 2 }).pipe(Effect.provideService(Kinesis.Kinesis, shape))
        expect(shards.map((s) => s.shardId)).toEqual(Array.from({ length: 5 }, (_, i) => `shardId-00000000000${i}`))
        expect(counts.ListShards).toBe(3)
      }))
  })
})
