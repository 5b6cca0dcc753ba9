import { describe, expect, it } from "@effect/vitest"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import * as fc from "fast-check"
import { createHash } from "node:crypto"
import { createRequire } from "node:module"
import * as Aggregation from "../src/Aggregation.js"

/** The parts of AWS's `aws-kinesis-agg` (no usable typings: they import aws-sdk v2) these tests use. */
interface AwsAgg {
  deaggregateSync(
    record: { data: string; partitionKey: string; sequenceNumber: string },
    computeChecksums: boolean,
    callback: (error: Error | null | undefined, records?: Array<{ partitionKey: string; explicitPartitionKey?: string; subSequenceNumber?: number; data: string }>) => void
  ): void
  aggregate(
    records: Array<{ partitionKey: string; explicitHashKey?: string; data: Buffer }>,
    encoded: (record: { partitionKey: string; explicitHashKey?: string; data: Buffer }, done: (error?: Error) => void) => void,
    after: () => void,
    onError: (error: Error) => void
  ): void
}
const awsAgg = createRequire(import.meta.url)("aws-kinesis-agg") as AwsAgg

const userRecord = fc.record({
  partitionKey: fc.string({ minLength: 1, maxLength: 256, unit: "grapheme" }),
  explicitHashKey: fc.option(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).map(String), { nil: undefined }),
  data: fc.uint8Array({ maxLength: 300 })
})

const plain = (r: { partitionKey: string; explicitHashKey: string | undefined; data: Uint8Array }) => ({
  partitionKey: r.partitionKey,
  explicitHashKey: r.explicitHashKey,
  data: Buffer.from(r.data).toString("hex")
})

const sourceRecord = (data: Uint8Array, sequenceNumber = "49590000000000000000000000000000000000000000000000000001"): SourceRecord => ({
  stream: "s",
  shardId: "shardId-000000000000",
  sequenceNumber,
  subSequenceNumber: 0,
  partitionKey: "outer",
  arrivalTime: 1,
  data
})

describe("Aggregation", () => {
  it("round-trips any user records", () => {
    fc.assert(fc.property(fc.array(userRecord, { minLength: 1, maxLength: 40 }), (records) => {
      const decoded = Aggregation.decode(Aggregation.encode(records))
      expect(decoded?.map(plain)).toEqual(records.map(plain))
    }), { numRuns: 200 })
  })

  it("knows its encoded size at every step", () => {
    fc.assert(fc.property(fc.array(userRecord, { minLength: 1, maxLength: 30 }), (records) => {
      const aggregator = new Aggregation.Aggregator(Number.MAX_SAFE_INTEGER)
      for (const r of records) {
        const predicted = aggregator.sizeWith(r.partitionKey, r.explicitHashKey, r.data.length)
        aggregator.add(r.partitionKey, r.explicitHashKey, r.data)
        expect(aggregator.size).toBe(predicted)
      }
      expect(aggregator.bytes().length).toBe(aggregator.size)
    }), { numRuns: 200 })
  })

  it("stops adding at maxBytes (an empty aggregator takes any record)", () => {
    const aggregator = new Aggregation.Aggregator(1000)
    let added = 0
    while (aggregator.add(`key-${added % 3}`, undefined, new Uint8Array(90))) added++
    // 20 bytes of magic and MD5, 3 keys of 7 bytes, 96 bytes per record: 9 fit, a 10th would make 1001
    expect(added).toBe(9)
    expect(aggregator.size).toBe(905)
    expect(aggregator.sizeWith("key-0", undefined, 90)).toBeGreaterThan(1000)
    const big = new Aggregation.Aggregator(100)
    expect(big.add("k", undefined, new Uint8Array(500))).toBe(true)
    expect(big.add("k", undefined, new Uint8Array(1))).toBe(false)
  })

  it("treats a record without the magic, with a bad MD5 or with broken protobuf as plain, and never throws", () => {
    const good = Aggregation.encode([{ partitionKey: "a", data: Buffer.from("x") }, { partitionKey: "b", data: Buffer.from("y") }])
    expect(Aggregation.isAggregated(good)).toBe(true)
    const badDigest = good.slice()
    badDigest[badDigest.length - 1] ^= 1
    expect(Aggregation.decode(badDigest)).toBeUndefined()
    expect(Aggregation.decode(good.subarray(4))).toBeUndefined()
    expect(Aggregation.decode(Buffer.from("plain json {}"))).toBeUndefined()
    expect(Aggregation.decode(new Uint8Array(0))).toBeUndefined()
    expect(Aggregation.decode(Aggregation.magic)).toBeUndefined()
    // a valid digest over protobuf that does not parse (a record whose partition key index is out of range)
    const body = Uint8Array.of(0x0a, 0x01, 0x61, 0x1a, 0x05, 0x08, 0x07, 0x1a, 0x01, 0x78)
    const withDigest = (protobuf: Uint8Array) =>
      Buffer.concat([Aggregation.magic, protobuf, createHash("md5").update(protobuf).digest()])
    expect(Aggregation.decode(withDigest(body))).toBeUndefined()
    body[6] = 0x00
    expect(Aggregation.decode(withDigest(body))?.map(plain)).toEqual([{ partitionKey: "a", explicitHashKey: undefined, data: "78" }])
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, framed) => {
      const input = framed ? withDigest(bytes) : Buffer.concat([Aggregation.magic, bytes])
      const decoded = Aggregation.decode(input)
      expect(decoded === undefined || Array.isArray(decoded)).toBe(true)
      expect(Aggregation.deaggregate([sourceRecord(input)]).length).toBeGreaterThanOrEqual(decoded === undefined ? 1 : 0)
    }), { numRuns: 2000 })
  })

  it("deaggregates a batch: user records with sub-sequence numbers and their own keys; plain records untouched", () => {
    const plainBatch = [sourceRecord(Buffer.from("one")), sourceRecord(Buffer.from("two"))]
    expect(Aggregation.deaggregate(plainBatch)).toBe(plainBatch)
    const aggregated = sourceRecord(
      Aggregation.encode([
        { partitionKey: "p1", data: Buffer.from("a") },
        { partitionKey: "p2", explicitHashKey: "42", data: Buffer.from("b") },
        { partitionKey: "p1", data: Buffer.from("c") }
      ]),
      "49590000000000000000000000000000000000000000000000000002"
    )
    const out = Aggregation.deaggregate([plainBatch[0], aggregated, plainBatch[1]])
    expect(out.map((r) => [r.sequenceNumber.slice(-1), r.subSequenceNumber, r.partitionKey, Buffer.from(r.data).toString()])).toEqual([
      ["1", 0, "outer", "one"],
      ["2", 0, "p1", "a"],
      ["2", 1, "p2", "b"],
      ["2", 2, "p1", "c"],
      ["1", 0, "outer", "two"]
    ])
    expect(out[0]).toBe(plainBatch[0])
  })

  it("interop: what we aggregate, aws-kinesis-agg deaggregates (checksums on)", () => {
    fc.assert(fc.property(fc.array(userRecord, { minLength: 1, maxLength: 20 }), (records) => {
      const encoded = Aggregation.encode(records)
      let result: Array<{ partitionKey: string; explicitPartitionKey?: string; subSequenceNumber?: number; data: string }> = []
      let failure: unknown
      awsAgg.deaggregateSync(
        { data: Buffer.from(encoded).toString("base64"), partitionKey: "outer", sequenceNumber: "1" },
        true,
        (error, users) => {
          failure = error
          result = users ?? []
        }
      )
      expect(failure ?? undefined).toBeUndefined()
      // aws-kinesis-agg reads an absent explicit_hash_key_index as 0 (protobufjs' default), so it reports
      // the table's first hash key for records that have none: compare hash keys only where one was set
      expect(result.map((u, i) => ({
        partitionKey: u.partitionKey,
        explicitHashKey: records[i].explicitHashKey === undefined ? undefined : u.explicitPartitionKey,
        data: Buffer.from(u.data, "base64").toString("hex")
      }))).toEqual(records.map(plain))
      expect(result.map((u) => u.subSequenceNumber)).toEqual(records.map((_, i) => i))
    }), { numRuns: 100 })
  })

  it("interop: what aws-kinesis-agg aggregates, we deaggregate", async () => {
    const records = Array.from({ length: 300 }, (_, i) => ({
      partitionKey: `user-${i % 13}`,
      ...(i % 5 === 0 ? { explicitHashKey: String(BigInt(i) * 1_000_000_007n) } : {}),
      data: Buffer.from(JSON.stringify({ i, text: "é✓".repeat(i % 4) }))
    }))
    const encoded: Array<{ partitionKey: string; data: Buffer }> = []
    await new Promise<void>((resolve, reject) =>
      awsAgg.aggregate(records, (record, done) => {
        encoded.push(record)
        done()
      }, resolve, reject)
    )
    // 300 records of ~30 bytes fit in one aggregated record of 1 MB
    expect(encoded.length).toBeGreaterThanOrEqual(1)
    const users = Aggregation.deaggregate(encoded.map((e, i) => sourceRecord(e.data, String(1000 + i))))
    expect(users.map((u) => [u.partitionKey, Buffer.from(u.data).toString()])).toEqual(
      records.map((r) => [r.partitionKey, r.data.toString()])
    )
    const decoded = encoded.flatMap((e) => Aggregation.decode(e.data) ?? [])
    expect(decoded.map((u) => u.explicitHashKey)).toEqual(records.map((r) => r.explicitHashKey))
  })
})
