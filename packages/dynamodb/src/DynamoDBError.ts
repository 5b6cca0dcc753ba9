/**
 * Every failure of a DynamoDB call, as a tagged error named after the AWS exception it stands for, each
 * saying whether repeating the same call can help (`retryability`, as in @tributary/core).
 *
 * | tag                           | AWS names                                                        | retryability |
 * | ----------------------------- | ---------------------------------------------------------------- | ------------ |
 * | ProvisionedThroughputExceeded | ProvisionedThroughputExceededException                           | transient    |
 * | Throttling                    | ThrottlingException, RequestLimitExceeded, TooManyRequests, 429  | transient    |
 * | LimitExceeded                 | LimitExceededException (too many table operations at once)       | transient    |
 * | ResourceInUse                 | ResourceInUseException (table being created, updated, deleted)   | transient    |
 * | TransactionConflict           | TransactionConflictException                                     | transient    |
 * | InternalServerError           | InternalServerError, ServiceUnavailable, any HTTP 5xx            | transient    |
 * | NetworkError                  | no HTTP answer: reset, refused, timeout, socket hang up          | transient    |
 * | ConditionalCheckFailed        | ConditionalCheckFailedException                                  | permanent    |
 * | ResourceNotFound              | ResourceNotFoundException (no such table, or not ACTIVE yet)     | permanent    |
 * | ValidationError               | ValidationException, SerializationException, item too large     | permanent    |
 * | AccessDenied                  | AccessDeniedException, UnrecognizedClient, bad signature/token    | permanent    |
 * | UnknownDynamoDBError          | anything else: transient for 5xx/429 or SDK-retryable            | either       |
 *
 * A failed condition is no fault: it says the item was not in the expected state, and repeating the same
 * write fails the same way.
 *
 * @since 0.1.0
 */
import { AwsSdk } from "@tributary/aws"
import type { Retryability } from "@tributary/core/TributaryError"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Predicate from "effect/Predicate"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@tributary/dynamodb/DynamoDBError")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * What every DynamoDB error carries.
 *
 * @since 0.1.0
 * @category models
 */
export interface Fields {
  /** The API operation, e.g. "UpdateItem". */
  readonly operation: string
  /** The AWS error name (`__type`), e.g. "ProvisionedThroughputExceededException", or the Node error code. */
  readonly awsName: string
  /** The service's message. */
  readonly reason: string
  readonly statusCode: number | undefined
  readonly requestId: string | undefined
  readonly cause: unknown
}

const describe = (self: Fields & { readonly retryability: Retryability }) =>
  `DynamoDB ${self.operation} failed with ${self.awsName} (${self.retryability}): ${self.reason}`

/**
 * Over the table's (or an index's) provisioned or on-demand throughput.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProvisionedThroughputExceeded extends Data.TaggedError("ProvisionedThroughputExceeded")<Fields> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  readonly retryability: Retryability = "transient"
  /** @since 0.1.0 */
  override get message(): string {
    return describe(this)
  }
}

/**
 * Request throttling (control-plane rates, the account's request limit).
 *
 * @since 0.1.0
 * @category errors
 */
export class Throttling extends Data.TaggedError("Throttling")<Fields> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  readonly retryability: Retryability = "transient"
  /** @since 0.1.0 */
  override get message(): string {
    return describe(this)
  }
}

/**
 * Too many concurrent control-plane operations (CreateTable, UpdateTable, ...).
 *
 * @since 0.1.0
 * @category errors
 */
export class LimitExceeded extends Data.TaggedError("LimitExceeded")<Fields> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  readonly retryability: Retryability = "transient"
  /** @since 0.1.0 */
  override get message(): string {
    return describe(this)
  }
}

/**
 * The table is being created, updated or deleted (CreateTable: it exists already).
 *
 * @since 0.1.0
 * @category errors
 */
export class ResourceInUse extends Data.TaggedError("ResourceInUse")<Fields> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  readonly retryability: Retryability = "transient"
  /** @since 0.1.0 */
  override get message(): string {
    return describe(this)
  }
}

/**
 * The item is part of a transaction in progress.
 *
 * @since 0.1.0
 * @category errors
 */
export class TransactionConflict extends Data.TaggedError("TransactionConflict")<Fields> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  readonly retryability: Retryability = "transient"
  /** @since 0.1.0 */
  override get message(): string {
    return describe(this)
  }
}

/**
 * A server-side failure (InternalServerError, ServiceUnavailable, any HTTP 5xx). A write may or may not have
 * taken effect.
 *
 * @since 0.1.0
 * @category errors
 */
export class InternalServerError extends Data.TaggedError("InternalServerError")<Fields> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  readonly retryability: Retryability = "transient"
  /** @since 0.1.0 */
  override get message(): string {
    return describe(this)
  }
}

/**
 * No HTTP answer: the connection was reset, refused or timed out. A write may or may not have taken effect.
 *
 * @since 0.1.0
 * @category errors
 */
export class NetworkError extends Data.TaggedError("NetworkError")<Fields> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  readonly retryability: Retryability = "transient"
  /** @since 0.1.0 */
  override get message(): string {
    return describe(this)
  }
}

/**
 * The write's condition was false: the item is not in the state the writer expected.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConditionalCheckFailed extends Data.TaggedError("ConditionalCheckFailed")<Fields> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  readonly retryability: Retryability = "permanent"
  /** @since 0.1.0 */
  override get message(): string {
    return describe(this)
  }
}

/**
 * The table does not exist (or is not ACTIVE yet).
 *
 * @since 0.1.0
 * @category errors
 */
export class ResourceNotFound extends Data.TaggedError("ResourceNotFound")<Fields> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  readonly retryability: Retryability = "permanent"
  /** @since 0.1.0 */
  override get message(): string {
    return describe(this)
  }
}

/**
 * The request is invalid (a bad expression, a reserved word without `#name`, an item over 400 KB).
 *
 * @since 0.1.0
 * @category errors
 */
export class ValidationError extends Data.TaggedError("ValidationError")<Fields> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  readonly retryability: Retryability = "permanent"
  /** @since 0.1.0 */
  override get message(): string {
    return describe(this)
  }
}

/**
 * The credentials are missing, wrong, expired or not allowed to make the call.
 *
 * @since 0.1.0
 * @category errors
 */
export class AccessDenied extends Data.TaggedError("AccessDenied")<Fields> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  readonly retryability: Retryability = "permanent"
  /** @since 0.1.0 */
  override get message(): string {
    return describe(this)
  }
}

/**
 * Any other failure; transient when the service answered 5xx or 429 or the SDK marked it retryable.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownDynamoDBError
  extends Data.TaggedError("UnknownDynamoDBError")<Fields & { readonly retryability: Retryability }>
{
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  override get message(): string {
    return describe(this)
  }
}

/**
 * A table did not become ACTIVE in time.
 *
 * @since 0.1.0
 * @category errors
 */
export class TableNotReady extends Data.TaggedError("TableNotReady")<{
  readonly tableName: string
  readonly status: string
  readonly waited: Duration.Duration
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  readonly retryability: Retryability = "transient"
  /** @since 0.1.0 */
  override get message(): string {
    return `DynamoDB table ${this.tableName} is still ${this.status} after ${Duration.format(this.waited)}`
  }
}

/**
 * The errors of a DynamoDB call.
 *
 * @since 0.1.0
 * @category models
 */
export type DynamoDBError =
  | ProvisionedThroughputExceeded
  | Throttling
  | LimitExceeded
  | ResourceInUse
  | TransactionConflict
  | InternalServerError
  | NetworkError
  | ConditionalCheckFailed
  | ResourceNotFound
  | ValidationError
  | AccessDenied
  | UnknownDynamoDBError

/**
 * True for every error of this package (`DynamoDBError` and `TableNotReady`).
 *
 * @since 0.1.0
 * @category guards
 */
export const isDynamoDBError = (u: unknown): u is DynamoDBError | TableNotReady => Predicate.hasProperty(u, TypeId)

/**
 * True for the errors that mean "slow down".
 *
 * @since 0.1.0
 * @category guards
 */
export const isThrottling = (error: DynamoDBError): boolean =>
  error._tag === "ProvisionedThroughputExceeded" || error._tag === "Throttling" || error._tag === "LimitExceeded"

/**
 * True for failures after which a write may or may not have been applied (a retry of a conditional write
 * may then fail its condition because the first attempt succeeded).
 *
 * @since 0.1.0
 * @category guards
 */
export const isUnknownOutcome = (error: DynamoDBError): boolean =>
  error._tag === "InternalServerError" || error._tag === "NetworkError" ||
  (error._tag === "UnknownDynamoDBError" && error.retryability === "transient")


const accessNames = new Set([
  "AccessDeniedException",
  "UnrecognizedClientException",
  "InvalidSignatureException",
  "IncompleteSignature",
  "IncompleteSignatureException",
  "MissingAuthenticationToken",
  "MissingAuthenticationTokenException",
  "ExpiredTokenException",
  "ExpiredToken",
  "InvalidClientTokenId",
  "NotAuthorized",
  "CredentialsProviderError",
  "OptInRequired"
])

const validationNames = new Set([
  "ValidationException",
  "SerializationException",
  "MissingParameter",
  "InvalidParameterValue",
  "InvalidParameterCombination",
  "ItemCollectionSizeLimitExceededException",
  "DuplicateItemException"
])

const throttlingNames = new Set([
  "ThrottlingException",
  "Throttling",
  "RequestLimitExceeded",
  "RequestThrottled",
  "RequestThrottledException",
  "TooManyRequestsException",
  "SlowDown"
])

const internalNames = new Set([
  "InternalServerError",
  "InternalFailure",
  "InternalFailureException",
  "InternalError",
  "ServiceUnavailable",
  "ServiceUnavailableException"
])


/**
 * Maps whatever the SDK threw (a modeled exception, a generic service exception, a Node network error) to
 * a `DynamoDBError`, by its AWS name first, then by HTTP status, then by Node error code.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromSdkError = (operation: string, error: unknown): DynamoDBError => {
  const failure = AwsSdk.inspect(error)
  const { code, name, statusCode } = failure
  const fields: Fields = {
    operation,
    awsName: name === "Error" && code !== undefined ? code : name,
    reason: failure.reason,
    statusCode,
    requestId: failure.requestId,
    cause: error
  }
  switch (name) {
    case "ConditionalCheckFailedException":
      return new ConditionalCheckFailed(fields)
    case "ProvisionedThroughputExceededException":
      return new ProvisionedThroughputExceeded(fields)
    case "LimitExceededException":
      return new LimitExceeded(fields)
    case "ResourceInUseException":
      return new ResourceInUse(fields)
    case "TransactionConflictException":
      return new TransactionConflict(fields)
    case "ResourceNotFoundException":
      return new ResourceNotFound(fields)
  }
  if (validationNames.has(name)) return new ValidationError(fields)
  if (accessNames.has(name)) return new AccessDenied(fields)
  if (throttlingNames.has(name) || statusCode === 429) return new Throttling(fields)
  if (internalNames.has(name) || (statusCode !== undefined && statusCode >= 500)) return new InternalServerError(fields)
  if (AwsSdk.isNetworkFailure(failure)) return new NetworkError(fields)
  return new UnknownDynamoDBError({ ...fields, retryability: failure.retryable ? "transient" : "permanent" })
}
