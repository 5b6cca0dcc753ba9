/**
 * The Lambda consumer of the demo's stream: the demo's activities decoded in every format, counted per
 * activity and minute, written to the results table under a pipeline name of its own; undecodable records
 * to the dead-letter table; the invocation's metrics as EMF log lines. The stack bundles this file with
 * esbuild (`NodejsFunction`) and passes the table names in the environment.
 */
import { Emf } from "@tributary/cloudwatch"
import { Aggregate, Decoder, Pipeline, Window } from "@tributary/core"
import { DynamoDBClient, DynamoDBDeadLetters, ResultsTable } from "@tributary/dynamodb"
import { Lambda } from "@tributary/lambda"
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

export const Activity = Schema.Struct({
  CustomerId: Schema.String,
  DateUnixMs: Schema.Number,
  Activity: Schema.String,
  DurationMs: Schema.Number
})

export const pipelineName = "activity-per-minute-lambda"

const stats = ResultsTable.withState(Aggregate.struct({
  count: Aggregate.count,
  mean: Aggregate.mean.pipe(Aggregate.mapInput((a: typeof Activity.Type) => a.DurationMs))
}))

class Results extends Context.Tag("cdk-app/Results")<Results, ResultsTable.ResultsSink<string, ReturnType<typeof stats.result>>>() {}

export const pipeline = Pipeline.make(pipelineName).pipe(
  Pipeline.decode(Decoder.auto(Activity)),
  Pipeline.window({
    window: Window.tumbling("1 minute"),
    key: (a: typeof Activity.Type) => a.Activity,
    eventTime: (a) => a.DateUnixMs,
    aggregate: stats
  }),
  Pipeline.to(Results)
)

const env = (name: string) => process.env[name] ?? ""

const layer = Layer.mergeAll(
  Layer.effect(Results, ResultsTable.sink({ tableName: env("RESULTS_TABLE"), pipeline: pipelineName, createTable: false })),
  DynamoDBDeadLetters.layer({ tableName: env("DEAD_LETTER_TABLE"), createTable: false })
).pipe(Layer.provide(DynamoDBClient.layerConfig()))

export const handler = Emf.handler(Lambda.handler(pipeline, layer))
