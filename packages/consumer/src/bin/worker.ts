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
 * | Argument | Environment | Default |
 * | --- | --- | --- |
 * | `--stream` | `STREAM` | required |
 * | `--lease-table` | `LEASE_TABLE` | required |
 * | `--worker-id` | `WORKER_ID` | `<hostname>:<pid>:<random>` |
 * | `--initial-position` | `INITIAL_POSITION` | `LATEST` (or `TRIM_HORIZON`) |
 * | `--lease-duration` | `LEASE_DURATION` | `10 seconds` (any Effect duration: `2 seconds`, `1500 millis`) |
 * | `--take-interval` | `TAKE_INTERVAL` | twice the lease duration |
 * | `--idle-interval` | `IDLE_INTERVAL` | `1 second` (wait after an empty page) |
 * | `--output` | `OUTPUT_FILE` | none: the records are counted and logged |
 * | `--dead-letters` | `DEAD_LETTER_FILE` | none: dead letters are logged |
 * | `--log-level` | `LOG_LEVEL` | `Info` |
 *
 * AWS settings are the SDK's own: `AWS_REGION`, credentials, `AWS_ENDPOINT_URL_KINESIS` and
 * `AWS_ENDPOINT_URL_DYNAMODB` (or `AWS_ENDPOINT_URL`) for local endpoints.
 */
import * as DeadLetter from "@tributary/core/DeadLetter"
import * as Pipeline from "@tributary/core/Pipeline"
import * as RecordSink from "@tributary/core/RecordSink"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import { DynamoDBClient, DynamoDBLeaseStore } from "@tributary/dynamodb"
import { Kinesis } from "@tributary/kinesis"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { appendFileSync } from "node:fs"
import * as Consumer from "../Consumer.js"
import { arg, runMain } from "../internal/main.js"

const required = (name: string, env: string): string => {
  const value = arg(name, env)
  if (value === undefined) {
    process.stderr.write(`missing --${name} (or ${env})\n`)
    process.exit(2)
  }
  return value
}

const duration = (value: string | undefined): Duration.Duration | undefined =>
  value === undefined ? undefined : /^\d+$/.test(value) ? Duration.millis(Number(value)) : Duration.decode(value as Duration.DurationInput)

const stream = required("stream", "STREAM")
const tableName = required("lease-table", "LEASE_TABLE")
const workerId = arg("worker-id", "WORKER_ID")
const initialPosition = arg("initial-position", "INITIAL_POSITION")
const leaseDuration = duration(arg("lease-duration", "LEASE_DURATION"))
const takeInterval = duration(arg("take-interval", "TAKE_INTERVAL"))
const idleInterval = duration(arg("idle-interval", "IDLE_INTERVAL"))
const output = arg("output", "OUTPUT_FILE")
const deadLetterFile = arg("dead-letters", "DEAD_LETTER_FILE")
const logLevel = LogLevel.fromLiteral((arg("log-level", "LOG_LEVEL") ?? "Info") as LogLevel.Literal)

let delivered = 0
// the worker id once the consumer started (records only arrive after that)
let runningAs = workerId ?? ""
// one JSON line per record; appendFileSync returns once the OS has the bytes, so a SIGKILL after the
// write loses nothing the checkpoint covers
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
        worker: runningAs,
        pid: process.pid,
        at: now
      }) + "\n"
    }
    appendFileSync(output, text)
  }))

const deadLetters = RecordSink.make<DeadLetter.DeadLetter>("dead-letters", (letters) =>
  deadLetterFile === undefined
    ? Effect.forEach(letters, (letter) => Effect.logWarning("dead letter", { shardId: letter.shardId, sequenceNumber: letter.sequenceNumber, reason: letter.reason }), { discard: true })
    : Effect.sync(() => appendFileSync(deadLetterFile, letters.map((l) => JSON.stringify({ ...l, data: Buffer.from(l.data).toString("base64") }) + "\n").join(""))))

const pipeline = Pipeline.make("worker").pipe(Pipeline.to(sink))

const program = Effect.gen(function*() {
  // added first, so it runs last: after the shards stopped and the leases were released
  yield* Effect.addFinalizer(() => Effect.log(`worker stopped after ${delivered} records`))
  const consumer = yield* Consumer.make(pipeline, {
    stream,
    ...(workerId === undefined ? {} : { workerId }),
    ...(initialPosition === "TRIM_HORIZON" || initialPosition === "LATEST" ? { initialPosition } : {}),
    ...(leaseDuration === undefined ? {} : { leaseDuration }),
    ...(takeInterval === undefined ? {} : { takeInterval }),
    ...(idleInterval === undefined ? {} : { reader: { idleInterval } })
  })
  runningAs = consumer.workerId
  yield* Effect.log(`worker ${consumer.workerId} started on ${stream} (lease table ${tableName})`)
  return yield* Effect.never
}).pipe(Effect.scoped)

const layers = Layer.mergeAll(
  Kinesis.layerConfig(),
  DynamoDBLeaseStore.layer({ tableName }).pipe(Layer.provide(DynamoDBClient.layerConfig())),
  DeadLetter.layer(deadLetters)
)

runMain(program.pipe(Effect.provide(layers), Logger.withMinimumLogLevel(logLevel)))
