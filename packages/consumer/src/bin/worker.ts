/**
 * A consumer worker process: runs a pipeline that writes every record it reads, as a JSON line, to
 * `--output` (or logs counts when none is given), on the shards it holds leases of. A line is
 * `{ shard, seq, sub, key, data, worker, pid, at }`: `data` as UTF-8, the worker's id, its process id and
 * the write time (epoch milliseconds). Start several with the same stream and lease table; stop one with
 * SIGTERM (it finishes its batches, checkpoints and hands its shards over at once) or kill it (its shards
 * are taken once its leases expire).
 *
 *   tsx packages/consumer/src/bin/worker.ts --stream orders --lease-table orders-app [--worker-id w1]
 *
 * Its settings are read through Effect's `Config`: every variable of `Consumer.config` (`STREAM`,
 * `WORKER_ID`, `INITIAL_POSITION`, `LEASE_DURATION`, `TAKE_INTERVAL`, `IDLE_INTERVAL`, ...), and these; a
 * flag `--lease-duration 2s` stands for the variable `LEASE_DURATION` and wins over the environment.
 *
 * | Argument | Environment | Default |
 * | --- | --- | --- |
 * | `--stream` | `STREAM` | required |
 * | `--lease-table` | `LEASE_TABLE` | required |
 * | `--worker-id` | `WORKER_ID` | `<hostname>:<pid>:<random>` |
 * | `--initial-position` | `INITIAL_POSITION` | `LATEST` (or `TRIM_HORIZON`, `AT_TIMESTAMP`) |
 * | `--initial-timestamp` | `INITIAL_TIMESTAMP` | AT_TIMESTAMP's time: ISO 8601 or epoch milliseconds |
 * | `--lease-duration` | `LEASE_DURATION` | `10 seconds` (any Effect duration: `2 seconds`, `1500 millis`, or milliseconds) |
 * | `--take-interval` | `TAKE_INTERVAL` | the lease duration |
 * | `--idle-interval` | `IDLE_INTERVAL` | `1 second` (wait after an empty page) |
 * | `--output` | `OUTPUT_FILE` | none: the records are counted and logged |
 * | `--dead-letters` | `DEAD_LETTER_FILE` | none: dead letters are logged |
 * | `--log-level` | `LOG_LEVEL` | `Info` |
 *
 * AWS settings are the standard ones (`AwsClient.settings` of @tributary/aws): `AWS_REGION`, credentials,
 * `AWS_ENDPOINT_URL_KINESIS` and `AWS_ENDPOINT_URL_DYNAMODB` (or `AWS_ENDPOINT_URL`) for local endpoints.
 */
import * as DeadLetter from "@tributary/core/DeadLetter"
import * as Pipeline from "@tributary/core/Pipeline"
import * as RecordSink from "@tributary/core/RecordSink"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import { DynamoDBClient, DynamoDBLeaseStore } from "@tributary/dynamodb"
import { Kinesis } from "@tributary/kinesis"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { appendFileSync } from "node:fs"
import * as Consumer from "../Consumer.js"
import * as ConfigReaders from "../internal/config.js"
import { argvConfigProvider, exitOnConfigError, runMain } from "../internal/main.js"

const settings = Config.all({
  consumer: Consumer.config,
  tableName: Config.nonEmptyString("LEASE_TABLE"),
  output: ConfigReaders.optional(Config.nonEmptyString("OUTPUT_FILE")),
  deadLetterFile: ConfigReaders.optional(Config.nonEmptyString("DEAD_LETTER_FILE")),
  logLevel: ConfigReaders.logLevel("LOG_LEVEL").pipe(Config.withDefault(LogLevel.Info))
})

/** The records, a JSON line each; `appendFileSync` returns once the OS has the bytes, so a SIGKILL after the write loses nothing the checkpoint covers. */
const outputSink = (output: string | undefined, worker: () => string) => {
  let delivered = 0
  const sink = RecordSink.make<SourceRecord>("output", (records) =>
    Effect.sync(() => {
      delivered += records.length
      if (output === undefined) return
      const now = Date.now()
      let text = ""
      for (const r of records) {
        text += JSON.stringify({
          shard: r.shardId,
          seq: r.sequenceNumber,
          sub: r.subSequenceNumber,
          key: r.partitionKey,
          data: Buffer.from(r.data).toString("utf8"),
          worker: worker(),
          pid: process.pid,
          at: now
        }) + "\n"
      }
      appendFileSync(output, text)
    }))
  return { sink, delivered: () => delivered }
}

const deadLetterSink = (file: string | undefined) =>
  RecordSink.make<DeadLetter.DeadLetter>("dead-letters", (letters) =>
    file === undefined
      ? Effect.forEach(letters, (letter) =>
        Effect.logWarning("dead letter", { shardId: letter.shardId, sequenceNumber: letter.sequenceNumber, reason: letter.reason }), {
        discard: true
      })
      : Effect.sync(() =>
        appendFileSync(file, letters.map((l) => JSON.stringify({ ...l, data: Buffer.from(l.data).toString("base64") }) + "\n").join(""))
      ))

const program = Effect.gen(function*() {
  const { consumer: options, deadLetterFile, logLevel, output, tableName } = yield* settings
  // the worker id once the consumer started (records only arrive after that)
  let runningAs = options.workerId ?? ""
  const out = outputSink(output, () => runningAs)
  const layers = Layer.mergeAll(
    Kinesis.layerConfig(),
    DynamoDBLeaseStore.layer({ tableName }).pipe(Layer.provide(DynamoDBClient.layerConfig())),
    DeadLetter.layer(deadLetterSink(deadLetterFile))
  )
  return yield* Effect.gen(function*() {
    // added first, so it runs last: after the shards stopped and the leases were released
    yield* Effect.addFinalizer(() => Effect.log(`worker stopped after ${out.delivered()} records`))
    const consumer = yield* Consumer.make(Pipeline.make("worker").pipe(Pipeline.to(out.sink)), options)
    runningAs = consumer.workerId
    yield* Effect.log(`worker ${consumer.workerId} started on ${options.stream} (lease table ${tableName})`)
    return yield* Effect.never
  }).pipe(Effect.scoped, Effect.provide(layers), Logger.withMinimumLogLevel(logLevel))
})

runMain(program.pipe(
  exitOnConfigError,
  Effect.withConfigProvider(argvConfigProvider({ output: "OUTPUT_FILE", "dead-letters": "DEAD_LETTER_FILE" }))
))
