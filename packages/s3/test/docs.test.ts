/**
 * The examples of docs/storage-archive.md, run against s3rver (a child process: LocalS3.layerS3rverProcess)
 * and kinesalite, with the standard AWS settings pointing at them. The last test checks that each ```ts
 * block of the page appears here verbatim (whitespace aside, import lines left out) and that this file
 * imports what the block imports ("@tributary/s3" being "../src/index.js"; see test-utils/DocBlocks.ts of
 * @tributary/core). Change an example in both places.
 */
import { expect, it, layer } from "@effect/vitest"
import { Archive, DeadLetter, DeadLetterArchive, Decoder, Pipeline, RecordSink, SourceRecord } from "@tributary/core"
import * as DocBlocks from "@tributary/core/test-utils/DocBlocks"
import { Kinesis, Producer, StreamAdmin, StreamSource } from "@tributary/kinesis"
import * as Environment from "@tributary/local/Environment"
import * as LocalKinesis from "@tributary/local/LocalKinesis"
import * as LocalS3 from "@tributary/local/LocalS3"
import { Chunk, Clock, Duration, Effect, Exit, Fiber, Layer, Schema, Stream } from "effect"
import { S3Client, S3ObjectStore } from "../src/index.js"
import { s3rver } from "./helpers.js"

/** The standard AWS settings, pointing at the emulators (s3rver knows only its own key). */
const localAws = Effect.gen(function*() {
  const s3 = yield* LocalS3.LocalS3
  const kinesis = yield* LocalKinesis.LocalKinesis
  yield* Environment.scoped({
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ENDPOINT_URL_KINESIS: kinesis.endpoint,
    AWS_REGION: s3.region,
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    // s3rver does not know the SDK's default request checksums
    AWS_REQUEST_CHECKSUM_CALCULATION: "WHEN_REQUIRED",
    AWS_RESPONSE_CHECKSUM_VALIDATION: "WHEN_REQUIRED"
  })
})

/**
 * Effect's Clock running `speed` times as fast as the wall clock: the archive's `maxAge` of 5 seconds, the
 * readers' idle interval and their call spacing pass in a fraction of the time, all measured alike.
 */
const fastClock = (speed: number): Clock.Clock => {
  const start = Date.now()
  const now = () => start + (Date.now() - start) * speed
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: now,
    currentTimeMillis: Effect.sync(now),
    unsafeCurrentTimeNanos: () => BigInt(Math.round(now() * 1_000_000)),
    currentTimeNanos: Effect.sync(() => BigInt(Math.round(now() * 1_000_000))),
    sleep: (duration) => {
      const millis = Duration.toMillis(duration) / speed
      if (!Number.isFinite(millis)) return Effect.never
      return Effect.async<void>((resume) => {
        const timer = setTimeout(() => resume(Effect.void), Math.min(millis, 2 ** 31 - 1))
        return Effect.sync(() => clearTimeout(timer))
      })
    }
  }
}

const waitUntil = <E, R>(check: Effect.Effect<boolean, E, R>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 400 && !(yield* check); i++) yield* Effect.sleep("25 millis")
  })

/** Every record of the stream, read to its newest record. */
const readStream = (stream: string) =>
  Effect.gen(function*() {
    const all = yield* RecordSink.memory<SourceRecord.SourceRecord>()
    yield* Pipeline.make("read").pipe(Pipeline.to(all), Pipeline.run).pipe(
      Effect.provide(Layer.merge(StreamSource.layer({ stream, follow: false }), DeadLetter.layerMemory))
    )
    return yield* all.items
  })

const text = (data: Uint8Array) => Buffer.from(data).toString("utf8")

// The examples' Order and results
const Order = Schema.Struct({ orderId: Schema.String, amount: Schema.Number })
type Order = typeof Order.Type

const hour = Date.UTC(2024, 6, 1, 9)
/** A record of `orders` as the live pipeline archived it. */
const archived = (n: number, arrivalTime: number, data: string) =>
  SourceRecord.make({
    stream: "orders",
    shardId: "shardId-000000000000",
    sequenceNumber: String(49_650_000_000_000_000_000_000_000n + BigInt(n)),
    partitionKey: `p-${n}`,
    arrivalTime,
    data: new TextEncoder().encode(data)
  })

/** kinesalite, and the Kinesis service talking to it: one per test. */
const kinesalite = Layer.unwrapEffect(
  Effect.map(LocalKinesis.LocalKinesis, (local) => Kinesis.layer({ ...local.clientConfig }))
).pipe(Layer.provideMerge(LocalKinesis.layerKinesalite()))

// one s3rver for the file (a process, ~1 s to start), a bucket per test
layer(s3rver, { excludeTestServices: true, timeout: "30 seconds" })("docs/storage-archive.md", (it) => {
  it.scoped("the archive: live on a stream, then the same pipeline over an hour of the archive", () =>
    Effect.gen(function*() {
      yield* localAws
      const s3 = yield* S3Client.S3Client
      yield* s3.createBucket({ Bucket: "orders-archive" })
      const results = yield* RecordSink.memory<Order>("results")

      // --- the docs' example ---
      // The raw records go to the archive first, then the pipeline decodes them (Order and results are yours)
      const pipeline = Pipeline.make("orders").pipe(
        Pipeline.to(Archive.RawArchive),
        Pipeline.decode(Decoder.json(Order)),
        Pipeline.to(results)
      )

      // The bucket as the ObjectStore, the archive and the dead letters in it
      const store = S3ObjectStore.layer({ bucket: "orders-archive" }).pipe(Layer.provide(S3Client.layerConfig()))
      const storage = Layer.mergeAll(
        Archive.layerSink({ prefix: "raw", maxAge: "5 seconds" }),
        DeadLetterArchive.layer() // dead letters under dead-letters/
      ).pipe(Layer.provideMerge(store))

      const live = Pipeline.run(pipeline).pipe(
        Effect.provide(Layer.merge(StreamSource.layer({ stream: "orders" }), storage)),
        Effect.provide(Kinesis.layerConfig())
      )

      // Later, the same pipeline value over an hour of the archive
      const rerun = Pipeline.run(pipeline).pipe(
        Effect.provide(Archive.layerSource({ from: Date.UTC(2024, 6, 1, 9), to: Date.UTC(2024, 6, 1, 10) })),
        Effect.provide(storage)
      )
      // --- end of the example ---

      const bucket = S3ObjectStore.layer({ bucket: "orders-archive" })
      const fast = fastClock(20)

      // live: three orders and a broken message on a stream of two shards, until the results are in
      const started = Date.now()
      yield* StreamAdmin.ensureStream("orders", { shards: 2 })
      const messages = [`{"orderId":"o-1","amount":10}`, `{"orderId":"o-2","amount":20}`, `{"orderId":"o-3"}`, `{"orderId":"o-4","amount":40}`]
      const kinesis = yield* Kinesis.Kinesis
      yield* kinesis.putRecords({
        StreamName: "orders",
        Records: messages.map((data, i) => ({ PartitionKey: `p-${i}`, Data: Buffer.from(data) }))
      })
      const now = { from: started - 60_000, to: Date.now() + 60_000 }
      const liveLetters = DeadLetterArchive.read(now).pipe(
        Stream.runCollect,
        Effect.map((objects) => Chunk.toReadonlyArray(objects).flatMap((object) => object.letters)),
        Effect.provide(bucket)
      )
      const running = yield* Effect.fork(Effect.withClock(live, fast))
      yield* waitUntil(Effect.gen(function*() {
        if (running.unsafePoll() !== null) return true
        return (yield* results.items).length === 3 && (yield* liveLetters).length === 1
      }))
      yield* Fiber.interrupt(running)
      expect(Exit.isInterrupted(yield* Fiber.await(running))).toBe(true) // it follows the stream until stopped
      expect([...yield* results.items].sort((a, b) => a.orderId.localeCompare(b.orderId))).toStrictEqual([
        { orderId: "o-1", amount: 10 },
        { orderId: "o-2", amount: 20 },
        { orderId: "o-4", amount: 40 }
      ])
      // every raw record is in the archive, the broken one too; and the broken one is in the dead letters
      const raw = yield* RecordSink.memory<SourceRecord.SourceRecord>()
      yield* Pipeline.make("read-archive").pipe(Pipeline.to(raw), Pipeline.run).pipe(
        Effect.provide(Layer.merge(Archive.layerSource(now), DeadLetter.layerMemory)),
        Effect.provide(bucket)
      )
      expect((yield* raw.items).map((record) => text(record.data)).sort()).toStrictEqual(messages)
      expect((yield* liveLetters).map((letter) => [letter.pipeline, letter.stage, text(letter.data)]))
        .toStrictEqual([["orders", "decode", `{"orderId":"o-3"}`]])

      // rerun: the hour of 2024-07-01 09:00 as an earlier live run archived it (and a record on either side)
      yield* Effect.scoped(Effect.gen(function*() {
        const earlier = yield* Archive.sink({ maxAge: 0 })
        yield* earlier.write([
          archived(1, hour - 1, `{"orderId":"before","amount":1}`),
          archived(2, hour, `{"orderId":"r-1","amount":1.5}`),
          archived(3, hour + 1_800_000, `{"orderId":"r-2"`),
          archived(4, hour + 3_599_999, `{"orderId":"r-3","amount":3}`),
          archived(5, hour + 3_600_000, `{"orderId":"after","amount":1}`)
        ])
      })).pipe(Effect.provide(bucket))
      const before = (yield* results.items).length
      const summary = yield* Effect.withClock(rerun, fast)
      expect(summary).toMatchObject({ recordsIn: 3, recordsOut: 2, deadLettered: 1, late: 0, filtered: 0 })
      expect((yield* results.items).slice(before)).toStrictEqual([{ orderId: "r-1", amount: 1.5 }, { orderId: "r-3", amount: 3 }])
      const rerunLetters = yield* DeadLetterArchive.read({ from: hour, to: hour + 3_600_000 }).pipe(
        Stream.runCollect,
        Effect.provide(bucket)
      )
      expect(Chunk.toReadonlyArray(rerunLetters).map((object) => [object.key.slice(0, 27), object.letters.map((l) => l.partitionKey)]))
        .toStrictEqual([["dead-letters/2024/07/01/09/", ["p-3"]]])
    }).pipe(Effect.provide(kinesalite)))

  it.scoped("replaying dead letters: the decode failures of orders go back to the stream, their objects deleted", () =>
    Effect.gen(function*() {
      yield* localAws
      const s3 = yield* S3Client.S3Client
      yield* s3.createBucket({ Bucket: "replayed" })
      yield* StreamAdmin.ensureStream("orders", { shards: 1 })
      // stored dead letters of 2024-07-01: two decode failures of orders, one sink failure, one of another day
      const letter = (n: number, arrivalTime: number, stage: string, data: string) =>
        DeadLetter.fromRecord(archived(n, arrivalTime, data), { pipeline: "orders", stage, reason: "test", failedAt: arrivalTime })
      yield* Effect.gen(function*() {
        const deadLetters = yield* DeadLetterArchive.sink()
        yield* deadLetters.write([letter(1, hour, "decode", "broken-1"), letter(2, hour + 60_000, "decode", "broken-2")])
        yield* deadLetters.write([letter(3, hour + 120_000, "sink:results", "rejected")])
        yield* deadLetters.write([letter(4, Date.UTC(2024, 6, 2, 9), "decode", "broken-next-day")])
      })

      // --- the docs' example ---
      const replay = Effect.gen(function*() {
        const orders = yield* Producer.make<DeadLetter.DeadLetter>({
          stream: "orders",
          partitionKey: (letter) => letter.partitionKey,
          data: (letter) => letter.data
        })
        return yield* DeadLetterArchive.replay(orders, {
          from: Date.UTC(2024, 6, 1),
          to: Date.UTC(2024, 6, 2),
          filter: (letter) => letter.pipeline === "orders" && letter.stage === "decode",
          deleteReplayed: true
        })
      })
      // --- end of the example ---

      expect(yield* Effect.scoped(replay)).toStrictEqual({ objects: 2, replayed: 2, skipped: 1, deletedObjects: 1 })
      // the original payloads and partition keys are on the stream again
      expect((yield* readStream("orders")).map((record) => [record.partitionKey, text(record.data)])).toStrictEqual([
        ["p-1", "broken-1"],
        ["p-2", "broken-2"]
      ])
      // the replayed object is gone: the sink failure and the next day's letter stay
      const left = yield* DeadLetterArchive.read({ from: Date.UTC(2024, 6, 1), to: Date.UTC(2024, 6, 3) }).pipe(Stream.runCollect)
      expect(Chunk.toReadonlyArray(left).flatMap((object) => object.letters.map((l) => text(l.data)))).toStrictEqual([
        "rejected",
        "broken-next-day"
      ])
      expect(yield* Effect.scoped(replay)).toStrictEqual({ objects: 1, replayed: 0, skipped: 1, deletedObjects: 0 })
    }).pipe(Effect.provide(S3ObjectStore.layer({ bucket: "replayed" })), Effect.provide(kinesalite)))
})

it("docs/storage-archive.md: every TypeScript example is tested here", () => {
  expect(DocBlocks.blocks(DocBlocks.read("storage-archive.md")).length).toBeGreaterThan(0)
  expect(DocBlocks.problems("storage-archive.md", { files: [import.meta.url], checkImports: true })).toStrictEqual([])
})
