/**
 * Archive throughput: the raw archive sink writing 200,000 seed-shaped records (Activity JSON messages of
 * about 90 bytes, 4 shards) into s3rver embedded in this process, through the real SDK. Each shard is a
 * fiber writing pages of 5,000 records one after the other, as a pipeline does (a page's `write` returns
 * once its objects are stored); the sink runs with its default 5 MiB buffer and a 100 ms `maxAge`.
 * Measured from the first write to the last acknowledgement, median of 3 rounds after a warm-up, each
 * round under a prefix of its own. Prints one line: `bench archive: <x> rec/s`.
 *
 * Run: `pnpm --filter @tributary/s3 bench` (or `tsx packages/s3/bench/main.ts` from the root).
 * BENCH_ARCHIVE_RECORDS sets records per round (default 200,000), BENCH_ARCHIVE_ROUNDS the rounds (3).
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true"

import * as Archive from "@tributary/core/Archive"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import * as LocalS3 from "@tributary/local/LocalS3"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as S3Client from "../src/S3Client.js"
import * as S3ObjectStore from "../src/S3ObjectStore.js"

const total = Number(process.env.BENCH_ARCHIVE_RECORDS ?? 200_000)
const rounds = Number(process.env.BENCH_ARCHIVE_ROUNDS ?? 3)
const shards = 4
const pageSize = 5_000
const bucket = "bench"

const activities = ["buy", "sell", "view", "search", "click"] as const

/** Seed-shaped messages, as the core benchmarks make them: a fixed LCG, so every run writes the same data. */
const makeRecords = (count: number): ReadonlyArray<ReadonlyArray<SourceRecord>> => {
  const encoder = new TextEncoder()
  const start = 1_416_603_010_000
  let seed = 42
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648
  const byShard: Array<Array<SourceRecord>> = Array.from({ length: shards }, () => [])
  for (let i = 0; i < count; i++) {
    const message = {
      CustomerId: `c${Math.floor(random() * 10_000)}`,
      DateUnixMs: start + i,
      Activity: activities[Math.floor(random() * activities.length)],
      DurationMs: Math.floor(random() * 60_000)
    }
    const shard = i % shards
    const records = byShard[shard]
    records.push({
      stream: "bench",
      shardId: `shardId-${String(shard).padStart(12, "0")}`,
      sequenceNumber: (49_590_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000n + BigInt(records.length) * 7_919n).toString(),
      subSequenceNumber: 0,
      partitionKey: message.CustomerId,
      arrivalTime: start + Math.floor(i / 100),
      data: encoder.encode(JSON.stringify(message))
    })
  }
  return byShard
}

const round = (prefix: string, byShard: ReadonlyArray<ReadonlyArray<SourceRecord>>) =>
  Effect.gen(function*() {
    const sink = yield* Archive.sink({ prefix, maxAge: "100 millis" })
    const started = performance.now()
    yield* Effect.forEach(byShard, (records) =>
      Effect.gen(function*() {
        for (let i = 0; i < records.length; i += pageSize) yield* sink.write(records.slice(i, i + pageSize))
      }), { concurrency: "unbounded", discard: true })
    const seconds = (performance.now() - started) / 1_000
    const stats = yield* sink.stats
    const count = byShard.reduce((n, records) => n + records.length, 0)
    if (stats.records !== count) throw new Error(`archived ${stats.records} records of ${count}`)
    return count / seconds
  }).pipe(Effect.scoped)

const program = Effect.gen(function*() {
  const warmUp = makeRecords(Math.min(total, 20_000))
  const data = makeRecords(total)
  yield* round("warm-up", warmUp)
  const rates: Array<number> = []
  for (let r = 0; r < rounds; r++) rates.push(yield* round(`round-${r}`, data))
  rates.sort((a, b) => a - b)
  const median = rates[Math.floor(rates.length / 2)]
  console.log(`bench archive: ${Math.round(median)} rec/s`)
})

const store = Layer.unwrapEffect(Effect.map(LocalS3.LocalS3, (local) =>
  S3ObjectStore.layer({ bucket }).pipe(Layer.provide(S3Client.layer({ ...local.clientConfig })))
)).pipe(Layer.provide(LocalS3.layerS3rver({ buckets: [bucket] })))

Effect.runPromise(program.pipe(Effect.provide(store))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
