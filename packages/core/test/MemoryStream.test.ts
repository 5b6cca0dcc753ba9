/**
 * The in-memory stream keeps Kinesis' put limits, and its sink writes within them as the Kinesis producer does.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as MemoryStream from "../src/MemoryStream.js"

const kib = 1024

describe("MemoryStream", () => {
  it.effect("a put over a limit fails as PutRecords does: 501 records, a record over 1 MiB, over 5 MiB in all", () =>
    Effect.gen(function*() {
      const stream = yield* MemoryStream.make({ name: "limits" })
      const reason = (entries: ReadonlyArray<MemoryStream.PutEntry>) => Effect.map(Effect.flip(stream.put(entries)), (e) => e.reason)
      expect(yield* reason(Array.from({ length: 501 }, () => ({ partitionKey: "k", data: "x" })))).toContain("501 records in one put")
      expect(yield* reason([{ partitionKey: "k", data: new Uint8Array(1024 * kib + 1) }])).toContain("records[0].data has 1048577 bytes")
      expect(yield* reason(Array.from({ length: 6 }, () => ({ partitionKey: "k", data: new Uint8Array(1000 * kib) })))).toContain("the put has")
      expect(stream.records(stream.shardIds[0])).toHaveLength(0)
    }))

  it.effect("the sink splits a batch by count and by bytes: 1,200 small records and 20 of 600 KiB all stored, in order", () =>
    Effect.gen(function*() {
      const stream = yield* MemoryStream.make({ name: "sink" })
      const sink = MemoryStream.sink(stream, (item: { readonly n: number; readonly bytes: number }) => ({
        partitionKey: "k",
        data: item.bytes === 0 ? String(item.n) : new Uint8Array(item.bytes).fill(item.n % 256)
      }))
      yield* sink.write(Array.from({ length: 1200 }, (_, n) => ({ n, bytes: 0 })))
      yield* sink.write(Array.from({ length: 20 }, (_, n) => ({ n, bytes: 600 * kib })))
      const records = stream.records(stream.shardIds[0])
      expect(records).toHaveLength(1220)
      expect(records.slice(0, 1200).map((r) => Number(Buffer.from(r.data).toString("utf8")))).toStrictEqual(Array.from({ length: 1200 }, (_, n) => n))
      expect(records.slice(1200).map((r) => [r.data.length, r.data[0]])).toStrictEqual(Array.from({ length: 20 }, (_, n) => [600 * kib, n]))
    }))
})
