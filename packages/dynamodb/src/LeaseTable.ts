/**
 * The lease table: one item per shard, keyed by `leaseKey` (a string hash key, no sort key), billed per
 * request. Attribute names follow the KCL's lease table where the two agree, so the table reads familiar
 * in the console; Tributary's extra checkpoint fields have names of their own.
 *
 * @since 0.1.0
 */
import { AwsError } from "@tributary/aws"
import * as Retry from "@tributary/core/Retry"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { DynamoDBClient } from "./DynamoDBClient.js"
import type { DynamoDBError } from "./DynamoDBError.js"

/**
 * The attribute names of a lease item.
 *
 * | attribute                             | type | meaning                                                     |
 * | ------------------------------------- | ---- | ----------------------------------------------------------- |
 * | leaseKey                              | S    | the shard id (hash key)                                     |
 * | leaseOwner                            | S    | the worker holding the lease; absent when nobody does       |
 * | leaseCounter                          | N    | incremented by every write, every write conditional on it   |
 * | checkpoint                            | S    | sequence number, or TRIM_HORIZON, LATEST, SHARD_END         |
 * | checkpointSubSequenceNumber           | N    | sub-sequence number (0 for sentinels)                       |
 * | ownerSwitchesSinceCheckpoint          | N    | acquisitions by another owner since the last checkpoint     |
 * | parentShardId                         | SS   | parent shard ids; absent when none                          |
 * | startingHashKey, endingHashKey        | S    | the shard's inclusive hash key range, decimal               |
 * | checkpointMaxEventTime                | N    | `Checkpoint.maxEventTime`, when set                         |
 * | checkpointWatermark                   | N    | `Checkpoint.watermark`, when set                            |
 * | checkpointProcessedSequenceNumber     | S    | `Checkpoint.processed.sequenceNumber`, when set             |
 * | checkpointProcessedSubSequenceNumber  | N    | `Checkpoint.processed.subSequenceNumber`, when set          |
 * | handoffTo                             | S    | the worker that asked for the lease; absent when none did   |
 * | loadRecordsPerSecond                  | N    | `Lease.load.recordsPerSecond`, once published               |
 * | loadBytesPerSecond                    | N    | `Lease.load.bytesPerSecond`, once published                 |
 *
 * @since 0.1.0
 * @category constants
 */
export const attributes = {
  leaseKey: "leaseKey",
  owner: "leaseOwner",
  counter: "leaseCounter",
  checkpoint: "checkpoint",
  subSequenceNumber: "checkpointSubSequenceNumber",
  ownerSwitches: "ownerSwitchesSinceCheckpoint",
  parentShardIds: "parentShardId",
  hashKeyStart: "startingHashKey",
  hashKeyEnd: "endingHashKey",
  maxEventTime: "checkpointMaxEventTime",
  watermark: "checkpointWatermark",
  processedSequenceNumber: "checkpointProcessedSequenceNumber",
  processedSubSequenceNumber: "checkpointProcessedSubSequenceNumber",
  // -- handoff --
  handoffTo: "handoffTo",
  // published load (throughput-aware assignment)
  loadRecordsPerSecond: "loadRecordsPerSecond",
  loadBytesPerSecond: "loadBytesPerSecond"
} as const

/**
 * How long to wait for a new table to be ACTIVE, and how often to look.
 *
 * @since 0.1.0
 * @category models
 */
export interface WaitOptions {
  /** How long to wait for ACTIVE. Default 5 minutes. */
  readonly timeout?: Duration.DurationInput
  /** Between DescribeTable calls. Default 1 s against AWS, 20 ms against a local endpoint. */
  readonly pollInterval?: Duration.DurationInput
}

/**
 * The table's status, or undefined when it does not exist.
 *
 * @since 0.1.0
 * @category describe
 */
export const status = Effect.fn("LeaseTable.status")(function*(tableName: string) {
  const dynamodb = yield* DynamoDBClient
  // an unanswered or reset call is retried, as every call of this client is (it makes one attempt)
  return yield* retryTransient(dynamodb.describeTable({ TableName: tableName })).pipe(
    Effect.map((output): string | undefined => output.Table?.TableStatus ?? "UNKNOWN"),
    Effect.catchIf(AwsError.hasReason("NotFound"), () => Effect.succeed(undefined))
  )
})

/**
 * Waits until the table is ACTIVE; fails with a `NotFound` `DynamoDBError` if it does not exist (or is
 * deleted while waiting), with `AwsError.NotReady` on timeout.
 *
 * @since 0.1.0
 * @category describe
 */
export const waitForActive = Effect.fn("LeaseTable.waitForActive")(function*(tableName: string, options: WaitOptions = {}) {
  const dynamodb = yield* DynamoDBClient
  const timeout = Duration.decode(options.timeout ?? "5 minutes")
  const interval = Duration.decode(options.pollInterval ?? (dynamodb.isLocal ? "20 millis" : "1 second"))
  const started = yield* Clock.currentTimeMillis
  while (true) {
    const output = yield* retryTransient(dynamodb.describeTable({ TableName: tableName }))
    const current = output.Table?.TableStatus ?? "UNKNOWN"
    if (current === "ACTIVE") return
    const waited = Duration.millis((yield* Clock.currentTimeMillis) - started)
    if (Duration.greaterThanOrEqualTo(waited, timeout)) {
      return yield* new AwsError.NotReady({ resource: `DynamoDB table ${tableName}`, status: current, waited })
    }
    yield* Effect.sleep(interval)
  }
})

/**
 * Makes sure the lease table exists and is ACTIVE: creates it (on-demand billing, hash key `leaseKey`)
 * when it does not exist, tolerating a concurrent creation by another worker, then waits. Idempotent.
 * An existing table is used as it is (its key schema is not checked beyond being usable).
 *
 * @since 0.1.0
 * @category admin
 */
export const ensure = Effect.fn("LeaseTable.ensure")(function*(
  tableName: string,
  options: WaitOptions = {}
): Effect.fn.Return<void, DynamoDBError | AwsError.NotReady, DynamoDBClient> {
  const dynamodb = yield* DynamoDBClient
  const current = yield* retryTransient(status(tableName))
  if (current === undefined) {
    yield* retryTransient(dynamodb.createTable({
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: attributes.leaseKey, AttributeType: "S" }],
      KeySchema: [{ AttributeName: attributes.leaseKey, KeyType: "HASH" }],
      BillingMode: "PAY_PER_REQUEST"
    }).pipe(
      // another worker created it first
      Effect.catchIf(AwsError.hasReason("ResourceInUse"), () => Effect.void)
    ))
  }
  yield* waitForActive(tableName, options)
})

/**
 * Deletes the table (for tests and teardown); a table that does not exist is deleted already.
 *
 * @since 0.1.0
 * @category admin
 */
export const remove = Effect.fn("LeaseTable.remove")(function*(tableName: string) {
  const dynamodb = yield* DynamoDBClient
  yield* retryTransient(dynamodb.deleteTable({ TableName: tableName })).pipe(
    Effect.catchIf(AwsError.hasReason("NotFound"), () => Effect.void)
  )
})

const controlPlaneRetry = Retry.exponential({ base: "100 millis", cap: "5 seconds", times: 8 })

/**
 * Control-plane calls: a few retries of transient failures, with jittered backoff. ResourceInUse from
 * CreateTable means "it exists": the caller handles it.
 */
const retryTransient = <A, R>(effect: Effect.Effect<A, DynamoDBError, R>): Effect.Effect<A, DynamoDBError, R> =>
  Effect.retry(effect, {
    schedule: controlPlaneRetry,
    while: (error) => error.retryability === "transient" && error.reason !== "ResourceInUse"
  })
