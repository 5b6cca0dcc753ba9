/**
 * The archive on S3: s3rver (in a child process: LocalS3.layerS3rverProcess) through the real SDK. One s3rver
 * for the file, a new bucket per test; live clock (`it.scopedLive`): real sockets and real time.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import type { ObjectStoreShape } from "@tributary/core/ObjectStore"
import * as Archive from "@tributary/core/Archive"
import * as DeadLetterArchive from "@tributary/core/DeadLetterArchive"
import * as ObjectStore from "@tributary/core/ObjectStore"
import * as DeadLetter from "@tributary/core/DeadLetter"
import * as Decoder from "@tributary/core/Decoder"
import * as MemoryStream from "@tributary/core/MemoryStream"
import * as Pipeline from "@tributary/core/Pipeline"
import type { RecordSource } from "@tributary/core/RecordSource"
import * as RecordSink from "@tributary/core/RecordSink"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import { SinkError } from "@tributary/core/TributaryError"
import * as FaultProxy from "@tributary/local/FaultProxy"
import { LocalS3 } from "@tributary/local/LocalS3"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as S3Client from "../src/S3Client.js"
import type * as S3Error from "../src/S3Error.js"
import * as S3ObjectStore from "../src/S3ObjectStore.js"
import { freshBucket, gated, s3rver, seq } from "./helpers.js"

const storeOnNewBucket = Effect.flatMap(freshBucket(), (bucket) => S3ObjectStore.make({ bucket }))

const keysOf = (store: ObjectStoreShape, prefix = "") =>
  Effect.map(Stream.runCollect(ObjectStore.listAll(store, prefix)), (objects) => Chunk.toReadonlyArray(objects).map((o) => o.key))

const readSource = (source: RecordSource["Type"]) =>
  Effect.gen(function*() {
    const out = new Map<string, Array<ReadonlyArray<SourceRecord>>>()
    for (const shard of Chunk.toReadonlyArray(yield* Stream.runCollect(source.shards))) {
      out.set(shard.shardId, Chunk.toReadonlyArray(yield* Stream.runCollect(shard.batches)).slice())
    }
    return out
  })

const plain = (record: SourceRecord) => ({ ...record, data: Buffer.from(record.data).toString("hex") })

/** xorshift payloads: binary, 0 to 400 bytes, different for every record. */
const payload = (n: number): Uint8Array => {
  let x = (n * 2_654_435_761) >>> 0 || 1
  const bytes = new Uint8Array(n % 401)
  for (let i = 0; i < bytes.length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    bytes[i] = x & 0xff
  }
  return bytes
}

const records = (shardId: string, from: number, count: number, arrival: (i: number) => number): Array<SourceRecord> =>
  Array.from({ length: count }, (_, k) => ({
    stream: "events",
    shardId,
    sequenceNumber: seq(from + k),
    subSequenceNumber: 0,
    partitionKey: `pk-${from + k}`,
    arrivalTime: arrival(from + k),
    data: payload(from + k)
  }))

const t0 = Date.UTC(2024, 6, 1, 9, 0, 0)
const hour = 3_600_000

const emulator = ManagedRuntime.make(s3rver)
beforeAll(() => emulator.runPromise(Effect.void), 30_000)
afterAll(() => emulator.dispose(), 30_000)

type Shared = ManagedRuntime.ManagedRuntime.Context<typeof emulator>

/** `it.scopedLive` with the shared emulator and its client. */
const test = <A, E>(name: string, body: () => Effect.Effect<A, E, Shared | Scope.Scope>, timeout = 30_000) =>
  it.scopedLive(name, () => Effect.provide(body(), emulator), timeout)

describe("Archive on S3 (s3rver)", () => {
  describe("round trip", () => {
    test("10,000 records of 4 shards through a pipeline come back byte for byte, in shard order", () =>
      Effect.gen(function*() {
        const store = yield* storeOnNewBucket
        const stream = yield* MemoryStream.make({ name: "events", shards: 4 })
        const start = Date.now()
        for (let page = 0; page < 20; page++) {
          yield* stream.put(Array.from({ length: 500 }, (_, i) => {
            const n = page * 500 + i
            return { partitionKey: `user-${n % 997}`, data: payload(n) }
          }))
        }
        // several shards' pages wait for each other up to 50 ms and share a flush
        const archive = yield* Effect.provideService(Archive.sink({ maxAge: "50 millis" }), ObjectStore.ObjectStore, store)
        const summary = yield* Pipeline.run(Pipeline.make("archive").pipe(Pipeline.to(archive))).pipe(
          Effect.provide(Layer.merge(MemoryStream.layerSource(stream, { maxRecords: 700 }), DeadLetter.layerMemory))
        )
        expect(summary.recordsOut).toBe(10_000)
        const stats = yield* archive.stats
        expect(stats.records).toBe(10_000)
        expect(stats.objects).toBe((yield* keysOf(store)).length)

        // listed 3 keys a page: ListObjectsV2 continuation tokens all the way
        const read = yield* readSource(
          yield* Effect.provideService(Archive.source({ from: start - 1, to: Date.now() + 1, listPageSize: 3 }), ObjectStore.ObjectStore, store)
        )
        expect([...read.keys()].sort()).toEqual([...stream.shardIds])
        let total = 0
        for (const shardId of stream.shardIds) {
          const written = stream.records(shardId)
          const back = read.get(shardId)!.flat()
          total += back.length
          expect(back.length).toBe(written.length)
          expect(back.map(plain)).toEqual(written.map(plain))
        }
        expect(total).toBe(10_000)
      }))

    test("the source reads exactly [from, to) from objects over many hours", () =>
      Effect.gen(function*() {
        const store = yield* storeOnNewBucket
        const all = ["shardId-000000000000", "shardId-000000000001"].flatMap((shardId, s) =>
          records(shardId, 0, 240, (i) => t0 + i * 60_000 + s)
        )
        yield* Effect.gen(function*() {
          const sink = yield* Archive.sink({ maxAge: 0 })
          for (let i = 0; i < all.length; i += 30) yield* sink.write(all.slice(i, i + 30))
        }).pipe(Effect.provideService(ObjectStore.ObjectStore, store))
        const from = t0 + 61 * 60_000 + 1
        const to = t0 + 3 * hour + 7 * 60_000 + 1
        const read = yield* readSource(
          yield* Effect.provideService(Archive.source({ from, to, listPageSize: 2 }), ObjectStore.ObjectStore, store)
        )
        for (const [shardId, chunks] of read) {
          expect(chunks.flat().map(plain)).toEqual(
            all.filter((r) => r.shardId === shardId && r.arrivalTime >= from && r.arrivalTime < to).map(plain)
          )
        }
        expect(read.get("shardId-000000000000")!.flat()[0].arrivalTime).toBe(t0 + 62 * 60_000)
        expect(read.get("shardId-000000000001")!.flat()[0].arrivalTime).toBe(from)
        expect(read.get("shardId-000000000001")!.flat().at(-1)!.arrivalTime).toBe(to - 60_000)
      }))
  })

  describe("idempotency", () => {
    test("a pipeline re-run without its checkpoints (a crash before them) overwrites the same objects", () =>
      Effect.gen(function*() {
        const store = yield* storeOnNewBucket
        const stream = yield* MemoryStream.make({ name: "events", shards: 3 })
        for (let page = 0; page < 3; page++) {
          yield* stream.put(Array.from({ length: 500 }, (_, i) => ({ partitionKey: `k${page * 500 + i}`, data: payload(page * 500 + i) })))
        }
        const run = (application: string, maxRecords = 200) =>
          Effect.gen(function*() {
            const archive = yield* Archive.sink({ maxAge: "20 millis" })
            yield* Pipeline.run(Pipeline.make("archive").pipe(Pipeline.to(archive))).pipe(
              Effect.provide(Layer.merge(MemoryStream.layerSource(stream, { maxRecords, application }), DeadLetter.layerMemory))
            )
          }).pipe(Effect.scoped, Effect.provideService(ObjectStore.ObjectStore, store))
        yield* run("first")
        const keys = yield* keysOf(store)
        const bodies = yield* Effect.forEach(keys, (key) => store.get(key))
        // the same batches delivered again (no checkpoints): the same keys, the same bytes, nothing added
        yield* run("second")
        expect(yield* keysOf(store)).toEqual(keys)
        expect(yield* Effect.forEach(keys, (key) => store.get(key))).toEqual(bodies)
        // delivered again in other pages: objects overlap, readers still see every record once
        yield* run("third", 333)
        expect((yield* keysOf(store)).length).toBeGreaterThan(keys.length)
        const source = yield* Effect.provideService(Archive.source({ from: 0, to: Date.now() + 1 }), ObjectStore.ObjectStore, store)
        const read = yield* readSource(source)
        for (const shardId of stream.shardIds) {
          expect(read.get(shardId)!.flat().map(plain)).toEqual(stream.records(shardId).map(plain))
        }
      }))

    test("the same batch cut into different pages is read back once", () =>
      Effect.gen(function*() {
        const store = yield* storeOnNewBucket
        const shard = records("shardId-000000000007", 0, 900, () => t0)
        const sink = yield* Effect.provideService(Archive.sink({ maxAge: 0 }), ObjectStore.ObjectStore, store)
        for (const size of [300, 250, 900]) {
          for (let i = 0; i < shard.length; i += size) yield* sink.write(shard.slice(i, i + size))
        }
        expect((yield* keysOf(store)).length).toBe(3 + 4 + 1)
        const read = yield* readSource(
          yield* Effect.provideService(Archive.source({ from: t0, to: t0 + 1 }), ObjectStore.ObjectStore, store)
        )
        expect(read.get("shardId-000000000007")!.flat().map(plain)).toEqual(shard.map(plain))
      }))
  })

  describe("acknowledgement", () => {
    test("write returns only once the object is in the bucket", () =>
      Effect.gen(function*() {
        const store = yield* storeOnNewBucket
        const slow = yield* gated(store)
        const sink = yield* Effect.provideService(Archive.sink({ maxAge: 0 }), ObjectStore.ObjectStore, slow.store)
        const writer = yield* Effect.fork(sink.write(records("shardId-000000000000", 0, 10, () => t0)))
        yield* slow.entered
        yield* Effect.sleep("50 millis")
        expect(Option.isNone(yield* Fiber.poll(writer))).toBe(true)
        expect(yield* keysOf(store)).toEqual([])
        yield* slow.open
        yield* Fiber.join(writer)
        expect(yield* keysOf(store)).toEqual([`raw/2024/07/01/09/events-shardId-000000000000-${seq(0)}-${seq(9)}.jsonl.gz`])
      }))

    test("a put into a missing bucket fails the write permanently", () =>
      Effect.gen(function*() {
        const store = yield* S3ObjectStore.make({ bucket: "no-such-bucket" })
        const sink = yield* Effect.provideService(Archive.sink({ maxAge: 0 }), ObjectStore.ObjectStore, store)
        const error = yield* Effect.flip(sink.write(records("shardId-000000000000", 0, 3, () => t0)))
        expect(error).toBeInstanceOf(SinkError)
        expect(error.retryability).toBe("permanent")
        expect(error.reason).toContain("NoSuchBucket")
      }))

    test("5xx answers and lost connections fail the write transiently; the retry stores it", () =>
      Effect.gen(function*() {
        const local = yield* LocalS3
        const bucket = yield* freshBucket()
        const proxy = yield* FaultProxy.make(local.endpoint)
        // the SDK's own retries off, to see each failure
        const client = yield* S3Client.make({ ...local.clientConfig, endpoint: proxy.endpoint, maxAttempts: 1 })
        const store = yield* Effect.provideService(S3ObjectStore.make({ bucket }), S3Client.S3Client, client)
        const direct = yield* S3ObjectStore.make({ bucket })
        const sink = yield* Effect.provideService(Archive.sink({ maxAge: 0 }), ObjectStore.ObjectStore, store)
        const batch = records("shardId-000000000000", 0, 10, () => t0)
        for (const rule of [{ internalFailure: 1 }, { reset: 1 }]) {
          yield* proxy.setFaults({ rules: { PUT: rule }, resetAfterForward: 0 })
          const error = yield* Effect.flip(sink.write(batch))
          expect(error.retryability).toBe("transient")
          // SinkError <- ObjectStoreError <- S3Error
          const s3Error = ((error.cause as ObjectStore.ObjectStoreError).cause as S3Error.S3Error)
          expect([s3Error._tag, s3Error.reason]).toEqual(["S3Error", rule.reset === undefined ? "ServerError" : "NetworkError"])
          expect(yield* keysOf(direct)).toEqual([])
        }
        yield* proxy.clearFaults
        yield* sink.write(batch)
        expect((yield* keysOf(direct)).length).toBe(1)
      }))
  })

  describe("dead letters", () => {
    test("a pipeline's dead letters go to S3 and are replayed into a stream after the fix", () =>
      Effect.gen(function*() {
        const store = yield* storeOnNewBucket
        const stream = yield* MemoryStream.make({ name: "orders", shards: 2 })
        const start = Date.now()
        yield* stream.put(Array.from({ length: 200 }, (_, i) => ({
          partitionKey: `k${i}`,
          data: i % 20 === 5 ? `{"id":${i},"amount":"${i}€"}` : `{"id":${i},"amount":${i}}`
        })))
        const Order = Schema.Struct({ id: Schema.Number, amount: Schema.Number })
        const out = yield* RecordSink.memory<typeof Order.Type>()
        const summary = yield* Pipeline.run(Pipeline.make("orders").pipe(Pipeline.decode(Decoder.json(Order)), Pipeline.to(out))).pipe(
          Effect.provide(Layer.merge(MemoryStream.layerSource(stream, { maxRecords: 50 }), DeadLetterArchive.layer())),
          Effect.provideService(ObjectStore.ObjectStore, store)
        )
        expect(summary.deadLettered).toBe(10)
        expect((yield* keysOf(store, "dead-letters/")).length).toBeGreaterThan(0)

        const fixed = yield* MemoryStream.make({ name: "orders-retry", shards: 1 })
        const producer = MemoryStream.sink(fixed, (l: DeadLetter.DeadLetter) => ({ partitionKey: l.partitionKey, data: l.data }))
        const replay = yield* DeadLetterArchive.replay(producer, { from: start - 1, to: Date.now() + 1, deleteReplayed: true }).pipe(
          Effect.provideService(ObjectStore.ObjectStore, store)
        )
        expect(replay.replayed).toBe(10)
        expect(replay.deletedObjects).toBe(replay.objects)
        expect(fixed.records(fixed.shardIds[0]).map((r) => new TextDecoder().decode(r.data)).sort()).toEqual(
          Array.from({ length: 10 }, (_, j) => 20 * j + 5).map((i) => `{"id":${i},"amount":"${i}€"}`).sort()
        )
        expect(yield* keysOf(store, "dead-letters/")).toEqual([])
      }))
  })
})
