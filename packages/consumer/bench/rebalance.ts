/**
 * Rebalancing, measured on real worker processes (the worker script, tsx) against embedded kinesalite and
 * dynalite: 3 workers on 8 shards with records flowing (~800 records/s), 10 SIGKILLs of a random worker
 * (seeded), each restarted once the others read its shards.
 *
 * - kill-to-first-read: from a SIGKILL to the first record another worker wrote of each shard the victim
 *   held (the crash failover: lease expiry, the take round, the first read).
 * - steal-to-first-read: from a handoff request (a worker that has less than its share asks for a lease:
 *   the restarted worker) to the first record the requester wrote of that shard. The time of the request
 *   is the requester's own (its debug log line `lease asked for`, written once the request is stored).
 *
 * Lease duration 2 s (renewals every 667 ms), take interval 2 s (the default: the lease duration),
 * idle time 200 ms: the bounds are lease + take interval (4 s) for a crash, and a renew interval plus the
 * batch in flight for a handoff.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { closeSync, existsSync, mkdtempSync, openSync, readSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ownership, produce, setup, split, waitUntil } from "../test/helpers.js"
import { seeded, spawnWorker, type WorkerProcess } from "../test/workerProcess.js"

const shards = 8
const workers = 3
const kills = Number(process.env.KILLS ?? 10)
const leaseMillis = 2000
const takeMillis = 2000

/** Every line the workers wrote, per shard and worker: the times, in the order written. */
const outputs = (dir: string) => {
  const offsets = new Map<string, number>()
  const partial = new Map<string, string>()
  const times = new Map<string, Array<number>>()
  const buffer = Buffer.alloc(1 << 20)
  const poll = (file: string) => {
    const path = join(dir, file)
    if (!existsSync(path)) return
    const fd = openSync(path, "r")
    try {
      let offset = offsets.get(file) ?? 0
      let text = partial.get(file) ?? ""
      for (let read = readSync(fd, buffer, 0, buffer.length, offset); read > 0; read = readSync(fd, buffer, 0, buffer.length, offset)) {
        offset += read
        text += buffer.toString("utf8", 0, read)
      }
      offsets.set(file, offset)
      const lines = text.split("\n")
      partial.set(file, lines.pop()!)
      for (const line of lines) {
        if (line.length === 0) continue
        const { at, shard, worker } = JSON.parse(line) as { shard: string; worker: string; at: number }
        const key = `${shard}|${worker}`
        const list = times.get(key)
        if (list === undefined) times.set(key, [at])
        else list.push(at)
      }
    } finally {
      closeSync(fd)
    }
  }
  /** The first time `worker` (or any worker but `not`) wrote a record of `shard` at or after `from`. */
  const firstRead = (shard: string, from: number, who: { readonly worker?: string; readonly not?: string }) => {
    let first: number | undefined
    for (const [key, list] of times) {
      const [s, worker] = key.split("|")
      if (s !== shard || (who.worker !== undefined && worker !== who.worker) || worker === who.not) continue
      const at = list.find((t) => t >= from)
      if (at !== undefined && (first === undefined || at < first)) first = at
    }
    return first
  }
  return { poll, firstRead }
}

const stats = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  return { median: sorted[Math.floor(sorted.length / 2)], max: sorted[sorted.length - 1], count: sorted.length }
}

/** The handoff requests a worker made, from its log: the lease asked for, and when. */
const requestsOf = (worker: string, log: string) =>
  Array.from(
    log.matchAll(/^timestamp=(\S+) level=DEBUG .*message="lease asked for" .*leaseKey=(\S+)/gm),
    ([, at, shard]) => ({ requester: worker, shard, at: Date.parse(at) })
  )

export const rebalance = Effect.gen(function*() {
  const random = seeded(20240617)
  const { store, stream, table } = yield* setup(shards)
  const dir = mkdtempSync(join(tmpdir(), "bench-rebalance-"))
  const out = outputs(dir)
  const files: Array<string> = []

  // traffic on every shard: 80 records every 100 ms
  let produced = 0
  const traffic = yield* Effect.fork(Effect.forever(Effect.zipRight(
    Effect.map(produce(stream, 80, shards, (i) => `r-${produced + i}`), (put) => void (produced += put.length)),
    Effect.sleep("100 millis")
  )))

  let incarnations = 0
  const slots: Array<{ readonly id: string; readonly process: WorkerProcess }> = []
  const start = (slot: number) =>
    Effect.gen(function*() {
      const id = `w${slot}-${++incarnations}`
      files.push(`${id}.jsonl`)
      const process = yield* spawnWorker({
        STREAM: stream,
        LEASE_TABLE: table,
        WORKER_ID: id,
        OUTPUT_FILE: join(dir, `${id}.jsonl`),
        LEASE_DURATION: String(leaseMillis),
        TAKE_INTERVAL: String(takeMillis),
        IDLE_INTERVAL: "200",
        // the requests' times are read from the debug log
        LOG_LEVEL: "Debug"
      })
      slots[slot] = { id, process }
    })
  for (let slot = 0; slot < workers; slot++) yield* start(slot)
  const settled = Effect.map(
    store.list,
    (leases) =>
      leases.every((lease) => lease.owner !== null && lease.handoffTo === undefined) &&
      split(Object.fromEntries(slots.map(({ id }) => [id, leases.filter((l) => l.owner === id).length]))).join() === "2,3,3"
  )
  yield* waitUntil("3 workers settle", settled, 120_000, ownership(store))

  const killToRead: Array<number> = []
  const stealToRead: Array<number> = []
  for (let k = 0; k < kills; k++) {
    const slot = Math.floor(random() * workers)
    const victim = slots[slot]
    const held = (yield* store.list).filter((l) => l.owner === victim.id).map((l) => l.leaseKey)
    const killedAt = yield* Clock.currentTimeMillis
    victim.process.child.kill("SIGKILL")
    yield* victim.process.exited
    // every shard it held is read again by another worker
    const reread = () => {
      for (const file of files) out.poll(file)
      return held.map((shard) => out.firstRead(shard, killedAt, { not: victim.id }))
    }
    yield* waitUntil("the victim's shards read again", Effect.sync(() => reread().every((at) => at !== undefined)), 60_000)
    for (const at of reread()) killToRead.push(at! - killedAt)

    // the restarted worker asks for its share; each request is measured to the requester's first read
    yield* start(slot)
    yield* waitUntil("the restarted worker takes its share", settled, 60_000, ownership(store))
    const requests = slots.flatMap(({ id, process }) => requestsOf(id, process.log())).filter((r) => r.at >= killedAt)
    for (const request of requests) {
      yield* waitUntil("the requester reads", Effect.sync(() => {
        for (const file of files) out.poll(file)
        return out.firstRead(request.shard, request.at, { worker: request.requester }) !== undefined
      }), 10_000).pipe(Effect.catchAllDefect(() => Effect.void))
      const at = out.firstRead(request.shard, request.at, { worker: request.requester })
      // a request whose requester was killed before the handover is a crash, not a steal
      if (at !== undefined) stealToRead.push(at - request.at)
    }
    yield* Effect.sleep(`${500 + Math.floor(random() * 1000)} millis`)
  }
  yield* Fiber.interrupt(traffic)
  for (const { process } of slots) process.child.kill("SIGTERM")
  for (const { process } of slots) yield* process.exited

  const kill = stats(killToRead)
  const steal = stats(stealToRead)
  console.log(
    `rebalance: ${workers} workers, ${shards} shards, ${kills} kills: ${kill.count} shards failed over, ${steal.count} handoffs; ` +
      `lease ${leaseMillis} ms, take interval ${takeMillis} ms, bound for a crash ${leaseMillis + takeMillis} ms + a read`
  )
  // the bench line, in milliseconds
  console.log(
    `bench rebalance: kill-to-first-read median ${kill.median} max ${kill.max}, ` +
      `steal-to-first-read median ${steal.median} max ${steal.max}`
  )
})
