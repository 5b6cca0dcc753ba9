/**
 * What `tributary provision` does (its options and help are in commands/provision.ts).
 */
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
import * as Output from "../internal/output.js"

/** The options of `tributary provision`, parsed (commands/provision.ts). */
export interface Args {
  readonly stream: string
  readonly shards: number
  readonly leaseTable: Option.Option<string>
  readonly resultsTable: Option.Option<string>
  readonly deadLetterTable: Option.Option<string>
  readonly bucket: Option.Option<string>
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

type Task = Effect.Effect<
  string,
  StreamAdmin.StreamAdminError | DynamoDBError.DynamoDBError | S3Error.S3Error,
  Kinesis.Kinesis | DynamoDBClient.DynamoDBClient | S3Client.S3Client
>

/** Runs `tributary provision` with its parsed options. */
export const run = (args: Args) => {
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
}
