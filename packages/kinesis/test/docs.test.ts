/**
 * The example of docs/kinesis.md, run against kinesalite with the standard AWS settings pointing at it. The
 * last test checks that each ```ts block of the page appears here verbatim (whitespace aside, import lines
 * left out) and that this file imports what the block imports ("@tributary/kinesis" being
 * "../src/index.js"; see test-utils/DocBlocks.ts of @tributary/core). Change the example in both places.
 */
import { expect, it, layer } from "@effect/vitest"
import { DeadLetter, Decoder, Pipeline } from "@tributary/core"
import * as DocBlocks from "@tributary/core/test-utils/DocBlocks"
import * as Environment from "@tributary/local/Environment"
import * as LocalKinesis from "@tributary/local/LocalKinesis"
import { Effect, Exit, Fiber, Layer, Metric, Schema } from "effect"
import { Kinesis, Producer, StreamAdmin, StreamSource } from "../src/index.js"
import { drainStream, kinesisFromLocal, text } from "./helpers.js"

// The example's Order and enrich
const Order = Schema.Struct({ orderId: Schema.String, customerId: Schema.String, amount: Schema.Number })
type Order = typeof Order.Type
const enrich = (order: Order): Order => ({ ...order, amount: Math.round(order.amount * 120) / 100 }) // VAT included

const kinesalite = kinesisFromLocal.pipe(Layer.provideMerge(LocalKinesis.layerKinesalite()))

layer(kinesalite, { excludeTestServices: true, timeout: "30 seconds" })("docs/kinesis.md", (it) => {
  it.scoped("the example: orders read from every shard, enriched and written to orders-enriched", () =>
    Effect.gen(function*() {
      const local = yield* LocalKinesis.LocalKinesis
      const kinesis = yield* Kinesis.Kinesis
      yield* Environment.scoped({
        AWS_ENDPOINT_URL_KINESIS: local.endpoint,
        AWS_REGION: local.region,
        AWS_ACCESS_KEY_ID: "local",
        AWS_SECRET_ACCESS_KEY: "local"
      })
      // the orders are on the stream before the program starts; one of them does not decode
      yield* StreamAdmin.ensureStream("orders", { shards: 4 })
      const orders: ReadonlyArray<Order> = [
        { orderId: "o-1", customerId: "c-1", amount: 10 },
        { orderId: "o-2", customerId: "c-2", amount: 25.5 },
        { orderId: "o-3", customerId: "c-1", amount: 1 }
      ]
      yield* kinesis.putRecords({
        StreamName: "orders",
        Records: [
          ...orders.map((order) => ({ PartitionKey: order.orderId, Data: Buffer.from(JSON.stringify(order)) })),
          { PartitionKey: "o-4", Data: Buffer.from(`{"orderId":"o-4"}`) }
        ]
      })

      // --- the docs' example ---
      // Order (an Effect Schema) and enrich are yours

      const program = Effect.gen(function*() {
        yield* StreamAdmin.ensureStream("orders", { shards: 4 })
        yield* StreamAdmin.ensureStream("orders-enriched", { shards: 4 })
        const out = yield* Producer.make<Order>({
          stream: "orders-enriched",
          partitionKey: (order) => order.customerId,
          data: (order) => JSON.stringify(order)
        })
        return yield* Pipeline.make("enrich").pipe(
          Pipeline.decode(Decoder.json(Order)),
          Pipeline.map(enrich),
          Pipeline.to(out),
          Pipeline.run
        )
      }).pipe(
        Effect.provide(Layer.merge(StreamSource.layer({ stream: "orders" }), DeadLetter.layerMemory)),
        Effect.provide(Kinesis.layerConfig()),
        Effect.scoped
      )
      // --- end of the example ---

      // it follows the stream until interrupted: wait until the enriched orders are out
      const running = yield* Effect.fork(program)
      const enrichedOrders = Effect.gen(function*() {
        const shards = yield* drainStream("orders-enriched")
        return [...shards.values()].flat()
      })
      const count = (metric: typeof Pipeline.metrics.recordsIn) =>
        Effect.map(Metric.value(Metric.tagged(metric, "pipeline", "enrich")), (state) => state.count)
      let enriched = yield* enrichedOrders.pipe(Effect.orElseSucceed(() => []))
      for (let i = 0; i < 200 && running.unsafePoll() === null; i++) {
        if (enriched.length === 3 && (yield* count(Pipeline.metrics.deadLettered)) === 1) break
        yield* Effect.sleep("25 millis")
        enriched = yield* enrichedOrders.pipe(Effect.orElseSucceed(() => []))
      }
      expect(running.unsafePoll()).toBeNull() // still running: nothing failed
      yield* Fiber.interrupt(running)
      expect(Exit.isInterrupted(yield* Fiber.await(running))).toBe(true)

      const written = enriched.map((record) => [record.partitionKey, JSON.parse(text(record)) as Order] as const)
      expect(written.sort(([, a], [, b]) => a.orderId.localeCompare(b.orderId))).toStrictEqual([
        ["c-1", { orderId: "o-1", customerId: "c-1", amount: 12 }],
        ["c-2", { orderId: "o-2", customerId: "c-2", amount: 30.6 }],
        ["c-1", { orderId: "o-3", customerId: "c-1", amount: 1.2 }]
      ])
      expect((yield* StreamAdmin.listShards("orders-enriched")).length).toBe(4)
      expect(yield* count(Pipeline.metrics.recordsIn)).toBe(4)
      expect(yield* count(Pipeline.metrics.recordsOut)).toBe(3)
      expect(yield* count(Pipeline.metrics.deadLettered)).toBe(1) // o-4: amount and customerId missing
    }))
})

it("docs/kinesis.md: every TypeScript example is tested here", () => {
  expect(DocBlocks.blocks(DocBlocks.read("kinesis.md")).length).toBeGreaterThan(0)
  expect(DocBlocks.problems("kinesis.md", { files: [import.meta.url], checkImports: true })).toStrictEqual([])
})
