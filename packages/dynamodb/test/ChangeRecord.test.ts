import { describe, expect, it } from "@effect/vitest"
import { Decoder } from "@tributary/core"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as ChangeRecord from "../src/ChangeRecord.js"

const Order = Schema.Struct({
  orderId: Schema.String,
  customer: Schema.String,
  amount: Schema.Number,
  status: Schema.Literal("placed", "paid", "shipped")
})

/** A change as a source delivers it: its JSON as the payload. */
const asRecord = (change: unknown, sequenceNumber = "100"): SourceRecord => ({
  stream: "orders",
  shardId: "shardId-1",
  sequenceNumber,
  subSequenceNumber: 0,
  partitionKey: "o-1",
  arrivalTime: 1_767_268_800_000,
  data: new TextEncoder().encode(typeof change === "string" ? change : JSON.stringify(change))
})

const change = (
  dynamodb: Record<string, unknown>,
  extra: Record<string, unknown> = {}
) => ({
  eventID: "e-1",
  eventName: "MODIFY",
  eventVersion: "1.1",
  eventSource: "aws:dynamodb",
  awsRegion: "eu-west-1",
  eventSourceARN: "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000",
  dynamodb: {
    ApproximateCreationDateTime: 1767268800,
    Keys: { orderId: { S: "o-1" } },
    SequenceNumber: "4421584500000000017450439091",
    SizeBytes: 120,
    StreamViewType: "NEW_AND_OLD_IMAGES",
    ...dynamodb
  },
  ...extra
})

const image = (amount: unknown, status = "paid") => ({
  orderId: { S: "o-1" },
  customer: { S: "c-7" },
  amount,
  status: { S: status }
})

const decode = <A>(decoder: Decoder.Decoder<A>, value: unknown) => decoder.decode(asRecord(value))
const reason = (result: Either.Either<unknown, { readonly reason: string }>) =>
  Either.isLeft(result) ? result.left.reason : "decoded"

describe("ChangeRecord.decoder", () => {
  it("decodes a MODIFY with both images into the Schema", () => {
    const result = decode(ChangeRecord.decoder(Order), change({
      NewImage: image({ N: "42.5" }, "paid"),
      OldImage: image({ N: "42.5" }, "placed")
    }))
    expect(result).toEqual(Either.right({
      eventName: "MODIFY",
      eventID: "e-1",
      tableName: "orders",
      awsRegion: "eu-west-1",
      keys: { orderId: "o-1" },
      newImage: { orderId: "o-1", customer: "c-7", amount: 42.5, status: "paid" },
      oldImage: { orderId: "o-1", customer: "c-7", amount: 42.5, status: "placed" },
      sequenceNumber: "4421584500000000017450439091",
      sizeBytes: 120,
      streamViewType: "NEW_AND_OLD_IMAGES",
      approximateCreationDateTime: 1_767_268_800_000,
      userIdentity: undefined,
      recordFormat: undefined
    }))
  })

  it("names the attribute at fault when an image does not fit the Schema", () => {
    const decoder = ChangeRecord.decoder(Order)
    expect(reason(decode(decoder, change({ NewImage: image({ S: "12" }) })))).toBe(
      "newImage.amount: Expected number, actual \"12\""
    )
    expect(reason(decode(decoder, change({ OldImage: image({ N: "1" }, "lost") })))).toMatch(/^oldImage\.status: Expected "placed" \| "paid" \| "shipped"/)
    const { customer: _, ...noCustomer } = image({ N: "1" })
    expect(reason(decode(decoder, change({ NewImage: noCustomer })))).toBe("newImage.customer: is missing")
  })

  it("numbers: \"number\" refuses a number a JS number cannot hold instead of rounding it", () => {
    const decoder = ChangeRecord.decoder(Schema.Struct({ orderId: Schema.String, amount: Schema.Number }))
    const amount = (n: string) => decode(decoder, change({ NewImage: { orderId: { S: "o" }, amount: { N: n } } }))
    for (const exact of ["12", "-0.5", "1e-7", "0.1", "123456789.125", "9007199254740991", "1.50", "0012"]) {
      expect(Either.isRight(amount(exact)), exact).toBe(true)
    }
    expect(Either.getOrThrow(amount("1.50")).newImage?.amount).toBe(1.5)
    for (const inexact of ["9007199254740993", "0.12345678901234567890123", "12345678901234567890123456789012345678"]) {
      expect(reason(amount(inexact))).toBe(
        `newImage.amount: ${inexact} cannot be held exactly by a JS number (numbers: "number"); ` +
          `read it with numbers: "string" (or "bigint" for integers)`
      )
    }
    // inside maps, lists and number sets too, with the path
    const nested = ChangeRecord.decoder(Schema.Struct({ m: Schema.Unknown }))
    expect(reason(decode(nested, change({ NewImage: { m: { M: { xs: { L: [{ N: "1" }, { N: "9007199254740993" }] } } } } }))))
      .toMatch(/^newImage\.m\.xs\[1\]: 9007199254740993 cannot be held exactly/)
    expect(reason(decode(nested, change({ NewImage: { m: { NS: ["1", "9007199254740993"] } } })))).toMatch(/^newImage\.m: 9007199254740993/)
  })

  it("numbers: \"string\" keeps the decimal for the Schema to decode; \"bigint\" reads integers exactly", () => {
    const asString = ChangeRecord.decoder(
      Schema.Struct({ orderId: Schema.String, amount: Schema.BigDecimal, count: Schema.BigInt }),
      { numbers: "string" }
    )
    const value = Either.getOrThrow(decode(asString, change({
      Keys: { orderId: { S: "o" } },
      NewImage: { orderId: { S: "o" }, amount: { N: "0.12345678901234567890123" }, count: { N: "9007199254740993" } }
    })))
    expect(value.newImage?.count).toBe(9007199254740993n)
    expect(String(value.newImage?.amount.value)).toBe("12345678901234567890123")

    const asBigint = ChangeRecord.decoder(Schema.Struct({ id: Schema.BigIntFromSelf, n: Schema.BigIntFromSelf }), { numbers: "bigint" })
    const ok = Either.getOrThrow(decode(asBigint, change({
      Keys: { id: { N: "12345678901234567890" } },
      NewImage: { id: { N: "12345678901234567890" }, n: { N: "-3" } }
    })))
    expect(ok.keys).toEqual({ id: 12345678901234567890n })
    expect(ok.newImage).toEqual({ id: 12345678901234567890n, n: -3n })
    expect(reason(decode(asBigint, change({ Keys: { id: { N: "1" } }, NewImage: { id: { N: "1" }, n: { N: "2.5" } } }))))
      .toBe("newImage.n: 2.5 is not an integer (numbers: \"bigint\"); read it with numbers: \"string\"")
  })

  it("reads binary attributes from base64, sets as Sets, NULL as null", () => {
    const Item = Schema.Struct({
      id: Schema.String,
      blob: Schema.Uint8ArrayFromSelf,
      tags: Schema.ReadonlySetFromSelf(Schema.String),
      scores: Schema.ReadonlySetFromSelf(Schema.Number),
      gone: Schema.Null,
      on: Schema.Boolean,
      nested: Schema.Struct({ list: Schema.Array(Schema.Union(Schema.Number, Schema.String)) })
    })
    const value = Either.getOrThrow(decode(ChangeRecord.decoder(Item), change({
      Keys: { id: { S: "x" } },
      NewImage: {
        id: { S: "x" },
        blob: { B: Buffer.from("hello").toString("base64") },
        tags: { SS: ["a", "b"] },
        scores: { NS: ["1", "2.5"] },
        gone: { NULL: true },
        on: { BOOL: true },
        nested: { M: { list: { L: [{ N: "1" }, { S: "two" }] } } }
      }
    })))
    expect(Buffer.from(value.newImage!.blob).toString()).toBe("hello")
    expect(value.newImage).toMatchObject({ tags: new Set(["a", "b"]), scores: new Set([1, 2.5]), gone: null, on: true, nested: { list: [1, "two"] } })
  })

  it("tells a deletion by Time to Live from a request's, and reads KEYS_ONLY changes without images", () => {
    const decoder = ChangeRecord.decoder(Order)
    const ttl = Either.getOrThrow(decode(decoder, change(
      { OldImage: image({ N: "5" }), StreamViewType: "OLD_IMAGE" },
      { eventName: "REMOVE", userIdentity: { type: "Service", principalId: "dynamodb.amazonaws.com" } }
    )))
    expect(ttl.userIdentity).toEqual({ type: "Service", principalId: "dynamodb.amazonaws.com" })
    expect(ChangeRecord.isTimeToLiveDelete(ttl)).toBe(true)
    const deleted = Either.getOrThrow(decode(decoder, change({ OldImage: image({ N: "5" }) }, { eventName: "REMOVE" })))
    expect(ChangeRecord.isTimeToLiveDelete(deleted)).toBe(false)
    const keysOnly = Either.getOrThrow(decode(decoder, change({ StreamViewType: "KEYS_ONLY" }, { eventName: "INSERT" })))
    expect(keysOnly).toMatchObject({ keys: { orderId: "o-1" }, newImage: undefined, oldImage: undefined, streamViewType: "KEYS_ONLY" })
  })

  it("reads the Kinesis Data Streams for DynamoDB form: table, record format, the Kinesis sequence number, ms or µs", () => {
    const decoder = ChangeRecord.decoder(Order)
    const kinesisChange = ChangeRecord.toKinesisChange(change({ NewImage: image({ N: "3" }) }, { eventName: "INSERT" }) as never)
    expect(kinesisChange).toMatchObject({ tableName: "orders", recordFormat: "application/json", userIdentity: null })
    expect(kinesisChange.dynamodb).not.toHaveProperty("SequenceNumber")
    const value = Either.getOrThrow(decoder.decode(asRecord(kinesisChange, "49657828409187701520019995242508390119953358325192589314")))
    expect(value).toMatchObject({
      eventName: "INSERT",
      tableName: "orders",
      recordFormat: "application/json",
      sequenceNumber: "49657828409187701520019995242508390119953358325192589314",
      streamViewType: undefined,
      userIdentity: undefined,
      approximateCreationDateTime: 1_767_268_800_000
    })
    const micros = { ...kinesisChange, dynamodb: { ...kinesisChange.dynamodb, ApproximateCreationDateTime: 1_767_268_800_123_456 } }
    expect(Either.getOrThrow(decoder.decode(asRecord(micros))).approximateCreationDateTime).toBe(1_767_268_800_123.456)
  })

  it("turns what is not a change into a decode failure, never a throw; a pipeline's decode stage dead-letters it", () => {
    const decoder = ChangeRecord.decoder(Order)
    expect(reason(decode(decoder, "{not json"))).toMatch(/^not JSON: /)
    expect(reason(decode(decoder, { hello: "world" }))).toMatch(/^not a DynamoDB change record: eventID: is missing/)
    expect(reason(decode(decoder, change({ NewImage: { orderId: { Q: "1" } } })))).toBe("newImage.orderId: unknown attribute type \"Q\"")
    expect(reason(decode(decoder, change({ NewImage: { orderId: { S: "1", N: "1" } } })))).toMatch(/^newImage\.orderId: an attribute value has one type/)
    expect(reason(decode(decoder, change({ NewImage: { orderId: { N: "twelve" } } })))).toBe("newImage.orderId: \"twelve\" is not a number")
    // a Schema transform that throws is a failure of its change, not of the decoder
    const throwing = ChangeRecord.decoder(Schema.Struct({
      orderId: Schema.transform(Schema.String, Schema.String, {
        strict: true,
        decode: () => {
          throw new Error("boom")
        },
        encode: (s) => s
      })
    }))
    expect(reason(decode(throwing, change({ NewImage: { orderId: { S: "o-1" } } })))).toBe("decoding threw Error: boom")
    const failures = Decoder.decodeAll(decoder, [asRecord("[]"), asRecord(change({ NewImage: image({ N: "1" }) }))])
    expect(failures.values).toHaveLength(1)
    expect(failures.failureOrigins).toEqual([0])
    expect(failures.failures[0]).toMatchObject({ format: ChangeRecord.format })
  })

  it("sizes a change roughly as DynamoDB does", () => {
    expect(ChangeRecord.sizeBytes({ id: { S: "abc" } })).toBe(5)
    expect(ChangeRecord.sizeBytes({ n: { N: "12345" } }, undefined, { b: { BOOL: true } })).toBe(1 + 4 + 1 + 1)
  })
})
