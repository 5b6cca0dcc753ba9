/**
 * Table changes: the same typed pipeline on the changes of a DynamoDB table, by both of AWS's routes.
 *
 * An orders table on embedded dynalite takes inserts, updates and deletes. Every change is recorded the
 * way the table's stream would hold it (`TableStream`: dynalite has no streams), and aggregated per
 * customer and minute: the order value it adds (new amount minus old) and the status transitions it makes
 * (`placed→paid`, `paid→deleted`, ...).
 *
 * 1. DynamoDB Streams → Lambda: `LocalRunner` plays the event source mapping (TumblingWindowInSeconds 60,
 *    batches of 100) and invokes a handler made with `Lambda.dynamoDBTumblingWindowHandler`, which writes
 *    its results to a DynamoDB results table.
 * 2. Kinesis Data Streams for DynamoDB → consumer: the same changes, as DynamoDB writes them into a Kinesis
 *    stream, go to embedded kinesalite, and a `Consumer` (leases in a DynamoDB table) runs a pipeline with
 *    the same decoder, key and aggregate in 1-minute event-time windows into a second results table.
 *
 * Both tables are read back, the shards' partials merged, and compared: they must be equal.
 *
 *   pnpm --filter @tributary/example-table-changes start
 */
import * as Consumer from "@tributary/consumer/Consumer"
import { Aggregate, DeadLetter, Pipeline, RecordSink, Window } from "@tributary/core"
import { LeaseStore } from "@tributary/core/LeaseStore"
import { ChangeRecord, DynamoDBClient, DynamoDBLeaseStore, ResultsTable, TableStream } from "@tributary/dynamodb"
import * as Kinesis from "@tributary/kinesis/Kinesis"
import * as StreamAdmin from "@tributary/kinesis/StreamAdmin"
import { Lambda, LocalRunner } from "@tributary/lambda"
import * as LocalDynamoDB from "@tributary/local/LocalDynamoDB"
import * as LocalKinesis from "@tributary/local/LocalKinesis"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"

export const Order = Schema.Struct({
  orderId: Schema.String,
  customer: Schema.String,
  amount: Schema.Number,
  status: Schema.Literal("placed", "paid", "shipped")
})
export type Order = typeof Order.Type

export type OrderChange = ChangeRecord.ChangeRecord<Order>

/** Changes decoded from DynamoDB's JSON into `Order`s (a misfit image is a dead letter naming the attribute). */
export const decoder = ChangeRecord.decoder(Order)

/** The customer whose order changed. */
export const customerOf = (change: OrderChange): string => (change.newImage ?? change.oldImage)!.customer

/** The order value a change adds: its new amount minus its old one (an insert adds, a delete takes away). */
export const valueOf = (change: OrderChange): number => (change.newImage?.amount ?? 0) - (change.oldImage?.amount ?? 0)

/** `placed→paid`, `new→placed`, `paid→deleted`, `shipped→expired` (Time to Live); nothing when the status stays. */
export const transitionOf = (change: OrderChange): string | undefined => {
  const before = change.oldImage?.status ?? "new"
  const after = change.newImage?.status ?? (ChangeRecord.isTimeToLiveDelete(change) ? "expired" : "deleted")
  return before === after ? undefined : `${before}→${after}`
}

/** Counts per string (a custom mergeable aggregate: its state is the counts). */
export const countBy = <A>(f: (a: A) => string | undefined) =>
  Aggregate.make({
    empty: (): Record<string, number> => ({}),
    add: (counts, a: A) => {
      const label = f(a)
      if (label !== undefined) counts[label] = (counts[label] ?? 0) + 1
      return counts
    },
    merge: (self, that) => {
      const out = { ...self }
      for (const [label, n] of Object.entries(that)) out[label] = (out[label] ?? 0) + n
      return out
    },
    result: (counts): Readonly<Record<string, number>> => counts,
    state: Schema.mutable(Schema.Record({ key: Schema.String, value: Schema.Number }))
  })

/** Per customer and minute: changes, order value added, status transitions. */
export const orderStats = Aggregate.struct({
  changes: Aggregate.count,
  value: Aggregate.sum.pipe(Aggregate.mapInput(valueOf)),
  transitions: countBy(transitionOf)
})
export type OrderStats = Aggregate.Aggregate.Output<typeof orderStats>

export const names = {
  orders: "orders",
  lambdaResults: "order-stats-lambda",
  kinesisResults: "order-stats-kinesis",
  stream: "order-changes",
  leases: "order-changes-leases"
} as const
export const pipelineName = "order-changes"

/** A results table: one item per customer, minute and shard (the window's partial of that shard). */
const resultsTable = (tableName: string) =>
  ResultsTable.sink<string, ResultsTable.WithState<OrderStats>>({ tableName, pipeline: pipelineName })

/** The Lambda route's results table: a window's segments (a state over 1 MB) are partials of their own. */
const lambdaResultsTable = Effect.map(
  resultsTable(names.lambdaResults),
  (table) =>
    RecordSink.make<Lambda.TumblingWindowResult<string, ResultsTable.WithState<OrderStats>>>(table.name, (results) =>
      table.write(results.map((r) => (r.segment === 0 ? r : { ...r, shards: [`${r.shardId}#${r.segment}`] }))))
)

/** Route 1, the function as deployed would export it: `export const handler = makeHandler(results, deadLetters)`. */
export const makeHandler = (
  results: RecordSink.RecordSink<Lambda.TumblingWindowResult<string, ResultsTable.WithState<OrderStats>>>,
  layer: Layer.Layer<DeadLetter.DeadLetterSink>
): Lambda.DynamoDBTumblingWindowHandler =>
  Lambda.dynamoDBTumblingWindowHandler({
    name: pipelineName,
    decoder,
    key: customerOf,
    aggregate: ResultsTable.withState(orderStats),
    sink: results,
    layer,
    retry: Schedule.recurs(2)
  })

/**
 * Route 2, the consumer's pipeline: the same decoder, key and aggregate in 1-minute windows on the time of
 * each change. Results are written as they change (`emit: "onUpdate"`; the results table keeps the
 * highest count of each window), so the table is complete as soon as the last change is processed.
 */
export const pipeline = (results: RecordSink.RecordSink<Window.WindowResult<string, ResultsTable.WithState<OrderStats>>>) =>
  Pipeline.make(pipelineName).pipe(
    Pipeline.decode(decoder),
    Pipeline.window({
      window: Window.tumbling("1 minute"),
      key: customerOf,
      eventTime: (change) => change.approximateCreationDateTime,
      aggregate: ResultsTable.withState(orderStats),
      emit: "onUpdate"
    }),
    Pipeline.to(results)
  )

/**
 * The table's workload: 120 orders by 8 customers placed, paid, shipped, corrected, cancelled, expired;
 * and one order another application wrote with a status the Schema does not know.
 */
export const workload = (stream: TableStream.TableStream) =>
  Effect.gen(function*() {
    const status = (orderId: string, to: Order["status"]) =>
      stream.update({ orderId }, { updateExpression: "SET #s = :s", names: { "#s": "status" }, values: { ":s": to } })
    for (let i = 0; i < 120; i++) {
      const orderId = `order-${String(i).padStart(3, "0")}`
      yield* stream.put({ orderId, customer: `customer-${i % 8}`, amount: 20 + (i * 7) % 90, status: "placed" })
      if (i % 2 === 0) yield* status(orderId, "paid")
      if (i % 6 === 0) yield* status(orderId, "shipped")
      // a corrected amount: a MODIFY without a transition
      if (i % 7 === 3) yield* stream.update({ orderId }, { updateExpression: "SET amount = amount + :d", values: { ":d": 5 } })
      if (i % 10 === 5) yield* stream.delete({ orderId })
      if (i % 30 === 12) yield* stream.delete({ orderId }, { timeToLive: true })
    }
    yield* stream.put({ orderId: "order-999", customer: "customer-0", amount: 10, status: "refunded" })
  })

/** A window's result as compared between the routes. */
export interface Row {
  readonly customer: string
  readonly minute: string
  readonly changes: number
  readonly value: number
  readonly transitions: Readonly<Record<string, number>>
}

/** A results table read back: one row per customer and minute, the shards' partials merged. */
export const readResults = (tableName: string) =>
  Effect.gen(function*() {
    const stored = yield* ResultsTable.scanPartials<string>(tableName, { pipeline: pipelineName })
    const merged = yield* ResultsTable.merge(stored, orderStats)
    return {
      partials: stored.length,
      rows: merged.map((r): Row => ({
        customer: r.key,
        minute: new Date(r.start).toISOString().slice(11, 16),
        changes: r.count,
        value: r.value.value,
        transitions: Object.fromEntries(Object.entries(r.value.transitions).sort(([a], [b]) => (a < b ? -1 : 1)))
      }))
    }
  })

export const program = Effect.gen(function*() {
  // the orders table and its recorded stream (2 shards)
  const dynamodb = yield* DynamoDBClient.DynamoDBClient
  yield* dynamodb.createTable({
    TableName: names.orders,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [{ AttributeName: "orderId", AttributeType: "S" }],
    KeySchema: [{ AttributeName: "orderId", KeyType: "HASH" }]
  })
  const stream = yield* TableStream.make({ tableName: names.orders, streamViewType: "NEW_AND_OLD_IMAGES", shards: 2 })
  yield* workload(stream)
  const changes = stream.records().length
  const deadLetters = yield* RecordSink.memory<DeadLetter.DeadLetter>("dead-letters")

  // 1. DynamoDB Streams -> Lambda (tumbling windows of a minute)
  const handler = makeHandler(yield* lambdaResultsTable, DeadLetter.layer(deadLetters))
  const lambda = yield* LocalRunner.runDynamoDBStreamTumblingWindow(handler, {
    changes: stream,
    batchSize: 100,
    tumblingWindow: "1 minute",
    maximumRetryAttempts: 3
  })
  yield* Effect.promise(() => handler.dispose())

  // 2. Kinesis Data Streams for DynamoDB -> Consumer with leases
  yield* StreamAdmin.ensureStream(names.stream, { shards: 2 })
  const kinesis = yield* Kinesis.Kinesis
  const records = stream.kinesisRecords()
  for (let i = 0; i < records.length; i += 500) {
    yield* kinesis.putRecords({
      StreamName: names.stream,
      Records: records.slice(i, i + 500).map((r) => ({ PartitionKey: r.partitionKey, Data: r.data }))
    })
  }
  const leaseStore = yield* DynamoDBLeaseStore.make({ tableName: names.leases })
  const workerScope = yield* Scope.make()
  const worker = yield* Consumer.make(pipeline(yield* resultsTable(names.kinesisResults)), {
    stream: names.stream,
    workerId: "worker-1",
    initialPosition: "TRIM_HORIZON",
    leaseDuration: "2 seconds",
    takeInterval: "200 millis",
    reader: { idleInterval: "100 millis", maxCallsPerSecond: 20 }
  }).pipe(
    Scope.extend(workerScope),
    Effect.provide(Layer.merge(DeadLetter.layer(deadLetters), Layer.succeed(LeaseStore, leaseStore)))
  )
  // every change processed: stop the worker (it checkpoints and releases its leases)
  yield* Effect.repeat(worker.summary, { schedule: Schedule.spaced("100 millis"), until: (summary) => summary.recordsIn >= changes })
  const consumed = yield* worker.summary
  yield* Scope.close(workerScope, Exit.void)

  const fromLambda = yield* readResults(names.lambdaResults)
  const fromKinesis = yield* readResults(names.kinesisResults)
  return { changes, lambda, consumed, fromLambda, fromKinesis, deadLetters: yield* deadLetters.items }
})

/** Kinesis on embedded kinesalite, DynamoDB on embedded dynalite. */
export const layer = Layer.mergeAll(
  Layer.unwrapEffect(
    Effect.map(LocalKinesis.LocalKinesis, (local) => Kinesis.layer({ ...local.clientConfig }))
  ).pipe(Layer.provideMerge(LocalKinesis.layerKinesalite())),
  Layer.unwrapEffect(
    Effect.map(LocalDynamoDB.LocalDynamoDB, (local) => DynamoDBClient.layer({ ...local.clientConfig }))
  ).pipe(Layer.provideMerge(LocalDynamoDB.layerDynalite()))
)

const main = Effect.gen(function*() {
  const { changes, consumed, deadLetters, fromKinesis, fromLambda, lambda } = yield* program
  console.log(`table ${names.orders}: ${changes} changes recorded (2 stream shards)`)
  console.log(
    `1. DynamoDB Streams -> Lambda: ${lambda.invocations} invocations, ` +
      `${fromLambda.partials} items in ${names.lambdaResults}`
  )
  console.log(
    `2. Kinesis Data Streams for DynamoDB -> Consumer: ${consumed.recordsIn} records, ` +
      `${fromKinesis.partials} items in ${names.kinesisResults}`
  )
  const transitions: Record<string, number> = {}
  for (const row of fromLambda.rows) {
    console.log(
      `  ${row.customer} ${row.minute}: ${row.changes} changes, value ${row.value >= 0 ? "+" : ""}${row.value}`
    )
    for (const [label, n] of Object.entries(row.transitions)) transitions[label] = (transitions[label] ?? 0) + n
  }
  console.log(
    `status transitions: ${Object.entries(transitions).sort(([a], [b]) => (a < b ? -1 : 1)).map(([l, n]) => `${l} ${n}`).join(", ")}`
  )
  for (const letter of deadLetters) console.log(`dead letter (${letter.pipeline}, ${letter.stream}): ${letter.reason}`)
  const same = JSON.stringify(fromLambda.rows) === JSON.stringify(fromKinesis.rows)
  console.log(`the two routes' results are ${same ? "identical" : "DIFFERENT"} (${fromLambda.rows.length} rows)`)
  if (!same) process.exitCode = 1
}).pipe(Effect.provide(layer), Effect.scoped)

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(main).catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
}
