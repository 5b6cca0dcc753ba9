/**
 * The TypeScript examples of docs/dynamodb-streams.md, run on embedded dynalite and kinesalite; the last test
 * checks that each of the page's blocks appears here verbatim (whitespace aside, import lines left out).
 * Change the examples in both places.
 */
import * as Consumer from "@tributary/consumer/Consumer"
import { describe, expect, it } from "@effect/vitest"
import { Aggregate, DeadLetter, Pipeline, RecordSink, Window } from "@tributary/core"
import { LeaseStore } from "@tributary/core/LeaseStore"
import * as DocBlocks from "@tributary/core/test-utils/DocBlocks"
import { ChangeRecord, DynamoDBClient, DynamoDBLeaseStore, TableStream } from "@tributary/dynamodb"
import * as Kinesis from "@tributary/kinesis/Kinesis"
import * as StreamAdmin from "@tributary/kinesis/StreamAdmin"
import * as LocalDynamoDB from "@tributary/local/LocalDynamoDB"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { Lambda, LocalRunner } from "../src/index.js"
import { kinesalite } from "./helpers.js"

// stand-ins for the page's sinks
const OrderValues = Effect.runSync(RecordSink.memory<{ eventId: string; customer: string; delta: number }>("order-values"))
const OrderValuesLive = Layer.empty
const CustomerTotals = Effect.runSync(RecordSink.memory<Lambda.TumblingWindowResult<string, number>>("customer-totals"))
const ChangeCounts = Effect.runSync(RecordSink.memory<Window.WindowResult<string, number>>("change-counts"))

/** The page's blocks, in order. */
const examples = () => {
  const Order = Schema.Struct({
    orderId: Schema.String,
    customer: Schema.String,
    amount: Schema.Number,
    status: Schema.Literal("placed", "paid", "shipped")
  })
  type OrderChange = ChangeRecord.ChangeRecord<typeof Order.Type>

  // INSERT, MODIFY and REMOVE changes, their images decoded into Order
  const orderValues = Pipeline.make("order-values").pipe(
    Pipeline.decode(ChangeRecord.decoder(Order)),
    // deletions by Time to Live are housekeeping, not cancellations
    Pipeline.filter((change) => !ChangeRecord.isTimeToLiveDelete(change)),
    Pipeline.map((change) => ({
      eventId: change.eventID,
      customer: (change.newImage ?? change.oldImage)!.customer,
      delta: (change.newImage?.amount ?? 0) - (change.oldImage?.amount ?? 0)
    })),
    Pipeline.to(OrderValues)
  )

  // FunctionResponseTypes: ["ReportBatchItemFailures"] on the event source mapping
  const handler = Lambda.dynamoDBStreamHandler(orderValues, Layer.mergeAll(OrderValuesLive, DeadLetter.layerMemory))

  const orderValue = Aggregate.sum.pipe(
    Aggregate.mapInput((change: OrderChange) =>
      (change.newImage?.amount ?? 0) - (change.oldImage?.amount ?? 0)
    )
  )

  // TumblingWindowInSeconds: 60 on the event source mapping
  const perMinute = Lambda.dynamoDBTumblingWindowHandler({
    decoder: ChangeRecord.decoder(Order),
    key: (change) => (change.newImage ?? change.oldImage)!.customer,
    aggregate: orderValue,
    sink: CustomerTotals,
    layer: DeadLetter.layerMemory
  })

  const changesPerMinute = Pipeline.make("order-changes").pipe(
    Pipeline.decode(ChangeRecord.decoder(Order)),
    Pipeline.window({
      window: Window.tumbling("1 minute"),
      key: (change: OrderChange) => (change.newImage ?? change.oldImage)!.customer,
      // the time of the change, not of its arrival in Kinesis
      eventTime: (change) => change.approximateCreationDateTime,
      aggregate: Aggregate.count,
      // results as they change: a change stream rarely goes quiet long enough to close a window
      emit: "onUpdate"
    }),
    Pipeline.to(ChangeCounts)
  )

  // the Kinesis stream the table writes to; leases in DynamoDB, like any other consumer
  const worker = Consumer.make(changesPerMinute, { stream: "order-changes", initialPosition: "TRIM_HORIZON" })

  const bothRoutes = Effect.gen(function*() {
    const stream = yield* TableStream.make({ tableName: "orders", streamViewType: "NEW_AND_OLD_IMAGES", shards: 2 })
    yield* stream.put({ orderId: "o-1", customer: "c-1", amount: 30, status: "placed" })
    yield* stream.update({ orderId: "o-1" }, {
      updateExpression: "SET #s = :s",
      names: { "#s": "status" },
      values: { ":s": "paid" }
    })
    yield* stream.delete({ orderId: "o-1" })

    // DynamoDB Streams: the event source mapping, played locally
    const summary = yield* LocalRunner.runDynamoDBStream(handler, { changes: stream, batchSize: 100 })

    // Kinesis Data Streams for DynamoDB: the same changes, as DynamoDB writes them into a Kinesis stream
    const kinesis = yield* Kinesis.Kinesis
    yield* kinesis.putRecords({
      StreamName: "order-changes",
      Records: stream.kinesisRecords().map((record) => ({ PartitionKey: record.partitionKey, Data: record.data }))
    })
    return summary
  })

  return { handler, perMinute, worker, bothRoutes }
}

const local = Layer.mergeAll(
  kinesalite,
  Layer.unwrapEffect(Effect.map(LocalDynamoDB.LocalDynamoDB, (l) => DynamoDBClient.layer({ ...l.clientConfig }))).pipe(
    Layer.provideMerge(LocalDynamoDB.layerDynalite())
  )
)

describe("docs/dynamodb-streams.md", () => {
  it.scopedLive("both routes of the page run: the Lambda handler writes each change's value, the consumer counts them", () =>
    Effect.gen(function*() {
      const { bothRoutes, handler, perMinute, worker } = examples()
      const dynamodb = yield* DynamoDBClient.DynamoDBClient
      yield* dynamodb.createTable({
        TableName: "orders",
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [{ AttributeName: "orderId", AttributeType: "S" }],
        KeySchema: [{ AttributeName: "orderId", KeyType: "HASH" }]
      })
      yield* StreamAdmin.ensureStream("order-changes", { shards: 1 })

      const summary = yield* bothRoutes
      expect(summary).toMatchObject({ records: 3, failedBatches: [], functionErrors: 0 })
      expect((yield* OrderValues.items).map((v) => [v.customer, v.delta])).toEqual([["c-1", 30], ["c-1", 0], ["c-1", -30]])
      yield* Effect.promise(() => handler.dispose())

      // the consumer of the Kinesis route, until its counts cover the three changes (then it stops)
      const leaseStore = yield* DynamoDBLeaseStore.make({ tableName: "order-changes-leases" })
      const counted = ChangeCounts.items.pipe(Effect.map((results) => Math.max(0, ...results.map((r) => r.count))))
      yield* Effect.scoped(Effect.gen(function*() {
        yield* worker.pipe(Effect.provide(Layer.merge(DeadLetter.layerMemory, Layer.succeed(LeaseStore, leaseStore))))
        yield* Effect.repeat(counted, { schedule: Schedule.spaced("100 millis"), until: (n) => n >= 3 })
      }))
      expect(yield* counted).toBe(3)
      expect((yield* ChangeCounts.items).every((r) => r.key === "c-1" && r.firing === "update")).toBe(true)

      // the tumbling-window handler on an event of those changes
      const window = { start: Date.UTC(2026, 0, 1, 12), end: Date.UTC(2026, 0, 1, 12, 1) }
      const { DynamoDBStreamEvent } = yield* Effect.promise(() => import("../src/index.js"))
      const stream = yield* TableStream.make({ tableName: "orders" })
      yield* stream.put({ orderId: "o-2", customer: "c-2", amount: 12, status: "placed" })
      yield* stream.put({ orderId: "o-3", customer: "c-2", amount: 8, status: "placed" })
      const event = DynamoDBStreamEvent.tumblingWindowEvent({
        streamArn: stream.streamArn,
        shardId: stream.shards()[0].shardId,
        records: stream.records(),
        window,
        isFinalInvokeForWindow: true
      })
      expect(yield* Effect.promise(() => perMinute(event))).toEqual({ state: {}, batchItemFailures: [] })
      expect((yield* CustomerTotals.items).map((r) => [r.key, r.value])).toEqual([["c-2", 20]])
      yield* Effect.promise(() => perMinute.dispose())
    }).pipe(Effect.provide(local)), 60_000)

  it("the page's examples are the ones tested here", () => {
    expect(DocBlocks.blocks(DocBlocks.read("dynamodb-streams.md")).length).toBe(5)
    expect(DocBlocks.problems("dynamodb-streams.md", {
      files: [import.meta.url],
      checkImports: true,
      rewrite: (code) => code.replace(/export const /g, "const ")
    })).toStrictEqual([])
  })
})
