/**
 * Lambda consumer: page views from a Kinesis stream, counted per page over Lambda's 5-minute tumbling
 * windows, results to a DynamoDB table. The design is Kinesis -> Lambda (event source mapping with
 * TumblingWindowInSeconds and ReportBatchItemFailures) -> DynamoDB. Here it runs on this machine: the
 * stream is embedded kinesalite, the event source mapping is `LocalRunner`, and the results table is a
 * DynamoDB table on embedded dynalite written by `ResultsTable` (one item per shard, page, window and
 * segment), with one injected throttling on the first final write to show the retry. The results printed
 * are read back from the table, the shards' partials merged.
 *
 *   pnpm --filter @tributary/example-lambda-consumer start
 */
import { DeadLetter, RecordSink } from "@tributary/core"
import { SinkError } from "@tributary/core/TributaryError"
import * as DynamoDBClient from "@tributary/dynamodb/DynamoDBClient"
import * as ResultsTable from "@tributary/dynamodb/ResultsTable"
import * as Kinesis from "@tributary/kinesis/Kinesis"
import * as StreamAdmin from "@tributary/kinesis/StreamAdmin"
import { LocalRunner } from "@tributary/lambda"
import * as LocalDynamoDB from "@tributary/local/LocalDynamoDB"
import * as LocalKinesis from "@tributary/local/LocalKinesis"
import * as Effect from "effect/Effect"
import * as LayerImpl from "effect/Layer"
import { makeHandler, type PageResult, pageStats, type PageView, pipelineName, resultsTable, tableName } from "./handler.js"

export * from "./handler.js"

/** 10,000 views of 8 pages by 500 users, and one broken record. */
export const views = (): Array<PageView> => {
  let seed = 7
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648
  return Array.from({ length: 10_000 }, (_, i) => ({
    page: `/page/${Math.floor(random() * 8)}`,
    user: `user-${Math.floor(random() * 500)}`,
    millis: 50 + (i % 200)
  }))
}

export const pages = Array.from({ length: 8 }, (_, i) => `/page/${i}`)

/** A page's windows as read back from the table: one result per window, its shards' partials merged. */
export const readPage = (page: string) =>
  ResultsTable.query({ tableName, pipeline: pipelineName, key: page, from: 0, to: Date.now() + 3_600_000, aggregate: pageStats })

export const program = Effect.gen(function*() {
  const kinesisLocal = yield* LocalKinesis.LocalKinesis
  const dynamodbLocal = yield* LocalDynamoDB.LocalDynamoDB
  const stream = "page-views"
  yield* StreamAdmin.ensureStream(stream, { shards: 2 })
  const kinesis = yield* Kinesis.Kinesis
  const all = views()
  for (let i = 0; i < all.length; i += 500) {
    yield* kinesis.putRecords({
      StreamName: stream,
      Records: all.slice(i, i + 500).map((v) => ({ PartitionKey: v.user, Data: Buffer.from(JSON.stringify(v)) }))
    })
  }
  yield* kinesis.putRecords({ StreamName: stream, Records: [{ PartitionKey: "x", Data: Buffer.from("{broken") }] })

  // the results table in DynamoDB; its first two writes are throttled
  const table = yield* resultsTable()
  let throttle = 2
  const results = RecordSink.make<PageResult>(table.name, (items) =>
    Effect.suspend(() =>
      throttle-- > 0
        ? Effect.fail(new SinkError({ sink: table.name, reason: "throttled", retryability: "transient" }))
        : table.write(items)
    ))
  const deadLetters = yield* RecordSink.memory<DeadLetter.DeadLetter>("dead-letters")
  const handler = makeHandler(results, DeadLetter.layer(deadLetters))

  const summary = yield* LocalRunner.runTumblingWindow(handler, {
    stream,
    batchSize: 500,
    maximumBatchingWindow: "100 millis",
    tumblingWindow: "5 minutes",
    maximumRetryAttempts: 5
  })
  yield* Effect.promise(() => handler.dispose())

  // read back from DynamoDB
  const stored = yield* ResultsTable.scanPartials<string>(tableName, { pipeline: pipelineName })
  const windows = (yield* Effect.forEach(pages, readPage)).flat()
  return {
    endpoints: { kinesis: kinesisLocal.endpoint, dynamodb: dynamodbLocal.endpoint },
    summary,
    partials: stored.length,
    results: windows,
    deadLetters: yield* deadLetters.items
  }
})

/** Kinesis on embedded kinesalite, DynamoDB on embedded dynalite. */
export const layer = LayerImpl.mergeAll(
  LayerImpl.unwrapEffect(
    Effect.map(LocalKinesis.LocalKinesis, (local) => Kinesis.layer({ ...local.clientConfig }))
  ).pipe(LayerImpl.provideMerge(LocalKinesis.layerKinesalite())),
  LayerImpl.unwrapEffect(
    Effect.map(LocalDynamoDB.LocalDynamoDB, (local) => DynamoDBClient.layer({ ...local.clientConfig }))
  ).pipe(LayerImpl.provideMerge(LocalDynamoDB.layerDynalite()))
)

const main = Effect.gen(function*() {
  const { deadLetters, partials, results, summary } = yield* program
  console.log(
    `records ${summary.records}, invocations ${summary.invocations}, retries ${summary.retries}, ` +
      `function errors ${summary.functionErrors}, dead letters ${deadLetters.length}`
  )
  console.log(`DynamoDB table ${tableName}: ${partials} items (one per shard, page and window), read back per page:`)
  // one result per page and window (the shards merged in DynamoDB's reader); windows summed per page
  const byPage = new Map<string, { views: number; meanMillis: number; windows: number }>()
  for (const r of results) {
    const page = byPage.get(r.key) ?? { views: 0, meanMillis: 0, windows: 0 }
    const views = page.views + r.value.views
    byPage.set(r.key, {
      views,
      meanMillis: (page.meanMillis * page.views + (r.value.meanMillis ?? 0) * r.value.views) / views,
      windows: page.windows + 1
    })
  }
  let total = 0
  for (const [page, stats] of Array.from(byPage).sort(([a], [b]) => a < b ? -1 : 1)) {
    total += stats.views
    console.log(
      `  ${page}: ${stats.views} views, mean render ${stats.meanMillis.toFixed(1)} ms ` +
        `(${stats.windows} window${stats.windows === 1 ? "" : "s"})`
    )
  }
  console.log(`views aggregated: ${total}`)
}).pipe(Effect.scoped, Effect.provide(layer))

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(main).catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
}
