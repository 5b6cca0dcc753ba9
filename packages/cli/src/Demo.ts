/**
 * The end-to-end demo, in one process: on embedded local AWS (kinesalite, dynalite, s3rver) by default, or
 * on real AWS (or any endpoints the AWS settings name) with `target: "aws"`.
 *
 *   HTTP POST batches -> ingest gateway -> Kinesis producer -> 4-shard stream
 *   -> 2 consumer workers (fibers sharing the shards through a DynamoDB lease table), one pipeline:
 *      raw archive (S3) -> Decoder.auto (JSON, CSV, key-value text, XML) -> per activity and per customer
 *      per minute (count, mean and p95 of DurationMs) -> DynamoDB results table (partials merged on read)
 *   -> dead letters; every 30 seconds a job re-aggregates the archive's last minute into a second table; the gateway
 *      also serves the results API and the live dashboard.
 *
 *   pnpm demo                          # `tributary demo`: until Ctrl-C
 *   pnpm demo -- --duration 60s        # then a summary and the checks
 *
 * At the end (after `duration`, or the first Ctrl-C) the producer stops, the workers drain, shut down
 * (flush, checkpoint, release leases), and the summary checks conservation: produced = aggregated (the
 * counts merged from the results table) + dead letters + filtered + late, and that the dead letters are
 * exactly the broken messages.
 *
 * @since 0.1.0
 */
import { Consumer } from "@tributary/consumer"
import { Aggregate, Archive, DeadLetter, Decoder, Job, ObjectStore, Pipeline, RecordSink, Window } from "@tributary/core"
import { LeaseStore as LeaseStoreTag } from "@tributary/core/LeaseStore"
import { DynamoDBClient, DynamoDBLeaseStore, ResultsTable } from "@tributary/dynamodb"
import { Kinesis, Producer, StreamAdmin } from "@tributary/kinesis"
import { LocalDynamoDB, LocalKinesis, LocalS3 } from "@tributary/local"
import { S3Client, S3ObjectStore } from "@tributary/s3"
import { ApiKeys, Gateway } from "@tributary/server"
import type { IngestRecord } from "@tributary/server/Ingest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as DemoChecks from "./internal/demoChecks.js"
import * as DemoDashboard from "./internal/demoDashboard.js"
import { DemoError, portInUse, reachable } from "./internal/demoStartup.js"
import { isFree } from "./internal/net.js"
import { count } from "./internal/output.js"
import { message, type Message } from "./Traffic.js"

// ---------------------------------------------------------------------------------------------------------
// the pipeline
// ---------------------------------------------------------------------------------------------------------

/**
 * One customer activity, the demo's record once decoded: who (`CustomerId`), when (`DateUnixMs`, the event
 * time in epoch milliseconds), what (`Activity`) and how long it took (`DurationMs`).
 *
 * @since 0.1.0
 */
export const Activity = Schema.Struct({
  CustomerId: Schema.String,
  DateUnixMs: Schema.Number,
  Activity: Schema.String,
  DurationMs: Schema.Number
})
/**
 * A decoded customer activity (see the `Activity` schema).
 *
 * @since 0.1.0
 */
export type Activity = typeof Activity.Type

/**
 * count, mean and p95 of the duration.
 *
 * @since 0.1.0
 */
export const activityStats = Aggregate.struct({
  count: Aggregate.count,
  mean: Aggregate.mean.pipe(Aggregate.mapInput((a: Activity) => a.DurationMs)),
  p95: Aggregate.quantile(0.95).pipe(Aggregate.mapInput((a: Activity) => a.DurationMs))
})
/**
 * What each window's result holds: the number of activities, and the mean and p95 of their `DurationMs`.
 *
 * @since 0.1.0
 */
export type ActivityStats = Aggregate.Aggregate.Output<typeof activityStats>

/**
 * Where the window results go (the stream's table for the workers, another table for the job).
 *
 * @since 0.1.0
 */
export class Results extends Context.Tag("@tributary/cli/Demo/Results")<
  Results,
  RecordSink.RecordSink<Window.WindowResult<string, ResultsTable.WithState<ActivityStats>>>
>() {}

/**
 * The demo pipeline's name: its results are stored, and asked for (`/v1/results/<name>/<key>`), under it.
 *
 * @since 0.1.0
 */
export const pipelineName = "activity-per-minute"

/**
 * Result keys: `activity:<name>` and `customer:<id>`; each record counts once in each dimension.
 *
 * @since 0.1.0
 */
export const dimensions = { activity: "activity:", customer: "customer:" } as const

/**
 * How often a window's early result is written at most (per shard).
 *
 * @since 0.1.0
 */
export const earlyResultsEvery = Duration.seconds(3)

/**
 * The demo pipeline: archives the raw records, decodes them whatever their format, and aggregates
 * `activityStats` per one-minute tumbling window, once per activity and once per customer, writing early
 * results to `Results`.
 *
 * @since 0.1.0
 */
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
  // one window stage for both dimensions: each activity goes to its activity's and its customer's window
  Pipeline.flatMap((a: Activity): ReadonlyArray<readonly [string, Activity]> => [
    [dimensions.activity + a.Activity, a],
    [dimensions.customer + a.CustomerId, a]
  ]),
  Pipeline.window({
    window: Window.tumbling("1 minute"),
    key: ([key]: readonly [string, Activity]) => key,
    eventTime: ([, a]) => a.DateUnixMs,
    // generous: nothing in the demo is late, so every dead letter is a broken message
    maxOutOfOrderness: "10 minutes",
    // early results, at most one per window and shard every 3 seconds: the table always holds each shard's
    // partial of every window so far (it keeps the highest count per window and partial), so the counts
    // are complete without closing the windows, at a write rate DynamoDB (and dynalite) keeps up with
    emit: "onUpdate",
    emitAtMostEvery: earlyResultsEvery,
    aggregate: ResultsTable.withState(activityStats.pipe(Aggregate.mapInput(([, a]: readonly [string, Activity]) => a)))
  }),
  Pipeline.to(Results)
)

// ---------------------------------------------------------------------------------------------------------
// where it runs
// ---------------------------------------------------------------------------------------------------------

/**
 * The names of what the demo makes.
 *
 * @since 0.1.0
 */
export interface Names {
  /** The Kinesis stream the gateway writes to and the workers read (4 shards). */
  readonly stream: string
  /** The DynamoDB lease table the workers share the shards through. */
  readonly leases: string
  /** The DynamoDB table of the workers' window results. */
  readonly results: string
  /** The DynamoDB table of the re-aggregation job's results. */
  readonly batch: string
  /** The S3 bucket of the raw archive. */
  readonly bucket: string
  /** Key prefix of the raw archive in the bucket. */
  readonly archivePrefix: string
}

/**
 * Names for a run on the embedded local AWS (`target: "local"`).
 *
 * @since 0.1.0
 */
export const localNames: Names = {
  stream: "activities",
  leases: "demo-leases",
  results: "activity-results",
  batch: "activity-results-batch",
  bucket: "tributary-demo-archive",
  archivePrefix: "raw"
}

/**
 * Names for a run on real AWS: the stream and tables carry the run's id, so a run never reads another's
 * records or checkpoints; the archive goes under `demo/<run id>/raw` of a bucket of yours.
 *
 * @since 0.1.0
 */
export const awsNames = (bucket: string, runId: string): Names => ({
  stream: `tributary-demo-${runId}`,
  leases: `tributary-demo-${runId}-leases`,
  results: `tributary-demo-${runId}-results`,
  batch: `tributary-demo-${runId}-results-batch`,
  bucket,
  archivePrefix: `demo/${runId}/raw`
})

/**
 * kinesalite, dynalite and s3rver each in a child process (another core than the demo's own work, as real
 * endpoints: embedded, a job's run held the workers' reads for seconds), and the clients talking to them.
 *
 * @since 0.1.0
 */
export const localAws = Layer.mergeAll(
  Layer.unwrapEffect(Effect.map(LocalKinesis.LocalKinesis, (local) => Kinesis.layer({ ...local.clientConfig }))),
  Layer.unwrapEffect(Effect.map(LocalDynamoDB.LocalDynamoDB, (local) => DynamoDBClient.layer({ ...local.clientConfig }))),
  Layer.unwrapEffect(Effect.map(LocalS3.LocalS3, (local) => S3Client.layer({ ...local.clientConfig })))
).pipe(Layer.provide(Layer.mergeAll(
  LocalKinesis.layerKinesaliteProcess(),
  LocalDynamoDB.layerDynaliteProcess(),
  LocalS3.layerS3rverProcess({ buckets: [localNames.bucket] })
)))

/**
 * The clients from the standard AWS settings (region, credential chain, `AWS_ENDPOINT_URL_*`).
 *
 * @since 0.1.0
 */
export const configuredAws = Layer.mergeAll(Kinesis.layerConfig(), DynamoDBClient.layerConfig(), S3Client.layerConfig())

// ---------------------------------------------------------------------------------------------------------
// the program
// ---------------------------------------------------------------------------------------------------------

/**
 * The settings of `program`, every one given (`run` fills them in from `RunOptions`).
 *
 * @since 0.1.0
 */
export interface Options {
  /** Stop after this long; undefined: when `stop` completes (Ctrl-C). */
  readonly duration: Duration.Duration | undefined
  /** Messages per second sent to the gateway. */
  readonly rate: number
  /** How often the job re-aggregates the last complete minute of the archive. */
  readonly jobEvery: Duration.Duration
  /** Where the demo's report lines go (what it made, the URLs, the summary and the checks). */
  readonly print: (line: string) => void
  /** The progress line of every second (rewritten in place on a terminal). */
  readonly progress: (line: string) => void
  /** The names of the stream, tables and bucket the demo makes and uses. */
  readonly names: Names
  /** The gateway's port (0: any free one). */
  readonly port: number
  /** Delete the stream and the tables at the end (runs on real AWS). */
  readonly cleanUp: boolean
}

const apiKey = "demo-key"

/** Why the demo's checkpoints stay behind what was processed. */
const checkpointNote = "the window stage keeps each checkpoint at the earliest record of its open windows, which " +
  "close 10 minutes (maxOutOfOrderness) after their end: a restart reads from there again to rebuild them"

/** How long the end of the run waits for a count that no longer moves before it gives up. */
const stallLimit = 30_000

/** Effect.sleep that does not mind being asked to sleep 0 or less. */
const sleepMillis = (ms: number) => Effect.sleep(Duration.millis(Math.max(0, ms)))

const sum = <A>(items: ReadonlyArray<A>, f: (a: A) => number) => items.reduce((total, a) => total + f(a), 0)

/**
 * The demo, on whatever `Kinesis`, `DynamoDBClient` and `S3Client` are given; succeeds with whether the
 * final checks hold.
 *
 * @since 0.1.0
 */
export const program = (options: Options, stop: Deferred.Deferred<void>) =>
  Effect.gen(function*() {
    const { names, print } = options
    const startedAt = Date.now()

    // 1. the stream, the tables and the archive
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
    if (options.cleanUp) {
      yield* Effect.addFinalizer(() =>
        Effect.gen(function*() {
          const dynamodb = yield* DynamoDBClient.DynamoDBClient
          for (const table of [names.leases, names.results, names.batch]) {
            yield* dynamodb.deleteTable({ TableName: table }).pipe(Effect.ignore)
          }
          yield* StreamAdmin.deleteStream(names.stream).pipe(Effect.ignore)
          print(`deleted stream ${names.stream} and tables ${names.leases}, ${names.results}, ${names.batch}`)
        })
      )
    }
    const store = yield* S3ObjectStore.make({ bucket: names.bucket })
    const storeLayer = Layer.succeed(ObjectStore.ObjectStore, store)
    print(`stream ${names.stream} (4 shards), tables ${names.leases}, ${names.results}, ${names.batch}`)
    print(`archive: s3://${names.bucket}/${names.archivePrefix}`)

    // 2. the gateway, a Kinesis producer behind it; it also serves results and the dashboard. Every record
    // the gateway writes is counted, whoever posted it: the demo's producer, or anyone with the URL and key
    const producer = yield* Producer.make<IngestRecord>({
      stream: names.stream,
      partitionKey: (r) => r.partitionKey,
      data: (r) => r.data
    })
    let written = 0
    const gatewaySink = RecordSink.make<IngestRecord>(
      producer.name,
      (batch) => Effect.tap(producer.write(batch), () => Effect.sync(() => void (written += batch.length)))
    )
    const dynamodb = yield* DynamoDBClient.DynamoDBClient
    const readResults = (query: { readonly key: string; readonly from: number; readonly to: number }) =>
      ResultsTable.query({ tableName: names.results, pipeline: pipelineName, aggregate: activityStats, ...query }).pipe(
        Effect.provideService(DynamoDBClient.DynamoDBClient, dynamodb)
      )
    const deadLetters = yield* RecordSink.memory<DeadLetter.DeadLetter>("dead-letters")
    const workersScope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(workersScope, Exit.void))
    const workers: Array<Consumer.ConsumerShape> = []
    const dashboard = DemoDashboard.make({
      stream: names.stream,
      workers: () => workers,
      leaseStore,
      deadLetters: deadLetters.items,
      readResults,
      dimensions,
      checkpointNote
    })
    const server = yield* Gateway.serve({
      keys: [{ name: "demo", sha256: ApiKeys.hash(apiKey), streams: [names.stream], pipelines: [pipelineName] }],
      sinkFor: Gateway.sinks({ [names.stream]: gatewaySink }),
      results: { reader: (query) => readResults(query), pipelines: [pipelineName] },
      dashboard: { snapshot: dashboard.snapshot, title: "Tributary demo: customer activity" }
    }, { host: "127.0.0.1", port: options.port }).pipe(
      Effect.catchTag("ServeError", (error) =>
        Effect.fail(
          Predicate.hasProperty(error.cause, "code") && error.cause.code === "EADDRINUSE"
            ? portInUse(options.port)
            : new DemoError({ reason: "GatewayFailed", detail: `the gateway cannot listen: ${String(error.cause)}` })
        ))
    )
    print(`gateway: ${server.url} (POST ${server.url}/v1/streams/${names.stream}/records, Bearer ${apiKey})`)
    print(`results: ${server.url}/v1/results/${pipelineName}/activity:login (Bearer ${apiKey})`)
    print(`dashboard: ${server.url}/dashboard`)

    // new results invalidate the cached answers of their keys
    const resultsCache = server.results
    const invalidating = RecordSink.make<Window.WindowResult<string, ResultsTable.WithState<ActivityStats>>>(
      results.name,
      (batch) =>
        Effect.zipRight(
          results.write(batch),
          resultsCache === undefined
            ? Effect.void
            : Effect.forEach(new Set(batch.map((r) => r.key)), (key) => resultsCache.invalidate(pipelineName, key), { discard: true })
        )
    )

    // 3. two workers, sharing the shards through the lease table; their own scope, closed to stop them
    const archive = yield* Archive.sink({ prefix: names.archivePrefix, maxAge: "500 millis" }).pipe(Effect.provide(storeLayer))
    const workerServices = Layer.mergeAll(
      Layer.succeed(Archive.RawArchive, archive),
      Layer.succeed(Results, invalidating),
      DeadLetter.layer(deadLetters),
      Layer.succeed(LeaseStoreTag, leaseStore)
    )
    for (const workerId of ["worker-1", "worker-2"]) {
      workers.push(
        yield* Consumer.make(pipeline, {
          stream: names.stream,
          workerId,
          initialPosition: "TRIM_HORIZON",
          leaseDuration: "2 seconds",
          takeInterval: "500 millis",
          restartDelay: "200 millis",
          shutdownTimeout: "10 seconds",
          // polled often (emulators have no 5 calls/s limit)
          reader: { idleInterval: "100 millis", maxCallsPerSecond: 20 }
        }).pipe(Scope.extend(workersScope), Effect.provide(workerServices))
      )
    }
    print(`workers: ${workers.map((w) => w.workerId).join(", ")}`)

    // 4. the re-aggregation job: the same pipeline over the archive, into the batch table
    const job = Job.make({
      name: "reaggregate",
      timing: { every: options.jobEvery },
      // the last complete minute: a bounded amount of work per run however long the demo runs (the
      // results table keeps the highest count of a window, so a run again over a minute changes nothing)
      range: (scheduledAt) => {
        const end = Math.floor(scheduledAt / 60_000) * 60_000
        return { from: end - 60_000, to: end }
      },
      run: (range) =>
        Effect.gen(function*() {
          // the batch's dead letters and raw records go to scratch sinks: they were counted already
          const scratch = yield* RecordSink.memory<DeadLetter.DeadLetter>("job-dead-letters")
          const summary = yield* Pipeline.run(pipeline).pipe(
            Effect.provide(Layer.mergeAll(
              Archive.layerSource({ from: range.from, to: range.to, stream: names.stream, prefix: names.archivePrefix })
                .pipe(Layer.provide(storeLayer)),
              Archive.layerSink({ maxAge: 0 }).pipe(Layer.provide(ObjectStore.layerMemory)),
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
    const producingSince = Date.now()
    let producingUntil = producingSince
    const producing = yield* Effect.gen(function*() {
      let i = 0
      let next = Date.now()
      while (producingOn) {
        const now = Date.now()
        const batch = Array.from({ length: perTick }, (_, j) => message(i + j, now))
        i += perTick
        const status = yield* post(batch)
        // only what the gateway accepted (200: Kinesis has it) counts as produced by the demo
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
      producingUntil = Date.now()
    }).pipe(Effect.forkScoped)

    const merged = (tableName: string) =>
      Effect.flatMap(
        ResultsTable.scanPartials<string>(tableName, { pipeline: pipelineName }),
        (stored) => ResultsTable.merge(stored, activityStats)
      )
    const storedTotals = (tableName: string) =>
      Effect.map(merged(tableName), (all) => ({
        activity: sum(all.filter((r) => r.key.startsWith(dimensions.activity)), (r) => r.count),
        customer: sum(all.filter((r) => r.key.startsWith(dimensions.customer)), (r) => r.count)
      }))

    // 6. progress, every second
    const summaries = Effect.forEach(workers, (w) => w.summary)
    const processed = Effect.map(summaries, (all) => sum(all, (s) => s.recordsIn))
    const progressLine = Effect.gen(function*() {
      const shards = yield* Effect.forEach(workers, (w) => Effect.map(w.shards, (s) => `${w.workerId}:${s.length}`))
      const all = yield* summaries
      const lag = yield* dashboard.maxLagMillis
      return `[${((Date.now() - startedAt) / 1000).toFixed(0)}s] produced ${written} / in ${sum(all, (s) => s.recordsIn)} / ` +
        `out ${sum(all, (s) => s.recordsOut)} / dead letters ${sum(all, (s) => s.deadLettered)} / ` +
        `lag ${lag === undefined ? "?" : `${lag} ms`} (shards ${shards.join(" ")})`
    })
    const progressFiber = yield* Effect.flatMap(progressLine, (line) => Effect.sync(() => options.progress(line))).pipe(
      Effect.repeat(Schedule.spaced("1 second")),
      Effect.delay("1 second"),
      Effect.forkScoped
    )

    // 7. run until the duration passes or Ctrl-C
    if (options.duration === undefined) yield* Deferred.await(stop)
    else yield* Effect.raceFirst(Effect.sleep(options.duration), Deferred.await(stop))

    yield* Fiber.interrupt(progressFiber)
    print("stopping: producer stopped, waiting for the workers to drain")
    // the batch in flight finishes (it counts once the gateway answered)
    producingOn = false
    yield* Fiber.join(producing)
    // drained: every record the gateway wrote was read, and nothing more comes for a second (a batch read
    // again after a lease moved counts twice in `processed`, so reaching the count alone is not enough).
    // A busy machine is slow, not stuck: the wait ends only when nothing moved for `stallLimit`.
    let last = { count: -1, since: Date.now() }
    let drained = false
    while (!drained && Date.now() - last.since < stallLimit) {
      yield* Effect.sleep("100 millis")
      const seen = yield* processed
      if (seen !== last.count) last = { count: seen, since: Date.now() }
      drained = seen >= written && Date.now() - last.since >= 1_000
    }
    print(yield* progressLine)
    if (drained) print("drained: every produced record was processed")
    else {
      print(`NOT drained: nothing was processed for ${stallLimit / 1000} s, ${count(written - last.count)} records short:`)
      const leasesNow = [...(yield* leaseStore.list)].sort((a, b) => a.leaseKey.localeCompare(b.leaseKey))
      const lags = yield* Effect.forEach(leasesNow, (lease) => dashboard.lagOf(lease.leaseKey))
      for (const line of DemoChecks.lagging(leasesNow, lags)) print(`  ${line}`)
    }
    // the last early results of each window come at most `earlyResultsEvery` after its last record; the
    // table is read again while it still changes
    const aggregatable = Effect.map(
      Effect.zip(summaries, deadLetters.items),
      ([all, letters]) => written - DemoChecks.uniqueLetters(letters).size - sum(all, (s) => s.filtered + s.late)
    )
    let stored = yield* storedTotals(names.results)
    let settled = { totals: JSON.stringify(stored), since: Date.now() }
    while (Date.now() - settled.since < Duration.toMillis(earlyResultsEvery) + 10_000) {
      const expected = yield* aggregatable
      if (stored.activity === expected && stored.customer === expected) break
      yield* Effect.sleep("500 millis")
      stored = yield* storedTotals(names.results)
      if (JSON.stringify(stored) !== settled.totals) settled = { totals: JSON.stringify(stored), since: Date.now() }
    }

    // where the checkpoints are, before the workers let go of the shards
    const positions = (yield* Effect.forEach(workers, (w) => w.positions)).flat()
    const heldBack = positions.filter((p) => p.heldBack).length
    if (heldBack > 0) print(`checkpoints: ${heldBack} of ${positions.length} shards checkpointed behind what they processed: ${checkpointNote}`)

    // clean stop: the workers finish their batches, checkpoint, release their leases
    yield* Scope.close(workersScope, Exit.void)
    yield* archive.flush.pipe(Effect.ignore)
    const leases = yield* leaseStore.list
    const owned = leases.filter((l) => l.owner !== undefined && l.owner !== null).length
    print(`workers stopped: ${owned} of ${leases.length} leases still owned`)

    // a last re-aggregation of everything, now that everything is archived
    const lastRun = yield* running.trigger({ from: startedAt - 60_000, to: Date.now() + 1 })

    // the summary, read back from the tables
    const fromStream = yield* merged(names.results)
    const fromBatch = yield* merged(names.batch)
    const byDimension = (all: ReadonlyArray<ResultsTable.MergedResult<string, ActivityStats>>, prefix: string) =>
      all.filter((r) => r.key.startsWith(prefix))
    const activities = byDimension(fromStream, dimensions.activity)
    const customers = byDimension(fromStream, dimensions.customer)
    const aggregated = sum(activities, (r) => r.count)
    const perCustomer = sum(customers, (r) => r.count)
    const batchAggregated = sum(byDimension(fromBatch, dimensions.activity), (r) => r.count)
    const all = yield* summaries
    const filtered = sum(all, (s) => s.filtered)
    const late = sum(all, (s) => s.late)
    const letters = DemoChecks.uniqueLetters(yield* deadLetters.items)
    const deadLetterData = new Set(Array.from(letters.values(), (l) => new TextDecoder().decode(l.data)))

    print(`results per activity (${activities.length} windows, merged from the shards' partials):`)
    for (const r of activities.slice(0, 12)) {
      print(
        `  ${new Date(r.start).toISOString().slice(11, 16)} ${r.key.slice(dimensions.activity.length).padEnd(12)} n=${r.value.count} ` +
          `mean=${r.value.mean?.toFixed(1)} p95=${r.value.p95?.toFixed(0)} (${r.partials} partials)`
      )
    }
    const top = [...customers].sort((a, b) => b.count - a.count).slice(0, 3)
    print(
      `results per customer: ${customers.length} windows of ${new Set(customers.map((r) => r.key)).size} customers, ` +
        `${perCustomer} records; busiest: ${top.map((r) => `${r.key.slice(dimensions.customer.length)} n=${r.count}`).join(", ")}`
    )
    const runs = yield* runLog.list(job.name)
    const scheduled = runs.filter((r) => r.trigger === "schedule")
    print(
      `re-aggregation job: ${scheduled.filter((r) => r.outcome === "succeeded").length} scheduled runs succeeded ` +
        `(${scheduled.filter((r) => r.outcome === "skipped").length} skipped, ` +
        `${scheduled.filter((r) => r.outcome === "failed").length} failed); last run ${lastRun.outcome}, ${lastRun.records ?? 0} records from the archive; ` +
        `batch table aggregated ${batchAggregated} (stream table ${aggregated})`
    )
    // the rate the producer reached, against the one asked for
    const shortfall = DemoChecks.rateShortfall(counts.produced, producingUntil - producingSince, options.rate)
    if (shortfall !== undefined) print(shortfall)
    const verdict = DemoChecks.check({
      written,
      produced: counts.produced,
      broken: counts.broken,
      rejected: counts.rejected,
      drained,
      processed: last.count,
      aggregated,
      perCustomer,
      filtered,
      late,
      deadLetters: letters.size,
      deadLetterData,
      brokenData
    })
    print(verdict.summary)
    for (const reason of verdict.reasons) print(`  - ${reason}`)
    return verdict.holds
  }).pipe(Effect.scoped)

/**
 * Options of `run`: how long and how fast, where it runs, and where its output goes.
 *
 * @since 0.1.0
 */
export interface RunOptions {
  /** Stop after this long. Default: run until `stop` completes. */
  readonly duration?: Duration.Duration | undefined
  /** Default 2,000 messages a second. */
  readonly rate?: number
  /** How often the job re-aggregates the last complete minute of the archive. Default 30 seconds. */
  readonly jobEvery?: Duration.Duration
  /** Where the report lines go. Default `console.log`. */
  readonly print?: (line: string) => void
  /** The progress line of every second. Default `print`. */
  readonly progress?: (line: string) => void
  /** Completing it stops the demo cleanly (e.g. on Ctrl-C). */
  readonly stop?: Deferred.Deferred<void>
  /**
   * "local" (default): embedded kinesalite, dynalite and s3rver. "aws": the clients from the AWS settings
   * (real AWS, or the endpoints `AWS_ENDPOINT_URL_*` name); needs `bucket`.
   */
  readonly target?: "local" | "aws"
  /** The archive's bucket, which must exist (target "aws"). */
  readonly bucket?: string
  /** Keep the stream and tables of an "aws" run (default: deleted at the end). */
  readonly keep?: boolean
  /** The gateway's port. Default 0 (any free port; the URL is printed). */
  readonly port?: number
}

/**
 * Runs the demo until `duration` passes or `stop` completes; succeeds with whether the final checks hold.
 * Fails with a `DemoError` that says what to do when it cannot start.
 *
 * @since 0.1.0
 */
export const run = (options: RunOptions = {}) =>
  Effect.gen(function*() {
    const stop = options.stop ?? (yield* Deferred.make<void>())
    const target = options.target ?? "local"
    if (target === "aws" && (options.bucket === undefined || options.bucket === "")) {
      return yield* new DemoError({ reason: "MissingBucket", detail: "a run on AWS needs the archive's bucket (--bucket)" })
    }
    const print = options.print ?? ((line: string) => console.log(line))
    const settings = {
      duration: options.duration,
      rate: options.rate ?? 2000,
      jobEvery: options.jobEvery ?? Duration.seconds(30),
      print,
      progress: options.progress ?? print,
      port: options.port ?? 0
    }
    // told at once, not after the emulators started
    if (settings.port !== 0 && !(yield* isFree(settings.port))) return yield* portInUse(settings.port)
    if (target === "local") {
      return yield* program({ ...settings, names: localNames, cleanUp: false }, stop).pipe(Effect.provide(localAws))
    }
    const runId = new Date().toISOString().replace(/\D/g, "").slice(2, 14)
    const names = awsNames(options.bucket!, runId)
    return yield* Effect.zipRight(
      reachable(names),
      program({ ...settings, names, cleanUp: options.keep !== true }, stop)
    ).pipe(Effect.provide(configuredAws))
  })

export {
  /**
   * Why the demo cannot start: `MissingBucket` (a run on AWS without `bucket`), `BucketNotFound`,
   * `PortInUse` (the gateway's port), `GatewayFailed`. The message says what to do.
   *
   * @since 0.1.0
   * @category errors
   */
  DemoError
}
