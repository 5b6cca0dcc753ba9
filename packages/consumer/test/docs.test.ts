/**
 * The examples of docs/consumer.md: the lease coordinator's runner (on dynalite) and the consumer (on
 * kinesalite and dynalite), with the standard AWS settings pointing at them, and the lease store contract
 * snippet, whose call is recorded (the contract itself runs on the memory store in @tributary/core's tests).
 * The last test checks that each ```ts block of the page appears verbatim here (whitespace aside, import
 * lines left out) and that this file imports what the block imports, but for `NodeRuntime` and
 * `LeaseStoreContract`, which it stands in for (see test-utils/DocBlocks.ts of @tributary/core). Change an
 * example in both places.
 */
import { expect, it, layer } from "@effect/vitest"
import * as DeadLetter from "@tributary/core/DeadLetter"
import * as Decoder from "@tributary/core/Decoder"
import * as LeaseStore from "@tributary/core/LeaseStore"
import * as Pipeline from "@tributary/core/Pipeline"
import * as RecordSink from "@tributary/core/RecordSink"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import * as DocBlocks from "@tributary/core/test-utils/DocBlocks"
import { DynamoDBClient, DynamoDBLeaseStore } from "@tributary/dynamodb"
import { Kinesis, StreamAdmin } from "@tributary/kinesis"
import * as Environment from "@tributary/local/Environment"
import * as LocalDynamoDB from "@tributary/local/LocalDynamoDB"
import * as LocalKinesis from "@tributary/local/LocalKinesis"
import { Config, ConfigProvider, Effect, Exit, Fiber, FiberMap, Layer, Schema, Stream } from "effect"
import { Consumer, LeaseCoordinator } from "../src/index.js"
import { emulators, uniqueName } from "./helpers.js"

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

// The page's contract snippet ("a store of your own passes the contract if ... registers passing tests"): the
// contract runs on the memory store in @tributary/core already, so here the call is only recorded
const contractRuns: Array<{ readonly name: string; readonly layer: unknown }> = []
const LeaseStoreContract = {
  run: (name: string, layer: unknown): void => void contractRuns.push({ name, layer })
}
const myLeaseStoreLayer = LeaseStore.layerMemory

LeaseStoreContract.run("my store", myLeaseStoreLayer)

it("docs/consumer.md: the contract snippet hands the store's layer to the contract", () => {
  expect(contractRuns).toStrictEqual([{ name: "my store", layer: LeaseStore.layerMemory }])
})

const Order = Schema.Struct({ orderId: Schema.String, amount: Schema.Number })

/** The standard AWS settings (`AWS_ENDPOINT_URL_*`, region, credentials) pointing at the emulators, for the test. */
const standardAwsSettings = Effect.gen(function*() {
  const localKinesis = yield* LocalKinesis.LocalKinesis
  const localDynamoDB = yield* LocalDynamoDB.LocalDynamoDB
  yield* Environment.scoped({
    AWS_ENDPOINT_URL_KINESIS: localKinesis.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: localDynamoDB.endpoint,
    AWS_REGION: localKinesis.region,
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local"
  })
})

layer(emulators, { excludeTestServices: true, timeout: "30 seconds" })("docs/consumer.md", (it) => {
  it.scoped("the runner example: every lease is acquired, processed and checkpointed", () =>
    Effect.gen(function*() {
      const local = yield* LocalDynamoDB.LocalDynamoDB
      const table = uniqueName("docs")

      // --- the docs' example ---
      // The lease table of this application (created on first use), on the standard AWS settings
      const Leases = DynamoDBLeaseStore.layerConfig({ tableName: Config.string("LEASE_TABLE") }).pipe(
        Layer.provide(DynamoDBClient.layerConfig())
      )

      // The shards to share out (Kinesis' ListShards in a real consumer)
      const listShards = Effect.succeed([
        { shardId: "shardId-000000000000", parentShardIds: [], hashRange: { start: "0", end: "170141183460469231731687303715884105727" } },
        { shardId: "shardId-000000000001", parentShardIds: [], hashRange: { start: "170141183460469231731687303715884105728", end: "340282366920938463463374607431768211455" } }
      ])

      // What a worker does with a shard while it holds the lease
      const processShard = (lease: LeaseCoordinator.OwnedLease) =>
        Effect.gen(function*() {
          yield* Effect.log(`processing ${lease.leaseKey} after ${JSON.stringify(lease.lease.checkpoint)}`)
          // ... read and process records, then store how far it got:
          yield* lease.checkpoint({ sequenceNumber: "49590000000000000000000000000000000000000000000000000042", subSequenceNumber: 0 })
                yield* Effect.never
        })

      const program = Effect.gen(function*() {
        const coordinator = yield* LeaseCoordinator.make({ listShards, initialPosition: "TRIM_HORIZON" })
        // made after the coordinator: at shutdown, the fibers stop before the leases are released
        const running = yield* FiberMap.make<string>()
        yield* coordinator.changes.pipe(
          Stream.runForEach((event) =>
            event._tag === "Acquired"
              ? FiberMap.run(running, event.lease.leaseKey, processShard(event.lease))
              : FiberMap.remove(running, event.leaseKey)
          )
        )
      })
      // --- end of the example ---

      const config = ConfigProvider.fromMap(new Map([
        ["LEASE_TABLE", table],
        ["AWS_ENDPOINT_URL_DYNAMODB", local.endpoint],
        ["AWS_REGION", local.region],
        ["AWS_ACCESS_KEY_ID", "local"],
        ["AWS_SECRET_ACCESS_KEY", "local"]
      ]))
      const checkpoint = { sequenceNumber: "49590000000000000000000000000000000000000000000000000042", subSequenceNumber: 0 }
      const leases = Effect.flatMap(LeaseStore.LeaseStore, (store) => store.list).pipe(
        Effect.provide(Leases),
        Effect.withConfigProvider(config)
      )
      const fiber = yield* Effect.scoped(program).pipe(Effect.provide(Leases), Effect.withConfigProvider(config), Effect.fork)
      // every lease acquired, processed and checkpointed
      while (true) {
        const current = yield* leases.pipe(Effect.orElseSucceed(() => []))
        if (current.length === 2 && current.every((lease) => lease.owner !== null && lease.checkpoint !== "TRIM_HORIZON")) break
        yield* Effect.sleep("20 millis")
      }
      yield* Fiber.interrupt(fiber)
      // then released at shutdown
      expect((yield* leases).map((lease) => [lease.owner, lease.checkpoint])).toStrictEqual([
        [null, checkpoint],
        [null, checkpoint]
      ])
    }))

  it.scoped("the consumer example: the worker processes both shards, and checkpoints and releases them at shutdown", () =>
    Effect.gen(function*() {
      yield* standardAwsSettings
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

  it.scoped("the several-streams example: each stream's records through its own pipeline, leases keyed by stream", () =>
    Effect.gen(function*() {
      yield* standardAwsSettings
      yield* StreamAdmin.ensureStream("clicks", { shards: 1 })
      yield* StreamAdmin.ensureStream("views", { shards: 1 })
      const kinesis = yield* Kinesis.Kinesis
      for (const [stream, data] of [["clicks", "c-1"], ["clicks", "c-2"], ["views", "v-1"]]) {
        yield* kinesis.putRecords({ StreamName: stream, Records: [{ PartitionKey: data, Data: Buffer.from(data) }] })
      }
      // the example's clicksPipeline, viewsPipeline and deadLetterSink
      const clicks = yield* RecordSink.memory<SourceRecord>("clicks")
      const views = yield* RecordSink.memory<SourceRecord>("views")
      const clicksPipeline = Pipeline.make("clicks").pipe(Pipeline.to(clicks))
      const viewsPipeline = Pipeline.make("views").pipe(Pipeline.to(views))
      const text = (records: ReadonlyArray<SourceRecord>) => records.map((r) => Buffer.from(r.data).toString("utf8")).sort()
      const deadLetterSink = yield* RecordSink.memory<DeadLetter.DeadLetter>("dead-letters")

      // --- the docs' example ---
      // clicksPipeline, viewsPipeline and deadLetterSink are yours
      const worker = Consumer.layerStreams([
        { stream: "clicks", pipeline: clicksPipeline },
        { stream: "views", pipeline: viewsPipeline }
      ], { initialPosition: "TRIM_HORIZON" }).pipe(
        Layer.provide(Layer.mergeAll(
          Kinesis.layerConfig(),
          DynamoDBLeaseStore.layer({ tableName: "web-app" }).pipe(Layer.provide(DynamoDBClient.layerConfig())),
          DeadLetter.layer(deadLetterSink)
        ))
      )
      // --- end of the example ---

      const running = yield* Effect.fork(Layer.launch(worker))
      for (let i = 0; i < 400 && running.unsafePoll() === null; i++) {
        if ((yield* clicks.items).length === 2 && (yield* views.items).length === 1) break
        yield* Effect.sleep("25 millis")
      }
      expect(running.unsafePoll()).toBeNull() // still running: nothing failed
      expect(text(yield* clicks.items)).toStrictEqual(["c-1", "c-2"])
      expect(text(yield* views.items)).toStrictEqual(["v-1"])
      expect(yield* deadLetterSink.items).toStrictEqual([])
      yield* Fiber.interrupt(running)
      const leases = yield* Effect.flatMap(LeaseStore.LeaseStore, (store) => store.list).pipe(
        Effect.provide(DynamoDBLeaseStore.layer({ tableName: "web-app", createTable: false }))
      )
      expect(leases.map((lease) => lease.leaseKey).sort()).toStrictEqual(["clicks:shardId-000000000000", "views:shardId-000000000000"])
    }))
})

it("docs/consumer.md: every TypeScript example is tested here", () => {
  expect(DocBlocks.blocks(DocBlocks.read("consumer.md")).length).toBeGreaterThan(0)
  expect(DocBlocks.problems("consumer.md", {
    files: [import.meta.url],
    checkImports: true,
    standIns: ["NodeRuntime", "LeaseStoreContract"]
  })).toStrictEqual([])
})
