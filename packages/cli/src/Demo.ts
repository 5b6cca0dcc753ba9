/**
 * The end-to-end demo, in one process, on embedded local AWS: kinesalite (Kinesis), dynalite (DynamoDB)
 * and a file-system archive in a temporary directory.
 *
 *   HTTP POST batches -> ingest gateway -> Kinesis producer -> 4-shard stream
 *   -> 2 consumer workers (fibers sharing the shards through a DynamoDB lease table), one pipeline:
 *      raw archive -> Decoder.auto (JSON, CSV, key-value text, XML) -> per activity per minute
 *      (count, mean and p95 of DurationMs) -> DynamoDB results table (partials merged on read)
 *   -> dead letters in memory; and every few seconds a job re-aggregates the archive into a second table.
 *
 *   pnpm demo                # until Ctrl-C
 *   pnpm demo -- --duration 20s # then a summary and the checks
 *
 * Options: --duration <d> (e.g. 20s, 2m), --rate <messages per second> (default 2000), --job-every <d>
 * (default 5s). At the end (after --duration, or the first Ctrl-C) the producer stops, the workers drain,
 * shut down (flush, checkpoint, release leases), and the summary checks conservation: produced =
 * aggregated (the counts merged from the results table) + dead letters + filtered, and that the dead
 * letters are exactly the broken messages. Exit code 0 when it holds, 1 otherwise.
 */
import { Consumer } from "@tributary/consumer"
import { Aggregate, Archive, DeadLetter, Decoder, Job, Pipeline, RecordSink, Window } from "@tributary/core"
import { DynamoDBClient, DynamoDBLeaseStore, ResultsTable } from "@tributary/dynamodb"
import { Kinesis, Producer, StreamAdmin } from "@tributary/kinesis"
import { LocalDynamoDB, LocalKinesis } from "@tributary/local"
import { ApiKeys, Gateway } from "@tributary/server"
import { LeaseStore as LeaseStoreTag } from "@tributary/core/LeaseStore"
import type { IngestRecord } from "@tributary/server/Ingest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import { message, type Message } from "./Traffic.js"
import { parseDuration } from "./internal/duration.js"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

// ---------------------------------------------------------------------------------------------------------
// the pipeline
// ---------------------------------------------------------------------------------------------------------

export const Activity = Schema.Struct({
  CustomerId: Schema.String,
  DateUnixMs: Schema.Number,
  Activity: Schema.String,
  DurationMs: Schema.Number
})
export type Activity = typeof Activity.Type

/** count, mean and p95 of the duration. */
export const activityStats = Aggregate.struct({
  count: Aggregate.count,
  mean: Aggregate.mean.pipe(Aggregate.mapInput((a: Activity) => a.DurationMs)),
  p95: Aggregate.quantile(0.95).pipe(Aggregate.mapInput((a: Activity) => a.DurationMs))
})
export type ActivityStats = Aggregate.Aggregate.Output<typeof activityStats>

/** Where the window results go (the stream's table for the workers, another table for the job). */
export class Results extends Context.Tag("@tributary/cli/Demo/Results")<
  Results,
  RecordSink.RecordSink<Window.WindowResult<string, ResultsTable.WithState<ActivityStats>>>
>() {}

export const pipelineName = "activity-per-minute"

export const pipeline = Pipeline.make(pipelineName).pipe(
  Pipeline.to(Archive.RawArchive),
  // key-value text uses its own names: customer=..., ts=..., activity=..., duration_ms=...
  Pipeline.decode(Decoder.auto(Activity, {
    aliases: {
      CustomerId: ["customer", "customer_id"],
      DateUnixMs: ["ts", "date_unix_ms"],
      Activity: "activity",
      DurationMs: ["duration_ms", "duration"]
    }
  })),
  Pipeline.window({
    window: Window.tumbling("1 minute"),
    key: (a: Activity) => a.Activity,
    eventTime: (a) => a.DateUnixMs,
    // generous: nothing in the demo is late, so every dead letter is a broken message
    maxOutOfOrderness: "10 minutes",
    // a result per change: the table always holds each shard's partial of every window so far (it keeps
    // the highest count per window and partial), so the counts are complete without closing the windows
    emit: "onUpdate",
    aggregate: ResultsTable.withState(activityStats)
  }),
  Pipeline.to(Results)
)

// ---------------------------------------------------------------------------------------------------------
// the program
// ---------------------------------------------------------------------------------------------------------

export interface Options {
  /** Stop after this long; undefined: when `stop` completes (Ctrl-C). */
  readonly duration: Duration.Duration | undefined
  readonly rate: number
  readonly jobEvery: Duration.Duration
  readonly print: (line: string) => void
}

const names = {
  stream: "activities",
  leases: "demo-leases",
  results: "activity-results",
  batch: "activity-results-batch"
}

const apiKey = "demo-key"

/** Effect.sleep that does not mind being asked to sleep 0 or less. */
const sleepMillis = (ms: number) => Effect.sleep(Duration.millis(Math.max(0, ms)))

export const program = (options: Options, stop: Deferred.Deferred<void>) =>
  Effect.gen(function*() {
    const { print } = options
    const startedAt = Date.now()
    const directory = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "tributary-demo-"))),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    )
    const store = yield* Archive.makeFileSystem(directory, { fsync: false })
    const storeLayer = Layer.succeed(Archive.ObjectStore, store)
    print(`archive: ${directory}`)

    // 2. the stream and the tables
    yield* StreamAdmin.ensureStream(names.stream, { shards: 4 })
    const leaseStore = yield* DynamoDBLeaseStore.make({ tableName: names.leases })
    const results = yield* ResultsTable.sink<string, ResultsTable.WithState<ActivityStats>>({
      tableName: names.results,
      pipeline: pipelineName
    })
    const batchResults = yield* ResultsTable.sink<string, ResultsTable.WithState<ActivityStats>>({
      tableName: names.batch,
      pipeline: pipelineName
    })
    print(`stream ${names.stream} (4 shards), tables ${names.leases}, ${names.results}, ${names.batch}`)

    // 3. the gateway, a Kinesis producer behind it
    const producer = yield* Producer.make<IngestRecord>({
      stream: names.stream,
      partitionKey: (r) => r.partitionKey,
      data: (r) => r.data
    })
    const server = yield* Gateway.serve({
      keys: [{ name: "demo", sha256: ApiKeys.hash(apiKey), streams: [names.stream] }],
      sinkFor: Gateway.sinks({ [names.stream]: producer })
    }, { host: "127.0.0.1", port: 0 })
    print(`gateway: ${server.url} (POST ${server.url}/v1/streams/${names.stream}/records, Bearer ${apiKey})`)

    // 4. two workers, sharing the shards through the lease table; their own scope, closed to stop them
    const deadLetters = yield* RecordSink.memory<DeadLetter.DeadLetter>("dead-letters")
    const archive = yield* Archive.sink({ maxAge: "200 millis" }).pipe(Effect.provide(storeLayer))
    const workersScope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(workersScope, Exit.void))
    const workerServices = Layer.mergeAll(
      Layer.succeed(Archive.RawArchive, archive),
      Layer.succeed(Results, results),
      DeadLetter.layer(deadLetters),
      Layer.succeed(LeaseStoreTag, leaseStore)
    )
    const workers = yield* Effect.forEach(["worker-1", "worker-2"], (workerId) =>
      Consumer.make(pipeline, {
        stream: names.stream,
        workerId,
        initialPosition: "TRIM_HORIZON",
        leaseDuration: "2 seconds",
        takeInterval: "500 millis",
        restartDelay: "200 millis",
        shutdownTimeout: "10 seconds",
        reader: { idleInterval: "100 millis", maxCallsPerSecond: 20 }
      }).pipe(Scope.extend(workersScope), Effect.provide(workerServices)))
    print(`workers: ${workers.map((w) => w.workerId).join(", ")}`)

    // 7. the re-aggregation job: the same pipeline over the archive, into the batch table
    const job = Job.make({
      name: "reaggregate",
      timing: { every: options.jobEvery },
      range: (scheduledAt) => ({ from: startedAt - 60_000, to: scheduledAt }),
      run: (range) =>
        Effect.gen(function*() {
          // the batch's dead letters and raw records go to scratch sinks: they were counted already
          const scratch = yield* RecordSink.memory<DeadLetter.DeadLetter>("job-dead-letters")
          const summary = yield* Pipeline.run(pipeline).pipe(
            Effect.provide(Layer.mergeAll(
              Archive.layerSource({ from: range.from, to: range.to, stream: names.stream }).pipe(Layer.provide(storeLayer)),
              Archive.layerSink({ maxAge: 0 }).pipe(Layer.provide(Archive.layerMemory)),
              Layer.succeed(Results, batchResults),
              DeadLetter.layer(scratch)
            ))
          )
          return summary.recordsIn
        }).pipe(Effect.scoped),
      retry: Schedule.recurs(1)
    })
    const runLog = yield* Effect.provide(Job.RunLog, Job.layerRunLogMemory)
    const running = yield* Job.start(job).pipe(Effect.provideService(Job.RunLog, runLog))

    // 5. the load: batches POSTed to the gateway
    const counts = { produced: 0, broken: 0, rejected: 0, failedPosts: 0 }
    const brokenData: Array<string> = []
    const post = (batch: ReadonlyArray<Message>) =>
      Effect.promise(() =>
        fetch(`${server.url}/v1/streams/${names.stream}/records`, {
          method: "POST",
          headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
          body: JSON.stringify({ records: batch.map((m) => ({ partitionKey: m.partitionKey, data: m.data })) })
        }).then(async (response) => {
          await response.arrayBuffer()
          return response.status
        }, () => 0)
      )
    const tickMillis = 100
    const perTick = Math.max(1, Math.round(options.rate * tickMillis / 1000))
    let producingOn = true
    const producing = yield* Effect.gen(function*() {
      let i = 0
      let next = Date.now()
      while (producingOn) {
        const now = Date.now()
        const batch = Array.from({ length: perTick }, (_, j) => message(i + j, now))
        i += perTick
        const status = yield* post(batch)
        // only what the gateway accepted (200: Kinesis has it) counts as produced
        if (status === 200) {
          counts.produced += batch.length
          for (const m of batch) {
            if (m.broken) {
              counts.broken++
              brokenData.push(m.data)
            }
          }
        } else {
          counts.failedPosts++
          counts.rejected += batch.length
        }
        next += tickMillis
        yield* sleepMillis(next - Date.now())
      }
    }).pipe(Effect.forkScoped)

    // 6. progress, every second
    const processed = Effect.map(
      Effect.forEach(workers, (w) => w.summary),
      (summaries) => summaries.reduce((sum, s) => sum + s.recordsIn, 0)
    )
    const progress = Effect.gen(function*() {
      const shards = yield* Effect.forEach(workers, (w) => Effect.map(w.shards, (s) => `${w.workerId}:${s.length}`))
      const letters = yield* deadLetters.items
      print(
        `[${((Date.now() - startedAt) / 1000).toFixed(0)}s] produced ${counts.produced} / processed ${yield* processed} / ` +
          `dead letters ${letters.length} (shards ${shards.join(" ")})`
      )
    })
    const progressFiber = yield* progress.pipe(
      Effect.repeat(Schedule.spaced("1 second")),
      Effect.delay("1 second"),
      Effect.forkScoped
    )

    // 8. run until the duration passes or Ctrl-C
    if (options.duration === undefined) yield* Deferred.await(stop)
    else yield* Effect.raceFirst(Effect.sleep(options.duration), Deferred.await(stop))

    print("stopping: producer stopped, waiting for the workers to drain")
    // the batch in flight finishes (it counts once the gateway answered)
    producingOn = false
    yield* Fiber.join(producing)
    // drained: every produced record was read, and nothing more comes for a second (a batch read again
    // after a lease moved counts twice in `processed`, so reaching the count alone is not enough)
    const drainLimit = Date.now() + 30_000
    let last = { count: -1, since: Date.now() }
    let drained = false
    while (!drained && Date.now() < drainLimit) {
      yield* Effect.sleep("100 millis")
      const count = yield* processed
      if (count !== last.count) last = { count, since: Date.now() }
      drained = count >= counts.produced && Date.now() - last.since >= 1_000
    }
    yield* progress
    print(drained ? "drained: every produced record was processed" : "NOT drained after 30 s")

    // clean stop: the workers finish their batches, checkpoint, release their leases
    yield* Scope.close(workersScope, Exit.void)
    yield* archive.flush.pipe(Effect.ignore)
    const leases = yield* leaseStore.list
    const owned = leases.filter((l) => l.owner !== undefined && l.owner !== null).length
    print(`workers stopped: ${owned} of ${leases.length} leases still owned`)
    yield* Fiber.interrupt(progressFiber)

    // a last re-aggregation, now that everything is archived
    const lastRun = yield* running.trigger({ from: startedAt - 60_000, to: Date.now() + 1 })

    // the summary, read back from the tables
    const merged = (tableName: string) =>
      Effect.flatMap(
        ResultsTable.scanPartials<string>(tableName, { pipeline: pipelineName }),
        (stored) => ResultsTable.merge(stored, activityStats)
      )
    const fromStream = yield* merged(names.results)
    const fromBatch = yield* merged(names.batch)
    const aggregated = fromStream.reduce((sum, r) => sum + r.count, 0)
    const batchAggregated = fromBatch.reduce((sum, r) => sum + r.count, 0)
    const summaries = yield* Effect.forEach(workers, (w) => w.summary)
    const filtered = summaries.reduce((sum, s) => sum + s.filtered, 0)
    const late = summaries.reduce((sum, s) => sum + s.late, 0)
    // a batch processed again (after a lease moved) dead-letters its records again: one per record
    const letters = new Map<string, DeadLetter.DeadLetter>()
    for (const l of yield* deadLetters.items) letters.set(`${l.shardId}/${l.sequenceNumber}/${l.subSequenceNumber}`, l)
    const letterData = Array.from(letters.values(), (l) => new TextDecoder().decode(l.data)).sort()
    const sameLetters = JSON.stringify(letterData) === JSON.stringify([...brokenData].sort())

    print(`results (${fromStream.length} windows, merged from the shards' partials):`)
    for (const r of fromStream.slice(0, 12)) {
      print(
        `  ${new Date(r.start).toISOString().slice(11, 16)} ${r.key.padEnd(12)} n=${r.value.count} ` +
          `mean=${r.value.mean?.toFixed(1)} p95=${r.value.p95?.toFixed(0)} (${r.partials} partials)`
      )
    }
    const runs = yield* runLog.list(job.name)
    const scheduled = runs.filter((r) => r.trigger === "schedule")
    print(
      `re-aggregation job: ${scheduled.filter((r) => r.outcome === "succeeded").length} scheduled runs succeeded ` +
        `(${scheduled.filter((r) => r.outcome === "skipped").length} skipped, ` +
        `${scheduled.filter((r) => r.outcome === "failed").length} failed); last run ${lastRun.outcome}, ${lastRun.records ?? 0} records from the archive; ` +
        `batch table aggregated ${batchAggregated} (stream table ${aggregated})`
    )
    const holds = drained && counts.produced === aggregated + letters.size + filtered + late && sameLetters
    print(
      `summary: produced ${counts.produced} (${counts.broken} broken, ${counts.rejected} rejected by the gateway), ` +
        `aggregated ${aggregated}, dead letters ${letters.size}, filtered ${filtered}, late ${late}; ` +
        `dead letters are the broken messages: ${sameLetters}; conservation ${holds ? "holds" : "FAILS"}`
    )
    return holds
  }).pipe(Effect.scoped)


/** kinesalite and dynalite embedded, with the clients talking to them. */
export const emulators = Layer.mergeAll(
  Layer.unwrapEffect(Effect.map(LocalKinesis.LocalKinesis, (local) => Kinesis.layer({ ...local.clientConfig }))),
  Layer.unwrapEffect(Effect.map(LocalDynamoDB.LocalDynamoDB, (local) => DynamoDBClient.layer({ ...local.clientConfig })))
).pipe(Layer.provideMerge(Layer.mergeAll(LocalKinesis.layerKinesalite(), LocalDynamoDB.layerDynalite())))

/**
 * Runs the demo on the embedded emulators until `duration` passes or `stop` completes; succeeds with
 * whether the final checks hold.
 */
export const run = (options: {
  readonly duration?: Duration.Duration | undefined
  readonly rate?: number
  readonly jobEvery?: Duration.Duration
  readonly print?: (line: string) => void
  readonly stop?: Deferred.Deferred<void>
}) =>
  Effect.gen(function*() {
    const stop = options.stop ?? (yield* Deferred.make<void>())
    return yield* program({
      duration: options.duration,
      rate: options.rate ?? 2000,
      jobEvery: options.jobEvery ?? Duration.seconds(5),
      print: options.print ?? ((line) => console.log(line))
    }, stop)
  }).pipe(Effect.provide(emulators))

/** `--name value` from the command line. */
const argument = (name: string): string | undefined => {
  const at = process.argv.indexOf(`--${name}`)
  return at === -1 ? undefined : process.argv[at + 1]
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const duration = argument("duration")
  const main = Effect.gen(function*() {
    const stop = yield* Deferred.make<void>()
    // Ctrl-C: a clean stop (drain, summary); a second Ctrl-C interrupts
    process.once("SIGINT", () => {
      console.log("SIGINT: stopping")
      Effect.runFork(Deferred.succeed(stop, undefined))
      process.once("SIGINT", () => process.exit(130))
    })
    return yield* run({
      duration: duration === undefined ? undefined : parseDuration(duration),
      rate: Number(argument("rate") ?? "2000"),
      jobEvery: parseDuration(argument("job-every") ?? "5s"),
      stop
    })
  })
  Effect.runPromise(main).then(
    (holds) => process.exit(holds ? 0 : 1),
    (error) => {
      console.error(error)
      process.exit(1)
    }
  )
}
