/**
 * Every failure of a Kinesis call, as a tagged error named after the AWS exception it stands for, each
 * saying whether repeating the same call can help (`retryability`, as in @tributary/core).
 *
 * | tag                           | AWS names                                                     | retryability |
 * | ----------------------------- | ------------------------------------------------------------- | ------------ |
 * | ProvisionedThroughputExceeded | ProvisionedThroughputExceededException                        | transient    |
 * | LimitExceeded                 | LimitExceededException (control-plane rate, shard quota)      | transient    |
 * | Throttling                    | ThrottlingException, RequestLimitExceeded, TooManyRequests...  | transient    |
 * | ResourceInUse                 | ResourceInUseException (stream CREATING/UPDATING/DELETING)    | transient    |
 * | InternalFailure               | InternalFailure(Exception), ServiceUnavailable, any HTTP 5xx  | transient    |
 * | NetworkError                  | no HTTP answer: reset, refused, timeout, socket hang up       | transient    |
 * | ExpiredIterator               | ExpiredIteratorException                                      | permanent    |
 * | ExpiredNextToken              | ExpiredNextTokenException                                     | permanent    |
 * | ResourceNotFound              | ResourceNotFoundException                                     | permanent    |
 * | InvalidArgument               | InvalidArgumentException, ValidationException, Serialization  | permanent    |
 * | AccessDenied                  | AccessDeniedException, UnrecognizedClient, bad signature/token | permanent    |
 * | KmsError                      | KMS*Exception, KMSOptInRequired (KMSThrottling is transient)   | permanent    |
 * | UnsupportedOperation          | UnknownOperationException (an emulator lacking the call)      | permanent    |
 * | UnknownKinesisError           | anything else: transient for 5xx/429 or SDK-retryable         | either       |
 *
 * ExpiredIterator is permanent for the call (the same iterator never works again); the shard reader
 * recovers from it by asking for a new iterator.
 *
 * @since 0.1.0
 */
import { AwsSdk } from "@tributary/aws"
import type { Retryability } from "@tributary/core/TributaryError"
import * as Data from "effect/Data"
import * as Predicate from "effect/Predicate"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@tributary/kinesis/KinesisError")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * What every Kinesis error carries.
 *
 * @since 0.1.0
 * @category models
 */
export interface Fields {
  /** The API operation, e.g. "GetRecords". */
  readonly operation: string
  /** The AWS error name (`__type`), e.g. "ProvisionedThroughputExceededException", or the Node error code. */
  readonly awsName: string
  /** The service's message. */
  readonly reason: string
  readonly statusCode: number | undefined
  readonly requestId: string | undefined
  readonly cause: unknown
}

const describe = (self: Fields & { readonly _tag: string; readonly retryability: Retryability }) =>
  `Kinesis ${self.operation} failed with ${self.awsName} (${self.retryability}): ${self.reason}`

/**
 * Over the shard's read or write limit (5 GetRecords/s, 2 MB/s out; 1,000 records or 1 MiB/s in).
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
 * Too many control-plane calls (e.g. DescribeStream, ListShards), or a quota such as shards per account.
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
 * Generic AWS request throttling.
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
 * The stream is being created, updated or deleted.
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
 * A server-side failure (InternalFailure, ServiceUnavailable, any HTTP 5xx). The call may or may not have
 * taken effect.
 *
 * @since 0.1.0
 * @category errors
 */
export class InternalFailure extends Data.TaggedError("InternalFailure")<Fields> {
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
 * No HTTP answer: the connection was reset, refused or timed out. The call may or may not have taken
 * effect.
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
 * The shard iterator is older than 5 minutes (or was issued before the stream changed).
 *
 * @since 0.1.0
 * @category errors
 */
export class ExpiredIterator extends Data.TaggedError("ExpiredIterator")<Fields> {
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
 * A ListShards / ListStreams pagination token expired: list again from the start.
 *
 * @since 0.1.0
 * @category errors
 */
export class ExpiredNextToken extends Data.TaggedError("ExpiredNextToken")<Fields> {
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
 * The stream (or shard, or consumer) does not exist.
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
 * The request is invalid (bad argument, failed validation, too many or too large records).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidArgument extends Data.TaggedError("InvalidArgument")<Fields> {
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
 * The stream's KMS key cannot be used (`awsName` says why); KMSThrottlingException is transient.
 *
 * @since 0.1.0
 * @category errors
 */
export class KmsError extends Data.TaggedError("KmsError")<Fields> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  get retryability(): Retryability {
    return this.awsName === "KMSThrottlingException" ? "transient" : "permanent"
  }
  /** @since 0.1.0 */
  override get message(): string {
    return describe(this)
  }
}

/**
 * The endpoint does not know the operation (emulators: kinesalite has no UpdateShardCount).
 *
 * @since 0.1.0
 * @category errors
 */
export class UnsupportedOperation extends Data.TaggedError("UnsupportedOperation")<Fields> {
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
export class UnknownKinesisError extends Data.TaggedError("UnknownKinesisError")<Fields & { readonly retryability: Retryability }> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  override get message(): string {
    return describe(this)
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export type KinesisError =
  | ProvisionedThroughputExceeded
  | LimitExceeded
  | Throttling
  | ResourceInUse
  | InternalFailure
  | NetworkError
  | ExpiredIterator
  | ExpiredNextToken
  | ResourceNotFound
  | InvalidArgument
  | AccessDenied
  | KmsError
  | UnsupportedOperation
  | UnknownKinesisError

/**
 * @since 0.1.0
 * @category guards
 */
export const isKinesisError = (u: unknown): u is KinesisError => Predicate.hasProperty(u, TypeId)

/**
 * True for the errors that mean "slow down" (back off and try again, without counting it as a fault).
 *
 * @since 0.1.0
 * @category guards
 */
export const isThrottling = (error: KinesisError): boolean =>
  error._tag === "ProvisionedThroughputExceeded" || error._tag === "LimitExceeded" || error._tag === "Throttling" ||
  (error._tag === "KmsError" && error.awsName === "KMSThrottlingException")

/**
 * True for failures after which a write may or may not have been applied (its records may be stored).
 *
 * @since 0.1.0
 * @category guards
 */
export const isUnknownOutcome = (error: KinesisError): boolean =>
  error._tag === "InternalFailure" || error._tag === "NetworkError" ||
  (error._tag === "UnknownKinesisError" && error.retryability === "transient")


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

const invalidNames = new Set([
  "InvalidArgumentException",
  "ValidationException",
  "SerializationException",
  "MissingParameter",
  "InvalidParameterValue",
  "InvalidParameterCombination",
  "InvalidQueryParameter",
  "MalformedQueryString",
  "DryRunOperationException"
])

const throttlingNames = new Set([
  "ThrottlingException",
  "Throttling",
  "ThrottledException",
  "RequestLimitExceeded",
  "RequestThrottled",
  "RequestThrottledException",
  "TooManyRequestsException",
  "BandwidthLimitExceeded",
  "SlowDown",
  "TransactionInProgressException"
])

const internalNames = new Set([
  "InternalFailure",
  "InternalFailureException",
  "InternalServerError",
  "InternalError",
  "ServiceUnavailable",
  "ServiceUnavailableException"
])


/**
 * Maps whatever the SDK threw (a modeled exception, a generic service exception, a Node network error) to
 * a `KinesisError`, by its AWS name first, then by HTTP status, then by Node error code.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromSdkError = (operation: string, error: unknown): KinesisError => {
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
    case "ProvisionedThroughputExceededException":
      return new ProvisionedThroughputExceeded(fields)
    case "LimitExceededException":
      return new LimitExceeded(fields)
    case "ResourceInUseException":
      return new ResourceInUse(fields)
    case "ExpiredIteratorException":
      return new ExpiredIterator(fields)
    case "ExpiredNextTokenException":
      return new ExpiredNextToken(fields)
    case "ResourceNotFoundException":
      return new ResourceNotFound(fields)
    case "UnknownOperationException":
      return new UnsupportedOperation(fields)
  }
  if (name.startsWith("KMS")) return new KmsError(fields)
  if (invalidNames.has(name)) return new InvalidArgument(fields)
  if (accessNames.has(name)) return new AccessDenied(fields)
  if (throttlingNames.has(name) || statusCode === 429) return new Throttling(fields)
  if (internalNames.has(name) || (statusCode !== undefined && statusCode >= 500)) return new InternalFailure(fields)
  if (AwsSdk.isNetworkFailure(failure)) return new NetworkError(fields)
  return new UnknownKinesisError({ ...fields, retryability: failure.retryable ? "transient" : "permanent" })
}
