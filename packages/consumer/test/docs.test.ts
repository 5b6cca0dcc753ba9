/**
 * The consumer example of docs/consumer.md, run against kinesalite and dynalite with the standard AWS
 * settings pointing at them, and its lease store contract snippet, run on the memory store (the page's lease
 * coordinator example runs in packages/dynamodb/test/docs.test.ts).
 * The last test checks that each ```ts block of the page appears verbatim in one of the two files
 * (whitespace aside, import lines left out) and that the file holding it imports what the block imports,
 * but for `NodeRuntime`, which this file stands in for (see test-utils/DocBlocks.ts of @tributary/core).
 * Change an example in both places.
 */
import { expect, it, layer } from "@effect/vitest"
import * as DeadLetter from "@tributary/core/DeadLetter"
import * as Decoder from "@tributary/core/Decoder"
import * as LeaseStore from "@tributary/core/LeaseStore"
import * as Pipeline from "@tributary/core/Pipeline"
import * as RecordSink from "@tributary/core/RecordSink"
import * as DocBlocks from "@tributary/core/test-utils/DocBlocks"
import * as LeaseStoreContract from "@tributary/core/test-utils/LeaseStoreContract"
import { DynamoDBClient, DynamoDBLeaseStore } from "@tributary/dynamodb"
import { Kinesis, StreamAdmin } from "@tributary/kinesis"
import * as Environment from "@tributary/local/Environment"
import * as LocalDynamoDB from "@tributary/local/LocalDynamoDB"
import * as LocalKinesis from "@tributary/local/LocalKinesis"
import { Effect, Exit, Fiber, Layer, Schema } from "effect"
import { Consumer } from "../src/index.js"
import { emulators } from "./helpers.js"

/**
 * `NodeRuntime.runMain` of @effect/platform-node (not a dependency of this package) runs the program until
 * SIGTERM or SIGINT interrupts it. Here it hands the program to the test, which runs and interrupts it.
 */
const launched: Array<Effect.Effect<unknown, unknown>> = []
const NodeRuntime = {
  runMain: <E, A>(effect: Effect.Effect<A, E>, _options?: { readonly disableErrorReporting?: boolean }): void => {
    launched.push(effect)
  }
}

// The page's contract snippet ("a store of your own passes the contract if ... registers passing tests"), with
// the memory store as the store of one's own
const myLeaseStoreLayer = LeaseStore.layerMemory

LeaseStoreContract.run("my store", myLeaseStoreLayer)

const Order = Schema.Struct({ orderId: Schema.String, amount: Schema.Number })

layer(emulators, { excludeTestServices: true, timeout: "30 seconds" })("docs/consumer.md", (it) => {
  it.scoped("the consumer example: the worker processes both shards, and checkpoints and releases them at shutdown", () =>
    Effect.gen(function*() {
      const localKinesis = yield* LocalKinesis.LocalKinesis
      const localDynamoDB = yield* LocalDynamoDB.LocalDynamoDB
      yield* Environment.scoped({
        AWS_ENDPOINT_URL_KINESIS: localKinesis.endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: localDynamoDB.endpoint,
        AWS_REGION: localKinesis.region,
        AWS_ACCESS_KEY_ID: "local",
        AWS_SECRET_ACCESS_KEY: "local"
      })
      // orders on both shards of the stream, one of them broken
      yield* StreamAdmin.ensureStream("orders", { shards: 2 })
      const kinesis = yield* Kinesis.Kinesis
      const put = yield* kinesis.putRecords({
        StreamName: "orders",
        Records: [
          { PartitionKey: "a", ExplicitHashKey: "0", Data: Buffer.from(`{"orderId":"o-1","amount":10}`) },
          { PartitionKey: "b", ExplicitHashKey: "0", Data: Buffer.from(`{"orderId":"o-2"}`) },
          { PartitionKey: "c", ExplicitHashKey: "340282366920938463463374607431768211455", Data: Buffer.from(`{"orderId":"o-3","amount":30}`) }
        ]
      })
      const [, second, third] = put.Records ?? []
      // the example's ordersDecoder, ordersSink and deadLetterSink
      const ordersDecoder = Decoder.json(Order)
      const ordersSink = yield* RecordSink.memory<typeof Order.Type>("orders")
      const deadLetterSink = yield* RecordSink.memory<DeadLetter.DeadLetter>("dead-letters")

      // --- the docs' example ---
      // ordersDecoder, ordersSink and deadLetterSink are yours
      const pipeline = Pipeline.make("orders").pipe(Pipeline.decode(ordersDecoder), Pipeline.to(ordersSink))

      const worker = Consumer.layer(pipeline, { stream: "orders", initialPosition: "TRIM_HORIZON" }).pipe(
        Layer.provide(Layer.mergeAll(
          Kinesis.layerConfig(),
          DynamoDBLeaseStore.layer({ tableName: "orders-app" }).pipe(Layer.provide(DynamoDBClient.layerConfig())),
          DeadLetter.layer(deadLetterSink)
        ))
      )

      // next to other layers (an HTTP server, ...); SIGTERM closes it gracefully
      Layer.launch(worker).pipe(NodeRuntime.runMain)
      // --- end of the example ---

      expect(launched).toHaveLength(1)
      const running = yield* Effect.fork(launched[0])
      for (let i = 0; i < 200 && running.unsafePoll() === null; i++) {
        if ((yield* ordersSink.items).length === 2 && (yield* deadLetterSink.items).length === 1) break
        yield* Effect.sleep("25 millis")
      }
      expect(running.unsafePoll()).toBeNull() // still running: nothing failed
      expect((yield* ordersSink.items).map((order) => order.orderId).sort()).toStrictEqual(["o-1", "o-3"])
      expect((yield* deadLetterSink.items).map((letter) => [letter.pipeline, letter.stage, letter.sequenceNumber]))
        .toStrictEqual([["orders", "decode", second.SequenceNumber]])

      // SIGTERM: the worker stops, stores where each shard got to and hands the leases back
      yield* Fiber.interrupt(running)
      expect(Exit.isInterrupted(yield* Fiber.await(running))).toBe(true)
      const leases = yield* Effect.flatMap(LeaseStore.LeaseStore, (store) => store.list).pipe(
        Effect.provide(DynamoDBLeaseStore.layer({ tableName: "orders-app", createTable: false }))
      )
      expect(leases.map((lease) => [lease.leaseKey, lease.owner, lease.checkpoint])).toStrictEqual([
        ["shardId-000000000000", null, { sequenceNumber: second.SequenceNumber, subSequenceNumber: 0 }],
        ["shardId-000000000001", null, { sequenceNumber: third.SequenceNumber, subSequenceNumber: 0 }]
      ])
    }))
})

it("docs/consumer.md: every TypeScript example is tested here or in the dynamodb package's docs test", () => {
  expect(DocBlocks.blocks(DocBlocks.read("consumer.md")).length).toBeGreaterThan(0)
  expect(DocBlocks.problems("consumer.md", {
    files: [new URL("../../dynamodb/test/docs.test.ts", import.meta.url), import.meta.url],
    checkImports: true,
    standIns: ["NodeRuntime"]
  })).toStrictEqual([])
})
