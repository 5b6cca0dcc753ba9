/**
 * The fan-out reader's logic on the in-memory fake under TestClock: pages per event, backpressure,
 * resubscription after the continuation, refusals and failures, shard ends, starting positions, metrics.
 */
import { describe, expect, it } from "@effect/vitest"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Aggregation from "../src/Aggregation.js"
import type { FanOutReaderOptions } from "../src/FanOutReader.js"
import * as FanOutReader from "../src/FanOutReader.js"
import { Kinesis } from "../src/Kinesis.js"
import * as Metrics from "../src/Metrics.js"
import * as ShardReader from "../src/ShardReader.js"
import type { FakeShard } from "./fake.js"
import { makeFake, record, sequence } from "./fake.js"

const shardId = "shardId-000000000000"

const shard = (count: number, options: Partial<FakeShard> = {}): FakeShard => ({
  shardId,
  records: Array.from({ length: count }, (_, n) => record(0, n)),
  closed: false,
  ...options
})

/** Starts reading into an array in a forked fiber. */
const start = (fake: ReturnType<typeof makeFake>, options: Partial<FanOutReaderOptions> = {}) =>
  Effect.gen(function*() {
    const reader = yield* FanOutReader.make({ stream: "s", shardId, consumerArn: "arn:consumer", ...options }).pipe(
      Effect.provideService(Kinesis, fake.shape)
    )
    const pages: Array<ReadonlyArray<SourceRecord>> = []
    const fiber = yield* reader.batches.pipe(
      Stream.runForEach((page) => Effect.sync(() => pages.push(page))),
      Effect.fork
    )
    return { reader, pages, fiber }
  }).pipe(Effect.withRandom(Random.make(7)))

const subscriptions = (fake: ReturnType<typeof makeFake>) =>
  fake.calls.filter((c) => c.operation === "SubscribeToShard").map((c) => ({
    at: c.at,
    position: (c.input as { readonly StartingPosition: unknown }).StartingPosition
  }))

const data = (pages: ReadonlyArray<ReadonlyArray<SourceRecord>>) => pages.flat().map((r) => Buffer.from(r.data).toString())
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, n) => `r${from + n}`)

const tagged = <T, I, O>(stream: string, m: Metric.Metric<T, I, O>) =>
  m.pipe(Metric.tagged("stream", stream), Metric.tagged("shard", shardId))

describe("FanOutReader (logic, TestClock)", () => {
  it.effect("one page per event, in order; a subscription that ends is followed by one after its continuation", () =>
    Effect.gen(function*() {
      const fake = makeFake([shard(10)], { eventRecords: 3, eventsPerSubscription: 2 })
      const { fiber, pages } = yield* start(fake)
      yield* TestClock.adjust("5 seconds")
      expect(pages.map((p) => p.length)).toEqual([3, 3, 3, 1])
      expect(data(pages)).toEqual(range(0, 10))
      // at most one SubscribeToShard a second; once caught up, the empty events end subscriptions too
      expect(subscriptions(fake).slice(0, 4)).toEqual([
        { at: 0, position: { Type: "TRIM_HORIZON" } },
        { at: 1000, position: { Type: "AFTER_SEQUENCE_NUMBER", SequenceNumber: sequence(0, 5) } },
        { at: 2000, position: { Type: "AFTER_SEQUENCE_NUMBER", SequenceNumber: sequence(0, 9) } },
        { at: 4000, position: { Type: "AFTER_SEQUENCE_NUMBER", SequenceNumber: sequence(0, 9) } }
      ])
      expect(Option.isNone(yield* fiber.poll)).toBe(true)
      yield* Fiber.interrupt(fiber)
      // every subscription was closed, the last one by the interruption
      expect(fake.subscriptions.closed).toBe(subscriptions(fake).length)
    }))

  it.effect("backpressure: reads the next event only when the page before was taken", () =>
    Effect.gen(function*() {
      const fake = makeFake([shard(30)], { eventRecords: 3 })
      const reader = yield* FanOutReader.make({ stream: "s", shardId, consumerArn: "arn:consumer" }).pipe(
        Effect.provideService(Kinesis, fake.shape)
      )
      const first = yield* reader.batches.pipe(Stream.take(2), Stream.runCollect)
      expect(Array.from(first).map((p) => p.length)).toEqual([3, 3])
      expect(fake.subscriptions.nextCalls).toBe(2)
      // the subscription was cancelled when the stream stopped; the next run resumes after the last page
      expect(fake.subscriptions.closed).toBe(1)
      const next = yield* reader.batches.pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      yield* TestClock.adjust("1 second")
      expect(data(Array.from(yield* Fiber.join(next)))).toEqual(range(6, 9))
    }))

  it.effect("ResourceInUse and LimitExceeded are retried without limit, with jittered backoff, and counted", () =>
    Effect.gen(function*() {
      const fake = makeFake([shard(4)])
      fake.subscribeFailures.push(...Array.from({ length: 12 }, () => "ResourceInUseException"), "LimitExceededException")
      const { fiber, pages } = yield* start(fake, { stream: "refused" })
      yield* TestClock.adjust("3 minutes")
      expect(data(pages)).toEqual(range(0, 4))
      const at = subscriptions(fake).map((s) => s.at)
      expect(at.length).toBe(14)
      // each retry waits at least the pacing second, and the backoff grows to its 10 s cap (equal jitter: 5-10 s)
      const gaps = at.slice(1).map((t, i) => t - at[i])
      expect(gaps.every((gap) => gap >= 1000)).toBe(true)
      expect(gaps.slice(-3).every((gap) => gap >= 5000 && gap <= 10_000)).toBe(true)
      expect((yield* Metric.value(tagged("refused", Metrics.reader.subscriptionsInUse))).count).toBe(12)
      expect((yield* Metric.value(tagged("refused", Metrics.reader.throttled))).count).toBe(1)
      expect((yield* Metric.value(tagged("refused", Metrics.reader.subscribeToShardCalls))).count).toBe(14)
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("a broken subscription resumes after the last event's continuation; maxRetries failures in a row fail the reader", () =>
    Effect.gen(function*() {
      const fake = makeFake([shard(9)], { eventRecords: 3 })
      const { fiber, pages } = yield* start(fake)
      yield* TestClock.adjust("10 millis")
      fake.eventFailures.push("InternalFailure", "InternalFailure")
      yield* TestClock.adjust("5 seconds")
      expect(data(pages)).toEqual(range(0, 9))
      expect(subscriptions(fake).map((s) => s.position)).toEqual([
        { Type: "TRIM_HORIZON" },
        { Type: "AFTER_SEQUENCE_NUMBER", SequenceNumber: sequence(0, 8) },
        { Type: "AFTER_SEQUENCE_NUMBER", SequenceNumber: sequence(0, 8) }
      ])
      yield* Fiber.interrupt(fiber)

      const broken = makeFake([shard(3)])
      broken.subscribeFailures.push(...Array.from({ length: 3 }, () => "InternalFailure"))
      const failed = yield* start(broken, { maxRetries: 2 })
      yield* TestClock.adjust("1 minute")
      const exit = yield* Fiber.await(failed.fiber)
      expect(Exit.isFailure(exit)).toBe(true)
      const error = yield* Effect.flip(failed.reader.ended)
      expect([error._tag, error.retryability]).toEqual(["SourceError", "transient"])
      expect(subscriptions(broken).length).toBe(3)
    }))

  it.effect("a permanent failure fails the reader at once", () =>
    Effect.gen(function*() {
      const fake = makeFake([shard(3)])
      fake.subscribeFailures.push("ResourceNotFoundException")
      const { fiber, reader } = yield* start(fake)
      yield* TestClock.adjust("1 second")
      expect(Exit.isFailure(yield* Fiber.await(fiber))).toBe(true)
      const error = yield* Effect.flip(reader.ended)
      expect(error.retryability).toBe("permanent")
      expect(subscriptions(fake).length).toBe(1)
    }))

  it.effect("at the shard's end (ChildShards, no continuation) ends after the last page, with the children; the lag reads 0", () =>
    Effect.gen(function*() {
      const fake = makeFake([shard(5, { closed: true, childShards: ["shardId-000000000001", "shardId-000000000002"] })])
      yield* TestClock.setTime(60_000)
      const { fiber, pages, reader } = yield* start(fake, { stream: "ended" })
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.await(fiber)).toEqual(Exit.void)
      expect(data(pages)).toEqual(range(0, 5))
      expect(yield* reader.ended).toEqual({ _tag: "ShardEnd", childShardIds: ["shardId-000000000001", "shardId-000000000002"] })
      expect(fake.calls.filter((c) => c.operation === "ListShards")).toEqual([])
      expect((yield* Metric.value(tagged("ended", Metrics.reader.millisBehindLatest))).value).toBe(0)
      expect((yield* Metric.value(tagged("ended", Metrics.reader.iteratorAge))).value).toBe(0)
    }))

  it.effect("a closed shard whose subscription never ends (kinesis-mock) ends once read, against a local endpoint only", () =>
    Effect.gen(function*() {
      const shards = (): ReadonlyArray<FakeShard> => [
        shard(4, { closed: true }),
        { shardId: "shardId-000000000001", parentShardId: shardId, records: [], closed: false },
        { shardId: "shardId-000000000002", parentShardId: shardId, records: [], closed: false }
      ]
      const local = makeFake(shards(), { local: true })
      const remote = makeFake(shards())
      const a = yield* start(local)
      const b = yield* start(remote)
      yield* TestClock.adjust("10 seconds")
      expect(yield* Fiber.await(a.fiber)).toEqual(Exit.void)
      expect(yield* a.reader.ended).toEqual({ _tag: "ShardEnd", childShardIds: ["shardId-000000000001", "shardId-000000000002"] })
      expect(data(a.pages)).toEqual(range(0, 4))
      // confirmed by a GetRecords after the continuation
      const iterators = local.calls.filter((c) => c.operation === "GetShardIterator").map((c) => c.input)
      expect(iterators).toEqual([{
        StreamName: "s",
        ShardId: shardId,
        ShardIteratorType: "AFTER_SEQUENCE_NUMBER",
        StartingSequenceNumber: sequence(0, 3),
        Timestamp: undefined
      }])
      // AWS ends the subscription itself: no checks, the reader keeps listening
      expect(Option.isNone(yield* b.fiber.poll)).toBe(true)
      expect(remote.calls.filter((c) => c.operation !== "SubscribeToShard")).toEqual([])
      yield* Fiber.interrupt(b.fiber)
    }))

  it.effect("a shard closed between a caught-up event and the check, with records the subscription has not sent, is read to its end", () =>
    Effect.gen(function*() {
      const parent = shard(2)
      let checks = 0
      const fake = makeFake([parent, { shardId: "shardId-000000000001", parentShardId: shardId, records: [], closed: false }], {
        local: true,
        eventRecords: 2,
        // the first check: two more records arrived, then the shard was split
        beforeListShards: () => {
          if (checks++ > 0) return
          parent.records.push(record(0, 2), record(0, 3))
          parent.closed = true
        }
      })
      const { fiber, pages, reader } = yield* start(fake)
      yield* TestClock.adjust("10 seconds")
      expect(yield* Fiber.await(fiber)).toEqual(Exit.void)
      expect(pages.map((page) => data([page]))).toEqual([["r0", "r1"], ["r2", "r3"]])
      expect(yield* reader.ended).toEqual({ _tag: "ShardEnd", childShardIds: ["shardId-000000000001"] })
      expect(checks).toBeGreaterThanOrEqual(2)
    }))

  it.effect("starting positions; after a sub-sequence number it subscribes at the aggregate and drops what was processed", () =>
    Effect.gen(function*() {
      const s = shard(5)
      s.records[3] = {
        ...s.records[3],
        Data: Aggregation.encode(["a", "b", "c", "d"].map((x) => ({ partitionKey: `pk-${x}`, data: Buffer.from(x) })))
      }
      const fake = makeFake([s], { eventRecords: 10 })
      const fromStart = yield* start(fake)
      const after = yield* start(fake, { position: ShardReader.StartingPosition.afterSequenceNumber(sequence(0, 3), 1) })
      const at = yield* start(fake, { position: ShardReader.StartingPosition.atSequenceNumber(sequence(0, 1)) })
      const raw = yield* start(fake, { deaggregate: false })
      yield* TestClock.adjust("100 millis")
      expect(data(fromStart.pages)).toEqual(["r0", "r1", "r2", "a", "b", "c", "d", "r4"])
      expect(data(after.pages)).toEqual(["c", "d", "r4"])
      expect(data(at.pages)).toEqual(["r1", "r2", "a", "b", "c", "d", "r4"])
      expect(raw.pages.flat().length).toBe(5)
      expect(subscriptions(fake).map((c) => c.position)).toEqual([
        { Type: "TRIM_HORIZON" },
        { Type: "AT_SEQUENCE_NUMBER", SequenceNumber: sequence(0, 3) },
        { Type: "AT_SEQUENCE_NUMBER", SequenceNumber: sequence(0, 1) },
        { Type: "TRIM_HORIZON" }
      ])
      expect(yield* after.reader.lastPosition).toEqual({ sequenceNumber: sequence(0, 4), subSequenceNumber: 0 })
      for (const run of [fromStart, after, at, raw]) yield* Fiber.interrupt(run.fiber)
    }))

  it.effect("reports records, bytes, MillisBehindLatest per event and the iterator age; NaN once stopped", () =>
    Effect.gen(function*() {
      const s = shard(0)
      for (let n = 0; n < 7; n++) s.records.push(record(0, n, "xyz", 1000))
      const fake = makeFake([s], { eventRecords: 4 })
      yield* TestClock.setTime(1500)
      const { fiber } = yield* start(fake, { stream: "metrics-fan-out" })
      yield* TestClock.adjust("10 millis")
      expect((yield* Metric.value(tagged("metrics-fan-out", Metrics.reader.records))).count).toBe(7)
      expect((yield* Metric.value(tagged("metrics-fan-out", Metrics.reader.bytes))).count).toBe(21)
      expect((yield* Metric.value(tagged("metrics-fan-out", Metrics.reader.millisBehindLatest))).value).toBe(0)
      expect((yield* Metric.value(tagged("metrics-fan-out", Metrics.reader.iteratorAge))).value).toBe(500)
      expect((yield* Metric.value(tagged("metrics-fan-out", Metrics.reader.getRecordsCalls))).count).toBe(0)
      yield* Fiber.interrupt(fiber)
      expect((yield* Metric.value(tagged("metrics-fan-out", Metrics.reader.millisBehindLatest))).value).toBeNaN()
      expect((yield* Metric.value(tagged("metrics-fan-out", Metrics.reader.iteratorAge))).value).toBeNaN()
    }))
})
