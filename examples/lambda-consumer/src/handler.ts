/**
 * The function as it is deployed: page views counted per page over Lambda's tumbling windows, results to a
 * DynamoDB table, dead letters to another. `main.ts` runs the same handler locally; this module is what
 * gets bundled (docs/lambda.md, "Packaging"):
 *
 *   npx esbuild src/handler.ts --bundle --platform=node --target=node20 --format=esm \
 *     --outfile=dist/index.mjs --sourcemap --minify-syntax
 *
 * Lambda's handler setting is then `index.handler`. The tables are made beforehand (see docs/deployment.md);
 * their names come from the function's environment (`RESULTS_TABLE`, `DEAD_LETTER_TABLE`), the DynamoDB
 * client from the standard AWS settings, all read when the first invocation builds the layer.
 */
import { Aggregate, type DeadLetter, Decoder, RecordSink } from "@tributary/core"
import * as DynamoDBClient from "@tributary/dynamodb/DynamoDBClient"
import * as DynamoDBDeadLetters from "@tributary/dynamodb/DynamoDBDeadLetters"
import * as ResultsTable from "@tributary/dynamodb/ResultsTable"
import { Lambda } from "@tributary/lambda"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
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

export type PageStats = Aggregate.Aggregate.Output<typeof pageStats>

/** What the handler writes: the results of `ResultsTable.withState(pageStats)` carry their state too. */
export type PageResult = Lambda.TumblingWindowResult<string, ResultsTable.WithState<PageStats>>

export const tableName = "page-results"
export const pipelineName = "page-views"

/**
 * The part of a window's input a result aggregates: its shard, and its segment when the window was ended
 * early (a state over 1 MB) and went on in a segment of its own. The partial names the item (`sk`), so a
 * retried final invocation rewrites the same item; segments of one shard count as disjoint parts, so
 * reading merges them like shards.
 */
export const asPartial = (r: PageResult): PageResult =>
  r.segment === 0 ? r : { ...r, shards: [`${r.shardId}#${r.segment}`] }

/**
 * The results table: `ResultsTable.sink` (the table created if missing, unless `createTable` is false),
 * each result stored as its (shard, segment) partial.
 */
export const resultsTable = (options: { readonly tableName?: string; readonly createTable?: boolean } = {}) =>
  Effect.map(
    ResultsTable.sink<string, ResultsTable.WithState<PageStats>>({
      tableName: options.tableName ?? tableName,
      pipeline: pipelineName,
      createTable: options.createTable ?? true
    }),
    (table): RecordSink.RecordSink<PageResult> => RecordSink.make(table.name, (results) => table.write(results.map(asPartial)))
  )

/** The handler, writing its results to `results` (a sink, or a `Context.Tag` of one) with the services of `layer`. */
export const makeHandler = <R, E>(
  results: RecordSink.RecordSink<PageResult> | Effect.Effect<RecordSink.RecordSink<PageResult>, never, R>,
  layer: Layer.Layer<R | DeadLetter.DeadLetterSink, E>
): Lambda.TumblingWindowHandler =>
  Lambda.tumblingWindowHandler({
    name: pipelineName,
    decoder: Decoder.json(PageView),
    key: (v) => v.page,
    aggregate: ResultsTable.withState(pageStats),
    sink: results,
    layer,
    retry: Schedule.recurs(1)
  })

/** The results table of the deployed function. */
export class PageResults extends Context.Tag("examples/lambda-consumer/PageResults")<PageResults, RecordSink.RecordSink<PageResult>>() {}

/** What the deployed function runs on: both tables on the DynamoDB client of the AWS settings. */
export const live = Layer.mergeAll(
  Layer.effect(
    PageResults,
    Effect.flatMap(Config.string("RESULTS_TABLE").pipe(Config.withDefault(tableName)), (name) =>
      resultsTable({ tableName: name, createTable: false }))
  ),
  Layer.unwrapEffect(
    Effect.map(Config.string("DEAD_LETTER_TABLE").pipe(Config.withDefault("page-view-dead-letters")), (name) =>
      DynamoDBDeadLetters.layer({ tableName: name, createTable: false }))
  )
).pipe(Layer.provide(DynamoDBClient.layerConfig()))

/** The function's entry point. */
export const handler = makeHandler(PageResults, live)
