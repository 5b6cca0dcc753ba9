import { describe, expect, it } from "@effect/vitest"
import * as FaultProxy from "@tributary/local/FaultProxy"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import * as Sequence from "@tributary/core/SequenceNumber"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Stream from "effect/Stream"
import { hashKeyOf } from "../src/internal/shardMap.js"
import * as Kinesis from "../src/Kinesis.js"
import * as Metrics from "../src/Metrics.js"
import * as Producer from "../src/Producer.js"
import * as ShardReader from "../src/ShardReader.js"
import * as StreamAdmin from "../src/StreamAdmin.js"
import { Direct, drainShard, eventually, kinesalite, proxied, pollsOf, streamName, text, waitForPolls } from "./helpers.js"

const put = (stream: string, values: ReadonlyArray<string>, key = "one-key") =>
  Effect.gen(function*() {
    const kinesis = yield* Kinesis.Kinesis
    const result = yield* kinesis.putRecords({
      StreamName: stream,
      Records: values.map((v) => ({ PartitionKey: key, Data: Buffer.from(v) }))
    })
    return result.Records!.map((r) => r.SequenceNumber!)
  })

const readFrom = (stream: string, position: ShardReader.StartingPosition) =>
  Effect.gen(function*() {
    const reader = yield* ShardReader.make({ stream, shardId: "shardId-000000000000", position, follow: false, idleInterval: "10 millis" })
    return Array.from(yield* Stream.runCollect(reader.batches)).flat().map(text)
  })

const isIncreasing = (records: ReadonlyArray<SourceRecord>) =>
  records.every((r, i) => i === 0 || Sequence.compare(records[i - 1].sequenceNumber, r.sequenceNumber) < 0)

describe("ShardReader (kinesalite)", () => {
  it.scopedLive("starts at TRIM_HORIZON, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER", () =>
    Effect.gen(function*() {
      const stream = streamName()
      yield* StreamAdmin.ensureStream(stream, { shards: 1 })
      const first = yield* put(stream, ["a0", "a1", "a2", "a3", "a4"])
      // arrival times have millisecond precision: a boundary strictly after the first batch and before the second
      const clockPast = (after: number) => eventually(Effect.sync(() => Date.now()), (now) => now > after)
      const boundary = yield* clockPast(Date.now())
      yield* clockPast(boundary)
      yield* put(stream, ["b0", "b1", "b2"])

      expect(yield* readFrom(stream, ShardReader.StartingPosition.trimHorizon)).toEqual(["a0", "a1", "a2", "a3", "a4", "b0", "b1", "b2"])
      expect(yield* readFrom(stream, ShardReader.StartingPosition.atSequenceNumber(first[3]))).toEqual(["a3", "a4", "b0", "b1", "b2"])
      expect(yield* readFrom(stream, ShardReader.StartingPosition.afterSequenceNumber(first[3]))).toEqual(["a4", "b0", "b1", "b2"])
      expect(yield* readFrom(stream, ShardReader.StartingPosition.atTimestamp(boundary))).toEqual(["b0", "b1", "b2"])
      expect(yield* readFrom(stream, ShardReader.StartingPosition.latest)).toEqual([])

      // LATEST while following: only what arrives after the iterator was taken
      const polls = yield* pollsOf(stream, "shardId-000000000000")
      const reader = yield* ShardReader.make({ stream, shardId: "shardId-000000000000", position: ShardReader.StartingPosition.latest, idleInterval: "10 millis" })
      const seen: Array<string> = []
      const fiber = yield* reader.batches.pipe(
        Stream.runForEach((page) => Effect.sync(() => seen.push(...page.map(text)))),
        Effect.fork
      )
      // once it has polled, its LATEST iterator exists
      yield* waitForPolls(stream, "shardId-000000000000", polls)
      yield* put(stream, ["c0", "c1"])
      yield* eventually(Effect.sync(() => seen.length), (n) => n >= 2)
      expect(seen).toEqual(["c0", "c1"])
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(kinesalite)))

  it.scopedLive("reads back exactly the 20,000 records put across 4 shards, in order per shard and per key", () =>
    Effect.gen(function*() {
      const stream = streamName()
      yield* StreamAdmin.ensureStream(stream, { shards: 4 })
      const count = 20_000
      const producer = yield* Producer.make<number>({
        stream,
        partitionKey: (i) => `key-${i % 97}`,
        data: (i) => `${i}`,
        // one call at a time keeps the order per key
        concurrency: 1
      })
      yield* producer.write(Array.from({ length: count }, (_, i) => i))
      const shards = yield* StreamAdmin.listShards(stream)
      const read = new Map<string, Array<SourceRecord>>()
      for (const shard of shards) read.set(shard.shardId, yield* drainShard(stream, shard.shardId))
      const all = [...read.values()].flat()
      expect(all.length).toBe(count)
      expect(all.map((r) => Number(text(r))).sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => i))
      for (const shard of shards) {
        const records = read.get(shard.shardId)!
        expect(records.length).toBeGreaterThan(2_000)
        expect(isIncreasing(records)).toBe(true)
        // each record is in the shard that owns its key's hash
        expect(records.every((r) => {
          const hash = hashKeyOf(r.partitionKey)
          return hash >= shard.hashKeyRange.start && hash <= shard.hashKeyRange.end && r.shardId === shard.shardId
        })).toBe(true)
      }
      const byKey = new Map<string, Array<number>>()
      for (const r of all) {
        const values = byKey.get(r.partitionKey) ?? []
        values.push(Number(text(r)))
        byKey.set(r.partitionKey, values)
      }
      expect([...byKey.values()].every((values) => values.every((v, i) => i === 0 || values[i - 1] < v))).toBe(true)
      expect(byKey.size).toBe(97)
    }).pipe(Effect.provide(kinesalite)), 60_000)

  it.scopedLive("lag gauges: set while reading; NaN once the reader is interrupted, 0 once a closed shard is read to its end", () =>
    Effect.gen(function*() {
      const stream = streamName()
      yield* StreamAdmin.ensureStream(stream, { shards: 1 })
      const lagOf = (shardId: string) =>
        Effect.all([
          Effect.map(Metric.value(Metrics.reader.millisBehindLatest.pipe(Metric.tagged("stream", stream), Metric.tagged("shard", shardId))), (s) => s.value),
          Effect.map(Metric.value(Metrics.reader.iteratorAge.pipe(Metric.tagged("stream", stream), Metric.tagged("shard", shardId))), (s) => s.value)
        ])
      const parent = "shardId-000000000000"
      yield* put(stream, ["a0", "a1"])
      // the records are at least this old when read
      yield* Effect.sleep("100 millis")
      const pages: Array<ReadonlyArray<SourceRecord>> = []
      const reader = yield* ShardReader.make({ stream, shardId: parent, idleInterval: "20 millis" })
      const fiber = yield* reader.batches.pipe(Stream.runForEach((page) => Effect.sync(() => pages.push(page))), Effect.fork)
      yield* eventually(Effect.sync(() => pages.length), (n) => n > 0)
      const [behind, age] = yield* lagOf(parent)
      // kinesalite always answers MillisBehindLatest 0
      expect(behind).toBe(0)
      expect(age).toBeGreaterThanOrEqual(90)
      // lease lost, worker stopping...: this process no longer reads the shard, its lag is no value
      yield* Fiber.interrupt(fiber)
      const [behindAfter, ageAfter] = yield* lagOf(parent)
      expect(behindAfter).toBeNaN()
      expect(ageAfter).toBeNaN()

      // a closed shard read to its end (after a split): 0 for good, however old its last record was
      yield* StreamAdmin.splitShard(stream, parent)
      yield* eventually(StreamAdmin.describe(stream), (d) => d.status === "ACTIVE")
      const again = yield* ShardReader.make({ stream, shardId: parent, idleInterval: "20 millis" })
      const read = Array.from(yield* Stream.runCollect(again.batches)).flat()
      expect(read.map(text)).toEqual(["a0", "a1"])
      expect((yield* again.ended)._tag).toBe("ShardEnd")
      expect(yield* lagOf(parent)).toEqual([0, 0])
    }).pipe(Effect.provide(kinesalite)))

  it.scopedLive("iterators expired under it: reads on with no gap and no duplicate", () =>
    Effect.gen(function*() {
      const proxy = yield* FaultProxy.FaultProxy
      const direct = yield* Direct
      const stream = streamName()
      const values = Array.from({ length: 3_000 }, (_, i) => `v${i}`)
      yield* Effect.gen(function*() {
        yield* StreamAdmin.ensureStream(stream, { shards: 1 })
        for (let i = 0; i < values.length; i += 500) yield* put(stream, values.slice(i, i + 500))
      }).pipe(Effect.provideService(Kinesis.Kinesis, direct))
      const reader = yield* ShardReader.make({
        stream,
        shardId: "shardId-000000000000",
        maxRecords: 100,
        follow: false,
        idleInterval: "10 millis",
        maxCallsPerSecond: 1000
      })
      let pages = 0
      const seen = yield* reader.batches.pipe(
        Stream.tap(() => (++pages % 4 === 0 ? proxy.expireIteratorsNow : Effect.void)),
        Stream.runCollect
      )
      const records = Array.from(seen).flat()
      expect(records.map(text)).toEqual(values)
      expect(isIncreasing(records)).toBe(true)
      const stats = yield* proxy.stats
      expect(stats.expiredIterators).toBeGreaterThanOrEqual(5)
      expect(stats.byOperation.GetShardIterator).toBe(1 + stats.expiredIterators)
    }).pipe(Effect.provide(proxied)))
})
