/**
 * The local runner as a DynamoDB Streams event source mapping: item writes on dynalite, recorded by a
 * `TableStream` as the stream would hold them, drive the DynamoDB stream handlers.
 */
import { DynamoDBStreamSchema } from "@aws-lambda-powertools/parser/schemas/dynamodb"
import { describe, expect, it } from "@effect/vitest"
import { Aggregate, DeadLetter, Pipeline } from "@tributary/core"
import * as ChangeRecord from "@tributary/dynamodb/ChangeRecord"
import * as DynamoDBClient from "@tributary/dynamodb/DynamoDBClient"
import * as TableStream from "@tributary/dynamodb/TableStream"
import * as LocalDynamoDB from "@tributary/local/LocalDynamoDB"
import type { DynamoDBStreamEvent } from "aws-lambda"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Lambda from "../src/Lambda.js"
import * as LocalRunner from "../src/LocalRunner.js"
import { capturedLogs, table } from "./helpers.js"

const Order = Schema.Struct({ orderId: Schema.String, customer: Schema.String, amount: Schema.Number, status: Schema.String })
type Order = typeof Order.Type
type Change = ChangeRecord.ChangeRecord<Order>

const dynalite = Layer.unwrapEffect(Effect.map(LocalDynamoDB.LocalDynamoDB, (l) => DynamoDBClient.layer({ ...l.clientConfig }))).pipe(
  Layer.provideMerge(LocalDynamoDB.layerDynalite())
)

let tables = 0

/** An orders table with a recorded stream of 2 shards, and `n` orders written, paid, some deleted. */
const writeOrders = (n: number) =>
  Effect.gen(function*() {
    const dynamodb = yield* DynamoDBClient.DynamoDBClient
    const tableName = `orders-${process.pid}-${++tables}`
    yield* dynamodb.createTable({
      TableName: tableName,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [{ AttributeName: "orderId", AttributeType: "S" }],
      KeySchema: [{ AttributeName: "orderId", KeyType: "HASH" }]
    })
    const stream = yield* TableStream.make({ tableName, shards: 2 })
    for (let i = 0; i < n; i++) {
      yield* stream.put({ orderId: `o${i}`, customer: `c${i % 7}`, amount: 10 + (i % 13), status: "placed" })
    }
    for (let i = 0; i < n; i += 2) {
      yield* stream.update({ orderId: `o${i}` }, { updateExpression: "SET #s = :s", names: { "#s": "status" }, values: { ":s": "paid" } })
    }
    for (let i = 0; i < n; i += 5) yield* stream.delete({ orderId: `o${i}` })
    return stream
  })

/** What the changes add to each customer: + the new amount, - the old one. */
const valueOf = (c: Change) => (c.newImage?.amount ?? 0) - (c.oldImage?.amount ?? 0)
const customerOf = (c: Change) => (c.newImage ?? c.oldImage)!.customer

const expected = (n: number) => {
  const out: Record<string, number> = {}
  for (let i = 0; i < n; i++) if (i % 5 !== 0) out[`c${i % 7}`] = (out[`c${i % 7}`] ?? 0) + 10 + (i % 13)
  return out
}

describe("LocalRunner.runDynamoDBStream (dynalite)", () => {
  it.scopedLive("drives every recorded change through the handler; a failure is retried from the reported SequenceNumber, each change written once", () =>
    Effect.gen(function*() {
      const stream = yield* writeOrders(300)
      const changes = stream.records()
      expect(changes).toHaveLength(300 + 150 + 60)

      const results = table((c: Change) => c.sequenceNumber)
      // every write holding the 200th change is throttled twice: the pipeline's one retry is not enough
      const poisoned = changes[200].dynamodb.SequenceNumber
      let throttled = 0
      results.failWhen((batch) => batch.some((c) => c.sequenceNumber === poisoned) && throttled++ < 2)
      const logs = capturedLogs()
      const handler = Lambda.dynamoDBStreamHandler(
        Pipeline.make("orders").pipe(
          Pipeline.decode(ChangeRecord.decoder(Order)),
          Pipeline.to(results.sink),
          Pipeline.retry(Schedule.recurs(1))
        ),
        Layer.merge(DeadLetter.layerMemory, logs.layer),
        { chunkSize: 25 }
      )
      const calls: Array<{
        readonly event: DynamoDBStreamEvent
        readonly response: { readonly batchItemFailures: ReadonlyArray<{ readonly itemIdentifier: string }> }
      }> = []
      const summary = yield* LocalRunner.runDynamoDBStream(async (event, context) => {
        const response = await handler(event, context)
        calls.push({ event, response })
        return response
      }, { changes: stream, batchSize: 100, maximumRetryAttempts: 3 })
      yield* Effect.promise(() => handler.dispose())

      expect(summary).toMatchObject({ records: changes.length, partialFailures: 1, retries: 1, functionErrors: 0, failedBatches: [] })
      // the partial batch response named the first change of the chunk (of 25) holding the poisoned one
      const holding = calls.filter((call) => call.event.Records.some((r) => r.dynamodb!.SequenceNumber === poisoned))
      expect(holding).toHaveLength(2)
      const [failed, retry] = holding
      const position = failed.event.Records.findIndex((r) => r.dynamodb!.SequenceNumber === poisoned)
      const named = failed.event.Records[position - (position % 25)].dynamodb!.SequenceNumber
      expect(failed.response.batchItemFailures).toEqual([{ itemIdentifier: named }])
      // the retry started there: its event begins with the named change and succeeds
      expect(retry.event.Records[0].dynamodb!.SequenceNumber).toBe(named)
      expect(retry.response.batchItemFailures).toEqual([])
      // every change once in the table, none written twice
      expect(results.items.size).toBe(changes.length)
      expect(Math.max(...results.puts.values())).toBe(1)
      const totals: Record<string, number> = {}
      for (const c of results.items.values()) totals[customerOf(c)] = (totals[customerOf(c)] ?? 0) + valueOf(c)
      expect(totals).toEqual(expected(300))
      // each event is one shard's, in order, and has the shape Lambda sends
      for (const { event } of calls) {
        expect(DynamoDBStreamSchema.safeParse(event).success).toBe(true)
        const shard = stream.shards().find((s) => s.records.some((r) => r.eventID === event.Records[0].eventID))!
        const ids = new Set(shard.records.map((r) => r.eventID))
        expect(event.Records.every((r) => ids.has(r.eventID!))).toBe(true)
      }
    }).pipe(Effect.provide(dynalite)), 60_000)

  it.scopedLive("bisects on function errors down to the poison change and gives it up after the retry attempts", () =>
    Effect.gen(function*() {
      const stream = yield* writeOrders(40)
      const poison = stream.records()[17]
      const seen = new Set<string>()
      const summary = yield* LocalRunner.runDynamoDBStream(async (event) => {
        if (event.Records.some((r) => r.eventID === poison.eventID)) throw new Error("poison")
        for (const r of event.Records) seen.add(r.eventID!)
      }, { changes: stream, batchSize: 100, bisectBatchOnFunctionError: true, maximumRetryAttempts: 8 })
      expect(summary.failedBatches).toHaveLength(1)
      expect(summary.failedBatches[0]).toMatchObject({
        startSequenceNumber: poison.dynamodb.SequenceNumber,
        endSequenceNumber: poison.dynamodb.SequenceNumber,
        batchSize: 1,
        streamArn: stream.streamArn,
        condition: "RetryAttemptsExhausted"
      })
      expect(summary.bisections).toBeGreaterThan(0)
      expect(seen.size).toBe(stream.records().length - 1)
    }).pipe(Effect.provide(dynalite)), 60_000)

  it.scopedLive("runs tumbling windows over the changes: each aggregated exactly once despite a failed final write", () =>
    Effect.gen(function*() {
      const stream = yield* writeOrders(200)
      const value = Aggregate.struct({
        changes: Aggregate.count,
        value: Aggregate.sum.pipe(Aggregate.mapInput(valueOf))
      })
      type Result = Lambda.TumblingWindowResult<string, Aggregate.Aggregate.Output<typeof value>>
      const results = table((r: Result) => `${r.shardId}|${r.key}|${r.start}|${r.segment}`)
      results.failNext(2) // the first final invocation fails after its in-invocation retry
      const handler = Lambda.dynamoDBTumblingWindowHandler({
        decoder: ChangeRecord.decoder(Order),
        key: customerOf,
        aggregate: value,
        sink: results.sink,
        layer: Layer.merge(DeadLetter.layerMemory, capturedLogs().layer),
        retry: Schedule.recurs(1)
      })
      const summary = yield* LocalRunner.runDynamoDBStreamTumblingWindow(handler, {
        changes: stream,
        batchSize: 50,
        tumblingWindow: "1 minute",
        maximumRetryAttempts: 3
      })
      yield* Effect.promise(() => handler.dispose())
      expect(summary.failedBatches).toEqual([])
      expect(summary.functionErrors).toBe(1)
      const shardIds = new Set(stream.shards().map((s) => s.shardId))
      const totals: Record<string, number> = {}
      let counted = 0
      for (const r of results.items.values()) {
        expect(shardIds.has(r.shardId)).toBe(true)
        totals[r.key] = (totals[r.key] ?? 0) + r.value.value
        counted += r.count
      }
      expect(counted).toBe(stream.records().length)
      expect(totals).toEqual(expected(200))
    }).pipe(Effect.provide(dynalite)), 60_000)
})
