/**
 * The worker script as real processes (tsx) against the emulators embedded in this test process, over
 * loopback: a SIGTERM hands the shards over (released at once), a SIGKILL's once their leases expired (how
 * long each took is printed, not asserted).
 */
import { expect, layer } from "@effect/vitest"
import * as DeadLetter from "@tributary/core/DeadLetter"
import * as LeaseStore from "@tributary/core/LeaseStore"
import * as Pipeline from "@tributary/core/Pipeline"
import * as RecordSink from "@tributary/core/RecordSink"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Consumer from "../src/Consumer.js"
import { emulators, ownership, produce, setup, waitUntil } from "./helpers.js"
import { runScript, spawnWorker } from "./workerProcess.js"

const leaseMillis = 1000
const takeMillis = 500
const timing = { LEASE_DURATION: String(leaseMillis), TAKE_INTERVAL: String(takeMillis), IDLE_INTERVAL: "50" }

const lines = (file: string): ReadonlyArray<string> =>
  existsSync(file) ? readFileSync(file, "utf8").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l).data as string) : []

layer(emulators, { excludeTestServices: true, timeout: 90_000 })("worker processes (tsx) on the embedded emulators", (it) => {
  it.scoped("SIGTERM hands the shards over (released); SIGKILL's are taken once their leases expired", () =>
    Effect.gen(function*() {
      const { stream, store, table } = yield* setup(4)
      const dir = mkdtempSync(join(tmpdir(), "consumer-"))
      const produced = [...yield* produce(stream, 2000, 4)]
      const sink = yield* RecordSink.memory<SourceRecord>()
      const scope = yield* Scope.make()
      yield* Consumer.make(Pipeline.make("local").pipe(Pipeline.to(sink)), {
        stream,
        workerId: "local",
        initialPosition: "TRIM_HORIZON",
        leaseDuration: `${leaseMillis} millis`,
        takeInterval: `${takeMillis} millis`,
        reader: { idleInterval: "50 millis", maxRecords: 200 }
      }).pipe(
        Scope.extend(scope),
        Effect.provideService(LeaseStore.LeaseStore, store),
        Effect.provide(DeadLetter.layerMemory)
      )
      yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))

      // a graceful stop
      const a = yield* spawnWorker({ ...timing, STREAM: stream, LEASE_TABLE: table, WORKER_ID: "a", OUTPUT_FILE: join(dir, "a.jsonl") })
      yield* waitUntil("a takes its share", Effect.map(ownership(store), (c) => c.a === 2 && c.local === 2), 30_000, Effect.sync(a.log))
      const termAt = yield* Clock.currentTimeMillis
      a.child.kill("SIGTERM")
      const code = yield* a.exited
      const exitedAfter = (yield* Clock.currentTimeMillis) - termAt
      const handedOver = yield* waitUntil("local holds 4 after SIGTERM", Effect.map(ownership(store), (c) => c.local === 4), 10_000)
      expect(code).toBe(0)

      // a crash
      produced.push(...yield* produce(stream, 1000, 4, (i) => `c-${i}`))
      const b = yield* spawnWorker({ ...timing, STREAM: stream, LEASE_TABLE: table, WORKER_ID: "b", OUTPUT_FILE: join(dir, "b.jsonl") })
      yield* waitUntil("b takes its share", Effect.map(ownership(store), (c) => c.b === 2 && c.local === 2), 30_000, Effect.sync(b.log))
      yield* Effect.sleep("300 millis")
      const killAt = yield* Clock.currentTimeMillis
      b.child.kill("SIGKILL")
      yield* b.exited
      const taken = yield* waitUntil("local holds 4 after SIGKILL", Effect.map(ownership(store), (c) => c.local === 4), 10_000)
      const killedAfter = (yield* Clock.currentTimeMillis) - killAt

      produced.push(...yield* produce(stream, 1000, 4, (i) => `d-${i}`))
      const deliveredSet = () =>
        Effect.map(sink.items, (items) => new Set([...items.map((r) => Buffer.from(r.data).toString("utf8")), ...lines(join(dir, "a.jsonl")), ...lines(join(dir, "b.jsonl"))]))
      yield* waitUntil("every record delivered", Effect.map(deliveredSet(), (set) => produced.every((d) => set.has(d))), 30_000)
      const total = (yield* sink.items).length + lines(join(dir, "a.jsonl")).length + lines(join(dir, "b.jsonl")).length
      console.log(
        `processes: SIGTERM'd worker exited (code ${code}) in ${exitedAfter} ms, its shards were held by the other ` +
          `${handedOver} ms after; SIGKILL'd worker's shards taken ${killedAfter} ms after the kill ` +
          `(bound ${leaseMillis + 2 * takeMillis} ms); ${produced.length} records delivered, ${total - produced.length} duplicates`
      )
      // a killed worker's leases are taken once they expired, not before (how long after is measured, above)
      expect(taken).toBeGreaterThanOrEqual(leaseMillis - 300)

      // the lease-table script shows every shard, its owner and its checkpoint
      const viewer = yield* runScript("leases.ts", { LEASE_TABLE: table, STREAM: stream })
      expect(viewer.code).toBe(0)
      for (const shardId of (yield* store.list).map((lease) => lease.leaseKey)) {
        expect(viewer.output).toMatch(new RegExp(`${shardId}\\s+local\\b`))
      }
    }), 180_000)
})
