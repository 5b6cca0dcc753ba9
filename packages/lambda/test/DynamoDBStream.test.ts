/**
 * DynamoDB stream events: AWS's samples decode to the expected typed values and pass Powertools' schemas;
 * the DynamoDB stream handlers keep the Kinesis handlers' guarantees (partial batch responses naming the
 * right SequenceNumber, dead letters, time margin, tumbling windows with state).
 */
import { DynamoDBStreamSchema, DynamoDBStreamToKinesisRecord } from "@aws-lambda-powertools/parser/schemas/dynamodb"
import { KinesisDynamoDBStreamSchema } from "@aws-lambda-powertools/parser/schemas/kinesis"
import { describe, expect, it } from "@effect/vitest"
import { Aggregate, DeadLetter, Decoder, Pipeline } from "@tributary/core"
import * as ChangeRecord from "@tributary/dynamodb/ChangeRecord"
import type { DynamoDBRecord } from "aws-lambda"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as DynamoDBStreamEvent from "../src/DynamoDBStreamEvent.js"
import * as KinesisEvent from "../src/KinesisEvent.js"
import * as Lambda from "../src/Lambda.js"
import { awsDynamoDBSampleEvent, awsKinesisChange, awsKinesisChangeEvent } from "./fixtures.js"
import { capturedLogs, table } from "./helpers.js"

const Message = Schema.Struct({ Id: Schema.Number, Message: Schema.String })

const Order = Schema.Struct({ orderId: Schema.String, customer: Schema.String, amount: Schema.Number })
type Order = typeof Order.Type

const streamArn = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000"

/** INSERTs of orders o<from>.. as a stream shard holds them, sequence numbers growing. */
const inserts = (n: number, from = 0): Array<DynamoDBRecord> =>
  Array.from({ length: n }, (_, k) => {
    const i = from + k
    const image = { orderId: { S: `o${i}` }, customer: { S: `c${i % 5}` }, amount: { N: String(i) } }
    return {
      eventID: `e${i}`,
      eventName: "INSERT",
      eventVersion: "1.1",
      eventSource: "aws:dynamodb",
      awsRegion: "us-east-1",
      eventSourceARN: streamArn,
      dynamodb: {
        ApproximateCreationDateTime: 1_767_268_800 + i,
        Keys: { orderId: { S: `o${i}` } },
        NewImage: image,
        SequenceNumber: String(10n ** 20n + BigInt(i) * 100n),
        SizeBytes: ChangeRecord.sizeBytes(image),
        StreamViewType: "NEW_AND_OLD_IMAGES"
      }
    }
  })

const orderOf = (change: ChangeRecord.ChangeRecord<Order>) => change.newImage!

const setup = (options: Lambda.HandlerOptions = {}) => {
  const results = table((o: Order) => o.orderId)
  const logs = capturedLogs()
  const deadLetters = Effect.runSync(DeadLetter.layerMemory.pipe(Layer.build, Effect.scoped))
  const pipeline = Pipeline.make("orders").pipe(
    Pipeline.decode(ChangeRecord.decoder(Order)),
    Pipeline.map(orderOf),
    Pipeline.to(results.sink),
    Pipeline.retry(Schedule.recurs(1))
  )
  const handler = Lambda.dynamoDBStreamHandler(pipeline, Layer.merge(Layer.succeedContext(deadLetters), logs.layer), options)
  const letters = () => Effect.runPromise(Effect.flatMap(DeadLetter.MemoryDeadLetters, (m) => m.items).pipe(Effect.provide(deadLetters)))
  return { results, handler, letters, logs: logs.lines }
}

describe("AWS's samples", () => {
  it("the DynamoDB stream sample event passes Powertools' schema and decodes to the expected changes", () => {
    expect(DynamoDBStreamSchema.safeParse(awsDynamoDBSampleEvent).success).toBe(true)
    // the oracle can say no: a Kinesis event is not a DynamoDB stream event
    expect(DynamoDBStreamSchema.safeParse(awsKinesisChangeEvent).success).toBe(false)
    const records = DynamoDBStreamEvent.toRecords(awsDynamoDBSampleEvent)
    expect(records.map((r) => [r.stream, r.shardId, r.sequenceNumber, r.arrivalTime])).toEqual([
      ["stream-ARN", DynamoDBStreamEvent.unknownShard, "111", 0],
      ["stream-ARN", DynamoDBStreamEvent.unknownShard, "222", 0],
      ["stream-ARN", DynamoDBStreamEvent.unknownShard, "333", 0],
      ["ExampleTable", DynamoDBStreamEvent.unknownShard, "444", 1_700_000_000_000]
    ])
    const decoded = Decoder.decodeAll(ChangeRecord.decoder(Message), records)
    expect(decoded.failures).toEqual([])
    const common = { tableName: "stream-ARN", awsRegion: "us-west-2", keys: { Id: 101 }, streamViewType: "NEW_AND_OLD_IMAGES" }
    expect(decoded.values).toEqual([
      {
        ...common,
        eventName: "INSERT",
        eventID: "1",
        newImage: { Id: 101, Message: "New item!" },
        oldImage: undefined,
        sequenceNumber: "111",
        sizeBytes: 26,
        approximateCreationDateTime: 0,
        userIdentity: undefined,
        recordFormat: undefined
      },
      {
        ...common,
        eventName: "MODIFY",
        eventID: "2",
        newImage: { Id: 101, Message: "This item has changed" },
        oldImage: { Id: 101, Message: "New item!" },
        sequenceNumber: "222",
        sizeBytes: 59,
        approximateCreationDateTime: 0,
        userIdentity: undefined,
        recordFormat: undefined
      },
      {
        ...common,
        eventName: "REMOVE",
        eventID: "3",
        newImage: undefined,
        oldImage: { Id: 101, Message: "This item has changed" },
        sequenceNumber: "333",
        sizeBytes: 38,
        approximateCreationDateTime: 0,
        userIdentity: undefined,
        recordFormat: undefined
      },
      {
        ...common,
        tableName: "ExampleTable",
        keys: { Id: 102 },
        eventName: "REMOVE",
        eventID: "4",
        newImage: undefined,
        oldImage: { Id: 102, Message: "Expiring item" },
        sequenceNumber: "444",
        sizeBytes: 36,
        approximateCreationDateTime: 1_700_000_000_000,
        userIdentity: { type: "Service", principalId: "dynamodb.amazonaws.com" },
        recordFormat: undefined
      }
    ])
    expect(decoded.values.map(ChangeRecord.isTimeToLiveDelete)).toEqual([false, false, false, true])
  })

  it("a Kinesis Data Streams for DynamoDB record passes Powertools' schemas and decodes to the expected change", () => {
    expect(DynamoDBStreamToKinesisRecord.safeParse(awsKinesisChange).success).toBe(true)
    expect(KinesisDynamoDBStreamSchema.safeParse(awsKinesisChangeEvent).success).toBe(true)
    const [shard] = KinesisEvent.toShards(awsKinesisChangeEvent)
    const Song = Schema.Struct({ Artist: Schema.String, SongTitle: Schema.String, AlbumTitle: Schema.String, Awards: Schema.Number })
    const decoded = Decoder.decodeAll(ChangeRecord.decoder(Song), KinesisEvent.userRecords(shard.kinesis))
    expect(decoded.failures).toEqual([])
    expect(decoded.values).toEqual([{
      eventName: "MODIFY",
      eventID: "0e4a9e0e-dc8c-4bd4-8cb3-0a30e29ed3c2",
      tableName: "Music",
      awsRegion: "us-west-2",
      keys: { Artist: "No One You Know", SongTitle: "Call Me Today" },
      newImage: { Artist: "No One You Know", SongTitle: "Call Me Today", AlbumTitle: "Somewhat Famous", Awards: 2 },
      oldImage: { Artist: "No One You Know", SongTitle: "Call Me Today", AlbumTitle: "Somewhat Famous", Awards: 1 },
      // a change read from Kinesis is positioned by its Kinesis record
      sequenceNumber: "49657828409187701520019995242508390119953358325192589314",
      sizeBytes: 180,
      streamViewType: undefined,
      approximateCreationDateTime: 1_731_924_555_370,
      userIdentity: undefined,
      recordFormat: "application/json"
    }])
  })

  it("the events built here pass Powertools' schemas too; what is not a DynamoDB stream event fails the invocation", async () => {
    expect(DynamoDBStreamSchema.safeParse(DynamoDBStreamEvent.fromRecords(inserts(3))).success).toBe(true)
    const windowEvent = DynamoDBStreamEvent.tumblingWindowEvent({
      streamArn,
      shardId: "shardId-00000001767268800000-0a1b2c3d",
      records: inserts(2),
      window: { start: Date.UTC(2026, 0, 1, 12), end: Date.UTC(2026, 0, 1, 12, 1) },
      state: {}
    })
    expect(DynamoDBStreamSchema.safeParse(windowEvent).success).toBe(true)
    const { handler } = setup()
    await expect(handler({} as never)).rejects.toThrow(/not a DynamoDB stream event: no Records array/)
    await expect(handler(awsKinesisChangeEvent as never)).rejects.toThrow(/not a DynamoDB stream event: record .* has no dynamodb.SequenceNumber/)
    expect(await handler({ Records: [] })).toEqual({ batchItemFailures: [] })
    await handler.dispose()
  })
})

describe("Lambda.dynamoDBStreamHandler", () => {
  it("names exactly the SequenceNumber of the first change not written; the retry from there writes every change once", async () => {
    const { handler, logs, results } = setup({ chunkSize: 10 })
    const batch = inserts(100)
    // every write holding o42 fails while the flag is up
    results.failWhen((items) => items.some((o) => o.orderId === "o42"))
    const first = await handler(DynamoDBStreamEvent.fromRecords(batch))
    expect(first).toEqual({ batchItemFailures: [{ itemIdentifier: batch[40].dynamodb!.SequenceNumber }] })
    expect(Array.from(results.items.keys())).toEqual(Array.from({ length: 40 }, (_, i) => `o${i}`))
    expect(logs.some((line) => line.startsWith("WARN") && line.includes(`shard ${DynamoDBStreamEvent.unknownShard}`))).toBe(true)

    // Lambda retries from the reported change
    results.failWhen(undefined)
    const at = batch.findIndex((r) => r.dynamodb!.SequenceNumber === first.batchItemFailures[0].itemIdentifier)
    expect(await handler(DynamoDBStreamEvent.fromRecords(batch.slice(at)))).toEqual({ batchItemFailures: [] })
    expect(results.items.size).toBe(100)
    expect(Math.max(...results.puts.values())).toBe(1)
    await handler.dispose()
  })

  it("sends a change whose image does not fit the Schema to the dead-letter sink with the attribute at fault", async () => {
    const { handler, letters, results } = setup()
    const batch = inserts(3)
    const broken = structuredClone(batch[1])
    broken.dynamodb!.NewImage!.amount = { S: "lots" }
    expect(await handler(DynamoDBStreamEvent.fromRecords([batch[0], broken, batch[2]]))).toEqual({ batchItemFailures: [] })
    expect(Array.from(results.items.keys())).toEqual(["o0", "o2"])
    const [letter] = await letters()
    expect(letter).toMatchObject({
      stage: "decode",
      format: ChangeRecord.format,
      reason: "newImage.amount: Expected number, actual \"lots\"",
      stream: "orders",
      shardId: DynamoDBStreamEvent.unknownShard,
      sequenceNumber: broken.dynamodb!.SequenceNumber
    })
    // the dead letter keeps the whole change
    expect(JSON.parse(new TextDecoder().decode(letter.data))).toEqual(broken)
    await handler.dispose()
  })

  it("stops before the function's timeout and reports the rest as failed", async () => {
    const { handler, results } = setup({ chunkSize: 10, timeMargin: "1 second" })
    const batch = inserts(30)
    const out = await handler(DynamoDBStreamEvent.fromRecords(batch), { getRemainingTimeInMillis: () => 900 })
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: batch[0].dynamodb!.SequenceNumber }] })
    expect(results.items.size).toBe(0)
    await handler.dispose()
  })
})

describe("Lambda.dynamoDBTumblingWindowHandler", () => {
  const totals = Aggregate.struct({ n: Aggregate.count, total: Aggregate.sum.pipe(Aggregate.mapInput((c: ChangeRecord.ChangeRecord<Order>) => c.newImage!.amount)) })
  type Result = Lambda.TumblingWindowResult<string, Aggregate.Aggregate.Output<typeof totals>>
  const window = { start: Date.UTC(2026, 0, 1, 12), end: Date.UTC(2026, 0, 1, 12, 1) }
  const shardId = "shardId-00000001767268800000-0a1b2c3d"
  const event = (records: ReadonlyArray<DynamoDBRecord>, state: Record<string, unknown> | undefined, final = false) =>
    DynamoDBStreamEvent.tumblingWindowEvent({ streamArn, shardId, records, window, state, isFinalInvokeForWindow: final })

  it("carries the state across invocations and writes per key on the final one; a failed write names the first change", async () => {
    const results = table((r: Result) => `${r.shardId}|${r.key}|${r.start}`)
    const handler = Lambda.dynamoDBTumblingWindowHandler({
      decoder: ChangeRecord.decoder(Order),
      key: (c) => c.newImage!.customer,
      aggregate: totals,
      sink: results.sink,
      layer: Layer.merge(DeadLetter.layerMemory, capturedLogs().layer),
      retry: Schedule.recurs(1)
    })
    const all = inserts(50)
    const first = await handler(event(all.slice(0, 30), undefined))
    expect(first.batchItemFailures).toEqual([])
    results.failNext(2)
    const failed = await handler(event(all.slice(30), JSON.parse(JSON.stringify(first.state)), true))
    expect(failed).toEqual({ state: first.state, batchItemFailures: [{ itemIdentifier: all[30].dynamodb!.SequenceNumber }] })
    const retried = await handler(event(all.slice(30), failed.state, true))
    expect(retried).toEqual({ state: {}, batchItemFailures: [] })
    const byCustomer = Object.fromEntries(Array.from(results.items.values(), (r) => [r.key, r.value]))
    expect(byCustomer).toEqual(Object.fromEntries(Array.from({ length: 5 }, (_, c) => {
      const amounts = Array.from({ length: 10 }, (_, k) => c + 5 * k)
      return [`c${c}`, { n: 10, total: amounts.reduce((a, b) => a + b, 0) }]
    })))
    expect(Array.from(results.items.values()).every((r) => r.shardId === shardId && r.start === window.start)).toBe(true)
    await expect(handler({ Records: [] } as never)).rejects.toThrow(/not a DynamoDB stream event: no window/)
    await handler.dispose()
  })
})
