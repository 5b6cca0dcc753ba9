import { BatchWriteItemCommand } from "@aws-sdk/client-dynamodb"
import type { BatchWriteItemCommandOutput } from "@aws-sdk/client-dynamodb"
import { expect, layer } from "@effect/vitest"
import * as Aggregate from "@tributary/core/Aggregate"
import * as DeadLetter from "@tributary/core/DeadLetter"
import * as Decoder from "@tributary/core/Decoder"
import * as Job from "@tributary/core/Job"
import * as MemoryStream from "@tributary/core/MemoryStream"
import * as Pipeline from "@tributary/core/Pipeline"
import type { WindowResult } from "@tributary/core/Window"
import * as Window from "@tributary/core/Window"
import * as FaultProxy from "@tributary/local/FaultProxy"
import * as LocalDynamoDB from "@tributary/local/LocalDynamoDB"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as DynamoDBClient from "../src/DynamoDBClient.js"
import * as DynamoDBDeadLetters from "../src/DynamoDBDeadLetters.js"
import * as DynamoDBRunLog from "../src/DynamoDBRunLog.js"
import * as ItemSink from "../src/ItemSink.js"
import * as ResultsTable from "../src/ResultsTable.js"
import { dynalite, tableName } from "./helpers.js"

const result = <O>(
  key: string,
  start: number,
  value: O,
  count: number,
  options: { readonly shards?: ReadonlyArray<string>; readonly firing?: WindowResult<string, O>["firing"] } = {}
): WindowResult<string, O> => ({
  key,
  start,
  end: start + 60_000,
  value,
  count,
  shards: options.shards ?? ["shardId-000000000000"],
  firing: options.firing ?? "onTime"
})

/** Wraps the SDK client's send: every BatchWriteItem leaves its second half unprocessed, `times` times. */
const leaveUnprocessed = (shape: DynamoDBClient.DynamoDBClientShape, times: number) => {
  const client = shape.client
  const send = client.send.bind(client) as (command: unknown, options?: unknown) => Promise<unknown>
  let left = times
  const calls: Array<number> = []
  const restore = () => void ((client as unknown as { send: typeof send }).send = send)
  ;(client as unknown as { send: typeof send }).send = async (command, options) => {
    if (!(command instanceof BatchWriteItemCommand) || left <= 0) return send(command, options)
    left--
    const [table, requests] = Object.entries(command.input.RequestItems ?? {})[0]
    calls.push(requests.length)
    const half = Math.floor(requests.length / 2)
    const output = half === 0
      ? { $metadata: {} }
      : await send(new BatchWriteItemCommand({ RequestItems: { [table]: requests.slice(0, half) } }), options) as BatchWriteItemCommandOutput
    return { ...output, UnprocessedItems: { [table]: requests.slice(half) } }
  }
  return { calls, restore }
}

layer(dynalite, { excludeTestServices: true })("ResultsTable on dynalite", (it) => {
  it.effect("a re-delivered batch rewrites its items: read back the same", () =>
    Effect.gen(function*() {
      const table = tableName("results")
      const sink = yield* ResultsTable.sink<string, { n: number }>({ tableName: table, pipeline: "p" })
      const batch = Array.from({ length: 60 }, (_, i) => result(`k${i % 3}`, 60_000 * Math.floor(i / 3), { n: i }, i + 1))
      yield* sink.write(batch)
      const first = yield* ResultsTable.scanPartials(table)
      yield* sink.write(batch)
      const second = yield* ResultsTable.scanPartials(table)
      expect(first).toHaveLength(60)
      expect(second.map(({ writtenAt: _, ...rest }) => rest)).toStrictEqual(first.map(({ writtenAt: _, ...rest }) => rest))
      const read = yield* ResultsTable.query({ tableName: table, pipeline: "p", key: "k1", from: 0, to: 60_000 * 5 })
      expect(read.map((r) => [r.start, r.value, r.count])).toStrictEqual([
        [0, { n: 1 }, 2],
        [60_000, { n: 4 }, 5],
        [120_000, { n: 7 }, 8],
        [180_000, { n: 10 }, 11],
        [240_000, { n: 13 }, 14]
      ])
      // 120 results in chunks of 25: 3 calls per write
      expect(yield* sink.stats).toMatchObject({ written: 120, batchCalls: 6, conditionalCalls: 0 })
    }))

  it.effect("an older version never overwrites a newer one", () =>
    Effect.gen(function*() {
      const table = tableName("results")
      for (const mode of ["conditional", "auto"] as const) {
        const sink = yield* ResultsTable.sink<string, string>({ tableName: table, pipeline: mode, mode })
        yield* sink.write([result("a", 0, "update 10", 10, { firing: "update" })])
        yield* sink.write([result("a", 0, "late 12", 12, { firing: "late" })])
        // a replay delivers the older versions again
        yield* sink.write([result("a", 0, "update 10", 10, { firing: "update" })])
        yield* sink.write([result("a", 0, "update 5", 5, { firing: "update" })])
        // the same version again rewrites (idempotent, no failure)
        yield* sink.write([result("a", 0, "late 12", 12, { firing: "late" })])
        const read = yield* ResultsTable.query({ tableName: table, pipeline: mode, key: "a", from: 0, to: 1 })
        expect(read.map((r) => [r.value, r.count])).toStrictEqual([["late 12", 12]])
        expect(yield* sink.stats).toMatchObject({ written: 3, skippedOlder: 2, conditionalCalls: 5 })
      }
      // within one batch the highest count wins (and BatchWriteItem never sees duplicate keys)
      const batch = yield* ResultsTable.sink<string, string>({ tableName: table, pipeline: "batch", mode: "batch" })
      yield* batch.write([result("a", 0, "v3", 3), result("a", 0, "v7", 7), result("a", 0, "v5", 5)])
      const read = yield* ResultsTable.query({ tableName: table, pipeline: "batch", key: "a", from: 0, to: 1 })
      expect(read.map((r) => r.value)).toStrictEqual(["v7"])
      expect(yield* batch.stats).toMatchObject({ written: 1, superseded: 2 })
    }))

  it.effect("UnprocessedItems are sent again until stored", () =>
    Effect.gen(function*() {
      const table = tableName("results")
      const client = yield* DynamoDBClient.DynamoDBClient
      const sink = yield* ResultsTable.sink<string, number>({ tableName: table, pipeline: "p", mode: "batch", retry: { base: "5 millis" } })
      const { calls, restore } = leaveUnprocessed(client, 6)
      const batch = Array.from({ length: 50 }, (_, i) => result(`k${i}`, 0, i, 1))
      yield* sink.write(batch).pipe(Effect.ensuring(Effect.sync(restore)))
      expect(calls.length).toBe(6)
      const stored = yield* ResultsTable.scanPartials<string>(table)
      expect(stored.map((p) => p.value as number).sort((a, b) => a - b)).toStrictEqual(batch.map((r) => r.value))
      const stats = yield* sink.stats
      expect(stats.unprocessedRetries).toBeGreaterThanOrEqual(4)
      // items never processed fail the write (transient) once the retries are spent
      const stubborn = yield* ResultsTable.sink<string, number>({ tableName: table, pipeline: "q", mode: "batch", retry: { base: "1 millis", maxRetries: 2 } })
      const stuck = leaveUnprocessed(client, 100)
      const error = yield* Effect.flip(stubborn.write([result("x", 0, 1, 1), result("y", 0, 1, 1)])).pipe(
        Effect.ensuring(Effect.sync(stuck.restore))
      )
      expect(error).toMatchObject({ _tag: "SinkError", retryability: "transient" })
      expect(error.reason).toContain("unprocessed after 2 retries")
    }))

  it.effect("per-shard partials merged on read equal one pass over all the records", () =>
    Effect.gen(function*() {
      const table = tableName("results")
      const Reading = Schema.Struct({ device: Schema.String, at: Schema.Number, value: Schema.Number })
      const agg = Aggregate.struct({
        n: Aggregate.count,
        sum: Aggregate.sum.pipe(Aggregate.mapInput((r: typeof Reading.Type) => r.value)),
        min: Aggregate.min.pipe(Aggregate.mapInput((r: typeof Reading.Type) => r.value)),
        max: Aggregate.max.pipe(Aggregate.mapInput((r: typeof Reading.Type) => r.value)),
        mean: Aggregate.mean.pipe(Aggregate.mapInput((r: typeof Reading.Type) => r.value)),
        top: Aggregate.topK(3).pipe(Aggregate.mapInput((r: typeof Reading.Type) => String(r.value % 5)))
      })
      const stream = yield* MemoryStream.make({ name: "readings", shards: 4 })
      const start = Date.UTC(2026, 0, 1)
      const readings: Array<typeof Reading.Type> = []
      for (let i = 0; i < 2_000; i++) {
        readings.push({ device: `d${i % 5}`, at: start + i * 150, value: (i * 7919) % 101 })
      }
      // each reading under its own partition key: every device's windows are spread over the shards
      for (let i = 0; i < readings.length; i += 500) {
        yield* stream.put(readings.slice(i, i + 500).map((r, j) => ({ partitionKey: `pk-${i + j}`, data: JSON.stringify(r) })))
      }
      const sink = yield* ResultsTable.sink<string, ResultsTable.WithState<Aggregate.Aggregate.Output<typeof agg>>>({
        tableName: table,
        pipeline: "merge"
      })
      const pipeline = Pipeline.make("merge").pipe(
        Pipeline.decode(Decoder.json(Reading)),
        Pipeline.window({
          window: Window.tumbling("1 minute"),
          key: (r: typeof Reading.Type) => r.device,
          eventTime: (r) => r.at,
          aggregate: ResultsTable.withState(agg)
        }),
        Pipeline.to(sink)
      )
      yield* Pipeline.run(pipeline).pipe(Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layerMemory)))
      for (const device of ["d0", "d3"]) {
        const merged = yield* ResultsTable.query({ tableName: table, pipeline: "merge", key: device, from: start, to: start + 3_600_000, aggregate: agg })
        const windows = new Set(readings.filter((r) => r.device === device).map((r) => Window.lastStart(Window.tumbling("1 minute"), r.at)))
        expect(merged.map((r) => r.start)).toStrictEqual([...windows])
        for (const r of merged) {
          const inside = readings.filter((x) => x.device === device && x.at >= r.start && x.at < r.end)
          let single = agg.empty()
          for (const x of inside) single = agg.add(single, x)
          expect(r.value).toStrictEqual(agg.result(single))
          expect(r.count).toBe(inside.length)
          expect(r.partials).toBeGreaterThan(1)
        }
      }
      // without the aggregate, several partials cannot be merged
      const error = yield* Effect.flip(ResultsTable.query({ tableName: table, pipeline: "merge", key: "d0", from: start, to: start + 60_000 }))
      expect(error._tag).toBe("MergeError")
    }))

  it.effect("a partial superseded by one over more shards is not counted twice", () =>
    Effect.gen(function*() {
      const table = tableName("results")
      const sink = yield* ResultsTable.sink<string, ResultsTable.WithState<number>>({ tableName: table, pipeline: "p", mode: "conditional" })
      const stateful = ResultsTable.withState(Aggregate.count)
      const partial = (n: number, shards: ReadonlyArray<string>) => result("k", 0, stateful.result(n), n, { shards, firing: "update" })
      yield* sink.write([partial(3, ["a"])])
      yield* sink.write([partial(5, ["a", "b"])]) // the same window later, with a second shard: another item
      yield* sink.write([partial(4, ["c"])]) // another worker's shard
      const read = yield* ResultsTable.query({ tableName: table, pipeline: "p", key: "k", from: 0, to: 1, aggregate: Aggregate.count })
      expect(read.map((r) => [r.value, r.count, r.shards, r.partials])).toStrictEqual([[9, 9, ["a", "b", "c"], 2]])
    }))

  it.effect("the item sink puts idempotently", () =>
    Effect.gen(function*() {
      const table = tableName("items")
      const sink = yield* ItemSink.make({
        tableName: table,
        key: (order: { id: string; customer: string; total: number }) => ({ pk: order.customer, sk: order.id })
      })
      const orders = Array.from({ length: 40 }, (_, i) => ({ id: `o${i}`, customer: `c${i % 4}`, total: i * 1.5 }))
      yield* sink.write(orders)
      yield* sink.write(orders.slice(10, 30))
      const dynamodb = yield* DynamoDBClient.DynamoDBClient
      const scanned = yield* dynamodb.scan({ TableName: table })
      expect(scanned.Count).toBe(40)
      expect(yield* ItemSink.get(table, { pk: "c1", sk: "o13" })).toStrictEqual({ id: "o13", customer: "c1", total: 19.5 })
      expect(yield* sink.stats).toMatchObject({ written: 60, batchCalls: 3 })
      const error = yield* Effect.flip(sink.write([{ id: "x", customer: "", total: 0 }]))
      expect(error.retryability).toBe("permanent")
    }))

  it.effect("dead letters round trip, idempotently", () =>
    Effect.gen(function*() {
      const table = tableName("dead")
      const stream = yield* MemoryStream.make({ name: "orders", shards: 2 })
      yield* stream.put([
        { partitionKey: "a", data: `{"n":1}` },
        { partitionKey: "b", data: `not json` },
        { partitionKey: "c", data: `{"n":"x"}` },
        { partitionKey: "d", data: new Uint8Array(400_000).fill(65) }
      ])
      const pipeline = Pipeline.make("dl").pipe(Pipeline.decode(Decoder.json(Schema.Struct({ n: Schema.Number }))))
      const run = Pipeline.run(pipeline).pipe(
        Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DynamoDBDeadLetters.layer({ tableName: table })))
      )
      expect(yield* run).toMatchObject({ recordsIn: 4, deadLettered: 3 })
      yield* run // delivered again: the same items
      const letters = yield* DynamoDBDeadLetters.readAll(table, { pipeline: "dl" })
      expect(letters).toHaveLength(3)
      expect(letters.every((l) => l.stage === "decode" && l.stream === "orders")).toBe(true)
      const big = letters.find((l) => l.partitionKey === "d")!
      expect([big.dataSize, big.data.length, big.dataTruncated]).toStrictEqual([400_000, DynamoDBDeadLetters.maxDataBytes, true])
      const small = letters.find((l) => l.partitionKey === "b")!
      expect([new TextDecoder().decode(small.data), small.dataTruncated]).toStrictEqual(["not json", false])
    }))

  it.effect("a dead letter is never refused for its size: the item is fitted to 400 KB and marks what it cut", () =>
    Effect.gen(function*() {
      const table = tableName("dead")
      const sink = yield* DynamoDBDeadLetters.make({ tableName: table })
      const letter = (partitionKey: string, reason: string, bytes: number): DeadLetter.DeadLetter => ({
        pipeline: "fit",
        stage: "decode",
        reason,
        format: "json",
        stream: "orders",
        shardId: "shardId-000000000000",
        sequenceNumber: String(1000 + bytes),
        subSequenceNumber: 0,
        partitionKey,
        arrivalTime: 0,
        failedAt: 0,
        data: new Uint8Array(bytes).fill(66)
      })
      // a reason as long as a pipeline writes, in characters of 3 UTF-8 bytes; one far longer, written
      // directly; a 1 MiB payload (Kinesis' largest record)
      const longest = "€".repeat(DeadLetter.maxReasonLength)
      yield* sink.write([
        letter("a", longest, 1024 * 1024),
        letter("b", "é".repeat(300_000), 200_000),
        letter("c", "small", 10)
      ])
      const stored = new Map((yield* DynamoDBDeadLetters.readAll(table)).map((l) => [l.partitionKey, l]))
      const a = stored.get("a")!
      expect([a.reason, a.reasonTruncated, a.dataSize, a.dataTruncated]).toStrictEqual([longest, false, 1024 * 1024, true])
      expect(a.data.length).toBe(DynamoDBDeadLetters.maxDataBytes)
      const b = stored.get("b")!
      expect([b.reason, b.reasonTruncated, b.dataSize, b.dataTruncated]).toStrictEqual(["é".repeat(DeadLetter.maxReasonLength), true, 200_000, false])
      expect(stored.get("c")).toMatchObject({ reason: "small", reasonTruncated: false, dataSize: 10, dataTruncated: false })
    }))

  it.scoped("the run log round trip, through Job", () =>
    Effect.gen(function*() {
      const table = tableName("runs")
      const RunLogLive = DynamoDBRunLog.layer({ tableName: table })
      const program = Effect.gen(function*() {
        let calls = 0
        const job = Job.make({
          name: "reaggregate",
          timing: { every: "1 hour" },
          range: (at) => ({ from: at - 3_600_000, to: at }),
          run: (range) => Effect.suspend(() => ++calls === 2 ? Effect.fail("boom") : Effect.succeed((range.to - range.from) / 1000)),
          retry: Schedule.recurs(2)
        })
        const running = yield* Job.start(job)
        const first = yield* running.trigger({ from: 0, to: 60_000 })
        const log = yield* Job.RunLog
        const runs = yield* log.list("reaggregate")
        expect(runs).toStrictEqual([first])
        expect(first).toMatchObject({ outcome: "succeeded", records: 60, attempts: 1, trigger: "manual", range: { from: 0, to: 60_000 } })
        yield* Effect.sleep("2 millis")
        const second = yield* running.trigger({ from: 60_000, to: 120_000 })
        expect(second).toMatchObject({ outcome: "succeeded", attempts: 2 })
        expect((yield* log.list("reaggregate")).map((r) => r.runId)).toStrictEqual([second.runId, first.runId])
        expect(yield* log.list("reaggregate", 1)).toStrictEqual([second])
        expect(yield* log.list("other")).toStrictEqual([])
      })
      yield* program.pipe(Effect.provide(RunLogLive))
    }), 20_000)

  it.scoped("DynamoDB errors become SinkErrors with their retryability (through the fault proxy)", () =>
    Effect.gen(function*() {
      const local = yield* LocalDynamoDB.LocalDynamoDB
      const proxy = yield* FaultProxy.make(local.endpoint)
      const table = tableName("results")
      const client = yield* DynamoDBClient.make({ ...proxy.clientConfig })
      const withProxy = Effect.provideService(DynamoDBClient.DynamoDBClient, client)
      const sink = yield* withProxy(ResultsTable.sink<string, number>({ tableName: table, pipeline: "p", mode: "auto" }))
      yield* proxy.setFaults({ rules: { BatchWriteItem: { throttle: 1 }, PutItem: { internalFailure: 1 } } })
      const throttled = yield* Effect.flip(sink.write([result("a", 0, 1, 1)]))
      expect(throttled).toMatchObject({ _tag: "SinkError", retryability: "transient" })
      expect(throttled.reason).toContain("ProvisionedThroughputExceeded")
      const failed = yield* Effect.flip(sink.write([result("a", 0, 1, 1, { firing: "late" })]))
      expect(failed).toMatchObject({ retryability: "transient" })
      yield* proxy.clearFaults
      yield* sink.write([result("a", 0, 1, 1)])
      // a table that does not exist: permanent
      const missing = yield* withProxy(ResultsTable.sink<string, number>({ tableName: `${table}-missing`, pipeline: "p", createTable: false }))
      const notFound = yield* Effect.flip(missing.write([result("a", 0, 1, 1)]))
      expect(notFound.retryability).toBe("permanent")
    }))
})
