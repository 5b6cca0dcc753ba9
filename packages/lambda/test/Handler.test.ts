import { describe, expect, it } from "@effect/vitest"
import { DeadLetter, Decoder, Pipeline } from "@tributary/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as KinesisEvent from "../src/KinesisEvent.js"
import * as Lambda from "../src/Lambda.js"
import { awsSampleEvent } from "./fixtures.js"
import { capturedLogs, records, table } from "./helpers.js"

const Order = Schema.Struct({ id: Schema.String, amount: Schema.Number })
type Order = typeof Order.Type

const setup = (options: Lambda.HandlerOptions = {}) => {
  const results = table((o: Order) => o.id)
  let builds = 0
  const deadLetters = Effect.runSync(DeadLetter.layerMemory.pipe(Layer.build, Effect.scoped, Effect.map((ctx) => ctx)))
  const logs = capturedLogs()
  const layer = Layer.effectDiscard(Effect.sync(() => void builds++)).pipe(
    Layer.provideMerge(Layer.succeedContext(deadLetters)),
    Layer.merge(logs.layer)
  )
  const pipeline = Pipeline.make("orders").pipe(
    Pipeline.decode(Decoder.json(Order)),
    Pipeline.to(results.sink),
    // fail fast: the retry from the reported record is Lambda's job here
    Pipeline.retry(Schedule.recurs(1))
  )
  const handler = Lambda.handler(pipeline, layer, options)
  const letters = Effect.runSync(Effect.flatMap(DeadLetter.MemoryDeadLetters, (m) => m.items).pipe(Effect.provide(deadLetters)))
  return { results, handler, builds: () => builds, deadLetters: () => letters, context: deadLetters, logs: logs.lines }
}

const orders = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ id: `o${from + i}`, amount: from + i }))

describe("Lambda.handler", () => {
  it("writes every record of a batch in order and answers with no failures; the layer is built once", async () => {
    const { builds, handler, results } = setup()
    const batch = records(orders(250))
    expect(await handler(KinesisEvent.fromRecords(batch))).toEqual({ batchItemFailures: [] })
    expect(await handler(KinesisEvent.fromRecords(records(orders(10, 250), { firstSequence: 10n ** 30n })))).toEqual({
      batchItemFailures: []
    })
    expect(Array.from(results.items.keys())).toEqual(orders(260).map((o) => JSON.parse(o).id))
    expect(builds()).toBe(1)
    await handler.dispose()
  })

  it("sends what cannot be decoded (AWS's sample event is plain text) to the dead-letter sink, not into failures", async () => {
    const { context, handler, results } = setup()
    expect(await handler(awsSampleEvent)).toEqual({ batchItemFailures: [] })
    const mixed = records([orders(1)[0], "{not json", orders(1, 1)[0]])
    expect(await handler(KinesisEvent.fromRecords(mixed))).toEqual({ batchItemFailures: [] })
    const letters = await Effect.runPromise(Effect.flatMap(DeadLetter.MemoryDeadLetters, (m) => m.items).pipe(Effect.provide(context)))
    expect(letters.map((l) => [l.stage, l.shardId, l.sequenceNumber])).toEqual([
      ["decode", "shardId-000000000006", awsSampleEvent.Records[0].kinesis.sequenceNumber],
      ["decode", "shardId-000000000006", awsSampleEvent.Records[1].kinesis.sequenceNumber],
      ["decode", "shardId-000000000000", mixed[1].sequenceNumber]
    ])
    expect(results.items.size).toBe(2)
    await handler.dispose()
  })

  it("reports the first record of the first chunk that failed; the retry from there writes nothing twice", async () => {
    const { handler, logs, results } = setup({ chunkSize: 10 })
    const batch = records(orders(100))
    // every write holding o42 fails (a throttled partition, say) while the flag is up
    results.failWhen((items) => items.some((o) => o.id === "o42"))
    const first = await handler(KinesisEvent.fromRecords(batch))
    // chunks of 10: o0..o39 written, the chunk o40..o49 failed, nothing after it was tried
    expect(first).toEqual({ batchItemFailures: [{ itemIdentifier: batch[40].sequenceNumber }] })
    expect(Array.from(results.items.keys())).toEqual(orders(40).map((o) => JSON.parse(o).id))
    expect(logs.some((line) => line.startsWith("WARN") && line.includes("reporting the first record not yet durable"))).toBe(true)

    // Lambda checkpoints before the reported record and retries from it
    results.failWhen(undefined)
    const retried = batch.slice(batch.findIndex((r) => r.sequenceNumber === first.batchItemFailures[0].itemIdentifier))
    expect(await handler(KinesisEvent.fromRecords(retried))).toEqual({ batchItemFailures: [] })
    expect(results.items.size).toBe(100)
    expect(Math.max(...results.puts.values())).toBe(1)
    await handler.dispose()
  })

  it("points at the Kinesis record of a failed KPL aggregate, never inside it", async () => {
    const { handler, results } = setup({ chunkSize: 1 })
    const { Aggregation } = await import("@tributary/kinesis")
    const aggregate = Aggregation.encode(
      orders(5, 10).map((data) => ({ partitionKey: "p", data: new TextEncoder().encode(data) }))
    )
    const batch = records([...orders(2), aggregate, ...orders(2, 20)])
    results.failWhen((items) => items.some((o) => o.id === "o13"))
    expect(await handler(KinesisEvent.fromRecords(batch))).toEqual({
      batchItemFailures: [{ itemIdentifier: batch[2].sequenceNumber }]
    })
    expect(Array.from(results.items.keys())).toEqual(["o0", "o1"])
    await handler.dispose()
  })

  it("stops before the function's timeout and reports the rest as failed", async () => {
    const { handler, logs, results } = setup({ chunkSize: 10, timeMargin: "1 second" })
    const batch = records(orders(30))
    const out = await handler(KinesisEvent.fromRecords(batch), { getRemainingTimeInMillis: () => 900 })
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: batch[0].sequenceNumber }] })
    expect(results.items.size).toBe(0)
    expect(logs.some((line) => line.includes("too close to the function's timeout"))).toBe(true)
    await handler.dispose()
  })

  it("handles each shard of an event on its own: a failing shard does not hold back the other", async () => {
    const { handler, results } = setup()
    const a = records(orders(3), { shardId: "shardId-000000000001" })
    const b = records(orders(3, 3), { shardId: "shardId-000000000002" })
    results.failWhen((items) => items.some((o) => o.id === "o4"))
    const out = await handler(KinesisEvent.fromRecords([...a, ...b]))
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: b[0].sequenceNumber }] })
    expect(Array.from(results.items.keys()).sort()).toEqual(["o0", "o1", "o2"])
    await handler.dispose()
  })

  it("fails the invocation on an event that is not a Kinesis event, and retries a layer that failed to build", async () => {
    let attempts = 0
    const flaky = Layer.effectDiscard(Effect.suspend(() => ++attempts === 1 ? Effect.fail("cold start failed") : Effect.void))
    const handler = Lambda.handler(Pipeline.make("noop"), Layer.merge(flaky, DeadLetter.layerMemory))
    await expect(handler({} as never)).rejects.toThrow(/not a Kinesis event/)
    await expect(handler(awsSampleEvent)).rejects.toBeDefined()
    expect(await handler(awsSampleEvent)).toEqual({ batchItemFailures: [] })
    expect(attempts).toBe(2)
    await handler.dispose()
  })
})
