/**
 * Every failure of a Kinesis call is a `KinesisError`, whose `reason` says what went wrong the way
 * `AwsError` of @tributary/aws reads it for every service (see its table), and whose `retryability` says
 * whether repeating the same call can help. What Kinesis adds:
 *
 * - `Throttled`: ProvisionedThroughputExceeded (over a shard's 5 GetRecords/s, 2 MB/s out; 1,000 records
 *   or 1 MiB/s in), LimitExceeded (control-plane rate, shard quota), KMSThrottling.
 * - `ResourceInUse`: the stream is CREATING, UPDATING or DELETING.
 * - `Expired`: an ExpiredIterator (older than 5 minutes: the shard reader asks for a new one) or an
 *   ExpiredNextToken (list again from the start); `awsName` tells them apart.
 * - `KmsKeyUnusable`: the stream's KMS key is disabled, missing or not allowed.
 * - `Unsupported`: the endpoint lacks the operation (kinesalite has no UpdateShardCount).
 *
 * @since 0.1.0
 */
import { AwsError } from "@tributary/aws"
import * as Predicate from "effect/Predicate"

/**
 * A failed Kinesis call: `operation`, `reason` (what went wrong), `retryability`, `awsName`, `description` (the
 * service's message), `statusCode`, `requestId` and the SDK's `cause`. Catch it with `catchTag("KinesisError")`, then
 * look at the `reason`.
 *
 * @since 0.1.0
 * @category errors
 */
export class KinesisError extends AwsError.ServiceError("KinesisError", "Kinesis") {}

/**
 * True for a `KinesisError`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isKinesisError = (u: unknown): u is KinesisError => Predicate.isTagged(u, "KinesisError") && AwsError.isAwsError(u)

/**
 * Maps whatever the SDK threw to a `KinesisError` (see `AwsError.classify`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromSdkError: (operation: string, error: unknown) => KinesisError = AwsError.classifier(KinesisError)
