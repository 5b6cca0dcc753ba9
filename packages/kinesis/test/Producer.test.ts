import { describe, expect, it } from "@effect/vitest"
import * as DeadLetter from "@tributary/core/DeadLetter"
import * as MemoryStream from "@tributary/core/MemoryStream"
import * as Pipeline from "@tributary/core/Pipeline"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import * as FaultProxy from "@tributary/local/FaultProxy"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { createRequire } from "node:module"
import { hashKeyOf } from "../src/internal/shardMap.js"
import * as Kinesis from "../src/Kinesis.js"
import * as Metrics from "../src/Metrics.js"
import * as Producer from "../src/Producer.js"
import * as StreamAdmin from "../src/StreamAdmin.js"
import { makeFake } from "./fake.js"
import { Direct, drainShard, drainStream, kinesalite, proxied, streamName, text } from "./helpers.js"

/** The Kinesis service with every PutRecords call's entry count and bytes recorded. */
const recording = Effect.gen(function*() {
  const kinesis = yield* Kinesis.Kinesis
  const calls: Array<{ readonly records: number; readonly bytes: number }> = []
  const shape: Kinesis.KinesisShape = {
    ...kinesis,
    putRecords: (input) =>
      Effect.suspend(() => {
        const records = input.Records ?? []
        calls.push({
          records: records.length,
          bytes: records.reduce((n, r) => n + (r.Data?.length ?? 0) + Buffer.byteLength(r.PartitionKey ?? ""), 0)
        })
        return kinesis.putRecords(input)
      })
  }
  return { shape, calls }
})

const readAll = (stream: string) =>
  Effect.map(drainStream(stream), (shards) => [...shards.values()].flat())

describe("Producer (kinesalite)", () => {
  it.scopedLive("stores every item in PutRecords calls of at most 500 records and 5 MiB", () =>
    Effect.gen(function*() {
      const stream = streamName()
      yield* StreamAdmin.ensureStream(stream, { shards: 2 })
      const { calls, shape } = yield* recording
      const producer = yield* Producer.make<string>({ stream, partitionKey: (s) => s, data: (s) => `value ${s}` }).pipe(
        Effect.provideService(Kinesis.Kinesis, shape)
      )
      const small = Array.from({ length: 1_234 }, (_, i) => `item-${i}`)
      yield* producer.write(small)
      expect(calls.every((c) => c.records <= 500)).toBe(true)
      expect(calls.reduce((n, c) => n + c.records, 0)).toBe(1_234)
      calls.length = 0
      const large = yield* Producer.make<number>({ stream, partitionKey: (i) => `big-${i}`, data: (i) => new Uint8Array(400 * 1024).fill(i) }).pipe(
        Effect.provideService(Kinesis.Kinesis, shape)
      )
      yield* large.write(Array.from({ length: 30 }, (_, i) => i))
      expect(calls.every((c) => c.bytes <= 5 * 1024 * 1024)).toBe(true)
      expect(calls.reduce((n, c) => n + c.records, 0)).toBe(30)
      expect(calls.length).toBeGreaterThanOrEqual(3)
      const read = yield* readAll(stream)
      expect(read.filter((r) => r.partitionKey.startsWith("item-")).map(text).sort()).toEqual(small.map((s) => `value ${s}`).sort())
      expect(read.filter((r) => r.partitionKey.startsWith("big-")).map((r) => [r.data.length, r.data[0]]).sort((a, b) => a[1] - b[1]))
        .toEqual(Array.from({ length: 30 }, (_, i) => [400 * 1024, i]))
      const stats = yield* producer.stats
      expect([stats.records, stats.kinesisRecords, stats.retriedEntries, stats.failedRecords, stats.buffered]).toEqual([1_234, 1_234, 0, 0, 0])
    }).pipe(Effect.provide(kinesalite)))

  it.scopedLive("an item that can never be stored fails its write permanently before anything is sent; a pipeline dead-letters it", () =>
    Effect.gen(function*() {
      const stream = streamName()
      yield* StreamAdmin.ensureStream(stream, { shards: 1 })
      const { calls, shape } = yield* recording
      const producer = yield* Producer.make<SourceRecord>({ stream, partitionKey: (r) => r.partitionKey, data: (r) => r.data }).pipe(
        Effect.provideService(Kinesis.Kinesis, shape)
      )
      const oversized = new Uint8Array(1024 * 1024 - 2)
      const records: Array<SourceRecord> = ["a", "b", "huge", "c"].map((key, i) => ({
        stream: "in",
        shardId: "shardId-000000000000",
        sequenceNumber: String(100 + i),
        subSequenceNumber: 0,
        partitionKey: key,
        arrivalTime: 0,
        data: key === "huge" ? oversized : Buffer.from(key)
      }))
      const failure = yield* Effect.flip(producer.write(records))
      expect([failure._tag, failure.retryability, failure.sink]).toEqual(["SinkError", "permanent", `kinesis:${stream}`])
      expect(failure.reason).toBe("item 2: the record has 1048578 bytes with its partition key; at most 1048576 are allowed")
      expect((failure.cause as Producer.InvalidRecord)._tag).toBe("InvalidRecord")
      expect(calls.length).toBe(0)
      const badKey = yield* Effect.flip(producer.write([{ ...records[0], partitionKey: "" }]))
      expect(badKey.reason).toBe("item 0: the partition key must have 1 to 256 characters")

      // through a pipeline: the oversized record goes to the dead letters, the others to the stream
      const input = yield* MemoryStream.make({ name: "in", shards: 1 })
      yield* input.put(["a", "b", "c", "d", "e"].map((key) => ({ partitionKey: key, data: key })))
      yield* input.put([{ partitionKey: "huge", data: oversized }])
      yield* input.put([{ partitionKey: "f", data: "f" }])
      const { letters, summary } = yield* Effect.gen(function*() {
        const summary = yield* Pipeline.make("forward").pipe(Pipeline.to(producer), Pipeline.run)
        const letters = yield* Effect.flatMap(DeadLetter.MemoryDeadLetters, (sink) => sink.items)
        return { summary, letters }
      }).pipe(Effect.provide(Layer.merge(MemoryStream.layerSource(input), DeadLetter.layerMemory)))
      expect(letters.map((l) => [l.partitionKey, l.stage, l.data.length])).toEqual([["huge", `sink:kinesis:${stream}`, oversized.length]])
      expect([summary.recordsIn, summary.recordsOut, summary.deadLettered]).toEqual([7, 6, 1])
      const stored = yield* drainShard(stream, "shardId-000000000000")
      expect(stored.map(text).sort()).toEqual(["a", "b", "c", "d", "e", "f"])
    }).pipe(Effect.provide(kinesalite)))

  it.scopedLive("retries only the failed entries of a partial failure", () =>
    Effect.gen(function*() {
      const proxy = yield* FaultProxy.FaultProxy
      const direct = yield* Direct
      const stream = streamName()
      yield* StreamAdmin.ensureStream(stream, { shards: 2 }).pipe(Effect.provideService(Kinesis.Kinesis, direct))
      yield* proxy.setFaults({ seed: 11, rules: { PutRecords: { entryFailure: 0.3 } } })
      const producer = yield* Producer.make<number>({
        stream,
        partitionKey: (i) => `k${i}`,
        data: (i) => `${i}`,
        backoffBase: "5 millis",
        maxRetries: 20
      })
      yield* producer.write(Array.from({ length: 2_000 }, (_, i) => i))
      const stats = yield* producer.stats
      const faults = yield* proxy.stats
      expect(faults.entryFailures).toBeGreaterThan(400)
      expect(stats.retriedEntries).toBe(faults.entryFailures)
      expect(stats.throttledEntries).toBe(faults.entryFailures)
      expect(faults.putRecordsEntries).toBe(2_000 + faults.entryFailures)
      expect([stats.records, stats.possibleDuplicates, stats.failedRecords]).toEqual([2_000, 0, 0])
      const read = yield* readAll(stream).pipe(Effect.provideService(Kinesis.Kinesis, direct))
      // exactly once: failed entries were not stored, so nothing is duplicated
      expect(read.map((r) => Number(text(r))).sort((a, b) => a - b)).toEqual(Array.from({ length: 2_000 }, (_, i) => i))
    }).pipe(Effect.provide(proxied)))

  it.scopedLive("gives up after maxRetries with a transient SinkError", () =>
    Effect.gen(function*() {
      const proxy = yield* FaultProxy.FaultProxy
      const direct = yield* Direct
      const stream = streamName()
      yield* StreamAdmin.ensureStream(stream, { shards: 1 }).pipe(Effect.provideService(Kinesis.Kinesis, direct))
      yield* proxy.setFaults({ rules: { PutRecords: { throttle: 1 } } })
      const producer = yield* Producer.make<number>({ stream, partitionKey: String, data: String, maxRetries: 2, backoffBase: "5 millis" })
      const error = yield* Effect.flip(producer.write([1, 2, 3]))
      expect([error.retryability, error.reason]).toEqual(["transient", "3 entries still failing after 2 retries"])
      const stats = yield* producer.stats
      expect([stats.putRecordsCalls, stats.retriedEntries, stats.throttledEntries, stats.failedRecords]).toEqual([3, 6, 9, 3])
      expect((yield* proxy.stats).throttled).toBe(3)
    }).pipe(Effect.provide(proxied)))

  it.scopedLive("writes wait while the buffer is full", () =>
    Effect.gen(function*() {
      const proxy = yield* FaultProxy.FaultProxy
      const direct = yield* Direct
      const stream = streamName()
      yield* StreamAdmin.ensureStream(stream, { shards: 1 }).pipe(Effect.provideService(Kinesis.Kinesis, direct))
      yield* proxy.setFaults({ rules: { PutRecords: { latency: "100 millis" } } })
      const producer = yield* Producer.make<number>({ stream, partitionKey: String, data: String, maxBufferedRecords: 100, maxBatchRecords: 50, concurrency: 1 })
      const writes = yield* Effect.fork(Effect.all([
        producer.write(Array.from({ length: 250 }, (_, i) => i)),
        producer.write(Array.from({ length: 250 }, (_, i) => 250 + i))
      ], { concurrency: 2 }))
      let most = 0
      while (true) {
        const stats = yield* producer.stats
        most = Math.max(most, stats.buffered)
        if (stats.records === 500) break
        yield* Effect.sleep("10 millis")
      }
      expect(yield* Fiber.join(writes)).toEqual([undefined, undefined])
      expect(most).toBeGreaterThan(0)
      expect(most).toBeLessThanOrEqual(100)
      const read = yield* drainShard(stream, "shardId-000000000000").pipe(Effect.provideService(Kinesis.Kinesis, direct))
      expect(read.map((r) => Number(text(r))).sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i))
    }).pipe(Effect.provide(proxied)))

  it.scopedLive("sends everything buffered when its scope closes, even if the writer was interrupted", () =>
    Effect.gen(function*() {
      const proxy = yield* FaultProxy.FaultProxy
      const direct = yield* Direct
      const stream = streamName()
      yield* StreamAdmin.ensureStream(stream, { shards: 1 }).pipe(Effect.provideService(Kinesis.Kinesis, direct))
      yield* proxy.setFaults({ rules: { PutRecords: { latency: "150 millis" } } })
      const scope = yield* Scope.make()
      const producer = yield* Producer.make<number>({ stream, partitionKey: String, data: String, concurrency: 1 }).pipe(Scope.extend(scope))
      const writer = yield* Effect.fork(producer.write(Array.from({ length: 1_000 }, (_, i) => i)))
      while ((yield* producer.stats).buffered < 1_000) yield* Effect.sleep("5 millis")
      yield* Fiber.interrupt(writer)
      expect((yield* producer.stats).records).toBe(0)
      yield* Scope.close(scope, Exit.void)
      const stats = yield* producer.stats
      expect([stats.records, stats.buffered]).toEqual([1_000, 0])
      const closed = yield* Effect.flip(producer.write([1]))
      expect(closed.reason).toBe("the producer is closed")
      const read = yield* drainShard(stream, "shardId-000000000000").pipe(Effect.provideService(Kinesis.Kinesis, direct))
      expect(read.length).toBe(1_000)
    }).pipe(Effect.provide(proxied)))

  it.scopedLive("aggregates records bound for one shard; the reader and aws-kinesis-agg get every user record back", () =>
    Effect.gen(function*() {
      const stream = streamName()
      yield* StreamAdmin.ensureStream(stream, { shards: 4 })
      const producer = yield* Producer.make<number>({
        stream,
        partitionKey: (i) => `user-${i % 50}`,
        data: (i) => JSON.stringify({ i }),
        aggregation: { maxBytes: 4096 }
      })
      yield* producer.write(Array.from({ length: 5_000 }, (_, i) => i))
      const stats = yield* producer.stats
      expect(stats.records).toBe(5_000)
      expect(stats.kinesisRecords).toBeLessThan(500)
      const shards = yield* StreamAdmin.listShards(stream)
      let users = 0
      for (const shard of shards) {
        const records = yield* drainShard(stream, shard.shardId)
        users += records.length
        // grouped by shard: every user record's own key hashes into the shard it was stored in
        expect(records.every((r) => {
          const hash = hashKeyOf(r.partitionKey)
          return hash >= shard.hashKeyRange.start && hash <= shard.hashKeyRange.end
        })).toBe(true)
        // user records of one Kinesis record share its sequence number, numbered from 0
        const bySequence = new Map<string, Array<number>>()
        for (const r of records) bySequence.set(r.sequenceNumber, [...(bySequence.get(r.sequenceNumber) ?? []), r.subSequenceNumber])
        expect([...bySequence.values()].every((subs) => subs.every((s, i) => s === i))).toBe(true)
      }
      expect(users).toBe(5_000)
      const all = [...(yield* drainStream(stream)).values()].flat()
      expect(all.map((r) => JSON.parse(text(r)).i).sort((a: number, b: number) => a - b)).toEqual(Array.from({ length: 5_000 }, (_, i) => i))
      // the stored Kinesis records, deaggregated by AWS's own library
      const kinesis = yield* Kinesis.Kinesis
      const awsAgg = createRequire(import.meta.url)("aws-kinesis-agg") as {
        deaggregateSync(r: { data: string; partitionKey: string; sequenceNumber: string }, checksums: boolean, cb: (e: unknown, u?: Array<{ data: string }>) => void): void
      }
      let theirs = 0
      for (const shard of shards) {
        const { ShardIterator } = yield* kinesis.getShardIterator({ StreamName: stream, ShardId: shard.shardId, ShardIteratorType: "TRIM_HORIZON" })
        const page = yield* kinesis.getRecords({ ShardIterator })
        for (const record of page.Records ?? []) {
          awsAgg.deaggregateSync({ data: Buffer.from(record.Data!).toString("base64"), partitionKey: record.PartitionKey!, sequenceNumber: record.SequenceNumber! }, true, (e, u) => {
            if (e) throw e
            theirs += u!.length
          })
        }
      }
      expect(theirs).toBe(5_000)
    }).pipe(Effect.provide(kinesalite)))
})

describe("Producer rate limiting (TestClock)", () => {
  it.effect("holds each shard to its records per second (token bucket, one second of burst)", () =>
    Effect.gen(function*() {
      const fake = makeFake([{ shardId: "shardId-000000000000", records: [], closed: false }])
      const producer = yield* Producer.make<number>({
        stream: "s",
        partitionKey: (i) => `k${i}`,
        data: () => "x",
        concurrency: 1,
        rateLimit: { recordsPerSecond: 1_000 }
      }).pipe(Effect.provideService(Kinesis.Kinesis, fake.shape))
      const write = yield* Effect.fork(producer.write(Array.from({ length: 3_500 }, (_, i) => i)))
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(write)
      const puts = fake.calls.filter((c) => c.operation === "PutRecords").map((c) => c.at)
      // 1,000 tokens at first, then 1,000 per second: 2,500 records over the burst take 2.5 s
      expect(puts).toEqual([0, 0, 500, 1000, 1500, 2000, 2500])
      expect(fake.calls.filter((c) => c.operation === "ListShards").length).toBe(1)
      expect(hashKeyOf("k1") >= 0n).toBe(true)
    }).pipe(Effect.scoped))

  it.effect("the buffered gauge of a stream sums every producer of it in the process", () =>
    Effect.gen(function*() {
      const fake = makeFake([{ shardId: "shardId-000000000000", records: [], closed: false }])
      const buffered = Effect.map(
        Metric.value(Metrics.producer.buffered.pipe(Metric.tagged("stream", "two-producers"))),
        (state) => state.value
      )
      const make = (scope: Scope.Scope) =>
        Producer.make<number>({
          stream: "two-producers",
          partitionKey: (i) => `k${i}`,
          data: () => "x",
          concurrency: 1,
          rateLimit: { recordsPerSecond: 1_000 }
        }).pipe(Effect.provideService(Kinesis.Kinesis, fake.shape), Scope.extend(scope))
      const scopeA = yield* Scope.make()
      const scopeB = yield* Scope.make()
      const a = yield* make(scopeA)
      const b = yield* make(scopeB)
      const writes = yield* Effect.fork(Effect.all([
        a.write(Array.from({ length: 3_500 }, (_, i) => i)),
        b.write(Array.from({ length: 1_200 }, (_, i) => i))
      ], { concurrency: 2 }))
      yield* TestClock.adjust(0)
      // each sent its second's burst of 1,000 and waits with the rest: 2,500 and 200 records
      expect([(yield* a.stats).buffered, (yield* b.stats).buffered]).toEqual([2_500, 200])
      expect(yield* buffered).toBe(2_700)
      yield* TestClock.adjust("1 second")
      const [statsA, statsB] = [yield* a.stats, yield* b.stats]
      expect(statsB.buffered).toBe(0)
      expect(yield* buffered).toBe(statsA.buffered)
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(writes)
      expect(yield* buffered).toBe(0)
      // closing both leaves nothing behind
      yield* Scope.close(scopeA, Exit.void)
      yield* Scope.close(scopeB, Exit.void)
      expect(yield* buffered).toBe(0)
    }))

  it.effect("and to its bytes per second", () =>
    Effect.gen(function*() {
      const fake = makeFake([{ shardId: "shardId-000000000000", records: [], closed: false }])
      const producer = yield* Producer.make<number>({
        stream: "s",
        partitionKey: () => "k",
        data: () => new Uint8Array(999),
        concurrency: 1,
        maxBatchRecords: 10,
        rateLimit: { bytesPerSecond: 10_000 }
      }).pipe(Effect.provideService(Kinesis.Kinesis, fake.shape))
      const write = yield* Effect.fork(producer.write(Array.from({ length: 40 }, (_, i) => i)))
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(write)
      // 10 records of 1,000 bytes per call: the first is the burst, then one call per second
      expect(fake.calls.filter((c) => c.operation === "PutRecords").map((c) => c.at)).toEqual([0, 1000, 2000, 3000])
    }).pipe(Effect.scoped))
})
