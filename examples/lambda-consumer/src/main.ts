/**
 * Lambda consumer: page views from a Kinesis stream, counted per page over Lambda's 5-minute tumbling
 * windows, results to a table. The design is Kinesis -> Lambda (event source mapping with
 * TumblingWindowInSeconds and ReportBatchItemFailures) -> DynamoDB. Here it runs on this machine: the
 * stream is embedded kinesalite, the event source mapping is `LocalRunner`, and the results table is in
 * memory (keyed exactly as a DynamoDB table would be: shard, page, window start, segment), with one
 * injected throttling on the first final write to show the retry.
 *
 *   pnpm --filter @tributary/example-lambda-consumer start
 */
import { Aggregate, DeadLetter, Decoder, RecordSink } from "@tributary/core"
import { SinkError } from "@tributary/core/TributaryError"
import * as Kinesis from "@tributary/kinesis/Kinesis"
import * as StreamAdmin from "@tributary/kinesis/StreamAdmin"
import { Lambda, LocalRunner } from "@tributary/lambda"
import * as LocalKinesis from "@tributary/local/LocalKinesis"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as LayerImpl from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"

export const PageView = Schema.Struct({
  page: Schema.String,
  user: Schema.String,
  millis: Schema.Number.pipe(Schema.nonNegative()) // time to first render
})
export type PageView = typeof PageView.Type

/** Views, distinct users and mean render time per page. */
export const pageStats = Aggregate.struct({
  views: Aggregate.count,
  users: Aggregate.distinctCount().pipe(Aggregate.mapInput((v: PageView) => v.user)),
  meanMillis: Aggregate.mean.pipe(Aggregate.mapInput((v: PageView) => v.millis))
})

export type PageResult = Lambda.TumblingWindowResult<string, Aggregate.Aggregate.Output<typeof pageStats>>

/** The results table's key: writing a result again overwrites it (a retried final invocation). */
export const resultKey = (r: PageResult) => `${r.shardId}#${r.key}#${r.start}#${r.segment}`

/** The function as deployed would export it: `export const handler = makeHandler(liveResultsSink, liveLayer)`. */
export const makeHandler = (
  results: RecordSink.RecordSink<PageResult>,
  layer: Layer.Layer<DeadLetter.DeadLetterSink>
): Lambda.TumblingWindowHandler =>
  Lambda.tumblingWindowHandler({
    name: "page-views",
    decoder: Decoder.json(PageView),
    key: (v) => v.page,
    aggregate: pageStats,
    sink: results,
    layer,
    retry: Schedule.recurs(1)
  })

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

export const program = Effect.gen(function*() {
  const local = yield* LocalKinesis.LocalKinesis
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

  // the results table (in memory here); its first two writes are throttled
  const table = new Map<string, PageResult>()
  let throttle = 2
  const results = RecordSink.make<PageResult>("page-results", (items) =>
    Effect.suspend(() => {
      if (throttle-- > 0) {
        return Effect.fail(new SinkError({ sink: "page-results", reason: "throttled", retryability: "transient" }))
      }
      for (const r of items) table.set(resultKey(r), r)
      return Effect.void
    }))
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
  return { endpoint: local.endpoint, summary, results: Array.from(table.values()), deadLetters: yield* deadLetters.items }
})

/** Kinesis on embedded kinesalite. */
export const layer = LayerImpl.unwrapEffect(
  Effect.map(LocalKinesis.LocalKinesis, (local) => Kinesis.layer({ ...local.clientConfig }))
).pipe(LayerImpl.provideMerge(LocalKinesis.layerKinesalite()))

const main = Effect.gen(function*() {
  const { deadLetters, results, summary } = yield* program
  console.log(
    `records ${summary.records}, invocations ${summary.invocations}, retries ${summary.retries}, ` +
      `function errors ${summary.functionErrors}, dead letters ${deadLetters.length}`
  )
  // per shard and window partials, merged per page on read
  const pages = new Map<string, { views: number; meanMillis: number }>()
  for (const r of results) {
    const page = pages.get(r.key) ?? { views: 0, meanMillis: 0 }
    const views = page.views + r.value.views
    pages.set(r.key, { views, meanMillis: (page.meanMillis * page.views + (r.value.meanMillis ?? 0) * r.value.views) / views })
  }
  let total = 0
  for (const [page, stats] of Array.from(pages).sort(([a], [b]) => a < b ? -1 : 1)) {
    total += stats.views
    console.log(`  ${page}: ${stats.views} views, mean render ${stats.meanMillis.toFixed(1)} ms`)
  }
  console.log(`views aggregated: ${total}`)
}).pipe(Effect.provide(layer), Effect.scoped)

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(main).catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
}
