/**
 * Enhanced fan-out across worker processes on kinesis-mock (the must-show): two worker processes
 * (the real worker script, READER=fan-out) read a 4-shard stream through one stream consumer while 20,000
 * records are produced; one worker is SIGKILLed and restarted, and a shard is split halfway. Afterwards:
 * every record delivered, per-key order within each delivery run, the split's children after their
 * parent; the figures are printed. Skip with TRIBUTARY_SKIP_CHAOS=1; FAN_OUT_RECORDS sets the count.
 */
import { expect, layer } from "@effect/vitest"
import { Kinesis, Producer, StreamAdmin, StreamConsumer } from "@tributary/kinesis"
import { DynamoDBClient } from "@tributary/dynamodb"
import * as LocalDynamoDB from "@tributary/local/LocalDynamoDB"
import * as LocalKinesis from "@tributary/local/LocalKinesis"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ownership, setup, uniqueName, waitUntil } from "./helpers.js"
import { deliveries, missingFrom, spawnWorker, type WorkerProcess } from "./workerProcess.js"

const skip = process.env.TRIBUTARY_SKIP_CHAOS === "1"

const records = Number(process.env.FAN_OUT_RECORDS ?? 20_000)
const keys = 200
const chunk = 500
const leaseMillis = 3000
const takeMillis = 1000

/** kinesis-mock (behind its HTTP/2 proxy) and dynalite, with the client services. */
const emulators = Layer.mergeAll(
  Layer.unwrapEffect(Effect.map(LocalKinesis.LocalKinesis, (local) => Kinesis.layer({ ...local.clientConfig }))),
  Layer.unwrapEffect(Effect.map(LocalDynamoDB.LocalDynamoDB, (local) => DynamoDBClient.layer({ ...local.clientConfig })))
).pipe(Layer.provideMerge(Layer.mergeAll(LocalKinesis.layerKinesisMock(), LocalDynamoDB.layerDynalite())))

interface Item {
  readonly key: number
  readonly counter: number
}

/** Record `i` is key `k<i % 200>`, the key's `i / 200`-th record. */
const itemOf = (i: number): Item => ({ key: i % keys, counter: Math.floor(i / keys) })
const dataOf = (item: Item) => `k${item.key}:${item.counter}`

layer(emulators, { excludeTestServices: true, timeout: 120_000 })("fan-out worker processes on kinesis-mock", (it) => {
  it.scoped.skipIf(skip)(
    `${records} records over 4 shards, 2 workers reading with enhanced fan-out, one SIGKILLed and restarted, a split: ` +
      "every record delivered, per-key order kept",
    () =>
      Effect.gen(function*() {
        const { stream, store, table } = yield* setup(4)
        const consumerName = uniqueName("fan-out")
        const dir = mkdtempSync(join(tmpdir(), "consumer-fan-out-"))
        const started = yield* Clock.currentTimeMillis

        let incarnations = 0
        const slots: Array<{ readonly id: string; readonly process: WorkerProcess }> = []
        const start = (slot: number) =>
          Effect.suspend(() => {
            const id = `w${slot}-${++incarnations}`
            return Effect.map(
              spawnWorker({
                STREAM: stream,
                LEASE_TABLE: table,
                WORKER_ID: id,
                OUTPUT_FILE: join(dir, `${id}.jsonl`),
                LEASE_DURATION: String(leaseMillis),
                TAKE_INTERVAL: String(takeMillis),
                READER: "fan-out",
                CONSUMER_NAME: consumerName,
                LOG_LEVEL: "Warning"
              }),
              (process) => void (slots[slot] = { id, process })
            )
          })
        yield* start(0)
        yield* start(1)
        yield* waitUntil(
          "both workers hold shards",
          Effect.map(ownership(store), (counts) => (counts[slots[0].id] ?? 0) > 0 && (counts[slots[1].id] ?? 0) > 0),
          120_000,
          Effect.sync(() => slots.map((s) => s.process.log().slice(-2000)))
        )

        // ---- the producer: in order per key (one PutRecords in flight), a split halfway, a kill at 30% ----
        const producer = yield* Producer.make<Item>({ stream, partitionKey: (item) => `k${item.key}`, data: dataOf, concurrency: 1 })
        let split: { readonly at: number; readonly parent: string; readonly children: ReadonlyArray<string> } | undefined
        let kill: { readonly at: number; readonly worker: string; readonly shards: ReadonlyArray<string> } | undefined
        const production = yield* Effect.fork(Effect.gen(function*() {
          for (let from = 0; from < records; from += chunk) {
            if (from === Math.floor(records * 0.3 / chunk) * chunk) {
              const victim = slots[0]
              const shards = (yield* store.list).filter((l) => l.owner === victim.id && l.checkpoint !== "SHARD_END").map((l) => l.leaseKey)
              kill = { at: yield* Clock.currentTimeMillis, worker: victim.id, shards }
              victim.process.child.kill("SIGKILL")
              yield* victim.process.exited
              yield* Effect.sleep("1 second")
              yield* start(0)
            }
            if (from === Math.floor(records / 2 / chunk) * chunk) {
              const at = yield* Clock.currentTimeMillis
              const children = yield* StreamAdmin.splitShard(stream, "shardId-000000000001")
              split = { at, parent: "shardId-000000000001", children: children.map((c) => c.shardId) }
            }
            yield* producer.write(Array.from({ length: Math.min(chunk, records - from) }, (_, j) => itemOf(from + j)))
          }
          yield* producer.flush
        }))
        yield* Fiber.join(production)
        const producedAt = yield* Clock.currentTimeMillis
        const stats = yield* producer.stats
        expect([stats.records, stats.failedRecords, stats.retriedEntries]).toEqual([records, 0, 0])

        // ---- everything delivered ----
        const expected = new Set(Array.from({ length: records }, (_, i) => dataOf(itemOf(i))))
        const drained = yield* waitUntil(
          "every record delivered",
          Effect.sync(() => missingFrom(dir, expected) === 0),
          240_000,
          Effect.sync(() => ({ missing: missingFrom(dir, expected), logs: slots.map((s) => s.process.log().slice(-3000)) }))
        )
        const ended = yield* Clock.currentTimeMillis

        // ---- the checks: per-key order within each delivery run, no unexpected data, children after parent ----
        const { all, disorder, runs } = deliveries(dir)
        expect(disorder).toEqual([])
        expect(all.filter((line) => !expected.has(line.data))).toEqual([])
        expect(split).toBeDefined()
        const { children, parent } = split!
        const parentLast = Math.max(...all.filter((l) => l.shard === parent).map((l) => l.at))
        const childFirst = Math.min(...all.filter((l) => children.includes(l.shard)).map((l) => l.at))
        expect(all.some((l) => children.includes(l.shard))).toBe(true)
        expect(parentLast).toBeLessThanOrEqual(childFirst)
        // every worker read through the one consumer
        const consumer = yield* StreamConsumer.describe(stream, consumerName)
        expect(consumer?.status).toBe("ACTIVE")

        expect(kill!.shards.length).toBeGreaterThan(0)
        const failovers = kill!.shards.flatMap((shard) => {
          const next = all.filter((l) => l.shard === shard && l.worker !== kill!.worker && l.at >= kill!.at)
          return next.length === 0 ? [] : [Math.min(...next.map((l) => l.at)) - kill!.at]
        })
        const duplicates = all.length - records
        console.log(
          `fan-out on kinesis-mock: ${records} records over ${keys} keys and 4 shards produced in ${Math.round((producedAt - started) / 1000)} s ` +
            `(${Math.round(records / ((producedAt - started) / 1000))} rec/s), split of ${parent} at ${Math.round((split!.at - started) / 1000)} s, ` +
            `SIGKILL of ${kill!.worker} (holding ${kill!.shards.length} shards) at ${Math.round((kill!.at - started) / 1000)} s, restarted 1 s later; ` +
            `all delivered ${drained} ms after the last put (${Math.round((ended - started) / 1000)} s in all); ${all.length} lines, ` +
            `${duplicates} duplicates (${(100 * duplicates / records).toFixed(1)}%), ${runs} delivery runs; ` +
            `kill to the next record of each shard the victim held: ${failovers.sort((a, b) => a - b).join(", ")} ms`
        )
      }),
    { timeout: 600_000 }
  )
})
