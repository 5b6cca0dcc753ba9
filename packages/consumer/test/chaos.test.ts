/**
 * Chaos: three worker processes (the real worker script) consume 50,000 records produced while they run,
 * while workers are SIGKILLed and restarted at random (seeded) and a shard is split mid-run. Afterwards:
 * nothing lost, per-key order within each delivery run, children only after their parent, and the
 * duplicates and failover times reported. Skip with TRIBUTARY_SKIP_CHAOS=1.
 */
import { expect, layer } from "@effect/vitest"
import { Producer, StreamAdmin } from "@tributary/kinesis"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { emulators, setup, waitUntil } from "./helpers.js"
import { deliveries, missingFrom, seeded, spawnWorker, type WorkerProcess } from "./workerProcess.js"

const skip = process.env.TRIBUTARY_SKIP_CHAOS === "1"
const seed = Number(process.env.TRIBUTARY_CHAOS_SEED ?? 20240611)

const records = 50_000
const keys = 200
const chunk = 500
/** Between chunks of the producer: 50,000 records in ~25 s. */
const chunkPauseMillis = 250
const workers = 3
const minKills = 5
const leaseMillis = 1500
const takeMillis = 500

interface Item {
  readonly key: number
  readonly counter: number
}

/** Record `i` is key `k<i % 200>`, the key's `i / 200`-th record. */
const itemOf = (i: number): Item => ({ key: i % keys, counter: Math.floor(i / keys) })
const dataOf = (item: Item) => `k${item.key}:${item.counter}`

interface Kill {
  readonly slot: number
  readonly worker: string
  readonly at: number
  /** The shards its leases covered just before the kill. */
  readonly shards: ReadonlyArray<string>
}

layer(emulators, { excludeTestServices: true, timeout: 150_000 })("chaos: worker processes killed and restarted, a split", (it) => {
  it.scoped.skipIf(skip)(
    "50,000 records, 3 workers SIGKILLed and restarted at random, one split: nothing lost, per-key order within each delivery run",
    () =>
      Effect.gen(function*() {
        const random = seeded(seed)
        const { stream, store, table } = yield* setup(4)
        const dir = mkdtempSync(join(tmpdir(), "consumer-chaos-"))
        const started = yield* Clock.currentTimeMillis

        // ---- the workers: slot i runs incarnation `w<i>-<n>` writing to `w<i>-<n>.jsonl` ----
        let incarnations = 0
        const slots: Array<{ readonly id: string; readonly process: WorkerProcess }> = []
        const start = (slot: number) =>
          Effect.map(
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
                  IDLE_INTERVAL: "200",
                  LOG_LEVEL: "Warning"
                }),
                (process) => ({ id, process })
              )
            }),
            (worker) => void (slots[slot] = worker)
          )
        for (let slot = 0; slot < workers; slot++) yield* start(slot)

        // ---- the producer: in order per key (one PutRecords in flight), a split halfway ----
        const producer = yield* Producer.make<Item>({
          stream,
          partitionKey: (item) => `k${item.key}`,
          data: dataOf,
          concurrency: 1
        })
        let splitAt: number | undefined
        let splitShard: { readonly parent: string; readonly children: ReadonlyArray<string> } | undefined
        const production = yield* Effect.fork(Effect.gen(function*() {
          for (let from = 0; from < records; from += chunk) {
            if (from === records / 2) {
              const open = (yield* StreamAdmin.listShards(stream)).filter((s) => !StreamAdmin.isClosed(s))
              const parent = open[Math.floor(random() * open.length)].shardId
              splitAt = yield* Clock.currentTimeMillis
              const children = yield* StreamAdmin.splitShard(stream, parent)
              splitShard = { parent, children: children.map((c) => c.shardId) }
            }
            yield* producer.write(Array.from({ length: Math.min(chunk, records - from) }, (_, j) => itemOf(from + j)))
            yield* Effect.sleep(`${chunkPauseMillis} millis`)
          }
          yield* producer.flush
        }))

        // ---- the chaos: a SIGKILL every 2-4 s of a random worker, restarted 0-1 s later ----
        const kills: Array<Kill> = []
        const chaos = yield* Effect.fork(Effect.gen(function*() {
          while (kills.length < minKills || production.unsafePoll() === null) {
            yield* Effect.sleep(`${2000 + Math.floor(random() * 2000)} millis`)
            const slot = Math.floor(random() * workers)
            const victim = slots[slot]
            const leases = yield* store.list
            const shards = leases.filter((l) => l.owner === victim.id && l.checkpoint !== "SHARD_END").map((l) => l.leaseKey)
            const at = yield* Clock.currentTimeMillis
            victim.process.child.kill("SIGKILL")
            yield* victim.process.exited
            kills.push({ slot, worker: victim.id, at, shards })
            yield* Effect.sleep(`${Math.floor(random() * 1000)} millis`)
            yield* start(slot)
          }
        }))

        yield* Fiber.join(production)
        const producedAt = yield* Clock.currentTimeMillis
        const stats = yield* producer.stats
        expect(stats.records).toBe(records)
        expect(stats.failedRecords).toBe(0)
        // a retried entry could overtake the ones after it: the order checks below assume none
        expect(stats.retriedEntries).toBe(0)
        yield* Fiber.join(chaos)

        // ---- everything delivered ----
        const expected = new Set(Array.from({ length: records }, (_, i) => dataOf(itemOf(i))))
        const drained = yield* waitUntil(
          "every record delivered",
          Effect.sync(() => missingFrom(dir, expected) === 0),
          60_000,
          Effect.sync(() => ({ missing: missingFrom(dir, expected), logs: slots.map((s) => s.process.log().slice(-2000)) }))
        )
        const ended = yield* Clock.currentTimeMillis

        // ---- the checks ----
        const { all, disorder, runs } = deliveries(dir)
        expect(disorder).toEqual([])
        const unexpected = all.filter((line) => !expected.has(line.data))
        expect(unexpected).toEqual([])

        // the split's children were processed only after the parent's last record
        expect(splitShard).toBeDefined()
        const { children, parent } = splitShard!
        const parentLast = Math.max(...all.filter((l) => l.shard === parent).map((l) => l.at))
        const childFirst = Math.min(...all.filter((l) => children.includes(l.shard)).map((l) => l.at))
        expect(all.some((l) => children.includes(l.shard))).toBe(true)
        expect(parentLast).toBeLessThanOrEqual(childFirst)

        // failover: from a kill to the first record another incarnation wrote of each shard the victim held
        const failovers: Array<number> = []
        for (const kill of kills) {
          for (const shard of kill.shards) {
            const next = all.filter((l) => l.shard === shard && l.worker !== kill.worker && l.at >= kill.at)
            if (next.length > 0) failovers.push(Math.min(...next.map((l) => l.at)) - kill.at)
          }
        }
        failovers.sort((a, b) => a - b)
        expect(kills.length).toBeGreaterThanOrEqual(minKills)

        const duplicates = all.length - records
        console.log(
          `chaos (seed ${seed}): ${records} records over ${keys} keys produced in ${Math.round((producedAt - started) / 1000)} s ` +
            `(split of ${parent} at ${Math.round((splitAt! - started) / 1000)} s), ${kills.length} SIGKILLs ` +
            `(at ${kills.map((k) => `${Math.round((k.at - started) / 100) / 10}s:${k.worker}[${k.shards.length}]`).join(", ")}), ` +
            `${incarnations} incarnations; all delivered ${drained} ms after the last restart (${Math.round((ended - started) / 1000)} s in all); ` +
            `${all.length} lines, ${duplicates} duplicates (${(100 * duplicates / records).toFixed(1)}%), ${runs} delivery runs; ` +
            `failover (kill to next record of each shard held): ${failovers.length > 0 ? `min ${failovers[0]} ms, median ${failovers[Math.floor(failovers.length / 2)]} ms, max ${failovers[failovers.length - 1]} ms` : "none measured"}; ` +
            `parent's last record ${childFirst - parentLast} ms before the children's first`
        )
      }),
    // ~40 s on an idle machine; processes are spawned, so a test timeout of its own, with room for a busy one
    { timeout: 600_000 }
  )
})
