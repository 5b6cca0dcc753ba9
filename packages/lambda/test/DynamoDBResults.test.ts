/**
 * The local runner driving a tumbling-window function whose results go to a DynamoDB results table
 * (`@tributary/dynamodb` ResultsTable on embedded dynalite): every record aggregated exactly once in the
 * table, read back and compared with a direct computation, despite an injected transient write failure.
 */
import { describe, expect, it } from "@effect/vitest"
import { Aggregate, DeadLetter, Decoder, RecordSink } from "@tributary/core"
import { SinkError } from "@tributary/core/TributaryError"
import * as DynamoDBClient from "@tributary/dynamodb/DynamoDBClient"
import * as ResultsTable from "@tributary/dynamodb/ResultsTable"
import * as StreamAdmin from "@tributary/kinesis/StreamAdmin"
import * as LocalDynamoDB from "@tributary/local/LocalDynamoDB"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Lambda from "../src/Lambda.js"
import * as LocalRunner from "../src/LocalRunner.js"
import { capturedLogs, kinesalite, putAll, streamName } from "./helpers.js"

const Order = Schema.Struct({ id: Schema.String, customer: Schema.String, amount: Schema.Number })
type Order = typeof Order.Type

const orders = (n: number) =>
  Array.from({ length: n }, (_, i): Order => ({ id: `o${i}`, customer: `c${i % 13}`, amount: i % 100 }))

const totals = Aggregate.struct({
  n: Aggregate.count,
  total: Aggregate.sum.pipe(Aggregate.mapInput((o: Order) => o.amount)),
  max: Aggregate.max.pipe(Aggregate.mapInput((o: Order) => o.amount))
})
type Totals = Aggregate.Aggregate.Output<typeof totals>
type Result = Lambda.TumblingWindowResult<string, ResultsTable.WithState<Totals>>

const direct = (all: ReadonlyArray<Order>) => {
  const out: Record<string, { n: number; total: number; max: number }> = {}
  for (const o of all) {
    const c = (out[o.customer] ??= { n: 0, total: 0, max: -Infinity })
    c.n++
    c.total += o.amount
    c.max = Math.max(c.max, o.amount)
  }
  return out
}

/** kinesalite and dynalite embedded, with the Kinesis and DynamoDB services talking to them. */
const local = Layer.mergeAll(
  kinesalite,
  Layer.unwrapEffect(Effect.map(LocalDynamoDB.LocalDynamoDB, (l) => DynamoDBClient.layer({ ...l.clientConfig }))).pipe(
    Layer.provideMerge(LocalDynamoDB.layerDynalite())
  )
)

let tables = 0
const tableName = () => `lambda-results-${process.pid}-${++tables}`

/**
 * The results table's sink: each result stored as the partial of its shard and segment (segments of one
 * shard are disjoint parts of the window's input), failing its first `failures` writes with a transient
 * error before anything reaches DynamoDB.
 */
const resultsSink = (name: string, failures: number) =>
  Effect.gen(function*() {
    const table = yield* ResultsTable.sink<string, ResultsTable.WithState<Totals>>({ tableName: name, pipeline: "orders" })
    const state = { failures, failed: 0, writes: 0 }
    const sink = RecordSink.make<Result>(table.name, (results) =>
      Effect.suspend(() => {
        state.writes++
        if (state.failed < state.failures) {
          state.failed++
          return Effect.fail(new SinkError({ sink: table.name, reason: "injected throttling", retryability: "transient" }))
        }
        return table.write(results.map((r) => (r.segment === 0 ? r : { ...r, shards: [`${r.shardId}#${r.segment}`] })))
      }))
    return { sink, state, stats: table.stats }
  })

const runThrough = (options: { readonly maxStateBytes?: number }) =>
  Effect.gen(function*() {
    const stream = streamName()
    const name = tableName()
    yield* StreamAdmin.ensureStream(stream, { shards: 2 })
    const all = orders(10_000)
    yield* putAll(stream, all.map((o) => ({ key: o.customer, data: JSON.stringify(o) })))

    // the first write fails, and so does the in-invocation retry: the invocation reports a failure
    const results = yield* resultsSink(name, 2)
    const logs = capturedLogs()
    const handler = Lambda.tumblingWindowHandler({
      decoder: Decoder.json(Order),
      key: (o) => o.customer,
      aggregate: ResultsTable.withState(totals),
      sink: results.sink,
      layer: Layer.merge(DeadLetter.layerMemory, logs.layer),
      retry: Schedule.recurs(1),
      ...(options.maxStateBytes === undefined ? {} : { maxStateBytes: options.maxStateBytes })
    })
    const summary = yield* LocalRunner.runTumblingWindow(handler, {
      stream,
      batchSize: 1_000,
      tumblingWindow: "15 minutes",
      maximumRetryAttempts: 3
    })
    yield* Effect.promise(() => handler.dispose())

    expect(summary.records).toBe(10_000)
    expect(summary.failedBatches).toEqual([])
    expect(results.state.failed).toBe(2)
    expect(summary.functionErrors + summary.partialFailures).toBeGreaterThanOrEqual(1)

    // read the table back: every item, then one result per customer and window, the partials merged
    const stored = yield* ResultsTable.scanPartials<string>(name, { pipeline: "orders" })
    for (const p of stored) {
      expect(p.count).toBe((p.value as Totals).n)
      expect(p.state).toBeDefined()
    }
    const merged = yield* ResultsTable.merge(stored, totals)
    const got: Record<string, { n: number; total: number; max: number }> = {}
    for (const r of merged) {
      const c = (got[r.key] ??= { n: 0, total: 0, max: -Infinity })
      c.n += r.value.n
      c.total += r.value.total
      c.max = Math.max(c.max, r.value.max ?? -Infinity)
      expect(r.count).toBe(r.value.n)
    }
    expect(got).toEqual(direct(all))
    // the query path gives the same windows as the scan
    const queried = yield* Effect.forEach(
      Object.keys(got),
      (key) => ResultsTable.query({ tableName: name, pipeline: "orders", key, from: 0, to: Date.now() + 3_600_000, aggregate: totals })
    )
    expect(queried.flat().sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.start - b.start))).toEqual(merged)
    return { stored, merged, stats: yield* results.stats }
  })

describe("LocalRunner -> tumblingWindowHandler -> ResultsTable (kinesalite, dynalite)", () => {
  it.scopedLive("10,000 records, a transient write failure: each aggregated exactly once in the DynamoDB table", () =>
    Effect.gen(function*() {
      const { merged, stored } = yield* runThrough({})
      // one partial per shard, customer and window; 13 customers over 2 shards
      expect(stored.every((p) => p.shards.length === 1 && !p.partial.includes("#"))).toBe(true)
      expect(new Set(merged.map((r) => r.key)).size).toBe(13)
      expect(merged.reduce((sum, r) => sum + r.count, 0)).toBe(10_000)
    }).pipe(Effect.provide(local)), 60_000)

  it.scopedLive("windows ended early (state over maxStateBytes): the segments are partials of their own, merged on read", () =>
    Effect.gen(function*() {
      const { merged, stored } = yield* runThrough({ maxStateBytes: 400 })
      expect(stored.some((p) => p.partial.includes("#"))).toBe(true)
      expect(merged.some((r) => r.partials > 2)).toBe(true)
      expect(merged.reduce((sum, r) => sum + r.count, 0)).toBe(10_000)
    }).pipe(Effect.provide(local)), 60_000)
})
