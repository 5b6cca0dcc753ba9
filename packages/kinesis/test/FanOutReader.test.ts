/**
 * Enhanced fan-out on kinesis-mock through the real SDK (SubscribeToShard over HTTP/2, the SDK's own event
 * stream decoding), behind the `Http2Proxy` that `LocalKinesis` puts in front of the emulator. What the
 * emulator cannot produce (LimitExceeded, a refusal at the first call, a subscription cut mid-stream) comes
 * from a second `Http2Proxy`'s faults. Volumes stay small (kinesis-mock is slow to write to), and each
 * test registers a consumer of its own.
 */
import { describe, expect, layer } from "@effect/vitest"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import * as Http2Proxy from "@tributary/local/Http2Proxy"
import * as LocalKinesis from "@tributary/local/LocalKinesis"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as Aggregation from "../src/Aggregation.js"
import * as FanOutReader from "../src/FanOutReader.js"
import * as Kinesis from "../src/Kinesis.js"
import * as Metrics from "../src/Metrics.js"
import * as StreamAdmin from "../src/StreamAdmin.js"
import * as StreamConsumer from "../src/StreamConsumer.js"
import { kinesisFromLocal, streamName, text } from "./helpers.js"

const shard0 = "shardId-000000000000"

/** Puts `items` to one shard of the stream (an explicit hash key of the shard's range). */
const put = (stream: string, items: ReadonlyArray<string>, hashKey = "0") =>
  Effect.gen(function*() {
    const kinesis = yield* Kinesis.Kinesis
    for (let from = 0; from < items.length; from += 250) {
      const output = yield* kinesis.putRecords({
        StreamName: stream,
        Records: items.slice(from, from + 250).map((item) => ({ Data: Buffer.from(item), PartitionKey: item, ExplicitHashKey: hashKey }))
      })
      expect(output.FailedRecordCount ?? 0).toBe(0)
    }
  })

/** A 1-shard stream and a consumer of its own, registered. */
const setup = (shards = 1) =>
  Effect.gen(function*() {
    const stream = streamName("fan-out")
    yield* StreamAdmin.ensureStream(stream, { shards })
    const consumer = yield* StreamConsumer.ensure(stream, `${stream}-consumer`)
    return { stream, consumerArn: consumer.arn }
  })

/** Runs a reader into an array of pages, in a fiber. */
const run = (options: FanOutReader.FanOutReaderOptions) =>
  Effect.gen(function*() {
    const reader = yield* FanOutReader.make(options)
    const pages: Array<ReadonlyArray<SourceRecord>> = []
    const fiber = yield* Effect.fork(Stream.runForEach(reader.batches, (page) => Effect.sync(() => void pages.push(page))))
    const records = () => pages.flat().map(text)
    return { reader, pages, fiber, records }
  })

/** Polls (live clock) until `check` holds. */
const eventually = (check: () => boolean) => until(Effect.sync(check))

const until = <E, R>(check: Effect.Effect<boolean, E, R>) =>
  Effect.repeat(check, { until: (ok) => ok, schedule: Schedule.spaced("50 millis") })

const items = (prefix: string, count: number, from = 0) => Array.from({ length: count }, (_, i) => `${prefix}${from + i}`)

const counter = (stream: string, metric: Metric.Metric.Counter<number>) =>
  Effect.map(Metric.value(metric.pipe(Metric.tagged("stream", stream), Metric.tagged("shard", shard0))), (s) => s.count)

describe("FanOutReader on kinesis-mock", () => {
  layer(kinesisFromLocal.pipe(Layer.provideMerge(LocalKinesis.layerKinesisMock())), { timeout: 120_000, excludeTestServices: true })(
    "through the repairing proxy",
    (it) => {
      it.scoped("StreamConsumer registers a consumer once, reuses it, and deregisters it", () =>
        Effect.gen(function*() {
          const stream = streamName("consumers")
          yield* StreamAdmin.ensureStream(stream, { shards: 1 })
          const [a, b] = yield* Effect.all([StreamConsumer.ensure(stream, "app"), StreamConsumer.ensure(stream, "app")], {
            concurrency: 2
          })
          expect(a.arn).toBe(b.arn)
          expect([a.status, a.name]).toEqual(["ACTIVE", "app"])
          expect((yield* StreamConsumer.ensure(stream, "app")).arn).toBe(a.arn)
          expect((yield* StreamConsumer.describe(stream, "app"))?.arn).toBe(a.arn)
          yield* StreamConsumer.deregister(stream, "app")
          expect(yield* StreamConsumer.describe(stream, "app")).toBeUndefined()
          expect(StreamConsumer.nameProblem("app")).toBeUndefined()
          expect(StreamConsumer.nameProblem("no spaces")).toContain("not 1 to 128")
        }), { timeout: 60_000 })

      it.scoped("reads a shard's records once, in order, KPL records expanded, then what arrives live", () =>
        Effect.gen(function*() {
          const { consumerArn, stream } = yield* setup()
          yield* put(stream, items("r", 200))
          const kinesis = yield* Kinesis.Kinesis
          yield* kinesis.putRecords({
            StreamName: stream,
            Records: [{
              PartitionKey: "agg",
              Data: Aggregation.encode(["a", "b", "c"].map((x) => ({ partitionKey: `pk-${x}`, data: Buffer.from(x) })))
            }]
          })
          const reading = yield* run({ stream, shardId: shard0, consumerArn })
          yield* eventually(() => reading.records().length >= 203)
          yield* put(stream, items("live", 20))
          yield* eventually(() => reading.records().length >= 223)
          expect(reading.records()).toEqual([...items("r", 200), "a", "b", "c", ...items("live", 20)])
          // one page per event (kinesis-mock sends one a second, up to 10,000 records)
          expect(reading.pages.length).toBeGreaterThanOrEqual(2)
          const behind = yield* Metric.value(Metrics.reader.millisBehindLatest.pipe(Metric.tagged("stream", stream), Metric.tagged("shard", shard0)))
          expect(behind.value).toBe(0)
          expect(yield* counter(stream, Metrics.reader.subscribeToShardCalls)).toBe(1)
          yield* Fiber.interrupt(reading.fiber)
        }), { timeout: 90_000 })

      it.scoped("a split: the parent's reader ends after its last record with both children, which are read next", () =>
        Effect.gen(function*() {
          const { consumerArn, stream } = yield* setup()
          yield* put(stream, items("p", 50))
          const parent = yield* run({ stream, shardId: shard0, consumerArn })
          yield* eventually(() => parent.records().length >= 50)
          const children = (yield* StreamAdmin.splitShard(stream, shard0)).map((c) => c.shardId)
          yield* put(stream, items("c", 30), "0")
          expect(yield* Fiber.join(parent.fiber)).toBeUndefined()
          expect(yield* parent.reader.ended).toEqual({ _tag: "ShardEnd", childShardIds: children })
          expect(parent.records()).toEqual(items("p", 50))
          const child = yield* run({ stream, shardId: children[0], consumerArn })
          yield* eventually(() => child.records().length >= 30)
          expect(child.records()).toEqual(items("c", 30))
          yield* Fiber.interrupt(child.fiber)
        }), { timeout: 90_000 })

      it.scoped("two readers of one consumer and shard: the second is refused (ResourceInUse) until the first lets go", () =>
        Effect.gen(function*() {
          const { consumerArn, stream } = yield* setup()
          yield* put(stream, items("r", 10))
          const first = yield* run({ stream, shardId: shard0, consumerArn })
          yield* eventually(() => first.records().length >= 10)
          const second = yield* run({ stream, shardId: shard0, consumerArn, backoffBase: "100 millis", backoffCap: "500 millis" })
          yield* until(Effect.map(counter(stream, Metrics.reader.subscriptionsInUse), (refusals) => refusals >= 2))
          expect(second.records()).toEqual([])
          // the first stops (its subscription is cancelled): the second gets the shard
          yield* Fiber.interrupt(first.fiber)
          yield* eventually(() => second.records().length >= 10)
          expect(second.records()).toEqual(items("r", 10))
          yield* Fiber.interrupt(second.fiber)
        }), { timeout: 90_000 })
    }
  )

  layer(
    kinesisFromLocal.pipe(
      Layer.provideMerge(Http2Proxy.layerKinesis()),
      Layer.provideMerge(LocalKinesis.layerKinesisMock())
    ),
    { timeout: 120_000, excludeTestServices: true }
  )("faults the emulator never produces (an Http2Proxy in front)", (it) => {
    it.scoped("LimitExceeded and ResourceInUse at the first calls are backed off; nothing is lost", () =>
      Effect.gen(function*() {
        const proxy = yield* Http2Proxy.Http2Proxy
        const { consumerArn, stream } = yield* setup()
        yield* put(stream, items("r", 40))
        yield* proxy.refuse({ name: "LimitExceededException" })
        yield* proxy.refuse({ name: "ResourceInUseException" }, 2)
        const reading = yield* run({ stream, shardId: shard0, consumerArn, backoffBase: "50 millis", backoffCap: "200 millis" })
        yield* eventually(() => reading.records().length >= 40)
        expect(reading.records()).toEqual(items("r", 40))
        expect(yield* counter(stream, Metrics.reader.throttled)).toBe(1)
        expect(yield* counter(stream, Metrics.reader.subscriptionsInUse)).toBe(2)
        expect(yield* counter(stream, Metrics.reader.subscribeToShardCalls)).toBe(4)
        yield* Fiber.interrupt(reading.fiber)
      }), { timeout: 90_000 })

    it.scoped("a subscription cut mid-stream resumes after the continuation: no gap, no duplicate", () =>
      Effect.gen(function*() {
        const proxy = yield* Http2Proxy.Http2Proxy
        const { consumerArn, stream } = yield* setup()
        yield* put(stream, items("r", 30))
        const reading = yield* run({ stream, shardId: shard0, consumerArn, backoffBase: "100 millis", backoffCap: "500 millis" })
        yield* eventually(() => reading.records().length >= 30)
        expect(yield* proxy.resetStreams).toBe(1)
        yield* put(stream, items("r", 30, 30))
        yield* eventually(() => reading.records().length >= 60)
        // a second cut while records are on their way
        yield* put(stream, items("r", 30, 60))
        yield* proxy.resetStreams
        yield* put(stream, items("r", 30, 90))
        // a duplicate would come first in the subscription after a cut, before the records that follow
        yield* eventually(() => reading.records().length >= 120)
        expect(reading.records()).toEqual(items("r", 120))
        expect(yield* counter(stream, Metrics.reader.subscribeToShardCalls)).toBeGreaterThanOrEqual(3)
        yield* Fiber.interrupt(reading.fiber)
      }), { timeout: 90_000 })
  })
})
