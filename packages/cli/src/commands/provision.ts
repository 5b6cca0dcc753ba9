/**
 * `tributary provision`: creates a stream, tables and a bucket, idempotently, and waits until they are
 * ACTIVE. What exists already is left as it is and reported `exists`.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import {
  DynamoDBClient,
  DynamoDBDeadLetters,
  type DynamoDBError,
  DynamoDBLeaseStore,
  LeaseTable,
  ResultsTable
} from "@tributary/dynamodb"
import { Kinesis, StreamAdmin } from "@tributary/kinesis"
import { S3Client, type S3Error } from "@tributary/s3"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Help from "../internal/help.js"
import * as Opt from "../internal/options.js"
import * as Output from "../internal/output.js"

const options = {
  stream: Options.text("stream").pipe(Options.withPseudoName("NAME"), Options.withDescription("The Kinesis stream to create.")),
  shards: Opt.integer("shards").pipe(
    Options.withPseudoName("N"),
    Options.withDescription("Shards of a new stream (an existing stream is not resharded). Default 4."),
    Options.withDefault(4)
  ),
  leaseTable: Options.text("lease-table").pipe(
    Options.withPseudoName("TABLE"),
    Options.withDescription("A consumer's DynamoDB lease table (hash key leaseKey)."),
    Options.optional
  ),
  resultsTable: Options.text("results-table").pipe(
    Options.withPseudoName("TABLE"),
    Options.withDescription("A DynamoDB results table (keys pk, sk)."),
    Options.optional
  ),
  deadLetterTable: Options.text("dead-letter-table").pipe(
    Options.withPseudoName("TABLE"),
    Options.withDescription("A DynamoDB dead-letter table (keys pk, sk)."),
    Options.optional
  ),
  bucket: Options.text("bucket").pipe(
    Options.withPseudoName("BUCKET"),
    Options.withDescription("An S3 bucket for the raw archive (in the client's region)."),
    Options.optional
  )
}

/** The stream: created with `shards` shards unless it exists; an existing one is described as it is. */
const stream = (name: string, shards: number) =>
  Effect.gen(function*() {
    const kinesis = yield* Kinesis.Kinesis
    // a few tries only: an endpoint that does not answer is told at once
    const existing = yield* StreamAdmin.retryTransient(kinesis.describeStreamSummary({ StreamName: name }), { times: 3 }).pipe(
      Effect.map(Option.some),
      Effect.catchIf((error) => error.reason === "NotFound", () => Effect.succeedNone)
    )
    const description = yield* StreamAdmin.ensureStream(name, { shards })
    if (Option.isNone(existing)) return `stream ${name}: created, ${description.openShardCount} shards, ${description.status}`
    const count = description.openShardCount
    const other = count === shards ? "" : ` (not ${shards}: an existing stream is not resharded)`
    return `stream ${name}: exists, ${count} open shards${other}, ${description.status}`
  })

/** A table: made by `ensure` unless it exists; an existing one with other keys is reported. */
const table = <E, R>(
  kind: string,
  name: string,
  ensure: Effect.Effect<unknown, E, R>,
  keys: string
) =>
  Effect.gen(function*() {
    const before = yield* LeaseTable.status(name)
    yield* ensure
    if (before === undefined) return `${kind} ${name}: created, ACTIVE`
    const dynamodb = yield* DynamoDBClient.DynamoDBClient
    const described = yield* dynamodb.describeTable({ TableName: name })
    const actual = (described.Table?.KeySchema ?? []).map((key) => `${key.AttributeName} ${key.KeyType}`).join(", ")
    const mismatch = actual === keys ? "" : ` (its keys are ${actual || "unknown"}, not ${keys}: left as it is)`
    return `${kind} ${name}: exists${mismatch}, ${described.Table?.TableStatus ?? "UNKNOWN"}`
  })

/** The bucket: created unless it exists (in the client's region). */
const bucket = (name: string) =>
  Effect.gen(function*() {
    const s3 = yield* S3Client.S3Client
    const exists = yield* s3.listObjectsV2({ Bucket: name, MaxKeys: 1 }).pipe(
      Effect.as(true),
      Effect.catchIf((error) => error.awsName === "NoSuchBucket", () => Effect.succeed(false))
    )
    if (exists) return `bucket ${name}: exists`
    const region = yield* Effect.tryPromise(() => s3.client.config.region()).pipe(Effect.orElseSucceed(() => "us-east-1"))
    type Location = NonNullable<NonNullable<Parameters<typeof s3.createBucket>[0]["CreateBucketConfiguration"]>["LocationConstraint"]>
    yield* s3.createBucket({
      Bucket: name,
      // us-east-1 takes no location; every other region must be named
      ...(region === "us-east-1" ? {} : { CreateBucketConfiguration: { LocationConstraint: region as Location } })
    }).pipe(
      // created meanwhile by this account
      Effect.catchIf((error) => error.awsName === "BucketAlreadyOwnedByYou", () => Effect.void)
    )
    return `bucket ${name}: created`
  })

/**
 * @since 0.1.0
 * @category help
 */
export const summary = "Create a stream, tables and a bucket, idempotently."

type Task = Effect.Effect<
  string,
  StreamAdmin.StreamAdminError | DynamoDBError.DynamoDBError | S3Error.S3Error,
  Kinesis.Kinesis | DynamoDBClient.DynamoDBClient | S3Client.S3Client
>

/**
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("provision", options, (args) => {
  const tasks: Array<Task> = [
    stream(args.stream, args.shards),
    ...Option.toArray(Option.map(args.leaseTable, (name) =>
      table("lease table", name, DynamoDBLeaseStore.make({ tableName: name }), `${LeaseTable.attributes.leaseKey} HASH`))),
    ...Option.toArray(Option.map(args.resultsTable, (name) =>
      table("results table", name, ResultsTable.ensure(name), "pk HASH, sk RANGE"))),
    ...Option.toArray(Option.map(args.deadLetterTable, (name) =>
      table("dead-letter table", name, DynamoDBDeadLetters.make({ tableName: name }), "pk HASH, sk RANGE"))),
    ...Option.toArray(Option.map(args.bucket, bucket))
  ]
  // all at once (a new stream takes about 30 s on AWS, a table a few); each line as soon as it is done
  return Effect.forEach(tasks, (task) => Effect.flatMap(task, Output.line), { concurrency: "unbounded", discard: true })
}).pipe(
  Command.withDescription(Help.description(
    summary,
    "Creates the stream and, when given, a lease table, a results table, a dead-letter table and an S3 bucket, " +
      "all at once, and waits until they are ACTIVE. What exists already is left as it is and reported " +
      "\"exists\" (a stream with another shard count is reported, not resharded; a table with other keys too).",
    "Prints one line per resource: \"stream orders: created, 4 shards, ACTIVE\"."
  ))
)
