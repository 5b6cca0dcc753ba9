import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as DeadLetter from "../src/DeadLetter.js"
import * as DeadLetterArchive from "../src/DeadLetterArchive.js"
import * as Decoder from "../src/Decoder.js"
import * as MemoryStream from "../src/MemoryStream.js"
import * as ObjectStore from "../src/ObjectStore.js"
import * as Pipeline from "../src/Pipeline.js"
import * as RecordSink from "../src/RecordSink.js"
import type { SourceRecord } from "../src/SourceRecord.js"
import { failing, hour, keysOf, records, seq, t0, textOf, withStore } from "./archiveHelpers.js"


describe("DeadLetterArchive", () => {
  const letter = (r: SourceRecord, overrides: Partial<DeadLetter.DeadLetter> = {}): DeadLetter.DeadLetter => ({
    ...DeadLetter.fromRecord(r, { pipeline: "orders", stage: "decode", reason: "bad", format: "json", failedAt: t0 + 5 }),
    ...overrides
  })

  it.scoped("are stored with the archive layout and a digest, read back exactly, written again to the same key", () =>
    withStore((store) =>
      Effect.gen(function*() {
        const sink = yield* DeadLetterArchive.sink()
        const letters = records(2, 0, 4).map((r) => letter(r))
        yield* sink.write(letters)
        const keys = yield* keysOf(store)
        expect(keys.length).toBe(1)
        expect(keys[0]).toMatch(new RegExp(`^dead-letters/2024/03/05/17/orders-shardId-000000000002-${seq(0)}-${seq(3)}-[0-9a-f]{16}\\.jsonl\\.gz$`))
        const line = JSON.parse((yield* textOf(store, keys[0])).split("\n")[0])
        expect(line).toEqual(Schema.encodeSync(DeadLetter.DeadLetter)(letters[0]))
        // the same failures again (another reason text, a later failure time): the same key
        yield* sink.write(letters.map((l) => ({ ...l, reason: "bad again", failedAt: t0 + 99 })))
        expect(yield* keysOf(store)).toEqual(keys)
        // another stage, or window results of another tick: keys of their own
        yield* sink.write(letters.map((l) => ({ ...l, stage: "sink:out" })))
        const derived = (data: string) => letter(records(2, 0, 1)[0], { stream: "", sequenceNumber: "0", data: new TextEncoder().encode(data) })
        yield* sink.write([derived("{\"window\":1}")])
        yield* sink.write([derived("{\"window\":2}")])
        expect((yield* keysOf(store)).length).toBe(4)
        const read = yield* Stream.runCollect(DeadLetterArchive.read({ from: t0, to: t0 + hour }))
        const all = Chunk.toReadonlyArray(read).flatMap((object) => object.letters)
        expect(all.length).toBe(10)
        expect(all.filter((l) => l.stage === "sink:out").map((l) => ({ ...l, data: Array.from(l.data) }))).toEqual(
          letters.map((l) => ({ ...l, stage: "sink:out", data: Array.from(l.data) }))
        )
      })))

  it.scoped("a failing store fails the write with its retryability", () =>
    Effect.gen(function*() {
      const inner = yield* ObjectStore.makeMemory()
      const sink = yield* Effect.provideService(DeadLetterArchive.sink(), ObjectStore.ObjectStore, failing(inner, "transient"))
      const error = yield* Effect.flip(sink.write([letter(records(0, 0, 1)[0])]))
      expect(error.retryability).toBe("transient")
    }))

  it.scoped("a pipeline's dead letters go to the store and are replayed into a stream after the fix", () =>
    withStore((store) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(t0)
        const stream = yield* MemoryStream.make({ name: "orders", shards: 2 })
        yield* stream.put(Array.from({ length: 60 }, (_, i) => ({
          partitionKey: `k${i}`,
          data: i % 10 === 3 ? `{"id":${i},"amount":"${i}"}` : `{"id":${i},"amount":${i}}`
        })))
        const Order = Schema.Struct({ id: Schema.Number, amount: Schema.Number })
        const out = yield* RecordSink.memory<typeof Order.Type>()
        const summary = yield* Pipeline.run(Pipeline.make("orders").pipe(Pipeline.decode(Decoder.json(Order)), Pipeline.to(out))).pipe(
          Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetterArchive.layer()))
        )
        expect(summary.deadLettered).toBe(6)
        expect((yield* keysOf(store, "dead-letters/")).length).toBeGreaterThan(0)

        // after the fix, the letters go back to a stream (here: a new one) with their partition keys
        const fixed = yield* MemoryStream.make({ name: "orders-replay", shards: 1 })
        const producer = MemoryStream.sink(fixed, (l: DeadLetter.DeadLetter) => ({ partitionKey: l.partitionKey, data: l.data }))
        const replay = yield* DeadLetterArchive.replay(producer, {
          from: t0,
          to: t0 + 1,
          filter: (l) => l.stage === "decode",
          batchSize: 4,
          deleteReplayed: true
        })
        expect(replay).toEqual({ objects: replay.objects, replayed: 6, skipped: 0, deletedObjects: replay.objects })
        const texts = fixed.records(fixed.shardIds[0]).map((r) => new TextDecoder().decode(r.data)).sort()
        expect(texts).toEqual([3, 13, 23, 33, 43, 53].map((i) => `{"id":${i},"amount":"${i}"}`).sort())
        expect(fixed.records(fixed.shardIds[0]).map((r) => r.partitionKey).sort()).toEqual(["k13", "k23", "k3", "k33", "k43", "k53"])
        // deleted once replayed: a second replay sends nothing
        expect(yield* keysOf(store, "dead-letters/")).toEqual([])
        expect((yield* DeadLetterArchive.replay(producer, { from: t0, to: t0 + 1 })).replayed).toBe(0)
      })))

  it.scoped("replay keeps objects whose letters the filter left out, and stops at a failed write", () =>
    withStore((store) =>
      Effect.gen(function*() {
        const sink = yield* DeadLetterArchive.sink()
        yield* sink.write([...records(0, 0, 3).map((r) => letter(r)), ...records(1, 0, 2).map((r) => letter(r, { stage: "map" }))])
        const target = yield* RecordSink.memory<DeadLetter.DeadLetter>()
        const summary = yield* DeadLetterArchive.replay(target, { from: t0, to: t0 + 1, filter: (l) => l.stage === "map", deleteReplayed: true })
        expect(summary).toEqual({ objects: 2, replayed: 2, skipped: 3, deletedObjects: 1 })
        expect((yield* keysOf(store)).length).toBe(1)
        yield* target.failNext(1, "permanent")
        const error = yield* Effect.flip(DeadLetterArchive.replay(target, { from: t0, to: t0 + 1 }))
        expect(error._tag).toBe("SinkError")
      })))

  it.scoped("options that cannot work fail with InvalidOptions", () =>
    withStore(() =>
      Effect.gen(function*() {
        expect((yield* Effect.flip(DeadLetterArchive.sink({ concurrency: 0 }))).message).toBe(
          "DeadLetterArchive.sink: concurrency must be a positive integer, got 0"
        )
        expect((yield* Effect.flip(DeadLetterArchive.replay(RecordSink.drain, { from: 0, to: 1, batchSize: -1 }))).message).toBe(
          "DeadLetterArchive.replay: batchSize must be a positive integer, got -1"
        )
      })))
})
