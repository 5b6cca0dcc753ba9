/**
 * Consumer throughput and failover on embedded kinesalite + dynalite (real SDK over loopback HTTP):
 * a pre-filled 8-shard stream read to the end by 1 worker, then (on a fresh lease table) by 2 workers;
 * then the time a graceful stop takes to hand 4 shards to the other worker; then rebalancing with worker
 * processes killed and restarted (bench/rebalance.ts).
 *
 *   pnpm --filter @tributary/consumer bench      (or: tsx packages/consumer/bench/main.ts)
 *
 * RECORDS (default 40000) sets the stream's size; BENCH=rebalance runs the rebalancing bench alone. Then
 * (unless BENCH=rebalance) `bench latency` (./latency.ts): the polling and the fan-out reader on kinesis-mock.
 *
 * Then `bench consumer-drain` and `bench consumer-live` (`consumerDrain.ts`, `consumerLive.ts`): the
 * `Consumer` against a plain SDK loop, each side and each emulator in a process of its own, alternating
 * rounds, medians. BENCH_DRAIN_RECORDS (200,000), BENCH_DRAIN_ROUNDS (3), BENCH_LIVE_RATE (4,000),
 * BENCH_LIVE_SECONDS (20), BENCH_LIVE_ROUNDS (3); BENCH_ONLY=drain|live runs only that one.
 */
import * as DeadLetter from "@tributary/core/DeadLetter"
import * as LeaseStore from "@tributary/core/LeaseStore"
import * as Pipeline from "@tributary/core/Pipeline"
import * as RecordSink from "@tributary/core/RecordSink"
import { DynamoDBLeaseStore } from "@tributary/dynamodb"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Scope from "effect/Scope"
import * as Consumer from "../src/Consumer.js"
import * as ConsumerDrain from "./consumerDrain.js"
import * as ConsumerLive from "./consumerLive.js"
import { emulators, ownership, produce, setup, uniqueName, waitUntil } from "../test/helpers.js"
import { latency } from "./latency.js"
import { rebalance } from "./rebalance.js"

const records = Number(process.env.RECORDS ?? 40_000)

const program = Effect.gen(function*() {
  if (process.env.BENCH === "rebalance") return yield* rebalance
  const { stream } = yield* setup(8)
  const t0 = yield* Clock.currentTimeMillis
  yield* produce(stream, records, 8)
  console.log(`filled ${stream}: ${records} records on 8 shards in ${(yield* Clock.currentTimeMillis) - t0} ms`)

  const consume = (workers: number) =>
    Effect.gen(function*() {
      const store = yield* DynamoDBLeaseStore.make({ tableName: uniqueName("bench") })
      let delivered = 0
      const sink = RecordSink.make<unknown>("count", (items) => Effect.sync(() => void (delivered += items.length)))
      const pipeline = Pipeline.make("bench").pipe(Pipeline.to(sink))
      const scope = yield* Scope.make()
      const start = yield* Clock.currentTimeMillis
      for (let i = 0; i < workers; i++) {
        yield* Consumer.make(pipeline, {
          stream,
          workerId: `w${i}`,
          initialPosition: "TRIM_HORIZON",
          leaseDuration: "2 seconds",
          takeInterval: "500 millis",
          reader: { idleInterval: "100 millis", maxCallsPerSecond: 1000 }
        }).pipe(Scope.extend(scope), Effect.provideService(LeaseStore.LeaseStore, store))
      }
      yield* waitUntil("all delivered", Effect.sync(() => delivered >= records), 300_000)
      const took = (yield* Clock.currentTimeMillis) - start
      yield* Scope.close(scope, Exit.void)
      return Math.round(records / (took / 1000))
    })

  const one = yield* consume(1)
  const two = yield* consume(2)
  console.log(`bench consume: ${one} rec/s with 1 worker, ${two} rec/s with 2 workers`)

  // graceful failover: two workers on 8 shards, one stops
  const store = yield* DynamoDBLeaseStore.make({ tableName: uniqueName("failover") })
  const pipeline = Pipeline.make("failover").pipe(Pipeline.to(RecordSink.drain))
  const scopes = [yield* Scope.make(), yield* Scope.make()]
  for (const [i, scope] of scopes.entries()) {
    yield* Consumer.make(pipeline, {
      stream,
      workerId: `f${i}`,
      initialPosition: "TRIM_HORIZON",
      leaseDuration: "2 seconds",
      takeInterval: "1 second",
      reader: { idleInterval: "100 millis" }
    }).pipe(Scope.extend(scope), Effect.provideService(LeaseStore.LeaseStore, store))
  }
  yield* waitUntil("4/4", Effect.map(ownership(store), (c) => c.f0 === 4 && c.f1 === 4), 60_000)
  const stopAt = yield* Clock.currentTimeMillis
  yield* Scope.close(scopes[0], Exit.void)
  const stopped = (yield* Clock.currentTimeMillis) - stopAt
  const taken = yield* waitUntil("f1 holds 8", Effect.map(ownership(store), (c) => c.f1 === 8), 60_000)
  console.log(
    `bench failover (lease 2 s, take interval 1 s): graceful stop ${stopped} ms, shards taken by the other worker ${taken} ms later`
  )
  yield* Scope.close(scopes[1], Exit.void)
  yield* rebalance
})

const only = process.env.BENCH_ONLY
const rebalanceOnly = process.env.BENCH === "rebalance"
const numberOf = (name: string, fallback: number) => Number(process.env[name] ?? fallback)

const main = async () => {
  if (only === undefined) {
    await Effect.runPromise(
      program.pipe(Effect.scoped, Effect.provide(emulators), Effect.provide(DeadLetter.layerMemory), Logger.withMinimumLogLevel(LogLevel.Warning))
    )
    if (!rebalanceOnly) await Effect.runPromise(latency)
  }
  if (rebalanceOnly) return
  if (only === undefined || only === "drain") {
    console.log(await ConsumerDrain.run({
      records: numberOf("BENCH_DRAIN_RECORDS", 200_000),
      rounds: numberOf("BENCH_DRAIN_ROUNDS", 3)
    }))
  }
  if (only === undefined || only === "live") {
    console.log(await ConsumerLive.run({
      rate: numberOf("BENCH_LIVE_RATE", 4_000),
      seconds: numberOf("BENCH_LIVE_SECONDS", 20),
      rounds: numberOf("BENCH_LIVE_ROUNDS", 3)
    }))
  }
}

main().then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
