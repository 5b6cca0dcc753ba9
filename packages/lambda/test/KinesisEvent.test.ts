import { KinesisDataStreamSchema } from "@aws-lambda-powertools/parser/schemas/kinesis"
import { describe, expect, it } from "@effect/vitest"
import * as Aggregation from "@tributary/kinesis/Aggregation"
import type { KinesisStreamEvent } from "aws-lambda"
import * as KinesisEvent from "../src/KinesisEvent.js"
import { awsSampleEvent } from "./fixtures.js"
import { records } from "./helpers.js"

const text = (data: Uint8Array) => new TextDecoder().decode(data)

describe("KinesisEvent", () => {
  it("reads AWS's sample event: base64 payloads, shard from eventID, stream from the ARN, arrival in ms", () => {
    const shards = KinesisEvent.toShards(awsSampleEvent)
    expect(shards).toHaveLength(1)
    const [shard] = shards
    expect(shard.shardId).toBe("shardId-000000000006")
    expect(shard.stream).toBe("lambda-stream")
    const users = KinesisEvent.userRecords(shard.kinesis)
    expect(users.map((r) => text(r.data))).toEqual(["Hello, this is a test.", "This is only a test."])
    expect(users[0]).toMatchObject({
      shardId: "shardId-000000000006",
      sequenceNumber: "49590338271490256608559692538361571095921575989136588898",
      subSequenceNumber: 0,
      partitionKey: "1",
      arrivalTime: 1545084650987
    })
  })

  it("expands KPL aggregates into user records with sub-sequence numbers, under the Kinesis record", () => {
    const aggregated = Aggregation.encode(
      ["a", "b", "c"].map((v, i) => ({ partitionKey: `k${i}`, data: new TextEncoder().encode(v) }))
    )
    const event = KinesisEvent.fromRecords(records(["before", aggregated, "after"]))
    const [shard] = KinesisEvent.toShards(event)
    expect(shard.kinesis.map((k) => k.records.length)).toEqual([1, 3, 1])
    const users = KinesisEvent.userRecords(shard.kinesis)
    expect(users.map((r) => text(r.data))).toEqual(["before", "a", "b", "c", "after"])
    expect(users.map((r) => r.subSequenceNumber)).toEqual([0, 0, 1, 2, 0])
    expect(users.map((r) => r.partitionKey).slice(1, 4)).toEqual(["k0", "k1", "k2"])
    expect(new Set(users.slice(1, 4).map((r) => r.sequenceNumber)).size).toBe(1)
    // Lambda does not deaggregate; neither does toShards when told not to
    expect(KinesisEvent.toShards(event, { deaggregate: false })[0].kinesis[1].records).toHaveLength(1)
  })

  it("groups an event holding several shards by shard, keeping each shard's order", () => {
    const a = records(["a0", "a1", "a2"], { shardId: "shardId-000000000001" })
    const b = records(["b0", "b1"], { shardId: "shardId-000000000002" })
    const event = KinesisEvent.fromRecords([a[0], b[0], a[1], b[1], a[2]])
    const shards = KinesisEvent.toShards(event)
    expect(shards.map((s) => s.shardId)).toEqual(["shardId-000000000001", "shardId-000000000002"])
    expect(shards.map((s) => KinesisEvent.userRecords(s.kinesis).map((r) => text(r.data)))).toEqual([
      ["a0", "a1", "a2"],
      ["b0", "b1"]
    ])
  })

  it("round-trips records through the event shape and rejects what is not a Kinesis event", () => {
    const original = records(["x", "y"], { stream: "orders" })
    const [shard] = KinesisEvent.toShards(KinesisEvent.fromRecords(original))
    expect(KinesisEvent.userRecords(shard.kinesis)).toEqual(original)
    expect(KinesisEvent.streamNameOf("arn:aws:kinesis:us-east-1:1:stream/orders/consumer/c1:1700000000")).toBe("orders")
    expect(() => KinesisEvent.toShards({} as KinesisStreamEvent)).toThrow(/not a Kinesis event/)
    expect(() => KinesisEvent.toShards({ Records: [{ ...awsSampleEvent.Records[0], eventID: "no-colon" }] })).toThrow(
      /eventID/
    )
  })

  it("AWS's sample and the events built here pass Powertools' Kinesis schema", () => {
    expect(KinesisDataStreamSchema.safeParse(awsSampleEvent).success).toBe(true)
    expect(KinesisDataStreamSchema.safeParse(KinesisEvent.fromRecords(records(["a", "b"]))).success).toBe(true)
    const windowEvent = KinesisEvent.tumblingWindowEvent({
      stream: "events",
      shardId: "shardId-000000000000",
      records: records(["a"]),
      window: { start: Date.UTC(2026, 0, 1, 12), end: Date.UTC(2026, 0, 1, 12, 5) },
      state: { tributary: { version: 1, segment: 0, groups: [] } }
    })
    expect(KinesisDataStreamSchema.safeParse(windowEvent).success).toBe(true)
    expect(KinesisDataStreamSchema.safeParse({ Records: [{ kinesis: {} }] }).success).toBe(false)
  })
})
