/**
 * One consumer run on kinesalite and dynalite with tracing on, its spans collected by an in-memory
 * exporter: the batch is a trace of its own (processing, sink writes, dead letters, checkpoint), linked
 * to the shard's span; lease rounds are traces of their own with a span per lease operation.
 */
import { expect, layer } from "@effect/vitest"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Consumer } from "@tributary/consumer"
import * as DeadLetter from "@tributary/core/DeadLetter"
import * as Decoder from "@tributary/core/Decoder"
import * as Pipeline from "@tributary/core/Pipeline"
import * as RecordSink from "@tributary/core/RecordSink"
import { DynamoDBClient, DynamoDBLeaseStore } from "@tributary/dynamodb"
import { Kinesis, StreamAdmin } from "@tributary/kinesis"
import * as Environment from "@tributary/local/Environment"
import * as LocalDynamoDB from "@tributary/local/LocalDynamoDB"
import * as LocalKinesis from "@tributary/local/LocalKinesis"
import { Effect, Layer, Schema } from "effect"
import { Tracing } from "../src/index.js"

const emulators = Layer.mergeAll(
  Layer.unwrapEffect(Effect.map(LocalKinesis.LocalKinesis, (local) => Kinesis.layer({ ...local.clientConfig }))),
  Layer.unwrapEffect(Effect.map(LocalDynamoDB.LocalDynamoDB, (local) => DynamoDBClient.layer({ ...local.clientConfig })))
).pipe(Layer.provideMerge(Layer.mergeAll(LocalKinesis.layerKinesalite(), LocalDynamoDB.layerDynalite())))

/** The SDK's in-memory exporter, but its spans outlive the layer (shutting the exporter down empties it). */
class RecordingExporter extends InMemorySpanExporter {
  override shutdown(): Promise<void> {
    return Promise.resolve()
  }
}

const Order = Schema.Struct({ orderId: Schema.String, amount: Schema.Number })

/** Runs a worker over `stream` until the sink holds `expected` orders, with the given tracing layer. */
const runWorker = (stream: string, table: string, expected: number, tracing: Layer.Layer<never>) =>
  Effect.gen(function*() {
    const orders = yield* RecordSink.memory<typeof Order.Type>("orders")
    const letters = yield* RecordSink.memory<DeadLetter.DeadLetter>("dead-letters")
    const pipeline = Pipeline.make("orders").pipe(Pipeline.decode(Decoder.json(Order)), Pipeline.to(orders))
    yield* Effect.scoped(Effect.gen(function*() {
      yield* Consumer.make(pipeline, { stream, initialPosition: "TRIM_HORIZON", workerId: "worker-1" })
      while ((yield* orders.items).length < expected) yield* Effect.sleep("20 millis")
    })).pipe(
      Effect.provide(Layer.mergeAll(DynamoDBLeaseStore.layer({ tableName: table }), DeadLetter.layer(letters))),
      Effect.provide(tracing)
    )
    return { orders: yield* orders.items, letters: yield* letters.items }
  })

const putOrders = (stream: string) =>
  Effect.gen(function*() {
    yield* StreamAdmin.ensureStream(stream, { shards: 1 })
    const kinesis = yield* Kinesis.Kinesis
    const put = yield* kinesis.putRecords({
      StreamName: stream,
      Records: [
        { PartitionKey: "a", Data: Buffer.from(`{"orderId":"o-1","amount":10}`) },
        { PartitionKey: "b", Data: Buffer.from(`not an order`) },
        { PartitionKey: "c", Data: Buffer.from(`{"orderId":"o-3","amount":30}`) }
      ]
    })
    return put.Records!.map((r) => r.SequenceNumber!)
  })

interface Node {
  readonly name: string
  readonly attributes: Record<string, unknown>
  readonly children: ReadonlyArray<Node>
}

/** The spans as trees: roots are spans whose parent is not among them (or that have none). */
const trees = (spans: ReadonlyArray<ReadableSpan>): Array<Node & { readonly span: ReadableSpan }> => {
  const ids = new Set(spans.map((s) => s.spanContext().spanId))
  const childrenOf = (span: ReadableSpan): Array<Node> =>
    spans.filter((s) => s.parentSpanContext?.spanId === span.spanContext().spanId)
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((s) => ({ name: s.name, attributes: { ...s.attributes }, children: childrenOf(s) }))
  return spans.filter((s) => s.parentSpanContext === undefined || !ids.has(s.parentSpanContext.spanId))
    .map((s) => ({ span: s, name: s.name, attributes: { ...s.attributes }, children: childrenOf(s) }))
}

const shape = (node: Node): unknown => ({ [node.name]: node.children.map(shape) })

const shardId = "shardId-000000000000"

layer(emulators, { excludeTestServices: true, timeout: "60 seconds" })("Tracing", (it) => {
  it.effect("a consumer run on kinesalite: a trace per batch, its writes and its checkpoint; a trace per lease round", () =>
    Effect.gen(function*() {
      const [, broken, last] = yield* putOrders("traced-orders")
      const exporter = new RecordingExporter()
      const result = yield* runWorker(
        "traced-orders",
        "traced-orders-leases",
        2,
        Tracing.layer({ serviceName: "orders-worker", spanProcessor: new SimpleSpanProcessor(exporter) })
      )
      expect(result.orders.map((o) => o.orderId)).toStrictEqual(["o-1", "o-3"])
      expect(result.letters.map((l) => l.sequenceNumber)).toStrictEqual([broken])

      const spans = exporter.getFinishedSpans()
      expect(spans.every((s) => s.resource.attributes["service.name"] === "orders-worker")).toBe(true)
      const roots = trees(spans)

      // the batch with the records
      const batches = roots.filter((r) => r.name === "Pipeline.batch" && r.children.some((c) => c.attributes.recordsIn === 3))
      expect(batches).toHaveLength(1)
      const batch = batches[0]
      expect(shape(batch)).toStrictEqual({
        "Pipeline.batch": [
          { "LeaseCoordinator.checkpoint": [{ "LeaseStore.checkpoint": [] }] },
          { "Pipeline.process": [{ "DeadLetterSink.write": [] }, { "RecordSink.write": [] }] }
        ]
      })
      expect(batch.attributes).toStrictEqual({ shardId, checkpoint: last })
      const process = batch.children.find((c) => c.name === "Pipeline.process")!
      expect(process.attributes).toStrictEqual({
        shardId,
        event: "records",
        recordsIn: 3,
        recordsOut: 2,
        deadLettered: 1,
        late: 0,
        filtered: 0
      })
      expect(process.children.map((c) => c.attributes)).toStrictEqual([
        { sink: "dead-letters", letters: 1 },
        { sink: "orders", values: 2 }
      ])
      expect(batch.children[0].children[0].attributes).toStrictEqual({ leaseKey: shardId })

      // linked to the shard's span, which runs under the consumer's
      const runShard = spans.find((s) => s.name === "Pipeline.runShard")!
      expect(batch.span.links.map((l) => l.context.spanId)).toStrictEqual([runShard.spanContext().spanId])
      const processShard = spans.find((s) => s.name === "Consumer.processShard")!
      expect(runShard.parentSpanContext?.spanId).toBe(processShard.spanContext().spanId)
      expect(processShard.attributes).toStrictEqual({ stream: "traced-orders", shardId })

      // lease rounds: the lease created, then taken
      const rounds = roots.filter((r) => r.name.startsWith("LeaseCoordinator.") && r.children.length > 0).map(shape)
      expect(rounds).toContainEqual({
        "LeaseCoordinator.syncShards": [
          { "LeaseStore.createIfAbsent": [] },
          { "LeaseStore.list": [] }
        ]
      })
      expect(rounds).toContainEqual({ "LeaseCoordinator.takeLeases": [{ "LeaseStore.acquire": [] }, { "LeaseStore.list": [] }] })
      // and released at shutdown
      expect(spans.filter((s) => s.name === "LeaseStore.release").map((s) => s.attributes.leaseKey)).toStrictEqual([shardId])
    }))

  it.effect("OTEL_SDK_DISABLED=true: the layer does nothing", () =>
    Effect.gen(function*() {
      yield* putOrders("untraced-orders")
      const exporter = new RecordingExporter()
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Environment.scoped({ OTEL_SDK_DISABLED: "true" })
        yield* runWorker(
          "untraced-orders",
          "untraced-orders-leases",
          2,
          Tracing.layer({ spanProcessor: new SimpleSpanProcessor(exporter) })
        )
      }))
      expect(exporter.getFinishedSpans()).toStrictEqual([])
    }))
})
