/**
 * Change-record decoding: `ChangeRecord.decoder(Order)` over 20,000 MODIFY changes in DynamoDB's JSON (both
 * images, 6 attributes, as a Lambda DynamoDB stream event carries them), against `Decoder.json` of the same
 * two images as plain JSON (`{ newImage, oldImage }`): the cost of reading DynamoDB's attribute-value form
 * (envelope check, attribute walk, unmarshalling) on top of decoding the same Schema. CPU time, medians of
 * alternating rounds.
 *
 * Prints `bench change-record-decode: tributary <x> rec/s, plain JSON <y> rec/s, ratio <r>`.
 */
import * as Bench from "@tributary/core/test-utils/Bench"
import * as Decoder from "@tributary/core/Decoder"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import * as Schema from "effect/Schema"
import * as ChangeRecord from "../src/ChangeRecord.js"

const Order = Schema.Struct({
  orderId: Schema.String,
  customer: Schema.String,
  amount: Schema.Number,
  status: Schema.Literal("placed", "paid", "shipped"),
  items: Schema.Number,
  updatedAt: Schema.String
})

const total = Number(process.env.BENCH_CHANGES ?? 20_000)

const record = (payload: unknown, i: number): SourceRecord => ({
  stream: "orders",
  shardId: "shardId-1",
  sequenceNumber: String(10n ** 20n + BigInt(i) * 100n),
  subSequenceNumber: 0,
  partitionKey: `o${i}`,
  arrivalTime: 1_767_268_800_000,
  data: new TextEncoder().encode(JSON.stringify(payload))
})

export const run = async (): Promise<void> => {
  const changes: Array<SourceRecord> = []
  const plain: Array<SourceRecord> = []
  for (let i = 0; i < total; i++) {
    const order = (status: string) => ({
      orderId: `order-${i}`,
      customer: `customer-${i % 97}`,
      amount: (i % 1000) / 4,
      status,
      items: 1 + (i % 9),
      updatedAt: "2026-01-01T12:00:00.000Z"
    })
    const json = (o: ReturnType<typeof order>) => ({
      orderId: { S: o.orderId },
      customer: { S: o.customer },
      amount: { N: String(o.amount) },
      status: { S: o.status },
      items: { N: String(o.items) },
      updatedAt: { S: o.updatedAt }
    })
    changes.push(record({
      eventID: `e${i}`,
      eventName: "MODIFY",
      eventVersion: "1.1",
      eventSource: "aws:dynamodb",
      awsRegion: "eu-west-1",
      eventSourceARN: "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000",
      dynamodb: {
        ApproximateCreationDateTime: 1_767_268_800,
        Keys: { orderId: { S: `order-${i}` } },
        NewImage: json(order("paid")),
        OldImage: json(order("placed")),
        SequenceNumber: String(10n ** 20n + BigInt(i) * 100n),
        SizeBytes: 200,
        StreamViewType: "NEW_AND_OLD_IMAGES"
      }
    }, i))
    plain.push(record({ newImage: order("paid"), oldImage: order("placed") }, i))
  }
  const candidate = ChangeRecord.decoder(Order)
  const baseline = Decoder.json(Schema.Struct({ newImage: Order, oldImage: Order }))
  const decodeAll = (decoder: Decoder.Decoder<unknown>, records: ReadonlyArray<SourceRecord>) => () => {
    const batch = Decoder.decodeAll(decoder, records)
    if (batch.failures.length > 0) throw new Error(batch.failures[0].reason)
    return batch.values.length
  }
  const result = await Bench.compare(
    { run: decodeAll(candidate as Decoder.Decoder<unknown>, changes) },
    { run: decodeAll(baseline as Decoder.Decoder<unknown>, plain) }
  )
  console.log(Bench.format("change-record-decode", result, "plain JSON"))
}
