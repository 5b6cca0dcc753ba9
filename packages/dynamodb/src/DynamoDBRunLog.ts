/**
 * Core's `Job.RunLog` in DynamoDB: one item per run, partition key the job's name, sort key the start time
 * (16 digits) and the run id, so `list` is one Query, newest first, and recording a run again (its end
 * after its start) replaces the item.
 *
 * | attribute  | type | meaning                                        |
 * | ---------- | ---- | ---------------------------------------------- |
 * | pk         | S    | `job#<job>` (partition key)                    |
 * | sk         | S    | `<startedAt, 16 digits>#<runId>` (sort key)    |
 * | job, runId, trigger, outcome, error | S | as in `JobRun`          |
 * | rangeFrom, rangeTo, startedAt, endedAt, attempts, records | N | as in `JobRun` |
 *
 * The run log's methods cannot fail (a job must not stop because its log is unavailable): `record` retries
 * transient failures a few times and then logs the error and goes on; `list` retries and then dies.
 *
 * @since 0.1.0
 */
import type { AwsError } from "@tributary/aws"
import type { AttributeValue } from "@aws-sdk/client-dynamodb"
import type { JobRun } from "@tributary/core/Job"
import { RunLog } from "@tributary/core/Job"
import * as Retry from "@tributary/core/Retry"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Types from "effect/Types"
import { DynamoDBClient } from "./DynamoDBClient.js"
import type { DynamoDBError } from "./DynamoDBError.js"
import type { Item } from "./internal/tables.js"
import { ensureTable, keyNames, n, num, pad, s, str } from "./internal/tables.js"

/**
 * The run log's table, and whether to create it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * The table of the runs, created when missing (keys `pk` and `sk`, on-demand billing) unless
   * `createTable` is false.
   */
  readonly tableName: string
  /** Default true. */
  readonly createTable?: boolean
}

const toItem = (run: JobRun): Item => {
  const item: Item = {
    [keyNames.partition]: s(`job#${run.job}`),
    [keyNames.sort]: s(`${pad(run.startedAt)}#${run.runId}`),
    job: s(run.job),
    runId: s(run.runId),
    trigger: s(run.trigger),
    rangeFrom: n(run.range.from),
    rangeTo: n(run.range.to),
    startedAt: n(run.startedAt),
    attempts: n(run.attempts),
    outcome: s(run.outcome)
  }
  if (run.endedAt !== undefined) item.endedAt = n(run.endedAt)
  if (run.records !== undefined) item.records = n(run.records)
  if (run.error !== undefined) item.error = s(run.error.length > 0 ? run.error : "-")
  return item
}

const fromItem = (item: Record<string, AttributeValue>): JobRun => {
  const run: Types.Mutable<JobRun> = {
    job: str(item, "job") ?? "",
    runId: str(item, "runId") ?? "",
    trigger: (str(item, "trigger") ?? "manual") as JobRun["trigger"],
    range: { from: num(item, "rangeFrom") ?? 0, to: num(item, "rangeTo") ?? 0 },
    startedAt: num(item, "startedAt") ?? 0,
    attempts: num(item, "attempts") ?? 0,
    outcome: (str(item, "outcome") ?? "running") as JobRun["outcome"]
  }
  // the optional fields only when the item has them
  const endedAt = num(item, "endedAt")
  const records = num(item, "records")
  const error = str(item, "error")
  if (endedAt !== undefined) run.endedAt = endedAt
  if (records !== undefined) run.records = records
  if (error !== undefined) run.error = error
  return run
}

const retryTransient = <A, R>(effect: Effect.Effect<A, DynamoDBError, R>) =>
  Retry.transient(Retry.exponential({ base: "100 millis", cap: "2 seconds", times: 5 }))(effect)

/**
 * The run log over a table (made unless `createTable: false`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<RunLog["Type"], DynamoDBError | AwsError.NotReady, DynamoDBClient> =>
  Effect.gen(function*() {
    const dynamodb = yield* DynamoDBClient
    const { tableName } = options
    if (options.createTable ?? true) yield* ensureTable(tableName)
    return {
      record: (run) =>
        Effect.suspend(() => retryTransient(dynamodb.putItem({ TableName: tableName, Item: toItem(run) }))).pipe(
          Effect.asVoid,
          Effect.catchAll((error) =>
            Effect.logError(`run log: cannot record run ${run.runId} of ${run.job} (${run.outcome})`, error)
          )
        ),
      list: (job, limit = 100) =>
        Effect.gen(function*() {
          const out: Array<JobRun> = []
          let startKey: Record<string, AttributeValue> | undefined
          do {
            const page = yield* retryTransient(dynamodb.query({
              TableName: tableName,
              KeyConditionExpression: "#pk = :pk",
              ExpressionAttributeNames: { "#pk": keyNames.partition },
              ExpressionAttributeValues: { ":pk": s(`job#${job}`) },
              ScanIndexForward: false,
              ConsistentRead: true,
              Limit: Math.max(1, limit - out.length),
              ExclusiveStartKey: startKey
            }))
            for (const item of page.Items ?? []) out.push(fromItem(item))
            startKey = page.LastEvaluatedKey
          } while (startKey !== undefined && out.length < limit)
          return out.slice(0, limit)
        }).pipe(Effect.orDie)
    }
  })

/**
 * Core's `Job.RunLog` backed by the table.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<RunLog, DynamoDBError | AwsError.NotReady, DynamoDBClient> =>
  Layer.effect(RunLog, make(options))
