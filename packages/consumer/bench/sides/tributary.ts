/**
 * The Tributary side of the consumer benches: one `Consumer` worker with its defaults, DynamoDB leases on
 * the bench's dynalite, a pipeline that decodes each record (`Decoder.json`, the compiled Schema check)
 * and counts it into an in-memory sink.
 */
import * as DeadLetter from "@tributary/core/DeadLetter"
import * as Decoder from "@tributary/core/Decoder"
import * as Pipeline from "@tributary/core/Pipeline"
import * as RecordSink from "@tributary/core/RecordSink"
import { DynamoDBClient, DynamoDBLeaseStore } from "@tributary/dynamodb"
import { Kinesis } from "@tributary/kinesis"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Schema from "effect/Schema"
import * as Consumer from "../../src/Consumer.js"
import { activities, clientConfig, settings, start } from "./measure.js"

const Activity = Schema.Struct({
  CustomerId: Schema.String,
  DateUnixMs: Schema.Number,
  Activity: Schema.Literal(...activities),
  DurationMs: Schema.Number
})

const measure = start()
const live = settings.mode === "live"

const counted = RecordSink.make<typeof Activity.Type>("count", (items) =>
  Effect.sync(() => measure.page(items.length, live ? items.map((a) => a.DateUnixMs) : undefined)))
// the baseline keeps each parsed object as it is, so the decoder does too
const pipeline = Pipeline.make("bench").pipe(
  Pipeline.decode(Decoder.json(Activity, { onExcessProperty: "preserve" })),
  Pipeline.to(counted)
)

const program = Effect.gen(function*() {
  const consumer = yield* Consumer.make(pipeline, {
    stream: settings.stream,
    initialPosition: live ? "LATEST" : "TRIM_HORIZON",
    // BENCH_CHECKPOINT_INTERVAL: what the checkpoints' writes cost (default: the Consumer's, 5 s)
    ...(process.env.BENCH_CHECKPOINT_INTERVAL ? { checkpointInterval: process.env.BENCH_CHECKPOINT_INTERVAL as Duration.DurationInput } : {})
  })
  // ready once every shard is held (its reader starts at once)
  while ((yield* consumer.shards).length < Number(process.env.BENCH_SHARDS ?? 8)) yield* Effect.sleep("20 millis")
  measure.ready()
  return yield* Effect.never
})

const services = Layer.mergeAll(
  Kinesis.layer(clientConfig(settings.kinesis)),
  DynamoDBLeaseStore.layer({ tableName: settings.table }).pipe(Layer.provide(DynamoDBClient.layer(clientConfig(settings.dynamodb)))),
  DeadLetter.layerMemory
)

Effect.runFork(program.pipe(Effect.scoped, Effect.provide(services), Logger.withMinimumLogLevel(LogLevel.Warning)))
