/**
 * The PutMetricData publisher against a local HTTP endpoint that speaks CloudWatch's JSON 1.0 protocol and
 * records every call (test-utils/LocalEndpoint.ts). The SDK client is the real one.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Metric, MetricBoundaries, Schedule } from "effect"
import { MetricPublisher } from "../src/index.js"
import * as LocalEndpoint from "../test-utils/LocalEndpoint.js"

const endpoint = LocalEndpoint.make

type Call = LocalEndpoint.MetricCall

const client = (url: string) =>
  MetricPublisher.layerClient({
    endpoint: url,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 1
  })

const noRetry = Schedule.recurs(0) as Schedule.Schedule<unknown, MetricPublisher.CloudWatchError>

describe("MetricPublisher", () => {
  it.scoped("publishes increases in batches of at most 1,000 data, under the namespace, with the definitions' dimensions", () =>
    Effect.gen(function*() {
      const server = yield* endpoint()
      // 600 shards: 1,200 data (each shard's value under [StreamName] and [StreamName, ShardId])
      const records = Metric.counter("tributary_kinesis_read_records_total", { incremental: true }).pipe(
        Metric.tagged("stream", "pub-orders")
      )
      for (let i = 0; i < 600; i++) {
        yield* Metric.incrementBy(Metric.tagged(records, "shard", `shardId-${String(i).padStart(12, "0")}`), i + 1)
      }
      const publisher = yield* MetricPublisher.make({ namespace: "Orders" }).pipe(Effect.provide(client(server.url)))
      const sent = yield* publisher.publish
      const mine = (calls: ReadonlyArray<Call>) =>
        calls.flatMap((call) => call.body.MetricData).filter((d) => d.Dimensions?.[0]?.Value === "pub-orders")
      expect(mine(server.metricCalls)).toHaveLength(1_200)
      expect(sent).toBeGreaterThanOrEqual(1_200)
      expect(server.metricCalls.length).toBeGreaterThanOrEqual(2)
      for (const call of server.metricCalls) {
        expect(call.target).toBe("GraniteServiceVersion20100801.PutMetricData")
        expect(call.body.Namespace).toBe("Orders")
        expect(call.body.MetricData.length).toBeLessThanOrEqual(1_000)
      }
      const shard7 = mine(server.metricCalls).filter((d) => d.Dimensions?.length === 2 && d.Dimensions[1].Value === "shardId-000000000007")
      expect(shard7).toStrictEqual([expect.objectContaining({
        MetricName: "RecordsProcessed",
        Dimensions: [{ Name: "StreamName", Value: "pub-orders" }, { Name: "ShardId", Value: "shardId-000000000007" }],
        Unit: "Count",
        StorageResolution: 60,
        Value: 8
      })])
      const byStream = mine(server.metricCalls).filter((d) => d.Dimensions?.length === 1)
      expect(byStream.reduce((total, d) => total + d.Value!, 0)).toBe((600 * 601) / 2)

      // the next round sends only the increase
      yield* Metric.incrementBy(Metric.tagged(records, "shard", "shardId-000000000007"), 5)
      const before = server.metricCalls.length
      yield* publisher.publish
      const next = mine(server.metricCalls.slice(before)).filter((d) => d.Dimensions?.length === 2 && d.Value !== 0)
      expect(next.map((d) => [d.Dimensions![1].Value, d.Value])).toStrictEqual([["shardId-000000000007", 5]])
    }))

  it.scoped("histograms as Values and Counts", () =>
    Effect.gen(function*() {
      const server = yield* endpoint()
      const duration = Metric.histogram("tributary_gateway_request_duration_seconds", MetricBoundaries.fromIterable([0.01, 0.1, 1]))
        .pipe(Metric.tagged("route", "pub-ingest"))
      for (const v of [0.002, 0.003, 0.05, 7]) yield* Metric.update(duration, v)
      const publisher = yield* MetricPublisher.make().pipe(Effect.provide(client(server.url)))
      yield* publisher.publish
      const data = server.metricCalls.flatMap((c) => c.body.MetricData).filter((d) => d.Dimensions?.[0]?.Value === "pub-ingest")
      expect(data).toStrictEqual([expect.objectContaining({
        MetricName: "GatewayRequestDuration",
        Unit: "Seconds",
        Values: [0.01, 0.1, 7],
        Counts: [2, 1, 1]
      })])
    }))

  it.scoped("a throttled round keeps its data and sends them with the next; a permanent refusal is not retried", () =>
    Effect.gen(function*() {
      const server = yield* endpoint({ failures: 1 })
      const dead = Metric.counter("tributary_records_dead_lettered_total", { incremental: true }).pipe(Metric.tagged("pipeline", "pub-dl"))
      yield* Metric.incrementBy(dead, 3)
      const publisher = yield* MetricPublisher.make({ retry: noRetry }).pipe(Effect.provide(client(server.url)))
      const failed = yield* Effect.flip(publisher.publish)
      expect(failed.retryability).toBe("transient")
      expect([failed.reason, failed.awsName]).toStrictEqual(["Throttled", "Throttling"])
      expect(yield* publisher.pending).toBeGreaterThan(0)
      yield* Metric.incrementBy(dead, 2)
      yield* publisher.publish
      expect(yield* publisher.pending).toBe(0)
      const values = server.metricCalls.flatMap((c) => c.body.MetricData).filter((d) => d.Dimensions?.[0]?.Value === "pub-dl")
        .map((d) => d.Value)
      expect(values).toStrictEqual([3, 2])

      const refusing = yield* endpoint({ failures: 5, errorType: "InvalidParameterValue" })
      const other = yield* MetricPublisher.make().pipe(Effect.provide(client(refusing.url)))
      const refused = yield* Effect.flip(other.publish)
      expect(refused.retryability).toBe("permanent")
      expect(refusing.refused).toHaveLength(1)
    }))

  it.scoped("the layer publishes once more when it closes", () =>
    Effect.gen(function*() {
      const server = yield* endpoint()
      const retries = Metric.counter("tributary_sink_retries_total", { incremental: true }).pipe(Metric.tagged("pipeline", "pub-layer"))
      yield* Metric.incrementBy(retries, 4)
      // built, then closed at once: no round ran in between
      yield* Effect.scoped(Layer.build(MetricPublisher.layer({ interval: "1 hour" }).pipe(Layer.provide(client(server.url)))))
      const values = server.metricCalls.flatMap((c) => c.body.MetricData).filter((d) => d.Dimensions?.[0]?.Value === "pub-layer")
        .map((d) => d.Value)
      expect(values).toStrictEqual([4])
    }))
})
