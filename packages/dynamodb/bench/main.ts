/**
 * Results sink throughput: `ResultsTable.sink` writing window results into dynalite embedded in this
 * process, through the real SDK. 4 fibers (one per shard, as a pipeline runs them) each write pages of 500
 * results one after the other; a result is a 1-minute window of a struct aggregate with its state (about
 * 400 bytes an item). Measured from the first write to the last acknowledgement, median of 3 rounds after a
 * warm-up, each round into a fresh table.
 *
 * Prints `bench results-sink: <x> results/s, sdk <y> results/s, ratio <x/y>` for the default mode ("auto":
 * on-time results through BatchWriteItem), then the same for the "conditional" mode (a conditional PutItem per
 * result, 16 in flight). The baseline (`resultsBaseline.ts`) writes the same items with raw SDK calls and the
 * same concurrency; rounds alternate which side goes first; the ratio is the median of the rounds' ratios.
 *
 * First prints the change-record decoding benchmark (`bench/changeRecord.ts`).
 *
 * Run from the root: `pnpm exec tsx packages/dynamodb/bench/main.ts`.
 * BENCH_RESULTS sets results per round (default 5,000), BENCH_ROUNDS the rounds (3).
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true"

import * as Aggregate from "@tributary/core/Aggregate"
import type { WindowResult } from "@tributary/core/Window"
import * as LocalDynamoDB from "@tributary/local/LocalDynamoDB"
import { DynamoDBClient as SdkDynamoDBClient } from "@aws-sdk/client-dynamodb"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as DynamoDBClient from "../src/DynamoDBClient.js"
import * as ResultsTable from "../src/ResultsTable.js"
import * as ChangeRecordBench from "./changeRecord.js"
import * as ResultsBaseline from "./resultsBaseline.js"

const total = Number(process.env.BENCH_RESULTS ?? 5_000)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const shards = 4
const pageSize = 500

const aggregate = ResultsTable.withState(Aggregate.struct({
  n: Aggregate.count,
  mean: Aggregate.mean,
  min: Aggregate.min,
  max: Aggregate.max
}))
type Value = Aggregate.Aggregate.Output<typeof aggregate>

const makeResults = (count: number): ReadonlyArray<ReadonlyArray<WindowResult<string, Value>>> => {
  let seed = 42
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648
  const byShard: Array<Array<WindowResult<string, Value>>> = Array.from({ length: shards }, () => [])
  for (let i = 0; i < count; i++) {
    const shard = i % shards
    let state = aggregate.empty()
    const n = 1 + Math.floor(random() * 20)
    for (let j = 0; j < n; j++) state = aggregate.add(state, Math.round(random() * 1000) / 10)
    const start = 1_767_225_600_000 + Math.floor(i / (shards * 100)) * 60_000
    byShard[shard].push({
      key: `device-${Math.floor(i / shards) % 100}`,
      start,
      end: start + 60_000,
      value: aggregate.result(state),
      count: n,
      shards: [`shardId-${String(shard).padStart(12, "0")}`],
      firing: "onTime"
    })
  }
  return byShard
}

let tables = 0
const round = (mode: ResultsTable.WriteMode, data: ReadonlyArray<ReadonlyArray<WindowResult<string, Value>>>) =>
  Effect.gen(function*() {
    const sink = yield* ResultsTable.sink<string, Value>({ tableName: `bench-${++tables}`, pipeline: "bench", mode })
    const started = performance.now()
    yield* Effect.forEach(data, (results) =>
      Effect.gen(function*() {
        for (let i = 0; i < results.length; i += pageSize) yield* sink.write(results.slice(i, i + pageSize))
      }), { concurrency: "unbounded", discard: true })
    const seconds = (performance.now() - started) / 1000
    return data.reduce((sum, r) => sum + r.length, 0) / seconds
  })

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const baseline = (client: SdkDynamoDBClient, mode: "auto" | "conditional", data: ReadonlyArray<ReadonlyArray<WindowResult<string, Value>>>) =>
  Effect.gen(function*() {
    const tableName = `bench-${++tables}`
    yield* ResultsTable.ensure(tableName)
    return yield* Effect.promise(() => ResultsBaseline.run(client, tableName, mode, data, pageSize))
  })

const main = Effect.gen(function*() {
  yield* Effect.promise(ChangeRecordBench.run)
  const local = yield* LocalDynamoDB.LocalDynamoDB
  const client = new SdkDynamoDBClient({ ...local.clientConfig })
  const data = makeResults(total)
  for (const mode of ["auto", "conditional"] as const) {
    // warm-up
    yield* round(mode, makeResults(2_000))
    yield* baseline(client, mode, makeResults(2_000))
    const rates: Array<number> = []
    const sdkRates: Array<number> = []
    for (let i = 0; i < rounds; i++) {
      if (i % 2 === 0) {
        rates.push(yield* round(mode, data))
        sdkRates.push(yield* baseline(client, mode, data))
      } else {
        sdkRates.push(yield* baseline(client, mode, data))
        rates.push(yield* round(mode, data))
      }
    }
    const label = mode === "auto" ? "bench results-sink" : "bench results-sink (conditional)"
    const ratio = median(rates.map((rate, i) => rate / sdkRates[i]))
    console.log(
      `${label}: ${Math.round(median(rates))} results/s, sdk ${Math.round(median(sdkRates))} results/s, ratio ${ratio.toFixed(2)}`
    )
  }
  client.destroy()
}).pipe(
  Effect.provide(
    Layer.unwrapEffect(Effect.map(LocalDynamoDB.LocalDynamoDB, (local) => DynamoDBClient.layer({ ...local.clientConfig }))).pipe(
      Layer.provideMerge(LocalDynamoDB.layerDynalite())
    )
  )
)

Effect.runPromise(main).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
