import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import type { SourceError } from "@tributary/core/TributaryError"
import * as Aggregation from "../src/Aggregation.js"
import { Kinesis } from "../src/Kinesis.js"
import type * as KinesisError from "../src/KinesisError.js"
import * as Metrics from "../src/Metrics.js"
import type { ReaderOptions } from "../src/ShardReader.js"
import * as ShardReader from "../src/ShardReader.js"
import type { FakeShard } from "./fake.js"
import { makeFake, record, sequence } from "./fake.js"

const shard = (count: number, options: Partial<FakeShard> = {}): FakeShard => ({
  shardId: "shardId-000000000000",
  records: Array.from({ length: count }, (_, n) => record(0, n)),
  closed: false,
  ...options
})

const makeReader = (fake: ReturnType<typeof makeFake>, options: Partial<ReaderOptions>) =>
  ShardReader.make({ stream: "s", shardId: "shardId-000000000000", ...options }).pipe(Effect.provideService(Kinesis, fake.shape))

/** Starts reading into an array in a forked fiber. */
const start = (fake: ReturnType<typeof makeFake>, options: Partial<ReaderOptions> = {}) =>
  Effect.gen(function*() {
    const reader = yield* makeReader(fake, options)
    const pages: Array<ReadonlyArray<SourceRecord>> = []
    const fiber = yield* reader.batches.pipe(
      Stream.runForEach((page) => Effect.sync(() => pages.push(page))),
      Effect.fork
    )
    return { reader, pages, fiber }
  }).pipe(Effect.withRandom(Random.make(7)))

/** Reads through `pull` (as a pipeline does) in a forked fiber, inside a span as the pipeline runs it. */
const startPull = (fake: ReturnType<typeof makeFake>, options: Partial<ReaderOptions> = {}) =>
  Effect.gen(function*() {
    const reader = yield* makeReader(fake, options)
    const pages: Array<ReadonlyArray<SourceRecord>> = []
    const each = (pull: Effect.Effect<ReadonlyArray<SourceRecord>, Option.Option<SourceError>>): Effect.Effect<void, SourceError> =>
      Effect.matchEffect(pull, {
        onFailure: (end) => Option.isNone(end) ? Effect.void : Effect.fail(end.value),
        onSuccess: (page) => Effect.zipRight(Effect.sync(() => pages.push(page)), each(pull))
      })
    const fiber = yield* Effect.scoped(Effect.flatMap(reader.pull!, each)).pipe(Effect.withSpan("reading"), Effect.fork)
    return { reader, pages, fiber }
  }).pipe(Effect.withRandom(Random.make(7)))

const times = (fake: ReturnType<typeof makeFake>, operation = "GetRecords") =>
  fake.calls.filter((c) => c.operation === operation).map((c) => c.at)

const data = (pages: ReadonlyArray<ReadonlyArray<SourceRecord>>) => pages.flat().map((r) => Buffer.from(r.data).toString())

describe("ShardReader (time logic, TestClock)", () => {
  it.effect("paces pages at 5 calls/s, keeps that pace for 5 empty pages, then waits the idle interval between calls", () =>
    Effect.gen(function*() {
      const quiet = shard(25)
      const fake = makeFake([quiet])
      const { fiber, pages } = yield* start(fake, { maxRecords: 10 })
      yield* TestClock.adjust("2500 millis")
      // 3 pages with records, 5 empty ones at the pace, then every 500 ms
      expect(times(fake)).toEqual([0, 200, 400, 600, 800, 1000, 1200, 1400, 1900, 2400])
      expect(pages.map((p) => p.length)).toEqual([10, 10, 5])
      expect(data(pages)).toEqual(Array.from({ length: 25 }, (_, n) => `r${n}`))
      // a record arriving while the shard is quiet is read at the next idle call; the pace resumes after it
      quiet.records.push(record(0, 25))
      yield* TestClock.adjust("1000 millis")
      expect(times(fake).slice(10)).toEqual([2900, 3100, 3300, 3500])
      expect(data(pages).slice(25)).toEqual(["r25"])
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("with emptyPagesBeforeIdle 1, waits the idle interval after every empty page", () =>
    Effect.gen(function*() {
      const fake = makeFake([shard(25)])
      const { fiber } = yield* start(fake, { maxRecords: 10, idleInterval: "1 second", emptyPagesBeforeIdle: 1 })
      yield* TestClock.adjust("2700 millis")
      expect(times(fake)).toEqual([0, 200, 400, 600, 1600, 2600])
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("never idles under 200 ms or calls more than 5 times a second against AWS; may against a local endpoint", () =>
    Effect.gen(function*() {
      const remote = makeFake([shard(0)])
      const a = yield* start(remote, { idleInterval: "50 millis", emptyPagesBeforeIdle: 1, maxCallsPerSecond: 100 })
      const local = makeFake([shard(0)], { local: true })
      const b = yield* start(local, { idleInterval: "50 millis", emptyPagesBeforeIdle: 1, maxCallsPerSecond: 100 })
      yield* TestClock.adjust("450 millis")
      expect(times(remote)).toEqual([0, 200, 400])
      expect(times(local)).toEqual([0, 50, 100, 150, 200, 250, 300, 350, 400, 450])
      expect(ShardReader.clampIdle(Duration.millis(50), false)).toEqual(Duration.millis(200))
      yield* Fiber.interrupt(a.fiber)
      yield* Fiber.interrupt(b.fiber)
    }))

  for (const [how, read] of [["batches", start], ["pull", startPull]] as const) {
  it.effect(`stop (${how}): the pages end after the one in flight; a quiet shard's wait and retries are cut short`, () =>
    Effect.gen(function*() {
      // a quiet shard, waiting its idle interval: the stream ends at the stop, not at the next call
      const quiet = makeFake([shard(3)])
      const idleStop = yield* Deferred.make<void>()
      const a = yield* read(quiet, { idleInterval: "10 seconds", stop: Deferred.await(idleStop) })
      yield* TestClock.adjust("1300 millis")
      expect(times(quiet)).toEqual([0, 200, 400, 600, 800, 1000])
      yield* Deferred.succeed(idleStop, undefined)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.await(a.fiber)).toEqual(Exit.void)
      expect(data(a.pages)).toEqual(["r0", "r1", "r2"])
      expect(times(quiet)).toHaveLength(6)
      // the end is not the shard's: `ended` does not complete
      expect(yield* a.reader.ended.pipe(Effect.timeoutOption(0))).toStrictEqual(Option.none())

      // throttled without end: the retries stop at the stop
      const throttled = makeFake([shard(3)])
      for (let i = 0; i < 100; i++) throttled.getRecordsFailures.push("ProvisionedThroughputExceededException")
      const retryStop = yield* Deferred.make<void>()
      const b = yield* read(throttled, { stop: Deferred.await(retryStop) })
      yield* TestClock.adjust("5 seconds")
      const before = times(throttled).length
      yield* Deferred.succeed(retryStop, undefined)
      yield* TestClock.adjust("1 minute")
      expect(yield* Fiber.await(b.fiber)).toEqual(Exit.void)
      expect(times(throttled)).toHaveLength(before)
      expect(b.pages).toEqual([])

      // a live shard stops after the page in flight, whose call was waiting for the pace (at 400 ms)
      const live = makeFake([shard(50)])
      const liveStop = yield* Deferred.make<void>()
      const c = yield* read(live, { maxRecords: 10, stop: Deferred.await(liveStop) })
      yield* TestClock.adjust("250 millis")
      yield* Deferred.succeed(liveStop, undefined)
      yield* TestClock.adjust("10 seconds")
      expect(yield* Fiber.await(c.fiber)).toEqual(Exit.void)
      expect(data(c.pages)).toEqual(Array.from({ length: 30 }, (_, n) => `r${n}`))
      expect(times(live).map((t) => t - times(live)[0])).toEqual([0, 200, 400])
    }))

  }

  it.effect("stop: retries are cut short inside a span too, where a failure is a proxy of the error failed", () =>
    Effect.gen(function*() {
      // a pipeline reads its shards inside spans (Pipeline.runShard): Effect then fails with a proxy of the
      // error that carries the span, and the stop's own marker must still be recognised as the stop
      const throttled = makeFake([shard(3)])
      for (let i = 0; i < 100; i++) throttled.getRecordsFailures.push("ProvisionedThroughputExceededException")
      const retryStop = yield* Deferred.make<void>()
      const reader = yield* ShardReader.make({ stream: "s", shardId: "shardId-000000000000", stop: Deferred.await(retryStop) }).pipe(
        Effect.provideService(Kinesis, throttled.shape)
      )
      const fiber = yield* Stream.runCollect(reader.batches).pipe(Effect.withSpan("Pipeline.runShard"), Effect.fork)
      yield* TestClock.adjust("5 seconds")
      yield* Deferred.succeed(retryStop, undefined)
      yield* TestClock.adjust("1 minute")
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isSuccess(exit) && Chunk.toReadonlyArray(exit.value)).toEqual([])
    }).pipe(Effect.withRandom(Random.make(7))))

  it.effect("pull: to the shard's end, and then `ended` says so", () =>
    Effect.gen(function*() {
      const closed = makeFake([shard(15, { closed: true })])
      const c = yield* startPull(closed, { maxRecords: 10 })
      yield* TestClock.adjust("2 seconds")
      expect(yield* Fiber.await(c.fiber)).toEqual(Exit.void)
      expect(c.pages.map((p) => p.length)).toEqual([10, 5])
      expect(data(c.pages)).toEqual(Array.from({ length: 15 }, (_, n) => `r${n}`))
      expect((yield* c.reader.ended)._tag).toBe("ShardEnd")
    }))

  it.effect("backs off exponentially with jitter while throttled, for as long as it takes", () =>
    Effect.gen(function*() {
      const fake = makeFake([shard(3)])
      for (let i = 0; i < 15; i++) fake.getRecordsFailures.push("ProvisionedThroughputExceededException")
      const { fiber, pages } = yield* start(fake, { backoffBase: "100 millis", backoffCap: "2 seconds" })
      yield* TestClock.adjust("2 minutes")
      const calls = times(fake)
      expect(calls.length).toBeGreaterThanOrEqual(16)
      expect(data(pages)).toEqual(["r0", "r1", "r2"])
      for (let i = 0; i < 15; i++) {
        const full = Math.min(2000, 100 * 2 ** i)
        const gap = calls[i + 1] - calls[i]
        // equal jitter (half to all of the delay), and never faster than the 200 ms pacing
        expect(gap).toBeGreaterThanOrEqual(Math.max(200, Math.floor(full / 2)))
        expect(gap).toBeLessThanOrEqual(Math.max(200, full))
      }
      const gaps = calls.slice(1, 16).map((t, i) => t - calls[i])
      expect(new Set(gaps.slice(8)).size).toBeGreaterThan(1)
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("retries other transient failures up to maxRetries in a row, then fails with a transient SourceError", () =>
    Effect.gen(function*() {
      const fine = makeFake([shard(2, { closed: true, childShards: [] })])
      for (let i = 0; i < 3; i++) fine.getRecordsFailures.push("InternalFailure")
      const ok = yield* start(fine, { maxRetries: 3 })
      yield* TestClock.adjust("1 minute")
      expect(yield* Fiber.await(ok.fiber)).toEqual(Exit.void)
      expect(data(ok.pages)).toEqual(["r0", "r1"])

      const broken = makeFake([shard(2)])
      for (let i = 0; i < 4; i++) broken.getRecordsFailures.push("InternalFailure")
      const failed = yield* start(broken, { maxRetries: 3 })
      yield* TestClock.adjust("1 minute")
      const exit = yield* Fiber.await(failed.fiber)
      expect(Exit.isFailure(exit)).toBe(true)
      const error = yield* Effect.flip(failed.reader.ended)
      expect(error._tag).toBe("SourceError")
      expect(error.retryability).toBe("transient")
      expect(error.source).toBe("kinesis:s/shardId-000000000000")
      expect(times(broken).length).toBe(4)
    }))

  it.effect("fails at once with a permanent SourceError on a permanent error", () =>
    Effect.gen(function*() {
      const fake = makeFake([shard(2)])
      fake.getRecordsFailures.push("ResourceNotFoundException")
      const { fiber, reader } = yield* start(fake)
      yield* TestClock.adjust("1 minute")
      expect(Exit.isFailure(yield* Fiber.await(fiber))).toBe(true)
      const error = yield* Effect.flip(reader.ended)
      expect(error.retryability).toBe("permanent")
      expect((error.cause as KinesisError.KinesisError).reason).toBe("NotFound")
      expect(times(fake).length).toBe(1)
    }))

  it.effect("on ExpiredIterator continues AFTER_SEQUENCE_NUMBER of the last record delivered: no gap, no duplicate", () =>
    Effect.gen(function*() {
      const fake = makeFake([shard(30)])
      const { fiber, pages } = yield* start(fake, { maxRecords: 10 })
      yield* TestClock.adjust("100 millis")
      expect(pages.length).toBe(1)
      fake.getRecordsFailures.push("ExpiredIteratorException")
      yield* TestClock.adjust("3 seconds")
      expect(data(pages)).toEqual(Array.from({ length: 30 }, (_, n) => `r${n}`))
      const iterators = fake.calls.filter((c) => c.operation === "GetShardIterator").map((c) => c.input)
      expect(iterators).toEqual([
        { StreamName: "s", ShardId: "shardId-000000000000", ShardIteratorType: "TRIM_HORIZON" },
        { StreamName: "s", ShardId: "shardId-000000000000", ShardIteratorType: "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber: sequence(0, 9) }
      ])
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("on ExpiredIterator before delivering anything starts again at the original position", () =>
    Effect.gen(function*() {
      const fake = makeFake([shard(8)])
      fake.getRecordsFailures.push("ExpiredIteratorException")
      const { fiber, pages } = yield* start(fake, { position: ShardReader.StartingPosition.atSequenceNumber(sequence(0, 5)) })
      yield* TestClock.adjust("1 second")
      expect(data(pages)).toEqual(["r5", "r6", "r7"])
      const types = fake.calls.filter((c) => c.operation === "GetShardIterator").map((c) => c.input)
      expect(types).toEqual([
        { StreamName: "s", ShardId: "shardId-000000000000", ShardIteratorType: "AT_SEQUENCE_NUMBER", StartingSequenceNumber: sequence(0, 5) },
        { StreamName: "s", ShardId: "shardId-000000000000", ShardIteratorType: "AT_SEQUENCE_NUMBER", StartingSequenceNumber: sequence(0, 5) }
      ])
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("deaggregates KPL records, and resumes inside an aggregate after a sub-sequence number", () =>
    Effect.gen(function*() {
      const s = shard(5)
      s.records[3] = {
        ...s.records[3],
        Data: Aggregation.encode(["a", "b", "c", "d"].map((x) => ({ partitionKey: `pk-${x}`, data: Buffer.from(x) })))
      }
      const fromStart = yield* start(makeFake([s]))
      const after = yield* start(makeFake([s]), { position: ShardReader.StartingPosition.afterSequenceNumber(sequence(0, 3), 1) })
      yield* TestClock.adjust("100 millis")
      expect(data(fromStart.pages)).toEqual(["r0", "r1", "r2", "a", "b", "c", "d", "r4"])
      const all = fromStart.pages.flat()
      expect(all.map((r) => [r.subSequenceNumber, r.partitionKey])).toEqual([
        [0, "k0"], [0, "k1"], [0, "k2"], [0, "pk-a"], [1, "pk-b"], [2, "pk-c"], [3, "pk-d"], [0, "k4"]
      ])
      expect(new Set(all.slice(3, 7).map((r) => r.sequenceNumber))).toEqual(new Set([sequence(0, 3)]))
      expect(data(after.pages)).toEqual(["c", "d", "r4"])
      const noDeaggregation = yield* start(makeFake([s]), { deaggregate: false })
      yield* TestClock.adjust("100 millis")
      expect(noDeaggregation.pages.flat().length).toBe(5)
      yield* Fiber.interrupt(fromStart.fiber)
      yield* Fiber.interrupt(after.fiber)
      yield* Fiber.interrupt(noDeaggregation.fiber)
    }))

  it.effect("at the shard's end reports its children from ChildShards, or from ListShards when they are left out", () =>
    Effect.gen(function*() {
      const withChildren = makeFake([shard(3, { closed: true, childShards: ["shardId-000000000001", "shardId-000000000002"] })])
      const a = yield* start(withChildren)
      const parent = shard(3, { closed: true })
      const listed = makeFake([
        parent,
        { shardId: "shardId-000000000001", parentShardId: parent.shardId, records: [], closed: false },
        { shardId: "shardId-000000000002", parentShardId: parent.shardId, records: [], closed: false },
        { shardId: "shardId-000000000003", records: [], closed: false }
      ])
      const b = yield* start(listed)
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.await(a.fiber)).toEqual(Exit.void)
      expect(yield* Fiber.await(b.fiber)).toEqual(Exit.void)
      const expected = { _tag: "ShardEnd", childShardIds: ["shardId-000000000001", "shardId-000000000002"] }
      expect(yield* a.reader.ended).toEqual(expected)
      expect(yield* b.reader.ended).toEqual(expected)
      expect(times(withChildren, "ListShards")).toEqual([])
      expect(times(listed, "ListShards").length).toBe(1)
      expect(data(a.pages)).toEqual(["r0", "r1", "r2"])
    }))

  it.effect("a bounded read ends at the newest record; a following read keeps polling", () =>
    Effect.gen(function*() {
      const fake = makeFake([shard(12)])
      const bounded = yield* start(fake, { follow: false, maxRecords: 5 })
      yield* TestClock.adjust("5 seconds")
      expect(yield* Fiber.await(bounded.fiber)).toEqual(Exit.void)
      expect(yield* bounded.reader.ended).toEqual({ _tag: "CaughtUp" })
      expect(bounded.pages.map((p) => p.length)).toEqual([5, 5, 2])
      expect(yield* bounded.reader.lastPosition).toEqual({ sequenceNumber: sequence(0, 11), subSequenceNumber: 0 })
    }))

  it.effect("reports records, bytes, MillisBehindLatest and iterator age per stream and shard", () =>
    Effect.gen(function*() {
      const s = shard(0)
      for (let n = 0; n < 7; n++) s.records.push(record(0, n, "xyz", 1000))
      const fake = makeFake([s])
      yield* TestClock.setTime(1000)
      const { fiber } = yield* start(fake, { maxRecords: 4, stream: "metrics-stream" })
      yield* TestClock.adjust("250 millis")
      const tagged = <T, I, O>(m: Metric.Metric<T, I, O>) =>
        m.pipe(Metric.tagged("stream", "metrics-stream"), Metric.tagged("shard", "shardId-000000000000"))
      // first page (4 records at t=1000, 1000 ms behind), second page at t=1200 (caught up)
      expect((yield* Metric.value(tagged(Metrics.reader.records))).count).toBe(7)
      expect((yield* Metric.value(tagged(Metrics.reader.bytes))).count).toBe(21)
      expect((yield* Metric.value(tagged(Metrics.reader.getRecordsCalls))).count).toBe(2)
      expect((yield* Metric.value(tagged(Metrics.reader.millisBehindLatest))).value).toBe(0)
      expect((yield* Metric.value(tagged(Metrics.reader.iteratorAge))).value).toBe(200)
      yield* Fiber.interrupt(fiber)
      // nobody reads the shard here any more: no value rather than the last lag
      expect((yield* Metric.value(tagged(Metrics.reader.millisBehindLatest))).value).toBeNaN()
      expect((yield* Metric.value(tagged(Metrics.reader.iteratorAge))).value).toBeNaN()
    }))

  it.effect("lag gauges when reading ends: 0 at the shard's end, NaN after a failure, kept while another reader of the shard runs", () =>
    Effect.gen(function*() {
      const lag = (stream: string) =>
        Effect.all([Metrics.reader.millisBehindLatest, Metrics.reader.iteratorAge].map((m) =>
          Effect.map(Metric.value(m.pipe(Metric.tagged("stream", stream), Metric.tagged("shard", "shardId-000000000000"))), (s) => s.value)
        ))
      yield* TestClock.setTime(10_000)

      // a closed shard read to its end: its last records were 10 s old, yet its lag is 0 for good
      const closed = shard(0, { closed: true })
      for (let n = 0; n < 12; n++) closed.records.push(record(0, n, `r${n}`, 0))
      const finished = yield* start(makeFake([closed]), { maxRecords: 5, stream: "lag-finished" })
      yield* TestClock.adjust("100 millis")
      expect(yield* lag("lag-finished")).toEqual([1000, 10_000])
      yield* TestClock.adjust("5 seconds")
      expect(yield* Fiber.await(finished.fiber)).toEqual(Exit.void)
      expect((yield* finished.reader.ended)._tag).toBe("ShardEnd")
      expect(yield* lag("lag-finished")).toEqual([0, 0])

      // a failed reader
      const broken = makeFake([shard(8)])
      broken.getRecordsFailures.push("InternalFailure", "ResourceNotFoundException")
      const failed = yield* start(broken, { maxRecords: 5, stream: "lag-failed" })
      yield* TestClock.adjust("5 seconds")
      expect(Exit.isFailure(yield* Fiber.await(failed.fiber))).toBe(true)
      expect((yield* lag("lag-failed")).every(Number.isNaN)).toBe(true)

      // two readers of one shard in this process (its lease moved between two workers of the process): the
      // one that stops leaves the gauges to the other
      yield* TestClock.setTime(30_000)
      const open = shard(0)
      for (let n = 0; n < 3; n++) open.records.push(record(0, n, `r${n}`, 29_000))
      const fake = makeFake([open])
      const old = yield* start(fake, { stream: "lag-moved" })
      const current = yield* start(fake, { stream: "lag-moved" })
      yield* TestClock.adjust("100 millis")
      expect(yield* lag("lag-moved")).toEqual([0, 1000])
      yield* Fiber.interrupt(old.fiber)
      expect(yield* lag("lag-moved")).toEqual([0, 1000])
      yield* Fiber.interrupt(current.fiber)
      expect((yield* lag("lag-moved")).every(Number.isNaN)).toBe(true)
      // a new reader sets them again from its first page
      const next = yield* start(fake, { stream: "lag-moved" })
      yield* TestClock.adjust("100 millis")
      expect(yield* lag("lag-moved")).toEqual([0, 1100])
      yield* Fiber.interrupt(next.fiber)
    }))
})
