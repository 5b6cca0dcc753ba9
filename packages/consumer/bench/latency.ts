/**
 * Latency of the two readers: records put at a steady pace for 20 s into a 4-shard stream on kinesis-mock
 * (the emulator with SubscribeToShard), read at the same time by two consumers of the stream, one polling
 * (the reader's defaults) and one through an enhanced fan-out consumer; each record carries the time of
 * its PutRecords call, and each consumer's pipeline notes how long after it saw the record. Both readers
 * see the same records on the same emulator at the same time, so the machine's load weighs on both alike.
 *
 *   tsx packages/consumer/bench/latency.ts      (also the last part of packages/consumer/bench/main.ts)
 *
 * LATENCY_RATE (default 250 records/s) sets the pace, LATENCY_SHARDS (default 4) the stream's shards:
 * kinesis-mock takes a few hundred records a second here (PutRecords slows down as its shards fill), far
 * from the 4,000 records/s AWS would take on 4 shards: at 4,000/s it refuses about half of the entries or
 * more (on 4 shards, and on 8 on an idle machine) and answers PutRecords up to a minute late, and the delays
 * measure its backlog, not the readers. The line reports the rate, the records the emulator refused (only those it
 * stored are awaited) and how long the puts took (a record's delay counts from its put's start).
 *
 * What the fan-out figures mean: kinesis-mock sends a subscription event once a second, and each event a
 * second after it read the shard (records reach a bare HTTP/2 client 1 to 2 s after their put, with no
 * proxy in between), so on kinesis-mock fan-out waits 1 to 2 s where AWS pushes records as they arrive
 * (about 70 ms on average, by AWS's account); the polling reader polls as its defaults say. The bench
 * shows what each reader adds to what the service gives it, on the one emulator that serves both.
 */
import * as DeadLetter from "@tributary/core/DeadLetter"
import * as LeaseStore from "@tributary/core/LeaseStore"
import * as Pipeline from "@tributary/core/Pipeline"
import * as RecordSink from "@tributary/core/RecordSink"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import { Kinesis, StreamAdmin } from "@tributary/kinesis"
import * as LocalKinesis from "@tributary/local/LocalKinesis"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Consumer from "../src/Consumer.js"
import { hashKeyOf, waitUntil } from "../test/helpers.js"

const rate = Number(process.env.LATENCY_RATE ?? 250)
const seconds = 20
const shards = Number(process.env.LATENCY_SHARDS ?? 4)
/** Puts per second: each carries rate / ticks records. */
const ticks = 10

const emulator = Layer.unwrapEffect(Effect.map(LocalKinesis.LocalKinesis, (local) => Kinesis.layer({ ...local.clientConfig }))).pipe(
  Layer.provideMerge(LocalKinesis.layerKinesisMock())
)

/** A consumer of the stream noting, per record, the delay since its put; warm-up records are counted apart. */
const reader = (stream: string, name: string, reader: Consumer.Options["reader"]) =>
  Effect.gen(function*() {
    const delays: Array<number> = []
    let warm = 0
    const sink = RecordSink.make<SourceRecord>(name, (records) =>
      Effect.sync(() => {
        const now = Date.now()
        for (const record of records) {
          const put = JSON.parse(Buffer.from(record.data).toString("utf8")) as { readonly t: number; readonly warm?: boolean }
          if (put.warm === true) warm++
          else delays.push(now - put.t)
        }
      }))
    const store = yield* LeaseStore.makeMemory
    const consumer = yield* Consumer.make(Pipeline.make(name).pipe(Pipeline.to(sink)), {
      stream,
      workerId: name,
      initialPosition: "TRIM_HORIZON",
      takeInterval: "1 second",
      reader
    }).pipe(Effect.provideService(LeaseStore.LeaseStore, store))
    return { consumer, delays, warm: () => warm }
  })

const percentile = (sorted: ReadonlyArray<number>, p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]

/** The bench: prints `bench latency: ...`. */
export const latency = Effect.gen(function*() {
  const stream = `latency-${process.pid}`
  yield* StreamAdmin.ensureStream(stream, { shards })
  const kinesis = yield* Kinesis.Kinesis
  const putTimes: Array<number> = []
  // records the emulator stored, and refused (throttled entries, failed calls): only stored ones are awaited
  let stored = 0
  let refused = 0
  const put = (records: number, warm: boolean) =>
    Effect.gen(function*() {
      const t = Date.now()
      const result = yield* Effect.either(kinesis.putRecords({
        StreamName: stream,
        Records: Array.from({ length: records }, (_, i) => ({
          PartitionKey: `k${i}`,
          ExplicitHashKey: hashKeyOf(i % shards, shards),
          Data: Buffer.from(JSON.stringify(warm ? { t, warm } : { t }))
        }))
      }))
      if (warm) return yield* result
      putTimes.push(Date.now() - t)
      const failed = result._tag === "Left" ? records : result.right.FailedRecordCount ?? 0
      stored += records - failed
      refused += failed
    })

  const polling = yield* reader(stream, "polling", "polling")
  const fanOut = yield* reader(stream, "fan-out", { fanOut: { consumerName: `latency-${process.pid}` } })
  // every shard read by both, fan-out subscriptions open
  yield* put(shards, true)
  yield* waitUntil("both readers warm", Effect.sync(() => polling.warm() === shards && fanOut.warm() === shards), 120_000)

  // the paced puts: one every 1/ticks s, several in flight if the emulator is slow to answer
  const perPut = Math.max(1, Math.round(rate / ticks))
  const start = yield* Clock.currentTimeMillis
  let sent = 0
  for (let tick = 0; tick < seconds * ticks; tick++) {
    const due = start + tick * (1000 / ticks)
    const now = yield* Clock.currentTimeMillis
    if (due > now) yield* Effect.sleep(due - now)
    yield* Effect.forkScoped(put(perPut, false))
    sent += perPut
  }
  yield* waitUntil(
    "every record seen by both",
    Effect.sync(() => stored + refused === sent && polling.delays.length >= stored && fanOut.delays.length >= stored),
    // the emulator may take minutes to absorb a fast pace: allow it ~100 records/s
    Math.max(120_000, sent * 10),
    Effect.sync(() => ({ sent, stored, refused, polling: polling.delays.length, fanOut: fanOut.delays.length }))
  )
  const elapsed = ((yield* Clock.currentTimeMillis) - start) / 1000
  const [p, f, u] = [polling.delays, fanOut.delays, putTimes].map((delays) => [...delays].sort((a, b) => a - b))
  console.log(
    `bench latency: polling p50 ${percentile(p, 0.5)} ms p99 ${percentile(p, 0.99)} ms, ` +
      `fan-out p50 ${percentile(f, 0.5)} ms p99 ${percentile(f, 0.99)} ms ` +
      `(${sent} records at ${rate}/s paced for ${seconds} s, ${refused} of them refused by the emulator, the others all seen ${Math.round(elapsed - seconds)} s after the last put; ` +
      `PutRecords p50 ${percentile(u, 0.5)} ms p99 ${percentile(u, 0.99)} ms; ` +
      `kinesis-mock, ${shards} shards, which sends a subscription event a second, each a second late)`
  )
}).pipe(
  Effect.scoped,
  Effect.provide(Layer.mergeAll(emulator, DeadLetter.layerMemory)),
  Logger.withMinimumLogLevel(LogLevel.Warning)
)

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(latency).then(() => process.exit(0), (error) => {
    console.error(error)
    process.exit(1)
  })
}
