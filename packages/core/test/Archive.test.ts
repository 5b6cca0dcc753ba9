import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as fc from "fast-check"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Zlib from "node:zlib"
import type { ObjectStoreShape } from "../src/ObjectStore.js"
import * as Archive from "../src/Archive.js"
import * as ObjectStore from "../src/ObjectStore.js"
import * as DeadLetter from "../src/DeadLetter.js"
import * as Decoder from "../src/Decoder.js"
import * as MemoryStream from "../src/MemoryStream.js"
import * as Pipeline from "../src/Pipeline.js"
import { RecordSource } from "../src/RecordSource.js"
import * as RecordSink from "../src/RecordSink.js"
import type { SourceRecord } from "../src/SourceRecord.js"
import type { InvalidOptions } from "../src/TributaryError.js"
import { SinkError } from "../src/TributaryError.js"
import { failing, hour, keysOf, plain, readSource, records, seq, t0, textOf, withStore } from "./archiveHelpers.js"

const Purchase = Schema.Struct({ customer: Schema.String, amount: Schema.Number })
type Purchase = typeof Purchase.Type
class Out extends Context.Tag("Archive.test/Out")<Out, RecordSink.RecordSink<Purchase>>() {}


// ---------------------------------------------------------------------------------------------------------
// layout
// ---------------------------------------------------------------------------------------------------------

describe("Archive layout", () => {
  it.scoped("keys by arrival hour, stream, shard and sequence range; gzip JSON lines with every field", () =>
    withStore((store) =>
      Effect.gen(function*() {
        const sink = yield* Archive.sink({ maxAge: 0 })
        const batch = records(1, 0, 3, (i) => t0 + 25 * 60_000 + i)
        batch[1] = { ...batch[1], subSequenceNumber: 4, partitionKey: "ключ \"quoted\"" }
        yield* sink.write(batch)
        const key = `raw/2024/03/05/17/orders-shardId-000000000001-${seq(0)}-${seq(2)}.jsonl.gz`
        expect(yield* keysOf(store)).toEqual([key])
        const lines = (yield* textOf(store, key)).split("\n")
        expect(lines.pop()).toBe("")
        expect(lines.map((line) => JSON.parse(line))).toEqual(batch.map((r) => ({
          stream: r.stream,
          shardId: r.shardId,
          sequenceNumber: r.sequenceNumber,
          subSequenceNumber: r.subSequenceNumber,
          partitionKey: r.partitionKey,
          arrivalTime: r.arrivalTime,
          data: Buffer.from(r.data).toString("base64")
        })))
        expect(Object.keys(JSON.parse(lines[0]))).toEqual(
          ["stream", "shardId", "sequenceNumber", "subSequenceNumber", "partitionKey", "arrivalTime", "data"]
        )
        expect(Archive.parseKey("raw", key)).toEqual({ hour: t0, label: "orders-shardId-000000000001", first: seq(0), last: seq(2) })
        const decoded = yield* Archive.decodeRecords(Option.getOrThrow(yield* store.get(key)))
        expect(decoded.map(plain)).toEqual(batch.map(plain))
      })))

  it.scoped("a page spread over two hours and two shards makes an object per shard and hour", () =>
    withStore((store) =>
      Effect.gen(function*() {
        const sink = yield* Archive.sink({ maxAge: 0, prefix: "/archive/raw/" })
        yield* sink.write([...records(0, 0, 4, (i) => t0 - 2 + i), ...records(1, 10, 2, () => t0 + hour)])
        expect(yield* keysOf(store)).toEqual([
          `archive/raw/2024/03/05/16/orders-shardId-000000000000-${seq(0)}-${seq(1)}.jsonl.gz`,
          `archive/raw/2024/03/05/17/orders-shardId-000000000000-${seq(2)}-${seq(3)}.jsonl.gz`,
          `archive/raw/2024/03/05/18/orders-shardId-000000000001-${seq(10)}-${seq(11)}.jsonl.gz`
        ])
      })))

  it.scoped("objects are cut at maxBytes, never between records of one sequence number", () =>
    withStore((store) =>
      Effect.gen(function*() {
        const sink = yield* Archive.sink({ maxAge: 0, maxBytes: 4_000 })
        // 20 KPL-aggregated records of 5 user records each
        const batch = records(0, 0, 100).map((r, i) => ({ ...r, sequenceNumber: seq(Math.floor(i / 5)), subSequenceNumber: i % 5 }))
        yield* sink.write(batch)
        const keys = yield* keysOf(store)
        expect(keys.length).toBeGreaterThan(3)
        const read: Array<SourceRecord> = []
        for (const key of keys) {
          const part = yield* Archive.decodeRecords(Option.getOrThrow(yield* store.get(key)))
          expect(part[0].subSequenceNumber).toBe(0)
          expect(part[part.length - 1].subSequenceNumber).toBe(4)
          expect(key.endsWith(`-${part[0].sequenceNumber}-${part[part.length - 1].sequenceNumber}.jsonl.gz`)).toBe(true)
          read.push(...part)
        }
        read.sort((a, b) => a.sequenceNumber.length - b.sequenceNumber.length || (a.sequenceNumber < b.sequenceNumber ? -1 : a.sequenceNumber > b.sequenceNumber ? 1 : a.subSequenceNumber - b.subSequenceNumber))
        expect(read.map(plain)).toEqual(batch.map(plain))
      })))

  it.scoped("records of concurrent writes are sorted by position and written once", () =>
    withStore((store) =>
      Effect.gen(function*() {
        const sink = yield* Archive.sink({ maxAge: "1 second" })
        const batch = records(0, 0, 10)
        const shuffled = [batch[3], batch[1], batch[7], batch[0]]
        yield* Effect.all([sink.write(batch.slice(0, 6)), sink.write(batch.slice(4)), sink.write(shuffled)], { concurrency: "unbounded" })
          .pipe(Effect.fork, Effect.tap(() => TestClock.adjust("1 second")), Effect.flatMap(Fiber.join))
        const keys = yield* keysOf(store)
        expect(keys).toEqual([`raw/2024/03/05/17/orders-shardId-000000000000-${seq(0)}-${seq(9)}.jsonl.gz`])
        const read = yield* Archive.decodeRecords(Option.getOrThrow(yield* store.get(keys[0])))
        expect(read.map(plain)).toEqual(batch.map(plain))
      })))

  it.scoped("records that cannot be archived fail the write permanently, storing nothing", () =>
    withStore((store) =>
      Effect.gen(function*() {
        const sink = yield* Archive.sink({ maxAge: 0 })
        const good = records(0, 0, 2)
        for (const bad of [
          { ...good[1], stream: "a/b" },
          { ...good[1], shardId: "" },
          { ...good[1], sequenceNumber: "12a" },
          { ...good[1], arrivalTime: Number.NaN },
          { ...good[1], subSequenceNumber: -1 }
        ]) {
          const error = yield* Effect.flip(sink.write([good[0], bad]))
          expect(error).toBeInstanceOf(SinkError)
          expect(error.retryability).toBe("permanent")
        }
        expect(yield* keysOf(store)).toEqual([])
      })))

  it("prefixesFor covers exactly the hours of a range, with whole years, months and days where it can", () => {
    // the prefixes that could cover an hour: its year, month, day and hour
    const candidates = (t: number) => {
      const [y, m, d, h] = new Date(t).toISOString().slice(0, 13).split(/[-T]/)
      return [`p/${y}/`, `p/${y}/${m}/`, `p/${y}/${m}/${d}/`, `p/${y}/${m}/${d}/${h}/`]
    }
    const base = Date.UTC(2023, 10, 20)
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 24 * 75 }),
      fc.integer({ min: 0, max: 24 * 75 }),
      fc.integer({ min: 0, max: hour - 1 }),
      fc.integer({ min: 0, max: hour - 1 }),
      (a, b, da, db) => {
        const from = base + Math.min(a, b) * hour + da
        const to = base + Math.max(a, b) * hour + db
        const prefixes = new Set(Archive.prefixesFor("p", from, to))
        let covered = 0
        // hours covered other than once when in the range, or at all when not (one expect at the end: up to
        // 1,800 hours a run)
        const wrong: Array<number> = []
        for (let h = Math.floor(from / hour) * hour - 2 * hour; h < to + 2 * hour; h += hour) {
          const covering = candidates(h).filter((prefix) => prefixes.has(prefix)).length
          if (covering !== (from < to && h < to && from < h + hour ? 1 : 0)) wrong.push(h)
          covered += covering
        }
        expect(wrong).toEqual([])
        // and nothing else: every prefix covers some hour of the range
        expect(prefixes.size).toBeLessThanOrEqual(covered)
      }
    ), { numRuns: 200 })
    expect(Archive.prefixesFor("p", Date.UTC(2023, 0, 1), Date.UTC(2025, 0, 1))).toEqual(["p/2023/", "p/2024/"])
    expect(Archive.prefixesFor("", Date.UTC(2024, 1, 1, 23), Date.UTC(2024, 2, 2, 1, 30))).toEqual(
      ["2024/02/01/23/", "2024/02/02/", ...Array.from({ length: 27 }, (_, d) => `2024/02/${String(d + 3).padStart(2, "0")}/`), "2024/03/01/", "2024/03/02/00/", "2024/03/02/01/"]
    )
    expect(Archive.prefixesFor("p", 10, 10)).toEqual([])
  })
})

// ---------------------------------------------------------------------------------------------------------
// flushing and acknowledgement
// ---------------------------------------------------------------------------------------------------------

describe("Archive options", () => {
  it.scoped("options that cannot work fail the constructor with InvalidOptions naming the option", () =>
    withStore(() =>
      Effect.gen(function*() {
        const invalid = (effect: Effect.Effect<unknown, unknown, ObjectStore.ObjectStore | Scope.Scope>) =>
          Effect.map(Effect.flip(effect), (error) => (error as InvalidOptions).message)
        expect(yield* invalid(Archive.sink({ maxBytes: 0 }))).toBe("Archive.sink: maxBytes must be a positive integer, got 0")
        expect(yield* invalid(Archive.sink({ compressionLevel: 10 }))).toBe(
          "Archive.sink: compressionLevel must be an integer from 1 to 9, got 10"
        )
        expect(yield* invalid(Archive.sink({ prefix: "a//b" }))).toBe(
          "Archive.sink: prefix \"a//b\" is not a valid key prefix: a key must not have empty segments (leading, trailing or double /)"
        )
        expect(yield* invalid(Archive.source({ from: 0, to: 1, listPageSize: 1001 }))).toBe(
          "Archive.source: listPageSize must be an integer from 1 to 1000, got 1001"
        )
        const error = yield* Effect.flip(Archive.sink({ concurrency: 1.5 }))
        expect([error._tag, error.of, error.option, error.retryability]).toEqual(["InvalidOptions", "Archive.sink", "concurrency", "permanent"])
      })))
})

describe("Archive sink flushing", () => {
  it.scoped("by age: writes wait until the oldest buffered record is maxAge old (TestClock)", () =>
    withStore((store) =>
      Effect.gen(function*() {
        const sink = yield* Archive.sink({ maxAge: "60 seconds" })
        const first = yield* Effect.fork(sink.write(records(0, 0, 5)))
        yield* TestClock.adjust("30 seconds")
        const second = yield* Effect.fork(sink.write(records(1, 0, 5)))
        yield* TestClock.adjust("29 seconds")
        expect(Option.isNone(yield* Fiber.poll(first))).toBe(true)
        expect(Option.isNone(yield* Fiber.poll(second))).toBe(true)
        expect(yield* keysOf(store)).toEqual([])
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(first)
        yield* Fiber.join(second)
        expect((yield* keysOf(store)).length).toBe(2)
        const stats = yield* sink.stats
        expect(stats.flushes).toEqual({ size: 0, age: 1, close: 0, manual: 0 })
        expect(stats.records).toBe(10)
        // the next buffer starts its own clock
        const third = yield* Effect.fork(sink.write(records(0, 5, 5)))
        yield* TestClock.adjust("59 seconds")
        expect(Option.isNone(yield* Fiber.poll(third))).toBe(true)
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(third)
        expect((yield* keysOf(store)).length).toBe(3)
      })))

  it.scoped("by age, default: a lone write waits one second", () =>
    withStore((store) =>
      Effect.gen(function*() {
        const sink = yield* Archive.sink()
        const write = yield* Effect.fork(sink.write(records(0, 0, 5)))
        yield* TestClock.adjust("999 millis")
        expect(Option.isNone(yield* Fiber.poll(write))).toBe(true)
        yield* TestClock.adjust("1 millis")
        yield* Fiber.join(write)
        expect((yield* keysOf(store)).length).toBe(1)
      })))

  it.scoped("by size: the write that fills the buffer flushes it at once, no time passing", () =>
    withStore((store) =>
      Effect.gen(function*() {
        const sink = yield* Archive.sink({ maxBytes: 5_000 })
        const small = yield* Effect.fork(sink.write(records(0, 0, 5)))
        yield* Effect.yieldNow()
        expect(Option.isNone(yield* Fiber.poll(small))).toBe(true)
        // about 250 bytes a record: this one fills it
        yield* sink.write(records(1, 0, 20))
        yield* Fiber.join(small)
        expect((yield* sink.stats).flushes).toEqual({ size: 1, age: 0, close: 0, manual: 0 })
        const keys = yield* keysOf(store)
        expect(keys.filter((key) => key.includes("shardId-000000000000")).length).toBe(1)
        expect(keys.filter((key) => key.includes("shardId-000000000001")).length).toBeGreaterThanOrEqual(1)
        // a write bigger than maxBytes on its own flushes on its own
        yield* sink.write(records(2, 0, 100))
        expect((yield* sink.stats).flushes.size).toBe(2)
      })))

  it.scoped("maxAge 0: every write flushes at once", () =>
    withStore((store) =>
      Effect.gen(function*() {
        const sink = yield* Archive.sink({ maxAge: 0 })
        yield* sink.write(records(0, 0, 3))
        yield* sink.write(records(0, 3, 3))
        expect((yield* keysOf(store)).length).toBe(2)
      })))

  it.scoped("closing the scope flushes what is buffered; later writes fail (transiently: not dead letters)", () =>
    withStore((store) =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const sink = yield* Scope.extend(Archive.sink(), scope)
        const writer = yield* Effect.fork(sink.write(records(0, 0, 5)))
        yield* Effect.yieldNow()
        expect(yield* keysOf(store)).toEqual([])
        yield* Scope.close(scope, Exit.void)
        yield* Fiber.join(writer)
        expect((yield* keysOf(store)).length).toBe(1)
        expect((yield* sink.stats).flushes.close).toBe(1)
        const error = yield* Effect.flip(sink.write(records(0, 5, 1)))
        expect(error.reason).toMatch(/closed/)
        expect(error.retryability).toBe("transient")
      })))

  it.scoped("flush writes the buffer now", () =>
    withStore((store) =>
      Effect.gen(function*() {
        const sink = yield* Archive.sink()
        const writer = yield* Effect.fork(sink.write(records(0, 0, 5)))
        yield* Effect.yieldNow()
        yield* sink.flush
        yield* Fiber.join(writer)
        expect((yield* keysOf(store)).length).toBe(1)
        yield* sink.flush
      })))

  it.scoped("a write returns only after its objects are stored", () =>
    Effect.gen(function*() {
      const inner = yield* ObjectStore.makeMemory()
      const entered = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      const slow: ObjectStoreShape = {
        ...inner,
        put: (key, body) =>
          Deferred.succeed(entered, undefined).pipe(Effect.zipRight(Deferred.await(gate)), Effect.zipRight(inner.put(key, body)))
      }
      const sink = yield* Effect.provideService(Archive.sink({ maxAge: 0 }), ObjectStore.ObjectStore, slow)
      const writer = yield* Effect.fork(sink.write(records(0, 0, 5)))
      yield* Deferred.await(entered)
      yield* Effect.yieldNow()
      expect(Option.isNone(yield* Fiber.poll(writer))).toBe(true)
      expect(yield* keysOf(inner)).toEqual([])
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(writer)
      expect((yield* keysOf(inner)).length).toBe(1)
    }))

  it.scoped("a failed put fails every write of the flush with the store's retryability", () =>
    Effect.gen(function*() {
      const inner = yield* ObjectStore.makeMemory()
      for (const retryability of ["transient", "permanent"] as const) {
        const sink = yield* Effect.provideService(Archive.sink({ maxAge: "1 second" }), ObjectStore.ObjectStore, failing(inner, retryability))
        const writers = yield* Effect.fork(Effect.all([
          Effect.flip(sink.write(records(0, 0, 5))),
          Effect.flip(sink.write(records(1, 0, 5)))
        ], { concurrency: "unbounded" }))
        yield* TestClock.adjust("1 second")
        const errors = yield* Fiber.join(writers)
        for (const error of errors) {
          expect(error).toBeInstanceOf(SinkError)
          expect(error.retryability).toBe(retryability)
          expect(error.reason).toMatch(/cannot store raw\/.*injected/)
        }
        expect((yield* sink.stats).failedFlushes).toBe(1)
      }
    }))

  it.scoped("a batch written again writes the same keys with the same bytes", () =>
    withStore((store) =>
      Effect.gen(function*() {
        const sink = yield* Archive.sink({ maxAge: 0, maxBytes: 3_000 })
        const batch = [...records(0, 0, 40, (i) => t0 - 20 + i), ...records(1, 0, 10)]
        yield* sink.write(batch)
        const keys = yield* keysOf(store)
        const bodies = yield* Effect.forEach(keys, (key) => store.get(key))
        yield* sink.write(batch)
        yield* sink.write(batch.slice().reverse())
        expect(yield* keysOf(store)).toEqual(keys)
        expect(yield* Effect.forEach(keys, (key) => store.get(key))).toEqual(bodies)
      })))
})

// ---------------------------------------------------------------------------------------------------------
// source
// ---------------------------------------------------------------------------------------------------------

describe("Archive source", () => {
  it.scoped("reads exactly the records that arrived in [from, to), per shard in order, a chunk per object", () =>
    withStore(() =>
      Effect.gen(function*() {
        const sink = yield* Archive.sink({ maxAge: 0 })
        // 3 shards, records every 90 s over 5 hours, written in pages of 20
        const all = [0, 1, 2].flatMap((shard) => records(shard, 0, 200, (i) => t0 - 2 * hour + i * 90_000 + shard))
        for (let i = 0; i < 200; i += 20) {
          yield* sink.write(all.filter((r) => Number((BigInt(r.sequenceNumber) - BigInt(seq(0))) / 7_919n) >= i && Number((BigInt(r.sequenceNumber) - BigInt(seq(0))) / 7_919n) < i + 20))
        }
        const from = t0 - hour + 90_000 * 3 + 1 // just after a record of shard 0, at a record of shard 1
        const to = t0 + 2 * hour + 90_000 * 5 + 2 // at a record of shard 2 (excluded)
        const read = yield* readSource(yield* Archive.source({ from, to }))
        expect([...read.keys()].sort()).toEqual(["shardId-000000000000", "shardId-000000000001", "shardId-000000000002"])
        for (const [shardId, chunks] of read) {
          const expected = all.filter((r) => r.shardId === shardId && r.arrivalTime >= from && r.arrivalTime < to)
          expect(chunks.flat().map(plain)).toEqual(expected.map(plain))
          expect(chunks.every((chunk) => chunk.length > 0 && chunk.length <= 20)).toBe(true)
        }
        expect(read.get("shardId-000000000001")![0][0].arrivalTime).toBe(from)
        const lastOf2 = read.get("shardId-000000000002")!.flat().at(-1)!
        expect(lastOf2.arrivalTime).toBe(to - 90_000)
        // an empty range, and a range before everything
        expect((yield* readSource(yield* Archive.source({ from: t0, to: t0 }))).size).toBe(0)
        expect((yield* readSource(yield* Archive.source({ from: 0, to: t0 - 3 * hour }))).size).toBe(0)
      })))

  it.scoped("objects that overlap (a batch archived again, cut differently) are read once", () =>
    withStore((store) =>
      Effect.gen(function*() {
        const sink = yield* Archive.sink({ maxAge: 0 })
        const shard = records(0, 0, 500)
        yield* sink.write(shard.slice(0, 300))
        yield* sink.write(shard.slice(0, 500))
        yield* sink.write(shard.slice(200, 400))
        yield* sink.write(shard.slice(450, 500))
        expect((yield* keysOf(store)).length).toBe(4)
        const read = yield* readSource(yield* Archive.source({ from: t0, to: t0 + 1 }))
        const chunks = read.get("shardId-000000000000")!
        expect(chunks.length).toBe(1)
        expect(chunks.flat().map(plain)).toEqual(shard.map(plain))
      })))

  it.scoped("sequence numbers are ordered as integers, not as strings", () =>
    withStore(() =>
      Effect.gen(function*() {
        const sink = yield* Archive.sink({ maxAge: 0 })
        const make = (sequenceNumber: string): SourceRecord => ({ ...records(0, 0, 1)[0], sequenceNumber })
        for (const page of [["9"], ["10", "11"], ["99"], ["100"], ["1000", "1001"]]) yield* sink.write(page.map(make))
        const read = yield* readSource(yield* Archive.source({ from: t0, to: t0 + 1 }))
        expect(read.get("shardId-000000000000")!.map((chunk) => chunk.map((r) => r.sequenceNumber))).toEqual(
          [["9"], ["10", "11"], ["99"], ["100"], ["1000", "1001"]]
        )
      })))

  it.scoped("streams: pick one with `stream`; shard ids of two streams are not mixed up", () =>
    withStore(() =>
      Effect.gen(function*() {
        const sink = yield* Archive.sink({ maxAge: 0 })
        yield* sink.write([...records(0, 0, 3, () => t0, "a-b"), ...records(0, 0, 2, () => t0, "c")])
        const onlyC = yield* readSource(yield* Archive.source({ from: t0, to: t0 + 1, stream: "c" }))
        expect(onlyC.get("shardId-000000000000")!.flat().map((r) => r.stream)).toEqual(["c", "c"])
        const onlyAB = yield* readSource(yield* Archive.source({ from: t0, to: t0 + 1, stream: "a-b" }))
        expect(onlyAB.get("shardId-000000000000")!.flat().length).toBe(3)
        const both = yield* Effect.flip(readSource(yield* Archive.source({ from: t0, to: t0 + 1 })))
        expect(both.retryability).toBe("permanent")
        expect(both.reason).toMatch(/pass the stream/)
      })))

  it.scoped("a corrupt object fails the shard with a permanent SourceError naming it", () =>
    withStore((store) =>
      Effect.gen(function*() {
        const key = `raw/2024/03/05/17/orders-shardId-000000000000-${seq(0)}-${seq(1)}.jsonl.gz`
        yield* store.put(key, Zlib.gzipSync("{\"stream\":\"orders\"}\n"))
        const error = yield* Effect.flip(readSource(yield* Archive.source({ from: t0, to: t0 + hour })))
        expect(error.retryability).toBe("permanent")
        expect(error.reason).toContain(key)
      })))

  it.scoped("the same pipeline value runs over the stream and over the archive, with the same results", () =>
    withStore((store) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(t0)
        const stream = yield* MemoryStream.make({ name: "activity", shards: 3 })
        for (let page = 0; page < 6; page++) {
          yield* stream.put(Array.from({ length: 100 }, (_, i) => {
            const n = page * 100 + i
            return { partitionKey: `c${n % 13}`, data: n % 50 === 7 ? "not json" : JSON.stringify({ customer: `c${n % 13}`, amount: n % 11 }) }
          }))
          yield* TestClock.adjust("20 minutes")
        }
        // raw records to the archive first, then decode and write: the output sink is a service, so the
        // one pipeline value runs against different worlds
        const pipeline = Pipeline.make("totals").pipe(
          Pipeline.to(Archive.RawArchive),
          Pipeline.decode(Decoder.json(Purchase)),
          Pipeline.to(Out)
        )
        const runOver = (source: Layer.Layer<RecordSource, unknown, ObjectStore.ObjectStore>) =>
          Effect.gen(function*() {
            const out = yield* RecordSink.memory<Purchase>()
            const letters = yield* RecordSink.memory<DeadLetter.DeadLetter>()
            const summary = yield* Pipeline.run(pipeline).pipe(
              Effect.provide(Layer.mergeAll(source, DeadLetter.layer(letters), Layer.succeed(Out, out), Archive.layerSink({ maxAge: 0 })))
            )
            const values = (yield* out.items).map((v) => `${v.customer}:${v.amount}`).sort()
            return { summary, values, letters: (yield* letters.items).length }
          })
        const live = yield* runOver(MemoryStream.layerSource(stream, { maxRecords: 40 }))
        const keys = yield* keysOf(store)
        expect(keys.map((key) => key.slice(0, 18))).toContain("raw/2024/03/05/18/")
        const archived = yield* runOver(Archive.layerSource({ from: t0, to: t0 + 3 * hour }))
        expect(live.summary.recordsIn).toBe(600)
        expect(archived.summary).toEqual({ ...live.summary, batches: archived.summary.batches })
        expect(archived.letters).toBe(12)
        expect(archived.values).toEqual(live.values)
        // running over the archive archived its records again: the same objects, overwritten
        expect(yield* keysOf(store)).toEqual(keys)
      })))
})

// ---------------------------------------------------------------------------------------------------------
// file system
// ---------------------------------------------------------------------------------------------------------

describe("Archive on the file system", () => {
  it.scopedLive("sink and source over a directory; temporary files are never listed", () =>
    Effect.gen(function*() {
      const directory = yield* Effect.acquireRelease(
        Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "tributary-archive-test-"))),
        (directory) => Effect.promise(() => Fs.rm(directory, { recursive: true, force: true }))
      )
      const store = yield* ObjectStore.makeFileSystem(directory)
      const batch = [...records(0, 0, 50, (i) => t0 + i * 1_000), ...records(1, 0, 50, (i) => t0 + hour - 25_000 + i * 1_000)]
      yield* Effect.gen(function*() {
        const sink = yield* Archive.sink({ maxAge: 0 })
        yield* sink.write(batch)
      }).pipe(Effect.provideService(ObjectStore.ObjectStore, store))
      // a crash mid-put leaves a temporary file behind
      yield* Effect.promise(() => Fs.writeFile(Path.join(directory, "raw/2024/03/05/17/.tributary-tmp-0123-x.jsonl.gz"), "partial"))
      const keys = yield* keysOf(store)
      expect(keys.length).toBe(3)
      expect(keys.every((key) => !key.includes(".tributary-tmp-"))).toBe(true)
      const read = yield* readSource(yield* Effect.provideService(Archive.source({ from: t0, to: t0 + 2 * hour }), ObjectStore.ObjectStore, store))
      for (const shard of [0, 1]) {
        expect(read.get(`shardId-00000000000${shard}`)!.flat().map(plain)).toEqual(batch.filter((r) => r.shardId.endsWith(String(shard))).map(plain))
      }
    }))
})
