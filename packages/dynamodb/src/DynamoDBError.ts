/**
 * Every failure of a DynamoDB call is a `DynamoDBError`, whose `reason` says what went wrong the way
 * `AwsError` of @tributary/aws reads it for every service (see its table), and whose `retryability` says
 * whether repeating the same call can help. What DynamoDB adds:
 *
 * - `ConditionFailed`: a conditional write found the item in another state. No fault: repeating the same
 *   write fails the same way.
 * - `Throttled`: over the table's (or an index's) throughput, the account's request rate, or too many
 *   table operations at once (LimitExceeded).
 * - `ResourceInUse`: the table is being created, updated or deleted (CreateTable: it exists already).
 * - `TransactionConflict`: the item is part of a transaction in progress.
 * - `NotFound`: no such table (or it is not ACTIVE yet).
 *
 * A table that does not become ACTIVE in time is an `AwsError.NotReady`.
 *
 * @since 0.1.0
 */
import { AwsError } from "@tributary/aws"
import * as Predicate from "effect/Predicate"

/**
 * A failed DynamoDB call: `operation`, `reason` (what went wrong), `retryability`, `awsName`, `description` (the
 * service's message), `statusCode`, `requestId` and the SDK's `cause`. Catch it with `catchTag("DynamoDBError")`, then
 * look at the `reason`.
 *
 * @since 0.1.0
 * @category errors
 */
export class DynamoDBError extends AwsError.ServiceError("DynamoDBError", "DynamoDB") {}

/**
 * True for a `DynamoDBError`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isDynamoDBError = (u: unknown): u is DynamoDBError => Predicate.isTagged(u, "DynamoDBError") && AwsError.isAwsError(u)

/**
 * Maps whatever the SDK threw to a `DynamoDBError` (see `AwsError.classify`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromSdkError: (operation: string, error: unknown) => DynamoDBError = AwsError.classifier(DynamoDBError)
