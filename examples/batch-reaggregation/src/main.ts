/**
 * Batch re-aggregation: a stream of sensor readings in mixed formats (JSON, CSV, key-value lines) is
 * archived raw and aggregated in 5-minute windows per device into a DynamoDB results table. A job then
 * re-aggregates the last hour of the archive with the same pipeline value, every 15 minutes and on demand,
 * into a second table, and records its runs in a DynamoDB run log. Both tables merge to the same results.
 *
 * Everything runs on embedded emulators (kinesalite, dynalite) and a temporary directory:
 *
 *   pnpm --filter @tributary/example-batch-reaggregation start
 *
 * Environment: RECORDS (default 20000), EVERY (the job's interval, default "15 minutes"), DURATION (how long
 * the schedule runs before the program prints its runs and exits, default "5 seconds"), or SCHEDULED_RUNS
 * (instead of DURATION: until that many scheduled runs have succeeded).
 */
import { Aggregate, Archive, Decoder, Job, ObjectStore, Pipeline, Window } from "@tributary/core"
import type { RecordSink } from "@tributary/core/RecordSink"
import { DynamoDBClient, DynamoDBDeadLetters, DynamoDBRunLog, ResultsTable } from "@tributary/dynamodb"
import { Kinesis, Producer, StreamAdmin, StreamSource } from "@tributary/kinesis"
import { LocalDynamoDB, LocalKinesis } from "@tributary/local"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

export const Reading = Schema.Struct({
  device: Schema.String,
  at: Schema.Number, // epoch ms
  celsius: Schema.Number
})
export type Reading = typeof Reading.Type

/** count, mean, min and max of the temperature. */
export const climate = Aggregate.struct({
  n: Aggregate.count,
  mean: Aggregate.mean.pipe(Aggregate.mapInput((r: Reading) => r.celsius)),
  min: Aggregate.min.pipe(Aggregate.mapInput((r: Reading) => r.celsius)),
  max: Aggregate.max.pipe(Aggregate.mapInput((r: Reading) => r.celsius))
})
export type Climate = Aggregate.Aggregate.Output<typeof climate>

/** Where the window results go: a results table, per run. */
export class Results extends Context.Tag("example/Results")<
  Results,
  RecordSink<Window.WindowResult<string, ResultsTable.WithState<Climate>>>
>() {}

/** The pipeline value, for the stream and for the batch alike. */
export const pipeline = Pipeline.make("sensor-climate").pipe(
  Pipeline.to(Archive.RawArchive),
  Pipeline.decode(Decoder.auto(Reading)),
  Pipeline.window({
    window: Window.tumbling("5 minutes"),
    key: (r: Reading) => r.device,
    eventTime: (r) => r.at,
    maxOutOfOrderness: "1 minute",
    // the results carry the aggregate's state, so the table's reader can merge the shards' partials
    aggregate: ResultsTable.withState(climate)
  }),
  Pipeline.to(Results)
)

const devices = ["boiler", "cellar", "attic", "garage", "porch", "roof", "shed", "lab"]

/** `count` readings over the 40 minutes before `now`, a third each as JSON, CSV and key-value lines, some broken. */
export const readings = (count: number, now: number): Array<{ readonly partitionKey: string; readonly data: string }> => {
  let seed = 7
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648
  const start = now - 40 * 60_000
  const step = (40 * 60_000) / count
  return Array.from({ length: count }, (_, i) => {
    const device = devices[i % devices.length]
    const at = Math.floor(start + i * step - random() * 5_000)
    const celsius = Math.round((15 + (i % devices.length) * 2 + random() * 10) * 10) / 10
    const data = i % 997 === 0
      ? `{"device":"${device}","at":"yesterday"}` // broken: a dead letter
      : i % 3 === 0
      ? JSON.stringify({ device, at, celsius })
      : i % 3 === 1
      ? `device,at,celsius\n${device},${at},${celsius}`
      : `device=${device}\nat=${at}\ncelsius=${celsius}`
    // a device's readings are spread over the shards: each window is aggregated in partials, merged on read
    return { partitionKey: `${device}-${i % 5}`, data }
  })
}

export interface Options {
  readonly records: number
  readonly every: Duration.DurationInput
  readonly duration: Duration.DurationInput
  /** Instead of `duration`: run the schedule until this many scheduled runs have succeeded (or one failed). */
  readonly scheduledRuns?: number | undefined
  /** Called with each line of the report as it happens. */
  readonly print: (line: string) => void
}

const tables = { stream: "climate-stream", batch: "climate-batch", deadLetters: "dead-letters", runs: "job-runs" }

/** Everything: emulators up, stream, job, report. Returns the merged results of both tables and the runs. */
export const program = (options: Options) =>
  Effect.gen(function*() {
    const { print } = options
    const directory = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "tributary-archive-"))),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    )
    const store = ObjectStore.layerFileSystem(directory, { fsync: false })
    const deadLetters = DynamoDBDeadLetters.layer({ tableName: tables.deadLetters })
    const resultsLayer = (tableName: string) =>
      Layer.effect(Results, ResultsTable.sink({ tableName, pipeline: pipeline.name }))

    // 1. the stream: produce the readings, then read them back (bounded), archive and aggregate
    const stream = "sensors"
    yield* StreamAdmin.ensureStream(stream, { shards: 4 })
    const now = Date.now()
    const all = readings(options.records, now)
    yield* Effect.scoped(Effect.gen(function*() {
      const producer = yield* Producer.make<{ readonly partitionKey: string; readonly data: string }>({
        stream,
        partitionKey: (r) => r.partitionKey,
        data: (r) => r.data,
        concurrency: 1
      })
      yield* producer.write(all)
      yield* producer.flush
    }))
    const streamed = yield* Pipeline.run(pipeline).pipe(
      Effect.provide(Layer.mergeAll(
        StreamSource.layer({ stream, follow: false, reader: { idleInterval: "20 millis" } }),
        Archive.layerSink({ maxAge: 0 }).pipe(Layer.provide(store)),
        resultsLayer(tables.stream),
        deadLetters
      ))
    )
    print(
      `stream: ${streamed.recordsIn} records in, ${streamed.recordsOut} aggregated, ` +
        `${streamed.deadLettered} dead letters, ${streamed.late} late`
    )

    // 2. the job: the same pipeline over the last hour of the archive, into another table
    const job = Job.make({
      name: "reaggregate-last-hour",
      timing: { every: options.every },
      range: (scheduledAt) => ({ from: scheduledAt - 3_600_000, to: scheduledAt }),
      run: (range) =>
        Pipeline.run(pipeline).pipe(
          Effect.map((summary) => summary.recordsIn),
          Effect.provide(Layer.mergeAll(
            Archive.layerSource({ from: range.from, to: range.to, stream }).pipe(Layer.provide(store)),
            // the batch archives nothing: its raw records go to a scratch store
            Archive.layerSink({ maxAge: 0 }).pipe(Layer.provide(ObjectStore.layerMemory)),
            resultsLayer(tables.batch),
            deadLetters
          )),
          Effect.scoped
        ),
      retry: Schedule.spaced("1 second").pipe(Schedule.intersect(Schedule.recurs(2)))
    })
    const running = yield* Job.start(job)
    const manual = yield* running.trigger({ from: now - 3_600_000, to: Date.now() + 1 })
    print(`run ${manual.runId} (manual): ${manual.outcome}, ${manual.records ?? 0} records`)
    const scheduledRuns = options.scheduledRuns
    if (scheduledRuns === undefined) yield* Effect.sleep(options.duration)
    else {
      // however long they take on this machine (a run due while one is running is skipped); a failed one ends it
      const scheduled = Effect.map(
        Effect.flatMap(Job.RunLog, (log) => log.list(job.name)),
        (runs) => runs.filter((run) => run.trigger === "schedule")
      )
      for (;;) {
        const runs = yield* scheduled
        if (runs.some((run) => run.outcome === "failed") || runs.filter((run) => run.outcome === "succeeded").length >= scheduledRuns) break
        yield* Effect.sleep("100 millis")
      }
    }

    // 3. the report: the runs, and the two tables merged
    const runs = yield* Effect.flatMap(Job.RunLog, (log) => log.list(job.name))
    print(`run log of ${job.name}, newest first:`)
    for (const run of runs) {
      print(
        `  ${run.runId} ${run.trigger} ${run.outcome} records=${run.records ?? "-"} ` +
          `range=${new Date(run.range.from).toISOString().slice(11, 19)}..${new Date(run.range.to).toISOString().slice(11, 19)}`
      )
    }
    const merged = (tableName: string) =>
      Effect.flatMap(ResultsTable.scanPartials<string>(tableName), (stored) => ResultsTable.merge(stored, climate))
    const fromStream = yield* merged(tables.stream)
    const fromBatch = yield* merged(tables.batch)
    const same = JSON.stringify(fromStream) === JSON.stringify(fromBatch)
    print(`windows: stream ${fromStream.length}, batch ${fromBatch.length}, identical: ${same}`)
    for (const r of fromBatch.filter((r) => r.key === "boiler").slice(0, 3)) {
      print(
        `  boiler ${new Date(r.start).toISOString().slice(11, 16)} n=${r.value.n} mean=${r.value.mean?.toFixed(2)} ` +
          `min=${r.value.min} max=${r.value.max} (${r.partials} partial${r.partials === 1 ? "" : "s"})`
      )
    }
    const letters = yield* DynamoDBDeadLetters.readAll(tables.deadLetters)
    print(`dead letters in DynamoDB: ${letters.length}`)
    return { streamed, fromStream, fromBatch, runs, deadLetters: letters.length }
  }).pipe(
    // the program's scope (the job's schedule, a run in flight, the archive's directory) closes first, the
    // emulators after it: closing dynalite under a run still writing to it fails it with "Database is closed"
    Effect.scoped,
    Effect.provide(DynamoDBRunLog.layer({ tableName: tables.runs }).pipe(Layer.provideMerge(emulators)))
  )

/** dynalite and kinesalite embedded, with the clients talking to them. */
const emulators = Layer.mergeAll(
  Layer.unwrapEffect(Effect.map(LocalDynamoDB.LocalDynamoDB, (local) => DynamoDBClient.layer({ ...local.clientConfig }))).pipe(
    Layer.provide(LocalDynamoDB.layerDynalite())
  ),
  Layer.unwrapEffect(Effect.map(LocalKinesis.LocalKinesis, (local) => Kinesis.layer({ ...local.clientConfig }))).pipe(
    Layer.provide(LocalKinesis.layerKinesalite())
  )
)

const env = (name: string, fallback: string) => process.env[name] ?? fallback

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program({
    records: Number(env("RECORDS", "20000")),
    every: env("EVERY", "15 minutes") as Duration.DurationInput,
    duration: env("DURATION", "5 seconds") as Duration.DurationInput,
    scheduledRuns: process.env.SCHEDULED_RUNS === undefined ? undefined : Number(process.env.SCHEDULED_RUNS),
    print: (line) => console.log(line)
  })).catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
}
