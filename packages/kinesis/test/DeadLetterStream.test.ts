import { describe, expect, it } from "@effect/vitest"
import * as DeadLetter from "@tributary/core/DeadLetter"
import * as Decoder from "@tributary/core/Decoder"
import * as MemoryStream from "@tributary/core/MemoryStream"
import * as Pipeline from "@tributary/core/Pipeline"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as DeadLetterStream from "../src/DeadLetterStream.js"
import * as StreamAdmin from "../src/StreamAdmin.js"
import { drainStream, kinesalite, streamName } from "./helpers.js"

const Order = Schema.Struct({ id: Schema.String, cents: Schema.Int })
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

describe("DeadLetterStream", () => {
  it.scopedLive("keeps a pipeline's dead letters on a stream, reads them back, and replays their payloads", () =>
    Effect.gen(function*() {
      const dlq = streamName("dlq")
      const fixed = streamName("fixed")
      yield* StreamAdmin.ensureStream(dlq, { shards: 2 })
      yield* StreamAdmin.ensureStream(fixed, { shards: 1 })
      const input = yield* MemoryStream.make({ name: "orders", shards: 2 })
      yield* input.put(Array.from({ length: 20 }, (_, i) => ({
        partitionKey: `o${i}`,
        data: i % 5 === 4 ? `{"id":"o${i}","cents":"${i}"}` : JSON.stringify({ id: `o${i}`, cents: i })
      })))

      const summary = yield* Pipeline.make("orders").pipe(
        Pipeline.decode(Decoder.json(Order)),
        Pipeline.run,
        Effect.provide(Layer.merge(MemoryStream.layerSource(input), DeadLetterStream.layer({ stream: dlq })))
      )
      expect([summary.recordsOut, summary.deadLettered]).toStrictEqual([16, 4])

      // read back: the same letters, payloads byte for byte, each key on one shard
      const stored = [...(yield* drainStream(dlq)).values()].flat()
      const letters = stored.map((record) => DeadLetterStream.decoder.decode(record)).map((r) => Either.getOrThrow(r))
      expect(letters.map((l) => l.partitionKey).sort()).toStrictEqual(["o14", "o19", "o4", "o9"])
      for (const letter of letters) {
        expect(letter).toMatchObject({ pipeline: "orders", stage: "decode", format: "json", stream: "orders" })
        expect(letter.reason).toContain("cents: Expected number, actual")
        const original = input.records(letter.shardId).find((r) => r.sequenceNumber === letter.sequenceNumber)!
        expect(letter.data).toStrictEqual(original.data)
        expect(stored.find((r) => text(r.data).includes(letter.sequenceNumber))!.partitionKey).toBe(letter.partitionKey)
      }

      // after the fix: the original payloads go back into a stream with their partition keys
      const replay = yield* DeadLetterStream.replaySink({ stream: fixed })
      yield* replay.write(letters)
      yield* replay.flush
      const replayed = [...(yield* drainStream(fixed)).values()].flat()
      expect(replayed.map((r) => [r.partitionKey, text(r.data)]).sort()).toStrictEqual(
        letters.map((l) => [l.partitionKey, text(l.data)]).sort()
      )
    }).pipe(Effect.provide(kinesalite)))

  it.scopedLive("a dead letter is never refused for its size: a 1 MiB payload is cut to fit a record, and marked", () =>
    Effect.gen(function*() {
      const dlq = streamName("dlq")
      yield* StreamAdmin.ensureStream(dlq, { shards: 1 })
      const sink = yield* DeadLetterStream.make({ stream: dlq })
      const letter = (partitionKey: string, reason: string, bytes: number): DeadLetter.DeadLetter => ({
        pipeline: "fit",
        stage: "decode",
        reason,
        stream: "orders",
        shardId: "shardId-000000000000",
        sequenceNumber: "1",
        subSequenceNumber: 0,
        partitionKey,
        arrivalTime: 0,
        failedAt: 0,
        data: new Uint8Array(bytes).map((_, i) => i % 251)
      })
      const big = letter("big", "€".repeat(300_000), 1024 * 1024)
      const small = letter("small", "why", 100)
      yield* sink.write([big, small])
      yield* sink.flush
      const stored = [...(yield* drainStream(dlq)).values()].flat()
      const byKey = new Map(stored.map((record) => [record.partitionKey, record]))
      expect(byKey.get("big")!.data.length).toBeLessThanOrEqual(1024 * 1024 - "big".length)
      const json = JSON.parse(text(byKey.get("big")!.data))
      expect([json.dataSize, json.dataTruncated, json.reasonTruncated]).toStrictEqual([1024 * 1024, true, true])
      const read = Either.getOrThrow(DeadLetterStream.decoder.decode(byKey.get("big")!))
      expect(read.reason).toBe("€".repeat(DeadLetter.maxReasonLength))
      expect(read.data.length).toBeGreaterThan(700_000)
      expect(read.data).toStrictEqual(big.data.subarray(0, read.data.length))
      const whole = JSON.parse(text(byKey.get("small")!.data))
      expect([whole.dataTruncated, whole.reasonTruncated, whole.reason]).toStrictEqual([undefined, undefined, "why"])
    }).pipe(Effect.provide(kinesalite)), { timeout: 60_000 })
})
