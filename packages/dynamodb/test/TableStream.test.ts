import { describe, expect, it } from "@effect/vitest"
import { Decoder } from "@tributary/core"
import * as Sequence from "@tributary/core/SequenceNumber"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import * as ChangeRecord from "../src/ChangeRecord.js"
import * as DynamoDBClient from "../src/DynamoDBClient.js"
import * as TableStream from "../src/TableStream.js"
import { dynalite, tableName } from "./helpers.js"

const Order = Schema.Struct({
  customer: Schema.String,
  orderId: Schema.String,
  amount: Schema.Number,
  status: Schema.String
})

/** A table keyed by customer and order, and a TableStream over it. */
const ordersTable = (options: Partial<TableStream.Options> = {}) =>
  Effect.gen(function*() {
    const dynamodb = yield* DynamoDBClient.DynamoDBClient
    const name = tableName("orders")
    yield* dynamodb.createTable({
      TableName: name,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [{ AttributeName: "customer", AttributeType: "S" }, { AttributeName: "orderId", AttributeType: "S" }],
      KeySchema: [{ AttributeName: "customer", KeyType: "HASH" }, { AttributeName: "orderId", KeyType: "RANGE" }]
    })
    return yield* TableStream.make({ tableName: name, ...options })
  })

/** The recorded changes decoded, as a pipeline would see them. */
const decoded = <A, I>(records: ReadonlyArray<ChangeRecord.StreamRecordJson>, item: Schema.Schema<A, I>) => {
  const batch = Decoder.decodeAll(
    ChangeRecord.decoder(item),
    records.map((r) => ({
      stream: "orders",
      shardId: "s",
      sequenceNumber: r.dynamodb.SequenceNumber,
      subSequenceNumber: 0,
      partitionKey: "",
      arrivalTime: 0,
      data: new TextEncoder().encode(JSON.stringify(r))
    }))
  )
  expect(batch.failures).toEqual([])
  return batch.values
}

describe("TableStream (dynalite)", () => {
  it.scoped("records each write as DynamoDB Streams would: INSERT, MODIFY, REMOVE with both images; no-ops record nothing", () =>
    Effect.gen(function*() {
      const stream = yield* ordersTable()
      yield* TestClock.setTime(1_767_268_805_500)
      yield* stream.put({ customer: "c1", orderId: "o1", amount: 10, status: "placed" })
      yield* stream.put({ customer: "c1", orderId: "o1", amount: 10, status: "placed" }) // unchanged: no record
      yield* stream.update({ customer: "c1", orderId: "o1" }, {
        updateExpression: "SET #s = :s",
        names: { "#s": "status" },
        values: { ":s": "paid" }
      })
      // an update that creates the item is an INSERT
      yield* stream.update({ customer: "c2", orderId: "o2" }, {
        updateExpression: "SET amount = :a, #s = :s",
        names: { "#s": "status" },
        values: { ":a": 5, ":s": "placed" }
      })
      // a failed condition writes nothing, and records nothing
      const refused = yield* Effect.either(stream.update({ customer: "c2", orderId: "o2" }, {
        updateExpression: "SET amount = :a",
        conditionExpression: "amount > :a",
        values: { ":a": 100 }
      }))
      expect(refused._tag === "Left" && refused.left.reason).toBe("ConditionFailed")
      yield* stream.delete({ customer: "c1", orderId: "o1" })
      yield* stream.delete({ customer: "c1", orderId: "o1" }) // already gone: no record
      yield* stream.delete({ customer: "c2", orderId: "o2" }, { timeToLive: true })

      const changes = decoded(stream.records(), Order)
      expect(changes.map((c) => [c.eventName, c.keys, c.oldImage?.status, c.newImage?.status])).toEqual([
        ["INSERT", { customer: "c1", orderId: "o1" }, undefined, "placed"],
        ["MODIFY", { customer: "c1", orderId: "o1" }, "placed", "paid"],
        ["INSERT", { customer: "c2", orderId: "o2" }, undefined, "placed"],
        ["REMOVE", { customer: "c1", orderId: "o1" }, "paid", undefined],
        ["REMOVE", { customer: "c2", orderId: "o2" }, "placed", undefined]
      ])
      expect(changes.every((c) => c.approximateCreationDateTime === 1_767_268_805_000 && c.tableName === stream.tableName)).toBe(true)
      expect(changes.map((c) => ChangeRecord.isTimeToLiveDelete(c))).toEqual([false, false, false, false, true])
      expect(stream.records().every((r) => r.eventSourceARN === stream.streamArn && r.dynamodb.SizeBytes > 0)).toBe(true)
      // Kinesis Data Streams for DynamoDB keeps the milliseconds
      const kinesis = stream.kinesisRecords().map((k) => JSON.parse(new TextDecoder().decode(k.data)) as ChangeRecord.KinesisChangeJson)
      expect(kinesis.map((k) => k.dynamodb.ApproximateCreationDateTime)).toEqual(changes.map(() => 1_767_268_805_500))
    }).pipe(Effect.provide(dynalite)), 30_000)

  it.scoped("records binary, set and map attributes so that the decoder reads them back", () =>
    Effect.gen(function*() {
      const stream = yield* ordersTable()
      const bytes = new Uint8Array([0, 1, 2, 253, 254, 255])
      yield* stream.put({ customer: "c", orderId: "o", blob: bytes, tags: new Set(["a", "b"]), meta: { lines: [1, "two"] } })
      const Item = Schema.Struct({
        blob: Schema.Uint8ArrayFromSelf,
        tags: Schema.ReadonlySetFromSelf(Schema.String),
        meta: Schema.Struct({ lines: Schema.Array(Schema.Union(Schema.Number, Schema.String)) })
      })
      const [change] = decoded(stream.records(), Item)
      expect(change.newImage).toEqual({ blob: bytes, tags: new Set(["a", "b"]), meta: { lines: [1, "two"] } })
    }).pipe(Effect.provide(dynalite)), 30_000)

  it.scoped("shows the images each StreamViewType shows", () =>
    Effect.gen(function*() {
      const seen: Record<string, Array<string>> = {}
      for (const view of ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"] as const) {
        const stream = yield* ordersTable({ streamViewType: view })
        yield* stream.put({ customer: "c", orderId: "o", amount: 1, status: "placed" })
        yield* stream.put({ customer: "c", orderId: "o", amount: 2, status: "placed" })
        yield* stream.delete({ customer: "c", orderId: "o" })
        seen[view] = stream.records().map((r) =>
          `${r.eventName}:${r.dynamodb.OldImage === undefined ? "-" : "old"}/${r.dynamodb.NewImage === undefined ? "-" : "new"}`
        )
        expect(stream.records().every((r) => r.dynamodb.StreamViewType === view && r.dynamodb.Keys.orderId !== undefined)).toBe(true)
      }
      expect(seen).toEqual({
        KEYS_ONLY: ["INSERT:-/-", "MODIFY:-/-", "REMOVE:-/-"],
        NEW_IMAGE: ["INSERT:-/new", "MODIFY:-/new", "REMOVE:-/-"],
        OLD_IMAGE: ["INSERT:-/-", "MODIFY:old/-", "REMOVE:old/-"],
        NEW_AND_OLD_IMAGES: ["INSERT:-/new", "MODIFY:old/new", "REMOVE:old/-"]
      })
    }).pipe(Effect.provide(dynalite)), 30_000)

  it.scoped("shards by partition key: an item's changes stay in one shard, in order, sequence numbers growing", () =>
    Effect.gen(function*() {
      const stream = yield* ordersTable({ shards: 4 })
      for (let i = 0; i < 120; i++) {
        yield* stream.put({ customer: `c${i % 40}`, orderId: `o${i % 3}`, amount: i, status: "placed" })
      }
      const shards = stream.shards()
      expect(shards).toHaveLength(4)
      expect(new Set(shards.map((s) => s.shardId)).size).toBe(4)
      expect(shards.every((s) => s.records.length > 0)).toBe(true)
      expect(shards.reduce((n, s) => n + s.records.length, 0)).toBe(stream.records().length)
      for (const shard of shards) {
        const sequences = shard.records.map((r) => r.dynamodb.SequenceNumber)
        expect(sequences.every((s, i) => i === 0 || Sequence.compare(sequences[i - 1], s) < 0)).toBe(true)
        const customers = new Set(shard.records.map((r) => (r.dynamodb.Keys.customer as { S: string }).S))
        for (const other of shards) {
          if (other === shard) continue
          expect(other.records.some((r) => customers.has((r.dynamodb.Keys.customer as { S: string }).S))).toBe(false)
        }
      }
      // the same changes as Kinesis Data Streams for DynamoDB writes them: one partition key per item
      const kinesis = stream.kinesisRecords()
      expect(kinesis).toHaveLength(stream.records().length)
      const parsed = kinesis.map((k) => JSON.parse(new TextDecoder().decode(k.data)) as ChangeRecord.KinesisChangeJson)
      expect(parsed.every((p) => p.recordFormat === "application/json" && p.tableName === stream.tableName)).toBe(true)
      const keyOf = new Map<string, string>()
      kinesis.forEach((k, i) => {
        const customer = (parsed[i].dynamodb.Keys.customer as { S: string }).S
        expect(keyOf.get(customer) ?? k.partitionKey).toBe(k.partitionKey)
        keyOf.set(customer, k.partitionKey)
        expect(k.partitionKey).toMatch(/^[0-9A-F]{32}$/)
      })
    }).pipe(Effect.provide(dynalite)), 30_000)
})
