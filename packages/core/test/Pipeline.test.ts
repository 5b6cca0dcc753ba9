import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricState from "effect/MetricState"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import * as DeadLetter from "../src/DeadLetter.js"
import * as Decoder from "../src/Decoder.js"
import * as MemoryStream from "../src/MemoryStream.js"
import * as Pipeline from "../src/Pipeline.js"
import * as RecordSink from "../src/RecordSink.js"
import * as SequenceNumber from "../src/SequenceNumber.js"
import { SinkError } from "../src/TributaryError.js"
import { Activity } from "./fixtures/activity.js"

const activity = (i: number): Activity => ({
  CustomerId: `c${i % 7}`,
  DateUnixMs: 1_416_603_010_000 + i,
  Activity: i % 3 === 0 ? "buy" : "view",
  DurationMs: i
})

/** `count` JSON messages over 4 shards; every `badEvery`-th one is not JSON. */
const fill = (stream: MemoryStream.MemoryStream, count: number, badEvery = 0) =>
  Effect.forEach(
    Array.from({ length: Math.ceil(count / 500) }, (_, page) => page),
    (page) =>
      stream.put(
        Array.from({ length: Math.min(500, count - page * 500) }, (_, j) => {
          const i = page * 500 + j
          const broken = badEvery > 0 && i % badEvery === badEvery - 1
          return { partitionKey: `c${i % 7}`, data: broken ? `{"CustomerId": ${i}` : JSON.stringify(activity(i)) }
        })
      ),
    { discard: true }
  )

const byDuration = (a: Activity, b: Activity) => a.DurationMs - b.DurationMs

const setup = (
  options: { readonly count: number; readonly badEvery?: number; readonly maxRecords?: number; readonly shards?: number }
) =>
  Effect.gen(function*() {
    const stream = yield* MemoryStream.make({ name: "activities", shards: options.shards ?? 4 })
    yield* fill(stream, options.count, options.badEvery)
    const sink = yield* RecordSink.memory<Activity>("results")
    const deadLetters = yield* RecordSink.memory<DeadLetter.DeadLetter>("dead-letters")
    const layer = Layer.merge(
      MemoryStream.layerSource(stream, { maxRecords: options.maxRecords ?? 100 }),
      DeadLetter.layer(deadLetters)
    )
    return { stream, sink, deadLetters, layer }
  })

describe("Pipeline", () => {
  it.effect("decodes, dead-letters what it cannot decode, and conserves counts", () =>
    Effect.gen(function*() {
      const { deadLetters, layer, sink, stream } = yield* setup({ count: 1000, badEvery: 10 })
      const pipeline = Pipeline.make("activity").pipe(
        Pipeline.decode(Decoder.json(Activity)),
        Pipeline.filter((a) => a.Activity === "buy"),
        Pipeline.to(sink)
      )
      const summary = yield* Pipeline.run(pipeline).pipe(Effect.provide(layer))

      const expected = Array.from({ length: 1000 }, (_, i) => i)
        .filter((i) => i % 10 !== 9 && i % 3 === 0)
        .map(activity)
      expect((yield* sink.items).slice().sort(byDuration)).toStrictEqual(expected)
      expect(summary).toStrictEqual({ batches: 12, recordsIn: 1000, recordsOut: expected.length, deadLettered: 100, late: 0, filtered: 1000 - 100 - expected.length })

      const letters = yield* deadLetters.items
      expect(letters).toHaveLength(100)
      const first = letters.find((letter) => new TextDecoder().decode(letter.data) === `{"CustomerId": 9`)!
      expect(first).toMatchObject({ pipeline: "activity", stage: "decode", format: "json", stream: "activities" })
      expect(first.reason).toContain("invalid JSON")
      const original = stream.records(first.shardId).find((r) => r.sequenceNumber === first.sequenceNumber)
      expect(new TextDecoder().decode(original!.data)).toBe(`{"CustomerId": 9`)

      // every shard checkpointed at its last record
      const checkpoints = yield* stream.checkpoints()
      for (const shardId of stream.shardIds) {
        const records = stream.records(shardId)
        expect(checkpoints.get(shardId)?.sequenceNumber).toBe(records[records.length - 1].sequenceNumber)
      }
    }))

  it.effect("a sink that fails transiently three times then succeeds loses and duplicates nothing", () =>
    Effect.gen(function*() {
      const { layer, sink } = yield* setup({ count: 300, maxRecords: 100, shards: 1 })
      yield* sink.failNext(3, "transient")
      const pipeline = Pipeline.make("retrying").pipe(
        Pipeline.decode(Decoder.json(Activity)),
        Pipeline.to(sink),
        Pipeline.retry(Schedule.exponential("1 second").pipe(Schedule.jittered, Schedule.intersect(Schedule.recurs(5))))
      )
      const fiber = yield* Pipeline.run(pipeline).pipe(Effect.provide(layer), Effect.fork)
      // each backoff waits on the TestClock: nothing is written until time moves
      yield* TestClock.adjust("500 millis")
      expect(yield* sink.items).toHaveLength(0)
      yield* TestClock.adjust("1 minute")
      const summary = yield* Fiber.join(fiber)

      const items = (yield* sink.items).slice().sort(byDuration)
      expect(items).toStrictEqual(Array.from({ length: 300 }, (_, i) => activity(i)))
      expect(yield* sink.writeCount).toBe(3 + 3) // three failures, then one write per batch
      const retries = yield* Metric.value(Metric.tagged(Pipeline.metrics.sinkRetries, "pipeline", "retrying"))
      expect(retries.count).toBe(3)
      expect(summary.recordsOut).toBe(300)
    }))

  it.effect("gives up when transient failures outlast the retry policy, without checkpointing", () =>
    Effect.gen(function*() {
      const { layer, sink, stream } = yield* setup({ count: 50, maxRecords: 1000 })
      yield* sink.failNext(100, "transient")
      const pipeline = Pipeline.make("down").pipe(
        Pipeline.decode(Decoder.json(Activity)),
        Pipeline.to(sink),
        Pipeline.retry(Schedule.spaced("1 second").pipe(Schedule.intersect(Schedule.recurs(2))))
      )
      const fiber = yield* Pipeline.run(pipeline).pipe(Effect.provide(layer), Effect.fork)
      yield* TestClock.adjust("10 seconds")
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit) && Exit.causeOption(exit)).toBeTruthy()
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error).toBeInstanceOf(SinkError)
      expect(error._tag === "SinkError" && error.retryability).toBe("transient")
      expect((yield* stream.checkpoints()).size).toBe(0)
    }))

  it.effect("with whenExhausted: dead-letter, a batch that outlasts its retries goes to dead letters and the shard moves on", () =>
    Effect.gen(function*() {
      const { deadLetters, layer, sink, stream } = yield* setup({ count: 200, maxRecords: 100, shards: 1 })
      yield* sink.failNext(3, "transient") // the first batch: one write and two retries, all failing
      const pipeline = Pipeline.make("bounded").pipe(
        Pipeline.decode(Decoder.json(Activity)),
        Pipeline.to(sink),
        Pipeline.retry(Schedule.spaced("1 second").pipe(Schedule.intersect(Schedule.recurs(2))), { whenExhausted: "dead-letter" })
      )
      const fiber = yield* Pipeline.run(pipeline).pipe(Effect.provide(layer), Effect.fork)
      yield* TestClock.adjust("10 seconds")
      const summary = yield* Fiber.join(fiber)
      expect(summary).toMatchObject({ recordsIn: 200, recordsOut: 100, deadLettered: 100 })
      expect((yield* sink.items).map((a) => a.DurationMs)).toStrictEqual(Array.from({ length: 100 }, (_, i) => 100 + i))
      const letters = yield* deadLetters.items
      expect(letters).toHaveLength(100)
      expect(letters[0]).toMatchObject({ stage: "sink:results", reason: "retries exhausted: injected transient failure" })
      const records = stream.records(stream.shardIds[0])
      expect((yield* stream.checkpoints()).get(stream.shardIds[0])?.sequenceNumber).toBe(records[199].sequenceNumber)
    }))

  it.effect("maxRecordAge sends records older than the limit to dead letters", () =>
    Effect.gen(function*() {
      const stream = yield* MemoryStream.make({ shards: 1 })
      yield* fill(stream, 10) // arrive at 0
      yield* TestClock.adjust("10 minutes")
      yield* fill(stream, 5) // arrive at 10 minutes
      yield* TestClock.adjust("1 minute")
      const sink = yield* RecordSink.memory<Activity>("results")
      const deadLetters = yield* RecordSink.memory<DeadLetter.DeadLetter>("dead-letters")
      const summary = yield* Pipeline.make("fresh").pipe(
        Pipeline.maxRecordAge("5 minutes"),
        Pipeline.decode(Decoder.json(Activity)),
        Pipeline.to(sink),
        Pipeline.run,
        Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layer(deadLetters)))
      )
      expect(summary).toMatchObject({ recordsIn: 15, recordsOut: 5, deadLettered: 10 })
      const letters = yield* deadLetters.items
      expect(letters[0]).toMatchObject({ stage: "maxRecordAge", reason: "record is 660000 ms old; at most 300000 ms are processed" })
    }))

  it.effect("isolates a permanently rejected record by bisection and dead-letters it with the reason", () =>
    Effect.gen(function*() {
      const { deadLetters, layer, sink } = yield* setup({ count: 400, maxRecords: 1000 })
      yield* sink.rejectWhen((a) => a.DurationMs === 123, "ValidationException: item too large")
      const pipeline = Pipeline.make("poison").pipe(Pipeline.decode(Decoder.json(Activity)), Pipeline.to(sink))
      const summary = yield* Pipeline.run(pipeline).pipe(Effect.provide(layer))

      const items = (yield* sink.items).slice().sort(byDuration)
      expect(items).toStrictEqual(Array.from({ length: 400 }, (_, i) => activity(i)).filter((a) => a.DurationMs !== 123))
      const letters = yield* deadLetters.items
      expect(letters).toHaveLength(1)
      expect(letters[0]).toMatchObject({ stage: "sink:results", reason: "ValidationException: item too large" })
      expect(JSON.parse(new TextDecoder().decode(letters[0].data))).toStrictEqual(activity(123))
      expect(summary).toMatchObject({ recordsIn: 400, recordsOut: 399, deadLettered: 1, filtered: 0 })
    }))

  it.effect("dead-letters a record whose map or flatMap throws, and counts flatMap drops as filtered", () =>
    Effect.gen(function*() {
      const { deadLetters, layer } = yield* setup({ count: 100, maxRecords: 1000 })
      const sink = yield* RecordSink.memory<string>("words")
      const pipeline = Pipeline.make("throwing").pipe(
        Pipeline.decode(Decoder.json(Activity)),
        Pipeline.map((a) => {
          if (a.DurationMs === 42) throw new RangeError("42 is not allowed")
          return a
        }),
        Pipeline.flatMap((a) => a.DurationMs % 2 === 0 ? [a.CustomerId, a.Activity] : []),
        Pipeline.to(sink)
      )
      const summary = yield* Pipeline.run(pipeline).pipe(Effect.provide(layer))
      expect(summary).toMatchObject({ recordsIn: 100, recordsOut: 49, deadLettered: 1, filtered: 50 })
      expect(yield* sink.items).toHaveLength(98)
      expect((yield* deadLetters.items)[0]).toMatchObject({ stage: "map", reason: "RangeError: 42 is not allowed" })
    }))

  it.effect("writes to several sinks, one of them provided by a layer", () =>
    Effect.gen(function*() {
      class Results extends Context.Tag("test/Results")<Results, RecordSink.RecordSink<Activity>>() {}
      const { layer } = yield* setup({ count: 20, maxRecords: 1000 })
      const raw = yield* RecordSink.memory<unknown>("raw")
      const results = yield* RecordSink.memory<Activity>("results")
      const pipeline = Pipeline.make("fan-out").pipe(
        Pipeline.to(raw),
        Pipeline.decode(Decoder.json(Activity)),
        Pipeline.to(Results)
      )
      yield* Pipeline.run(pipeline).pipe(Effect.provide(layer), Effect.provideService(Results, results))
      expect(yield* raw.items).toHaveLength(20)
      expect(yield* results.items).toHaveLength(20)
    }))

  it.effect("fails without checkpointing when dead letters cannot be stored", () =>
    Effect.gen(function*() {
      const { deadLetters, layer, stream } = yield* setup({ count: 20, badEvery: 2, maxRecords: 1000, shards: 1 })
      yield* deadLetters.failNext(1, "permanent")
      const pipeline = Pipeline.make("no-dlq").pipe(Pipeline.decode(Decoder.json(Activity)), Pipeline.to(RecordSink.drain))
      const error = yield* Effect.flip(Pipeline.run(pipeline).pipe(Effect.provide(layer)))
      expect(error._tag).toBe("SinkError")
      expect(error.message).toContain("dead letters could not be stored")
      expect((yield* stream.checkpoints()).size).toBe(0)
    }))

  it.effect("counts records in Effect metrics tagged with the pipeline", () =>
    Effect.gen(function*() {
      const { layer } = yield* setup({ count: 30, badEvery: 3, maxRecords: 1000 })
      const pipeline = Pipeline.make("metered").pipe(Pipeline.decode(Decoder.json(Activity)), Pipeline.to(RecordSink.drain))
      yield* Pipeline.run(pipeline).pipe(Effect.provide(layer))
      const value = (metric: Metric.Metric.Counter<number>) =>
        Metric.value(Metric.tagged(metric, "pipeline", "metered")).pipe(Effect.map((state: MetricState.MetricState.Counter<number>) => state.count))
      expect(yield* value(Pipeline.metrics.recordsIn)).toBe(30)
      expect(yield* value(Pipeline.metrics.recordsOut)).toBe(20)
      expect(yield* value(Pipeline.metrics.deadLettered)).toBe(10)
    }))

  it.effect("resumes after the checkpoint on restart", () =>
    Effect.gen(function*() {
      const { layer, sink, stream } = yield* setup({ count: 100, maxRecords: 1000 })
      const pipeline = Pipeline.make("resume").pipe(Pipeline.decode(Decoder.json(Activity)), Pipeline.to(sink))
      yield* Pipeline.run(pipeline).pipe(Effect.provide(layer))
      yield* fill(stream, 10)
      const second = yield* Pipeline.run(pipeline).pipe(Effect.provide(layer))
      expect(second.recordsIn).toBe(10)
      expect(yield* sink.items).toHaveLength(110)
    }))
})

describe("MemoryStream", () => {
  it.effect("enforces Kinesis' limits", () =>
    Effect.gen(function*() {
      const stream = yield* MemoryStream.make()
      const tooMany = yield* Effect.flip(stream.put(Array.from({ length: 501 }, () => ({ partitionKey: "k", data: "x" }))))
      expect(tooMany.reason).toContain("501 records")
      const longKey = yield* Effect.flip(stream.put([{ partitionKey: "k".repeat(257), data: "x" }]))
      expect(longKey.reason).toContain("partitionKey")
      const big = yield* Effect.flip(stream.put([{ partitionKey: "k", data: new Uint8Array(1024 * 1024 + 1) }]))
      expect(big.reason).toContain("1048577 bytes")
      expect(stream.records(stream.shardIds[0])).toHaveLength(0)
    }))

  it.effect("routes a partition key to one shard, with growing sequence numbers", () =>
    Effect.gen(function*() {
      const stream = yield* MemoryStream.make({ shards: 4 })
      const results = yield* stream.put(Array.from({ length: 400 }, (_, i) => ({ partitionKey: `k${i % 40}`, data: `${i}` })))
      const shardOfKey = new Map<string, string>()
      results.forEach((result, i) => {
        const key = `k${i % 40}`
        expect(shardOfKey.get(key) ?? result.shardId).toBe(result.shardId)
        shardOfKey.set(key, result.shardId)
      })
      expect(new Set(shardOfKey.values()).size).toBe(4)
      for (const shardId of stream.shardIds) {
        const sequence = stream.records(shardId).map((r) => r.sequenceNumber)
        for (let i = 1; i < sequence.length; i++) expect(SequenceNumber.compare(sequence[i - 1], sequence[i])).toBe(-1)
      }
    }))

  it.effect("starts at TRIM_HORIZON, LATEST or AT_TIMESTAMP (the first record that arrived at or after it)", () =>
    Effect.gen(function*() {
      const stream = yield* MemoryStream.make({ shards: 1 })
      const put = (data: string) => stream.put([{ partitionKey: "k", data }])
      yield* put("a0")
      yield* TestClock.adjust("1 second")
      yield* put("a1")
      const boundary = (yield* TestClock.currentTimeMillis) + 1
      yield* TestClock.adjust("1 second")
      yield* put("b0")
      yield* put("b1")
      const read = (from: NonNullable<MemoryStream.ReadOptions["from"]>) =>
        Effect.gen(function*() {
          const sink = yield* RecordSink.memory<string>()
          const pipeline = Pipeline.make("from").pipe(Pipeline.map((record) => new TextDecoder().decode(record.data)), Pipeline.to(sink))
          yield* Pipeline.run(pipeline).pipe(
            Effect.provide(Layer.merge(MemoryStream.layerSource(stream, { from, application: `from-${JSON.stringify(from)}` }), DeadLetter.layerMemory))
          )
          return yield* sink.items
        })
      expect(yield* read("TRIM_HORIZON")).toStrictEqual(["a0", "a1", "b0", "b1"])
      expect(yield* read("LATEST")).toStrictEqual([])
      expect(yield* read({ atTimestamp: boundary })).toStrictEqual(["b0", "b1"])
      expect(yield* read({ atTimestamp: new Date(boundary - 1000) })).toStrictEqual(["a1", "b0", "b1"])
      expect(yield* read({ atTimestamp: boundary + 60_000 })).toStrictEqual([])
    }))

  it.effect("follows new records, polling after an idle interval", () =>
    Effect.gen(function*() {
      const stream = yield* MemoryStream.make({ shards: 1 })
      const sink = yield* RecordSink.memory<Activity>("results")
      const layer = Layer.merge(
        MemoryStream.layerSource(stream, { follow: true, idleInterval: "2 seconds" }),
        DeadLetter.layerMemory
      )
      const pipeline = Pipeline.make("live").pipe(Pipeline.decode(Decoder.json(Activity)), Pipeline.to(sink))
      const fiber = yield* Pipeline.run(pipeline).pipe(Effect.provide(layer), Effect.fork)
      yield* TestClock.adjust("100 millis") // the first poll finds nothing and waits until 2.1 s
      yield* fill(stream, 5)
      yield* TestClock.adjust("1 second")
      expect(yield* sink.items).toHaveLength(0)
      yield* TestClock.adjust("1 second")
      expect(yield* sink.items).toHaveLength(5)
      yield* Fiber.interrupt(fiber)
    }))
})

describe("SequenceNumber", () => {
  it("compares as integers, not strings", () => {
    expect(SequenceNumber.compare("9", "10")).toBe(-1)
    expect(SequenceNumber.compare("0010", "9")).toBe(1)
    expect(SequenceNumber.compare("49590338271490256608559692538361571095921575989136588898", "49590338271490256608559692538361571095921575989136588898")).toBe(0)
    expect(SequenceNumber.max("100", "99")).toBe("100")
  })
})
