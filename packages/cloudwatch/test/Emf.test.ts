/**
 * EMF lines of a real pipeline run: each line is checked against the structure the Embedded Metric Format
 * specification requires, then parsed back into metric values, which must be the run's counts.
 */
import { describe, expect, it } from "@effect/vitest"
import * as DeadLetter from "@tributary/core/DeadLetter"
import * as Decoder from "@tributary/core/Decoder"
import * as MemoryStream from "@tributary/core/MemoryStream"
import * as Pipeline from "@tributary/core/Pipeline"
import * as RecordSink from "@tributary/core/RecordSink"
import * as SourceTree from "@tributary/core/test-utils/SourceTree"
import { Effect, Layer, Metric, MetricBoundaries, Schema, TestClock } from "effect"
import { CloudWatchMetrics, Emf } from "../src/index.js"

// ---------------------------------------------------------------------------------------------------------
// the specification's structure
// ---------------------------------------------------------------------------------------------------------

const units = new Set([
  "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes", "Bits",
  "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second", "Kilobytes/Second",
  "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second",
  "Gigabits/Second", "Terabits/Second", "Count/Second", "None"
])

/**
 * What is wrong with a line, by the EMF specification: a JSON object whose `_aws` member has a `Timestamp`
 * (epoch milliseconds) and `CloudWatchMetrics`, an array of metric directives, each with a `Namespace`, a
 * `Dimensions` array of dimension sets (arrays of at most 30 names of root members with string values)
 * and `Metrics` (at most 100 definitions, each a `Name` referring to a root member that is a number or an
 * array of at most 100 numbers, an optional `Unit` among CloudWatch's and an optional `StorageResolution`
 * of 1 or 60).
 */
const violations = (line: string): Array<string> => {
  const out: Array<string> = []
  const root = JSON.parse(line) as Record<string, unknown>
  const aws = root._aws as Record<string, unknown> | undefined
  if (typeof aws !== "object" || aws === null) return ["no _aws object"]
  if (typeof aws.Timestamp !== "number" || !Number.isInteger(aws.Timestamp) || aws.Timestamp < 1e12) {
    out.push("Timestamp is not epoch milliseconds")
  }
  if (!Array.isArray(aws.CloudWatchMetrics) || aws.CloudWatchMetrics.length === 0) return [...out, "no CloudWatchMetrics"]
  for (const directive of aws.CloudWatchMetrics as Array<Record<string, unknown>>) {
    if (typeof directive.Namespace !== "string" || directive.Namespace.length === 0 || directive.Namespace.length > 1024) {
      out.push("invalid Namespace")
    }
    if (!Array.isArray(directive.Dimensions)) out.push("Dimensions is not an array")
    else {
      for (const set of directive.Dimensions as Array<unknown>) {
        if (!Array.isArray(set) || set.length > 30) out.push(`invalid dimension set ${JSON.stringify(set)}`)
        else for (const name of set) if (typeof root[name] !== "string") out.push(`dimension ${name} is not a root string`)
      }
    }
    if (!Array.isArray(directive.Metrics) || directive.Metrics.length > 100) out.push("invalid Metrics")
    else {
      for (const metric of directive.Metrics as Array<Record<string, unknown>>) {
        const value = root[metric.Name as string]
        const numbers = Array.isArray(value) ? value : [value]
        if (typeof metric.Name !== "string" || metric.Name.length === 0 || metric.Name.length > 1024) out.push("invalid metric Name")
        if (numbers.length === 0 || numbers.length > 100 || !numbers.every((n) => typeof n === "number" && Number.isFinite(n))) {
          out.push(`metric ${metric.Name} has no valid value: ${JSON.stringify(value)}`)
        }
        if (metric.Unit !== undefined && !units.has(metric.Unit as string)) out.push(`invalid Unit ${metric.Unit}`)
        if (metric.StorageResolution !== undefined && metric.StorageResolution !== 1 && metric.StorageResolution !== 60) {
          out.push("invalid StorageResolution")
        }
      }
    }
  }
  return out
}

interface Parsed {
  readonly namespace: string
  readonly metric: string
  readonly unit: string
  readonly dimensions: string
  readonly values: ReadonlyArray<number>
}

/** The lines back as values, per metric and dimension set (`Name=value,...`), as CloudWatch extracts them. */
const parse = (lines: ReadonlyArray<string>): Array<Parsed> =>
  lines.flatMap((line) => {
    const root = JSON.parse(line)
    return root._aws.CloudWatchMetrics.flatMap((directive: any) =>
      directive.Metrics.flatMap((metric: any) =>
        directive.Dimensions.map((set: Array<string>) => ({
          namespace: directive.Namespace,
          metric: metric.Name,
          unit: metric.Unit,
          dimensions: set.map((name) => `${name}=${root[name]}`).join(","),
          values: [root[metric.Name]].flat()
        }))
      )
    )
  })

const sum = (parsed: ReadonlyArray<Parsed>, metric: string, dimensions: string) =>
  parsed.filter((p) => p.metric === metric && p.dimensions === dimensions).flatMap((p) => p.values).reduce((a, b) => a + b, 0)

// ---------------------------------------------------------------------------------------------------------

const Order = Schema.Struct({ orderId: Schema.String, amount: Schema.Number })

const runOrders = (name: string, data: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const stream = yield* MemoryStream.make({ name: "orders", shards: 1 })
    yield* stream.put(data.map((d, i) => ({ partitionKey: `k${i}`, data: d })))
    const out = yield* RecordSink.memory<typeof Order.Type>("out")
    const pipeline = Pipeline.make(name).pipe(
      Pipeline.decode(Decoder.json(Order)),
      Pipeline.filter((order) => order.amount > 0),
      Pipeline.to(out)
    )
    return yield* Pipeline.run(pipeline).pipe(
      Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layerMemory))
    )
  })

describe("Emf", () => {
  it.effect("a pipeline's counts as EMF lines that follow the specification, and only what changed the next time", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_700_000_000_000)
      const emitter = Emf.make({ properties: { service: "orders-worker" } })
      yield* runOrders("emf-orders", [
        `{"orderId":"a","amount":5}`,
        `{"orderId":"b","amount":0}`,
        `not json`,
        `{"orderId":"c","amount":7}`
      ])
      const first = yield* emitter.lines
      for (const line of first) expect(violations(line)).toStrictEqual([])
      const parsed = parse(first)
      expect(parsed.every((p) => p.namespace === "Tributary")).toBe(true)
      expect(sum(parsed, "RecordsIn", "Pipeline=emf-orders")).toBe(4)
      expect(sum(parsed, "RecordsOut", "Pipeline=emf-orders")).toBe(2)
      expect(sum(parsed, "RecordsDeadLettered", "Pipeline=emf-orders")).toBe(1)
      expect(sum(parsed, "RecordsFiltered", "Pipeline=emf-orders")).toBe(1)
      expect(sum(parsed, "SinkRetries", "Pipeline=emf-orders")).toBe(0)
      // the pipeline's metrics in one line, with its property (late records and retries never happened:
      // the registry has no such series yet)
      const line = JSON.parse(first.find((l) => l.includes(`"Pipeline":"emf-orders"`))!)
      expect(line._aws.Timestamp).toBe(1_700_000_000_000)
      expect(line._aws.CloudWatchMetrics[0].Dimensions).toStrictEqual([["Pipeline"]])
      expect(line._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name).sort()).toStrictEqual(
        ["RecordsDeadLettered", "RecordsFiltered", "RecordsIn", "RecordsOut"]
      )
      expect(line.service).toBe("orders-worker")

      yield* runOrders("emf-orders", [`{"orderId":"d","amount":1}`])
      const second = parse(yield* emitter.lines)
      expect(sum(second, "RecordsIn", "Pipeline=emf-orders")).toBe(1)
      expect(sum(second, "RecordsOut", "Pipeline=emf-orders")).toBe(1)
      expect(sum(second, "RecordsDeadLettered", "Pipeline=emf-orders")).toBe(0)
    }))

  it.effect("gauges per shard under both dimension sets; NaN is left out; leases without the worker id", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_700_000_000_000)
      const emitter = Emf.make({ namespace: "Orders" })
      const lag = Metric.gauge("tributary_kinesis_millis_behind_latest").pipe(Metric.tagged("stream", "emf-lag"))
      yield* Metric.set(Metric.tagged(lag, "shard", "shardId-000000000000"), 1_500)
      yield* Metric.set(Metric.tagged(lag, "shard", "shardId-000000000001"), 40)
      yield* Metric.set(Metric.tagged(lag, "shard", "shardId-000000000002"), NaN)
      const held = Metric.gauge("tributary_leases_held").pipe(Metric.tagged("application", "emf-app"))
      yield* Metric.set(Metric.tagged(held, "worker", "w1"), 2)
      yield* Metric.set(Metric.tagged(held, "worker", "w2"), 1)
      const lines = yield* emitter.lines
      for (const line of lines) expect(violations(line)).toStrictEqual([])
      const parsed = parse(lines).filter((p) => p.namespace === "Orders")
      const lagOf = parsed.filter((p) => p.metric === "MillisBehindLatest" && p.dimensions.startsWith("StreamName=emf-lag"))
      expect(lagOf.map((p) => [p.dimensions, p.values, p.unit]).sort()).toStrictEqual([
        ["StreamName=emf-lag", [1_500], "Milliseconds"],
        ["StreamName=emf-lag", [40], "Milliseconds"],
        ["StreamName=emf-lag,ShardId=shardId-000000000000", [1_500], "Milliseconds"],
        ["StreamName=emf-lag,ShardId=shardId-000000000001", [40], "Milliseconds"]
      ])
      // two workers in one process: two values of one metric (CloudWatch sums them)
      expect(parsed.filter((p) => p.metric === "CurrentLeases" && p.dimensions === "Application=emf-app").map((p) => p.values))
        .toStrictEqual([[2, 1]])
      expect(lines.some((line) => line.includes("WorkerIdentifier") || line.includes("\"w1\""))).toBe(false)
    }))

  it.effect("a histogram's new observations at their buckets' upper bounds, at most 100 values to a line", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_700_000_000_000)
      const emitter = Emf.make()
      const duration = Metric.histogram(
        "tributary_gateway_request_duration_seconds",
        MetricBoundaries.fromIterable([0.01, 0.1, 1])
      ).pipe(Metric.tagged("route", "emf-ingest"))
      for (let i = 0; i < 150; i++) yield* Metric.update(duration, 0.005)
      yield* Metric.update(duration, 0.05)
      yield* Metric.update(duration, 3)
      const lines = yield* emitter.lines
      for (const line of lines) expect(violations(line)).toStrictEqual([])
      const values = parse(lines).filter((p) => p.metric === "GatewayRequestDuration" && p.dimensions === "Route=emf-ingest")
      expect(values.map((p) => p.values.length)).toStrictEqual([100, 52])
      const all = values.flatMap((p) => p.values)
      expect(all.filter((v) => v === 0.01).length).toBe(150)
      expect(all.filter((v) => v === 0.1).length).toBe(1)
      expect(all.filter((v) => v === 3).length).toBe(1)
      expect(values[0].unit).toBe("Seconds")

      yield* Metric.update(duration, 0.5)
      const next = parse(yield* emitter.lines).filter((p) => p.metric === "GatewayRequestDuration" && p.dimensions === "Route=emf-ingest")
      expect(next.map((p) => p.values)).toStrictEqual([[1]])
    }))

  it.effect("layer: writes every interval, and once more when it closes", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_700_000_000_000)
      const written: Array<string> = []
      const retries = Metric.counter("tributary_sink_retries_total", { incremental: true }).pipe(Metric.tagged("pipeline", "emf-layer"))
      const valuesOf = () =>
        written.map((line) => JSON.parse(line)).filter((line) => line.Pipeline === "emf-layer").map((line) => line.SinkRetries)
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Layer.build(Emf.layer({ interval: "1 minute", write: (line) => written.push(line) }))
        yield* Metric.incrementBy(retries, 2)
        yield* TestClock.adjust("1 minute")
        expect(valuesOf()).toStrictEqual([2])
        yield* Metric.incrementBy(retries, 3)
      }))
      expect(valuesOf()).toStrictEqual([2, 3])
    }))

  it("handler: a Lambda handler writes the invocation's metrics, also when it throws, and keeps its members", async () => {
    const written: Array<string> = []
    const counter = Metric.counter("tributary_sink_retries_total", { incremental: true }).pipe(Metric.tagged("pipeline", "emf-lambda"))
    const inner = Object.assign(async (event: { readonly fail: boolean }) => {
      await Effect.runPromise(Metric.increment(counter))
      if (event.fail) throw new Error("boom")
      return "ok"
    }, { dispose: async () => undefined })
    const handler = Emf.handler(inner, { write: (line) => written.push(line) })
    expect(await handler({ fail: false })).toBe("ok")
    await expect(handler({ fail: true })).rejects.toThrow("boom")
    expect(typeof handler.dispose).toBe("function")
    const retries = written.map((line) => JSON.parse(line)).filter((line) => line.Pipeline === "emf-lambda").map((line) => line.SinkRetries)
    expect(retries).toStrictEqual([1, 1])
  })
})

describe("CloudWatchMetrics", () => {
  it("every metric the packages define has a CloudWatch definition, and every definition a metric", () => {
    const defined = SourceTree.occurrences(/Metric\.(?:counter|gauge|histogram|summary|frequency)\(\s*"([^"]+)"/g)
    const missing = [...defined.keys()].filter((name) => CloudWatchMetrics.definitions[name] === undefined)
      .map((name) => `${name} (defined in ${defined.get(name)!.join(", ")}) has no CloudWatch name: add it to definitions in packages/cloudwatch/src/CloudWatchMetrics.ts`)
    const stale = Object.keys(CloudWatchMetrics.definitions).filter((name) => !defined.has(name))
      .map((name) => `${name} is in CloudWatchMetrics.definitions but no package defines it`)
    expect([...missing, ...stale]).toStrictEqual([])
    expect(defined.size).toBeGreaterThan(25)
  })

  it("CloudWatch names are unique, and the names used by alarms and dashboards exist", () => {
    const names = Object.values(CloudWatchMetrics.definitions).map((d) => d.name)
    expect(new Set(names).size).toBe(names.length)
    for (const name of Object.values(CloudWatchMetrics.names)) expect(names).toContain(name)
    for (const definition of Object.values(CloudWatchMetrics.definitions)) {
      const dimensions = new Set(Object.values(definition.dimensions))
      for (const set of definition.dimensionSets) for (const name of set) expect(dimensions.has(name)).toBe(true)
    }
  })
})
