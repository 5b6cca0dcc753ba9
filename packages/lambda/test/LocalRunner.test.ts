import { describe, expect, it } from "@effect/vitest"
import { Aggregate, DeadLetter, Decoder, Pipeline } from "@tributary/core"
import * as Aggregation from "@tributary/kinesis/Aggregation"
import * as StreamAdmin from "@tributary/kinesis/StreamAdmin"
import type { KinesisStreamEvent } from "aws-lambda"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as KinesisEvent from "../src/KinesisEvent.js"
import * as Lambda from "../src/Lambda.js"
import * as LocalRunner from "../src/LocalRunner.js"
import { capturedLogs, kinesalite, putAll, streamName, table } from "./helpers.js"

const Order = Schema.Struct({ id: Schema.String, customer: Schema.String, amount: Schema.Number })
type Order = typeof Order.Type

const orders = (n: number) =>
  Array.from({ length: n }, (_, i): Order => ({ id: `o${i}`, customer: `c${i % 13}`, amount: i % 100 }))

const perCustomer = (all: ReadonlyArray<Order>) => {
  const out: Record<string, { n: number; total: number }> = {}
  for (const o of all) {
    const c = (out[o.customer] ??= { n: 0, total: 0 })
    c.n++
    c.total += o.amount
  }
  return out
}

describe("LocalRunner (kinesalite)", () => {
  it.scopedLive("drives 10,000 records through Lambda.handler; a transient failure is retried from the reported record", () =>
    Effect.gen(function*() {
      const stream = streamName()
      yield* StreamAdmin.ensureStream(stream, { shards: 2 })
      const all = orders(10_000)
      yield* putAll(stream, all.map((o) => ({ key: o.customer, data: JSON.stringify(o) })))

      const results = table((o: Order) => o.id)
      // the sink throttles every write holding o5000 twice: the pipeline's one retry is not enough
      let throttled = 0
      results.failWhen((batch) => batch.some((o) => o.id === "o5000") && throttled++ < 2)
      const logs = capturedLogs()
      const handler = Lambda.handler(
        Pipeline.make("orders").pipe(Pipeline.decode(Decoder.json(Order)), Pipeline.to(results.sink), Pipeline.retry(Schedule.recurs(1))),
        Layer.merge(DeadLetter.layerMemory, logs.layer),
        { chunkSize: 100 }
      )
      const summary = yield* LocalRunner.run(handler, { stream, batchSize: 500, bisectBatchOnFunctionError: true, maximumRetryAttempts: 3 })
      yield* Effect.promise(() => handler.dispose())

      expect(summary).toMatchObject({ records: 10_000, partialFailures: 1, retries: 1, functionErrors: 0, failedBatches: [] })
      expect(logs.lines.filter((line) => line.includes("reporting the first record not yet durable"))).toHaveLength(1)
      expect(results.failures).toBe(2)
      // every record once in the table, and none written twice: the retry started at the failed chunk
      expect(results.items.size).toBe(10_000)
      expect(Math.max(...results.puts.values())).toBe(1)
      expect(perCustomer(Array.from(results.items.values()))).toEqual(perCustomer(all))
    }).pipe(Effect.provide(kinesalite)), 30_000)

  it.scopedLive("drives 10,000 records through a tumbling window: each aggregated exactly once despite a failed final write", () =>
    Effect.gen(function*() {
      const stream = streamName()
      yield* StreamAdmin.ensureStream(stream, { shards: 2 })
      const all = orders(10_000)
      yield* putAll(stream, all.map((o) => ({ key: o.customer, data: JSON.stringify(o) })))

      const totals = Aggregate.struct({ n: Aggregate.count, total: Aggregate.sum.pipe(Aggregate.mapInput((o: Order) => o.amount)) })
      type Result = Lambda.TumblingWindowResult<string, Aggregate.Aggregate.Output<typeof totals>>
      const results = table((r: Result) => `${r.shardId}|${r.key}|${r.start}|${r.segment}`)
      results.failNext(2) // the first final invocation fails after its in-invocation retry
      const logs = capturedLogs()
      const handler = Lambda.tumblingWindowHandler({
        decoder: Decoder.json(Order),
        key: (o) => o.customer,
        aggregate: totals,
        sink: results.sink,
        layer: Layer.merge(DeadLetter.layerMemory, logs.layer),
        retry: Schedule.recurs(1)
      })
      const summary = yield* LocalRunner.runTumblingWindow(handler, {
        stream,
        batchSize: 1_000,
        tumblingWindow: "15 minutes",
        maximumRetryAttempts: 3
      })
      yield* Effect.promise(() => handler.dispose())

      expect(summary.records).toBe(10_000)
      expect(summary.failedBatches).toEqual([])
      expect(summary.functionErrors).toBe(1)
      const merged: Record<string, { n: number; total: number }> = {}
      for (const r of results.items.values()) {
        const c = (merged[r.key] ??= { n: 0, total: 0 })
        c.n += r.value.n
        c.total += r.value.total
        expect(r.count).toBe(r.value.n)
      }
      expect(merged).toEqual(perCustomer(all))
    }).pipe(Effect.provide(kinesalite)), 30_000)

  it.scopedLive("bisects on function errors down to the poison record and gives it up after the retry attempts", () =>
    Effect.gen(function*() {
      const stream = streamName()
      yield* StreamAdmin.ensureStream(stream, { shards: 1 })
      const sequences = yield* putAll(stream, Array.from({ length: 40 }, (_, i) => ({ key: "k", data: `r${i}` })))
      const seen = new Set<string>()
      const handler = async (event: KinesisStreamEvent) => {
        const texts = event.Records.map((r) => Buffer.from(r.kinesis.data, "base64").toString())
        if (texts.includes("r17")) throw new Error("poison")
        for (const t of texts) seen.add(t)
      }
      const summary = yield* LocalRunner.run(handler, {
        stream,
        batchSize: 40,
        bisectBatchOnFunctionError: true,
        maximumRetryAttempts: 8
      })
      expect(summary.failedBatches).toHaveLength(1)
      expect(summary.failedBatches[0]).toMatchObject({
        startSequenceNumber: sequences[17],
        endSequenceNumber: sequences[17],
        batchSize: 1,
        condition: "RetryAttemptsExhausted"
      })
      expect(summary.bisections).toBeGreaterThan(0)
      expect(seen.size).toBe(39)
      expect(seen.has("r17")).toBe(false)
    }).pipe(Effect.provide(kinesalite)), 30_000)

  it.scopedLive("hands KPL aggregates to the function as stored; the handler expands them", () =>
    Effect.gen(function*() {
      const stream = streamName()
      yield* StreamAdmin.ensureStream(stream, { shards: 1 })
      const aggregate = Aggregation.encode(
        orders(5).map((o) => ({ partitionKey: o.customer, data: new TextEncoder().encode(JSON.stringify(o)) }))
      )
      yield* putAll(stream, [{ key: "k", data: aggregate }, { key: "k", data: JSON.stringify({ ...orders(6)[5] }) }])
      const results = table((o: Order) => o.id)
      const events: Array<KinesisStreamEvent> = []
      const inner = Lambda.handler(Pipeline.make("orders").pipe(Pipeline.decode(Decoder.json(Order)), Pipeline.to(results.sink)), DeadLetter.layerMemory)
      const summary = yield* LocalRunner.run(async (event, context) => {
        events.push(event)
        return inner(event, context)
      }, { stream })
      yield* Effect.promise(() => inner.dispose())
      expect(summary.records).toBe(2)
      expect(events.flatMap((e) => e.Records)).toHaveLength(2)
      expect(KinesisEvent.toShards(events[0])[0].kinesis[0].records).toHaveLength(5)
      expect(Array.from(results.items.keys())).toEqual(["o0", "o1", "o2", "o3", "o4", "o5"])
    }).pipe(Effect.provide(kinesalite)), 30_000)

  it.scopedLive("a timed-out invocation counts as a function error, and the shard's retry starts only once it has settled", () =>
    Effect.gen(function*() {
      const stream = streamName()
      yield* StreamAdmin.ensureStream(stream, { shards: 1 })
      yield* putAll(stream, [{ key: "k", data: "one" }])
      const events: Array<string> = []
      let invocation = 0
      const handler: LocalRunner.BatchHandler = async () => {
        const n = ++invocation
        events.push(`start ${n}`)
        // the first one runs well past the timeout (Lambda would stop it; a promise runs on)
        if (n === 1) await new Promise((resolve) => setTimeout(resolve, 300))
        events.push(`end ${n}`)
        return { batchItemFailures: [] }
      }
      const summary = yield* LocalRunner.run(handler, { stream, functionTimeout: "50 millis", maximumRetryAttempts: 2 })
      expect(summary).toMatchObject({ records: 1, invocations: 2, functionErrors: 1, retries: 1, failedBatches: [] })
      expect(events).toStrictEqual(["start 1", "end 1", "start 2", "end 2"])
    }).pipe(Effect.provide(kinesalite)), 30_000)
})
