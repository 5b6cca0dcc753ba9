/**
 * Workers as fibers of this process, on embedded kinesalite and dynalite (the real SDK over HTTP), with a
 * live clock and a 1 s lease: balance, graceful handoff, a zombie's checkpoint, poison records.
 */
import { expect, layer } from "@effect/vitest"
import * as Aggregate from "@tributary/core/Aggregate"
import * as DeadLetter from "@tributary/core/DeadLetter"
import * as Decoder from "@tributary/core/Decoder"
import * as LeaseStore from "@tributary/core/LeaseStore"
import * as Pipeline from "@tributary/core/Pipeline"
import * as RecordSink from "@tributary/core/RecordSink"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import * as Poison from "@tributary/core/test-utils/Poison"
import type { WindowResult } from "@tributary/core/Window"
import * as Window from "@tributary/core/Window"
import { DynamoDBDeadLetters } from "@tributary/dynamodb"
import { Kinesis } from "@tributary/kinesis"
import * as KinesisMetrics from "@tributary/kinesis/Metrics"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Consumer from "../src/Consumer.js"
import * as LeaseCoordinator from "../src/LeaseCoordinator.js"
import { emulators, hashKeyOf, ownership, produce, setup, split, waitUntil } from "./helpers.js"

const timing = {
  leaseDuration: "1 second",
  takeInterval: "500 millis",
  restartDelay: "200 millis",
  shutdownTimeout: "10 seconds"
} as const
const leaseMillis = 1000

/** Starts a worker in its own scope; `stop` closes the scope (a graceful shutdown). */
const startWorker = <A, R>(
  pipeline: Pipeline.Pipeline<A, R>,
  store: LeaseStore.LeaseStoreShape,
  deadLetters: RecordSink.RecordSink<DeadLetter.DeadLetter>,
  options: Consumer.Options
) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    // a failed test stops its workers too
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const consumer = yield* Consumer.make(pipeline, { initialPosition: "TRIM_HORIZON", ...timing, ...options }).pipe(
      Scope.extend(scope),
      Effect.provideService(LeaseStore.LeaseStore, store),
      Effect.provideService(DeadLetter.DeadLetterSink, deadLetters)
    )
    return { consumer, stop: Scope.close(scope, Exit.void) }
  })

/** A worker's shard exits as the metric counts them. */
const exitMetrics = (stream: string, worker: string) =>
  Effect.forEach(["Finished", "Stopped", "HandedOver", "LeaseLost", "Failed", "Interrupted"] as const, (exit) =>
    Effect.map(
      Metric.value(Consumer.metrics.shardExits.pipe(
        Metric.tagged("stream", stream),
        Metric.tagged("worker", worker),
        Metric.tagged("exit", exit)
      )),
      (state) => [exit, state.count] as const
    )).pipe(Effect.map(Object.fromEntries))

const dataOf = (records: ReadonlyArray<SourceRecord>) => records.map((r) => Buffer.from(r.data).toString("utf8"))

layer(emulators, { excludeTestServices: true, timeout: 60_000 })("Consumer (kinesalite + dynalite, live clock)", (it) => {
  it.scoped("3 workers settle to 3/3/2 on 8 shards; a 4th joining takes its share (2/2/2/2)", () =>
    Effect.gen(function*() {
      const { store, stream } = yield* setup(8)
      const sink = yield* RecordSink.memory<SourceRecord>()
      const dead = yield* RecordSink.memory<DeadLetter.DeadLetter>()
      const pipeline = Pipeline.make("balance").pipe(Pipeline.to(sink))
      const workers = []
      for (const id of ["w1", "w2", "w3"]) {
        workers.push(yield* startWorker(pipeline, store, dead, { stream, workerId: id, reader: { idleInterval: "100 millis" } }))
      }
      const three = yield* waitUntil(
        "3 workers split 8 shards 3/3/2",
        Effect.map(ownership(store), (c) => c[""] === undefined && split(c).join() === "2,3,3"),
        20_000,
        ownership(store)
      )
      workers.push(yield* startWorker(pipeline, store, dead, { stream, workerId: "w4", reader: { idleInterval: "100 millis" } }))
      const four = yield* waitUntil(
        "4 workers split 8 shards 2/2/2/2",
        Effect.map(ownership(store), (c) => split(c).join() === "2,2,2,2"),
        20_000,
        ownership(store)
      )
      console.log(`balance: 3 workers settled 3/3/2 in ${three} ms; a 4th took its share (2/2/2/2) in ${four} ms`)
      // every worker runs one shard fiber per lease it holds
      // (a worker whose lease was stolen finds out at its next renewal)
      yield* waitUntil(
        "every worker runs 2 shards",
        Effect.map(Effect.forEach(workers, (w) => w.consumer.shards), (all) => all.every((shards) => shards.length === 2)),
        5_000
      )
      for (const worker of workers) yield* worker.stop
      expect(yield* ownership(store)).toStrictEqual({ "": 8 })
    }))

  it.scoped("a worker shut down gracefully releases its shards to the other, losing no record", () =>
    Effect.gen(function*() {
      const { store, stream } = yield* setup(4)
      const sink = yield* RecordSink.memory<SourceRecord>()
      const dead = yield* RecordSink.memory<DeadLetter.DeadLetter>()
      const pipeline = Pipeline.make("handoff").pipe(Pipeline.to(sink))
      const produced = [...yield* produce(stream, 2000, 4, (i) => `a-${i}`)]
      const options = { stream, reader: { idleInterval: "50 millis", maxRecords: 100 } } as const
      const w1 = yield* startWorker(pipeline, store, dead, { ...options, workerId: "w1" })
      const w2 = yield* startWorker(pipeline, store, dead, { ...options, workerId: "w2" })
      yield* waitUntil("2/2", Effect.map(ownership(store), (c) => c.w1 === 2 && c.w2 === 2), 20_000, ownership(store))
      yield* waitUntil("w1 runs 2 shards", Effect.map(w1.consumer.shards, (shards) => shards.length === 2), 5_000)
      // records keep coming while w1 stops
      const more = yield* Effect.fork(produce(stream, 3000, 4, (i) => `b-${i}`))
      yield* Effect.sleep("300 millis")
      const stopStart = yield* Clock.currentTimeMillis
      yield* w1.stop
      const stopped = yield* Clock.currentTimeMillis
      const taken = yield* waitUntil("w2 holds 4", Effect.map(ownership(store), (c) => c.w2 === 4), 10_000, ownership(store))
      produced.push(...yield* more)
      const delivered = yield* waitUntil(
        "every record delivered",
        Effect.map(sink.items, (items) => new Set(dataOf(items)).size >= produced.length),
        30_000,
        Effect.map(sink.items, (items) => ({ delivered: new Set(dataOf(items)).size, produced: produced.length }))
      )
      const items = dataOf(yield* sink.items)
      const seen = new Set(items)
      expect(produced.filter((d) => !seen.has(d))).toStrictEqual([])
      console.log(
        `graceful handoff: w1 stopped in ${stopped - stopStart} ms (batches finished, checkpointed, leases released); ` +
          `w2 held its 4 shards ${taken} ms later; ${produced.length} records delivered (+${items.length - seen.size} duplicates) ` +
          `${delivered} ms after`
      )
      // the stopped worker checkpointed its last batch before it let go: nothing produced from the stop on
      // was read twice (the balancing steals before it may have re-read a batch: at-least-once)
      const late = items.filter((d) => d.startsWith("b-"))
      expect(late.length - new Set(late).size).toBe(0)
      const exits = yield* w1.consumer.exits
      expect(exits.Stopped).toBeGreaterThanOrEqual(2)
      expect(exits).toMatchObject({ Failed: 0, Interrupted: 0 })
      expect(yield* exitMetrics(stream, "w1")).toStrictEqual(exits)
      // the coordinator's metrics, tagged with the stream as the application by default
      const leases = <T, I, O>(metric: Metric.Metric<T, I, O>, reason?: string) => {
        const tagged = metric.pipe(Metric.tagged("application", stream), Metric.tagged("worker", "w1"))
        return Metric.value(reason === undefined ? tagged : Metric.tagged(tagged, "reason", reason))
      }
      expect((yield* leases(LeaseCoordinator.metrics.held)).value).toBe(0)
      expect((yield* leases(LeaseCoordinator.metrics.released, "shutdown")).count).toBe(2)
      yield* w2.stop
      // nobody reads the shards in this process any more: their lag gauges have no value, not a stale one
      for (let i = 0; i < 4; i++) {
        const shard = `shardId-00000000000${i}`
        for (const gauge of [KinesisMetrics.reader.millisBehindLatest, KinesisMetrics.reader.iteratorAge]) {
          const { value } = yield* Metric.value(gauge.pipe(Metric.tagged("stream", stream), Metric.tagged("shard", shard)))
          expect(value, shard).toBeNaN()
        }
      }
    }))

  it.scoped("a handoff stores the checkpoint still waiting for its interval before the lease passes: the thief reads nothing twice", () =>
    Effect.gen(function*() {
      const { store, stream } = yield* setup(2)
      const sink = yield* RecordSink.memory<SourceRecord>()
      const dead = yield* RecordSink.memory<DeadLetter.DeadLetter>()
      const pipeline = Pipeline.make("pending").pipe(Pipeline.to(sink))
      const produced = yield* produce(stream, 400, 2)
      // only the first batch's checkpoint of each shard is written while w1 reads: the rest waits an hour
      const reader = { idleInterval: "50 millis", maxRecords: 20 } as const
      const w1 = yield* startWorker(pipeline, store, dead, { stream, workerId: "w1", reader, checkpointInterval: "1 hour" })
      yield* waitUntil("w1 read everything", Effect.map(sink.items, (items) => items.length >= produced.length), 20_000)
      const behind = yield* Effect.map(store.list, (leases) => leases.filter((l) => l.owner === "w1"))
      expect(behind).toHaveLength(2)
      const w2 = yield* startWorker(pipeline, store, dead, { stream, workerId: "w2", reader })
      yield* waitUntil("1/1", Effect.map(ownership(store), (c) => c.w1 === 1 && c.w2 === 1), 20_000, ownership(store))
      yield* waitUntil("w1's shard handed over", Effect.map(w1.consumer.exits, (e) => e.HandedOver === 1), 10_000)
      const [handed] = (yield* store.list).filter((l) => l.owner === "w2")
      const read = (yield* sink.items).filter((r) => r.shardId === handed.leaseKey)
      // the handed-over lease's checkpoint is the last record w1 processed of it, not its first batch's
      expect(typeof handed.checkpoint !== "string" && handed.checkpoint.sequenceNumber).toBe(read.at(-1)!.sequenceNumber)
      // w2 reads on after that checkpoint: what comes next, and nothing w1 read
      const more = yield* produce(stream, 40, 2, (i) => `more-${i}`)
      yield* waitUntil(
        "the new records delivered",
        Effect.map(sink.items, (items) => new Set(dataOf(items)).size >= produced.length + more.length),
        20_000
      )
      expect(dataOf(yield* sink.items)).toHaveLength(produced.length + more.length)
      expect(yield* w1.consumer.exits).toMatchObject({ HandedOver: 1, Failed: 0, LeaseLost: 0 })
      yield* w2.stop
      yield* w1.stop
    }))

  it.scoped("balancing throughput, the worker publishes each shard's load as it read it, with the renewals", () =>
    Effect.gen(function*() {
      const { store, stream } = yield* setup(2)
      const dead = yield* RecordSink.memory<DeadLetter.DeadLetter>()
      const pipeline = Pipeline.make("load").pipe(Pipeline.to(RecordSink.drain))
      // every record in the upper half of the hash space: shard 1
      const produced = yield* produce(stream, 1_000, 1)
      const bytes = produced.reduce((sum, data) => sum + Buffer.byteLength(data), 0)
      yield* startWorker(pipeline, store, dead, { stream, workerId: "w1", balance: "bytes", reader: { idleInterval: "50 millis" } })
      const loads = Effect.map(store.list, (leases) => Object.fromEntries(leases.map((lease) => [lease.leaseKey, lease.load])))
      yield* waitUntil(
        "both leases carry a load, the busy one above 0",
        Effect.map(loads, (l) => l["shardId-000000000001"] !== undefined && l["shardId-000000000001"].recordsPerSecond > 0 && l["shardId-000000000000"] !== undefined),
        10_000,
        loads
      )
      const published = yield* loads
      expect(published["shardId-000000000000"]).toStrictEqual({ recordsPerSecond: 0, bytesPerSecond: 0 })
      // as many bytes per record as produced (each rate has three significant digits)
      const busy = published["shardId-000000000001"]!
      expect(busy.bytesPerSecond / busy.recordsPerSecond).toBeCloseTo(bytes / produced.length, 0)
    }))

  it.scoped("a zombie (paused past its lease) cannot checkpoint after another worker took the lease", () =>
    Effect.gen(function*() {
      const { store, stream } = yield* setup(1)
      const produced = yield* produce(stream, 100, 1)
      // the zombie: its renewals reach nobody while paused (the counter stands still), and its first
      // batch hangs in the sink until resumed
      let paused = false
      const zombieStore: LeaseStore.LeaseStoreShape = {
        ...store,
        renew: (held) =>
          paused
            ? Effect.flatMap(store.get(held.leaseKey), (lease) =>
              Effect.succeed({ ...Option_getOrThrow(lease), owner: held.owner, counter: held.counter }))
            : store.renew(held),
        checkpoint: (held, checkpoint) =>
          store.checkpoint(held, checkpoint).pipe(Effect.tapError((error) => Effect.sync(() => refused.push(error._tag))))
      }
      const refused: Array<string> = []
      const entered = yield* Deferred.make<void>()
      const resume = yield* Deferred.make<void>()
      const zombieSink = RecordSink.make<SourceRecord>("zombie", () =>
        Effect.zipRight(Deferred.succeed(entered, undefined), Deferred.await(resume)))
      const dead = yield* RecordSink.memory<DeadLetter.DeadLetter>()
      const zombie = yield* startWorker(Pipeline.make("zombie").pipe(Pipeline.to(zombieSink)), zombieStore, dead, {
        stream,
        workerId: "zombie",
        reader: { idleInterval: "50 millis", maxRecords: 10 }
      })
      yield* Deferred.await(entered)
      paused = true
      const pausedAt = yield* Clock.currentTimeMillis
      const sink = yield* RecordSink.memory<SourceRecord>()
      const next = yield* startWorker(Pipeline.make("next").pipe(Pipeline.to(sink)), store, dead, {
        stream,
        workerId: "next",
        reader: { idleInterval: "50 millis", maxRecords: 10 }
      })
      const last = yield* Effect.map(store.get("shardId-000000000000"), Option_getOrThrow)
      expect(last.owner).toBe("zombie")
      yield* waitUntil(
        "the new owner processed and checkpointed everything",
        Effect.map(
          Effect.zip(store.list, sink.items),
          ([[lease], items]) =>
            lease.owner === "next" && items.length >= produced.length && typeof lease.checkpoint !== "string" &&
            lease.checkpoint.sequenceNumber === items.at(-1)!.sequenceNumber
        ),
        20_000
      )
      const takenAfter = (yield* Clock.currentTimeMillis) - pausedAt
      const [before] = yield* store.list
      // resumed: the batch completes and its checkpoint goes to the table with the zombie's old counter
      yield* Deferred.succeed(resume, undefined)
      yield* waitUntil("the zombie's shard fiber stops", Effect.map(zombie.consumer.exits, (e) => e.LeaseLost === 1), 10_000)
      const [after] = yield* store.list
      expect(refused).toStrictEqual(["LeaseLost"])
      console.log(`zombie: lease taken ${takenAfter} ms after the pause; the zombie's checkpoint failed (LeaseLost)`)
      expect(takenAfter).toBeGreaterThanOrEqual(leaseMillis)
      expect(after.owner).toBe("next")
      // the new owner's checkpoint is untouched: the zombie's (after its first 10 records) was refused
      expect(LeaseStore.checkpointEquals(after.checkpoint, before.checkpoint)).toBe(true)
      expect(typeof after.checkpoint !== "string" && after.checkpoint.sequenceNumber).toBe(
        (yield* sink.items).at(-1)!.sequenceNumber
      )
      expect(yield* zombie.consumer.shards).toStrictEqual([])
      yield* zombie.stop
      yield* next.stop
    }))

  it.scoped("poison: an undecodable and a rejected record among 10,000 go to dead letters, the rest to the sink", () =>
    Effect.gen(function*() {
      const { store, stream } = yield* setup(2)
      const produced = yield* produce(stream, 10_000, 2, (i) => i === 1234 ? "not json" : JSON.stringify({ n: i }))
      expect(produced.length).toBe(10_000)
      const sink = yield* RecordSink.memory<{ readonly n: number }>()
      yield* sink.rejectWhen((value) => value.n === 4321, "n 4321 is not welcome")
      const dead = yield* RecordSink.memory<DeadLetter.DeadLetter>()
      const pipeline = Pipeline.make("poison").pipe(
        Pipeline.decode(Decoder.json(Schema.Struct({ n: Schema.Number }))),
        Pipeline.to(sink)
      )
      const started = yield* Clock.currentTimeMillis
      const worker = yield* startWorker(pipeline, store, dead, { stream, workerId: "w1", reader: { idleInterval: "50 millis", maxRecords: 1000 } })
      yield* waitUntil("9,998 values in the sink", Effect.map(sink.items, (items) => items.length >= 9_998), 30_000)
      const took = (yield* Clock.currentTimeMillis) - started
      const letters = yield* dead.items
      expect(letters.map((l) => l.stage).sort()).toStrictEqual(["decode", "sink:memory"])
      expect(letters.map((l) => Buffer.from(l.data).toString("utf8")).sort()).toStrictEqual(["not json", JSON.stringify({ n: 4321 })])
      const values = new Set((yield* sink.items).map((v) => v.n))
      expect(values.size).toBe(9_998)
      expect(values.has(1234) || values.has(4321)).toBe(false)
      // the shards moved past the poison: each is checkpointed at its last record
      yield* waitUntil("checkpoints at the ends", Effect.map(store.list, (leases) =>
        leases.every((lease) => typeof lease.checkpoint !== "string")), 10_000)
      expect(yield* worker.consumer.exits).toMatchObject({ Failed: 0 })
      console.log(`poison: 10,000 records, 2 dead letters, 9,998 delivered in ${took} ms`)
      yield* worker.stop
    }))
})

layer(emulators, { excludeTestServices: true, timeout: 120_000 })("Consumer: no record stalls a shard", (it) => {
  it.scoped("one poison record of each kind among good ones: the good aggregated, each poison dead-lettered once, no shard restarted", () =>
    Effect.gen(function*() {
      const shards = 2
      const { store, stream } = yield* setup(shards)
      const start = 1_700_000_000_000
      const good = (i: number) => JSON.stringify({ key: `c${i % 5}`, at: start + i * 10, n: i % 100 })
      const at = start + 5_000
      // records that must be dead letters, each of another kind
      const poison: ReadonlyArray<readonly [string, string | Uint8Array]> = [
        ["unclosed nesting", "[".repeat(6250)],
        ["nesting in a field", `{"key":${"[".repeat(100_000)}${"]".repeat(100_000)},"at":${at},"n":1}`],
        ["event time 1e999", `{"key":"k","at":1e999,"n":1}`],
        ["event time 1e16", `key,at,n\nk,1e16,1`],
        ["event time -1e16", `Customer: k\nUnix ms: -1e16\nCount: 1`],
        ["NaN text", `<e key="k"><at>NaN</at><n>1</n></e>`],
        ["huge issue list", `[${Array.from({ length: 40_000 }, () => `{"n":"x"}`).join(",")}]`],
        ["empty", ""],
        ["BOM only", "\ufeff"],
        ["random bytes", new Uint8Array(Array.from({ length: 64 }, (_, i) => (i * 97 + 13) % 256))],
        ["invalid UTF-8", new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d])],
        ["truncated", good(3).slice(0, 20)],
        ["1 MiB, unterminated", `{"key":"${"k".repeat(1024 * 1024 - 300)}`],
        ["a map that throws", JSON.stringify({ key: "k", at, n: -13 })],
        ["an aggregate that throws", JSON.stringify({ key: "k", at, n: 1, bad: true })]
      ]
      // hostile but valid: processed like any other, no prototype set
      const hostile = [
        `{"__proto__":{"polluted":true},"key":"c1","at":${at},"n":1}`,
        `key,at,n,constructor\nc2,${at},1,x`
      ]
      const kinesis = yield* Kinesis.Kinesis
      const put = (data: string | Uint8Array, i: number) =>
        kinesis.putRecords({
          StreamName: stream,
          Records: [{ Data: typeof data === "string" ? Buffer.from(data) : data, PartitionKey: `p${i}`, ExplicitHashKey: hashKeyOf(i % shards, shards) }]
        })
      let index = 0
      const goodCount = 1_000
      yield* produce(stream, goodCount / 2, shards, good)
      for (const [, data] of poison) yield* put(data, index++)
      for (const data of hostile) yield* put(data, index++)
      yield* produce(stream, goodCount / 2, shards, (i) => good(goodCount / 2 + i))
      // far ahead on every shard: every earlier window closes
      for (let i = 0; i < shards; i++) yield* put(JSON.stringify({ key: "flush", at: start + 3_600_000, n: 0 }), i)

      const table = `dead-${stream}`
      const dynamoLetters = yield* DynamoDBDeadLetters.make({ tableName: table })
      const written = new Map<string, number>()
      const deadLetters = RecordSink.make<DeadLetter.DeadLetter>("counting", (letters) =>
        Effect.tap(dynamoLetters.write(letters), () =>
          Effect.sync(() => {
            for (const l of letters) written.set(`${l.shardId}/${l.sequenceNumber}`, (written.get(`${l.shardId}/${l.sequenceNumber}`) ?? 0) + 1)
          })))
      let polluted = 0
      const results = yield* RecordSink.memory<WindowResult<string, number>>()
      const pipeline = Pipeline.make("poison-kinds").pipe(
        Pipeline.decode(Decoder.auto(Poison.OpenEvent, { aliases: Poison.aliases })),
        Pipeline.map((event) => {
          if (Object.getPrototypeOf(event) !== Object.prototype) polluted++
          if (event.n === -13) throw new RangeError("-13 is unlucky")
          return event
        }),
        Pipeline.window({
          window: Window.tumbling("1 minute"),
          key: (event) => event.key,
          eventTime: (event) => event.at,
          aggregate: Aggregate.sum.pipe(Aggregate.mapInput((event: typeof Poison.OpenEvent.Type) =>
            event.bad === true ? (event.bad as unknown as number) : 1))
        }),
        Pipeline.to(results)
      )
      const worker = yield* startWorker(pipeline, store, deadLetters, {
        stream,
        workerId: "w1",
        reader: { idleInterval: "50 millis", maxRecords: 100 },
        // dead letters are counted exactly: a lease lapsing on a busy machine (1 s) would have the shard
        // read again from its last checkpoint, as at-least-once delivery allows
        leaseDuration: "30 seconds"
      })
      const aggregated = Effect.map(results.items, (items) =>
        items.filter((r) => r.key !== "flush").reduce((sum, r) => sum + r.value, 0))
      yield* waitUntil("every good record aggregated", Effect.map(aggregated, (n) => n >= goodCount + hostile.length), 60_000, aggregated)
      yield* waitUntil("every poison record dead-lettered", Effect.sync(() => written.size >= poison.length), 30_000)
      expect(yield* aggregated).toBe(goodCount + hostile.length)
      expect(polluted).toBe(0)
      // each poison record once, and nothing else
      expect([...written.values()]).toStrictEqual(poison.map(() => 1))
      const stored = yield* DynamoDBDeadLetters.readAll(table)
      expect(stored.length).toBe(poison.length)
      const sizes = stored.map((l) => l.dataSize).sort((a, b) => a - b)
      expect(sizes).toStrictEqual(poison.map(([, data]) => typeof data === "string" ? Buffer.byteLength(data) : data.length).sort((a, b) => a - b))
      expect(stored.map((l) => l.stage).sort()).toStrictEqual([...Array(10).fill("decode"), "map", ...Array(4).fill("window")].sort())
      // no shard failed or was restarted, no lease lost
      expect(yield* worker.consumer.exits).toMatchObject({ Failed: 0, LeaseLost: 0 })
      const failed = yield* Metric.value(Consumer.metrics.shardExits.pipe(
        Metric.tagged("stream", stream),
        Metric.tagged("worker", "w1"),
        Metric.tagged("exit", "Failed")
      ))
      expect(failed.count).toBe(0)
      console.log(`poison kinds: ${poison.length} poison records dead-lettered once among ${goodCount} good ones, no shard restarted`)
      yield* worker.stop
    }))
})

const Option_getOrThrow = <A>(option: import("effect/Option").Option<A>): A => {
  if (option._tag === "None") throw new Error("no lease")
  return option.value
}
