/**
 * The CloudWatch and tracing examples of docs/operations.md, run for real: the Lambda handler writes its
 * invocation's metrics as EMF lines; the worker on kinesalite and dynalite publishes its metrics with
 * PutMetricData and exports its spans over OTLP, both to a local endpoint named by the standard variables
 * (AWS_ENDPOINT_URL_CLOUDWATCH, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT). The last test checks that each ```ts
 * block of the page appears verbatim here (whitespace aside, import lines left out), with its imports, but
 * for `NodeRuntime`, which this file stands in for (see test-utils/DocBlocks.ts of @tributary/core).
 */
import { expect, it, layer } from "@effect/vitest"
import { Emf, MetricPublisher } from "@tributary/cloudwatch"
import * as LocalEndpoint from "@tributary/cloudwatch/test-utils/LocalEndpoint"
import { Consumer } from "@tributary/consumer"
import * as DeadLetter from "@tributary/core/DeadLetter"
import * as Decoder from "@tributary/core/Decoder"
import * as Pipeline from "@tributary/core/Pipeline"
import * as RecordSink from "@tributary/core/RecordSink"
import * as SourceRecord from "@tributary/core/SourceRecord"
import * as DocBlocks from "@tributary/core/test-utils/DocBlocks"
import { DynamoDBClient, DynamoDBLeaseStore } from "@tributary/dynamodb"
import { Kinesis, StreamAdmin } from "@tributary/kinesis"
import { KinesisEvent, Lambda } from "@tributary/lambda"
import * as Environment from "@tributary/local/Environment"
import * as LocalDynamoDB from "@tributary/local/LocalDynamoDB"
import * as LocalKinesis from "@tributary/local/LocalKinesis"
import { Effect, Fiber, Layer, Schema } from "effect"
import { Tracing } from "../src/index.js"

/** `NodeRuntime.runMain` (of @effect/platform-node) hands the program to the test, which runs and interrupts it. */
const launched: Array<Effect.Effect<unknown, unknown>> = []
const NodeRuntime = {
  runMain: <E, A>(effect: Effect.Effect<A, E>): void => void launched.push(effect)
}

const Order = Schema.Struct({ orderId: Schema.String, amount: Schema.Number })

/** What the process writes on stdout while `effect` runs. */
const capturingStdout = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const lines: Array<string> = []
      const write = process.stdout.write
      process.stdout.write = ((chunk: string) => (lines.push(...String(chunk).split("\n").filter((l) => l !== "")), true)) as typeof write
      return { lines, write }
    }),
    ({ lines }) => Effect.map(effect, (a) => [a, lines] as const),
    ({ write }) => Effect.sync(() => void (process.stdout.write = write))
  )

/** The event Lambda sends for records with these payloads, on one shard. */
const eventOf = (...payloads: ReadonlyArray<string>) =>
  KinesisEvent.fromRecords(payloads.map((data, i) =>
    SourceRecord.make({
      stream: "orders",
      shardId: "shardId-000000000000",
      sequenceNumber: String(1000 + i),
      partitionKey: "k",
      arrivalTime: 1_700_000_000_000,
      data: new TextEncoder().encode(data)
    })
  ))

it.effect("docs/operations.md, CloudWatch: a Lambda handler writes each invocation's metrics as EMF lines", () =>
  Effect.gen(function*() {
    const orders = yield* RecordSink.memory<typeof Order.Type>("orders")
    const pipeline = Pipeline.make("operations-lambda").pipe(Pipeline.decode(Decoder.json(Order)), Pipeline.to(orders))
    const layer = DeadLetter.layerMemory

    // --- the page's example ---
    // pipeline and layer: as for any handler (Lambda)
    const handler = Emf.handler(Lambda.handler(pipeline, layer))
    // --- end of the example ---

    const [response, lines] = yield* capturingStdout(Effect.promise(() =>
      handler(eventOf(`{"orderId":"o-1","amount":3}`, "broken"))
    ))
    yield* Effect.promise(() => handler.dispose())
    expect(response).toStrictEqual({ batchItemFailures: [] })
    const emf = lines.map((line) => JSON.parse(line)).filter((line) => line.Pipeline === "operations-lambda")
    expect(emf.map((line) => [line.RecordsIn, line.RecordsOut, line.RecordsDeadLettered])).toStrictEqual([[2, 1, 1]])
    expect(emf[0]._aws.CloudWatchMetrics[0].Namespace).toBe("Tributary")
  }))

const emulators = Layer.mergeAll(
  Layer.unwrapEffect(Effect.map(LocalKinesis.LocalKinesis, (local) => Kinesis.layer({ ...local.clientConfig }))),
  Layer.unwrapEffect(Effect.map(LocalDynamoDB.LocalDynamoDB, (local) => DynamoDBClient.layer({ ...local.clientConfig })))
).pipe(Layer.provideMerge(Layer.mergeAll(LocalKinesis.layerKinesalite(), LocalDynamoDB.layerDynalite())))

layer(emulators, { excludeTestServices: true, timeout: "60 seconds" })("docs/operations.md", (it) => {
  it.scoped("CloudWatch and tracing: a worker publishes its metrics with PutMetricData and exports its spans over OTLP", () =>
    Effect.gen(function*() {
      const endpoint = yield* LocalEndpoint.make()
      const local = yield* LocalKinesis.LocalKinesis
      yield* Environment.scoped({
        AWS_ENDPOINT_URL_CLOUDWATCH: endpoint.url,
        AWS_REGION: local.region,
        AWS_ACCESS_KEY_ID: "local",
        AWS_SECRET_ACCESS_KEY: "local",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${endpoint.url}/v1/traces`
      })
      yield* StreamAdmin.ensureStream("operations-orders", { shards: 1 })
      const kinesis = yield* Kinesis.Kinesis
      yield* kinesis.putRecords({
        StreamName: "operations-orders",
        Records: [
          { PartitionKey: "a", Data: Buffer.from(`{"orderId":"o-1","amount":10}`) },
          { PartitionKey: "b", Data: Buffer.from(`broken`) }
        ]
      })
      const orders = yield* RecordSink.memory<typeof Order.Type>("orders")
      const letters = yield* RecordSink.memory<DeadLetter.DeadLetter>("dead-letters")
      const pipeline = Pipeline.make("operations-orders").pipe(Pipeline.decode(Decoder.json(Order)), Pipeline.to(orders))
      const worker = Consumer.layer(pipeline, { stream: "operations-orders", initialPosition: "TRIM_HORIZON" }).pipe(
        Layer.provide(Layer.mergeAll(
          DynamoDBLeaseStore.layer({ tableName: "operations-orders-leases" }),
          DeadLetter.layer(letters),
          Layer.succeed(Kinesis.Kinesis, kinesis)
        )),
        Layer.provide(Layer.succeed(DynamoDBClient.DynamoDBClient, yield* DynamoDBClient.DynamoDBClient))
      )

      // --- the page's example ---
      // worker: Consumer.layer(pipeline, options) with the layers it needs, as in Consumers
      const observed = Layer.mergeAll(
        worker,
        // the client: AWS_REGION, AWS_ENDPOINT_URL_CLOUDWATCH (or AWS_ENDPOINT_URL), the default credentials
        MetricPublisher.layer().pipe(Layer.provide(MetricPublisher.layerClientConfig()))
      ).pipe(
        // spans to the OTLP endpoint the OTEL_* variables name (Tracing, below)
        Layer.provide(Tracing.layer({ serviceName: "orders-worker" }))
      )

      Layer.launch(observed).pipe(NodeRuntime.runMain)
      // --- end of the example ---

      const running = yield* Effect.fork(launched[0])
      while ((yield* orders.items).length < 1 || (yield* letters.items).length < 1) yield* Effect.sleep("20 millis")
      // SIGTERM: the layers close, the publisher's last round and the spans not exported yet are sent
      yield* Fiber.interrupt(running)

      const data = endpoint.metricCalls.flatMap((call) => call.body.MetricData)
        .filter((d) => d.Dimensions?.[0]?.Value === "operations-orders")
      const sum = (name: string) => data.filter((d) => d.MetricName === name).reduce((total, d) => total + (d.Value ?? 0), 0)
      expect([sum("RecordsIn"), sum("RecordsOut"), sum("RecordsDeadLettered")]).toStrictEqual([2, 1, 1])
      expect(endpoint.metricCalls.every((call) => call.body.Namespace === "Tributary")).toBe(true)

      const batch = endpoint.spans.find((s) => s.name === "Pipeline.process" && s.attributes.recordsIn === 2)
      expect(batch?.attributes).toMatchObject({ shardId: "shardId-000000000000", recordsOut: 1, deadLettered: 1 })
      expect(batch?.resource["service.name"]).toBe("orders-worker")
      const parent = endpoint.spans.find((s) => s.spanId === batch?.parentSpanId)
      expect(parent?.name).toBe("Pipeline.batch")
      expect(endpoint.spans.some((s) => s.name === "LeaseStore.acquire")).toBe(true)
    }))
})

it("docs/operations.md: every TypeScript example is tested here", () => {
  expect(DocBlocks.blocks(DocBlocks.read("operations.md")).length).toBe(2)
  expect(DocBlocks.problems("operations.md", { files: [import.meta.url], checkImports: true, standIns: ["NodeRuntime"] }))
    .toStrictEqual([])
})
