/**
 * What the demo checks before it starts, so that a failure is one line saying what to do: the gateway's
 * port, and (on AWS) that each service answers and the archive's bucket exists.
 */
import { DynamoDBClient } from "@tributary/dynamodb"
import { Kinesis, StreamAdmin } from "@tributary/kinesis"
import { S3Client } from "@tributary/s3"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

/**
 * Each service answers (a few quick tries: an endpoint that does not answer is told at once, not after the
 * long backoff of the demo's own calls), and the bucket exists.
 */
export const reachable = (names: { readonly stream: string; readonly leases: string; readonly bucket: string }) =>
  Effect.gen(function*() {
    const kinesis = yield* Kinesis.Kinesis
    const dynamodb = yield* DynamoDBClient.DynamoDBClient
    const s3 = yield* S3Client.S3Client
    yield* Effect.all([
      StreamAdmin.retryTransient(kinesis.describeStreamSummary({ StreamName: names.stream }), { times: 2 }).pipe(
        Effect.catchIf((error) => error.reason === "NotFound", () => Effect.void)
      ),
      StreamAdmin.retryTransient(dynamodb.describeTable({ TableName: names.leases }), { times: 2 }).pipe(
        Effect.catchIf((error) => error.reason === "NotFound", () => Effect.void)
      ),
      StreamAdmin.retryTransient(s3.listObjectsV2({ Bucket: names.bucket, MaxKeys: 1 }), { times: 2 }).pipe(
        Effect.catchIf((error) => error.awsName === "NoSuchBucket", () =>
          Effect.fail(
            new DemoError({
              reason: "BucketNotFound",
              detail: `bucket "${names.bucket}" not found: create it (tributary provision --stream <any> --bucket ${names.bucket}) ` +
                "or name an existing one with --bucket"
            })
          ))
      )
    ], { concurrency: "unbounded", discard: true })
  })

export const portInUse = (port: number) =>
  new DemoError({ reason: "PortInUse", detail: `port ${port} is in use: choose another with --port (or 0 for any free port)` })

/**
 * Why the demo cannot start: `MissingBucket` (a run on AWS without `bucket`), `BucketNotFound`,
 * `PortInUse` (the gateway's port), `GatewayFailed`. The message says what to do.
 *
 * @since 0.1.0
 * @category errors
 */
export class DemoError extends Schema.TaggedError<DemoError>()("DemoError", {
  reason: Schema.Literal("MissingBucket", "BucketNotFound", "PortInUse", "GatewayFailed"),
  detail: Schema.String
}) {
  /** The `detail`: what went wrong and what to do about it. */
  override get message(): string {
    return this.detail
  }
}
