/**
 * Every failure of an S3 call is an `S3Error`, whose `reason` says what went wrong the way `AwsError` of
 * @tributary/aws reads it for every service (see its table), and whose `retryability` says whether
 * repeating the same call can help. What S3 adds:
 *
 * - `Throttled`: SlowDown (over the request rate of a prefix, 3,500 writes/s and 5,500 reads/s).
 * - `NotFound`: NoSuchBucket or NoSuchKey (`awsName` tells them apart; the object store turns a missing
 *   object into `Option.none()`).
 * - `NetworkError`: also S3's RequestTimeout (the body was not sent in time).
 *
 * Every S3 call the archive makes is idempotent (a put of a deterministic key, a get, a listing, a
 * delete), so a transient failure is always safe to repeat, even when the first attempt took effect.
 *
 * @since 0.1.0
 */
import { AwsError } from "@tributary/aws"
import * as Predicate from "effect/Predicate"

/**
 * A failed S3 call: `operation`, `reason` (what went wrong), `retryability`, `awsName`, `description` (the
 * service's message), `statusCode`, `requestId` and the SDK's `cause`. Catch it with `catchTag("S3Error")`, then
 * look at the `reason`.
 *
 * @since 0.1.0
 * @category errors
 */
export class S3Error extends AwsError.ServiceError("S3Error", "S3") {}

/**
 * True for an `S3Error`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isS3Error = (u: unknown): u is S3Error => Predicate.isTagged(u, "S3Error") && AwsError.isAwsError(u)

/**
 * Maps whatever the SDK threw to an `S3Error` (see `AwsError.classify`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromSdkError: (operation: string, error: unknown) => S3Error = AwsError.classifier(S3Error)
