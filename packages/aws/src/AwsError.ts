/**
 * One error shape for every AWS service Tributary calls, in the manner of Effect's `PlatformError`: each
 * service has one error class (`KinesisError`, `DynamoDBError`, `S3Error`, made with `ServiceError`), and a
 * `reason` literal says what went wrong, read the same way for every service by one classifier:
 *
 * | reason              | what happened                                                        | retryability |
 * | ------------------- | -------------------------------------------------------------------- | ------------ |
 * | Throttled           | over a rate or throughput limit: slow down (also 429, KMS throttling) | transient    |
 * | ServerError         | the service failed (5xx): the call may or may not have taken effect   | transient    |
 * | NetworkError        | no answer (reset, refused, timeout): the outcome is unknown           | transient    |
 * | ResourceInUse       | the resource is being created, updated or deleted (or exists already) | transient    |
 * | TransactionConflict | the item is part of a transaction in progress                         | transient    |
 * | ConditionFailed     | a conditional write found the item in another state                   | permanent    |
 * | NotFound            | no such stream, table, bucket, object, shard or consumer (also 404)   | permanent    |
 * | InvalidRequest      | a bad argument, a failed validation, an item or record too large      | permanent    |
 * | AccessDenied        | missing, wrong or expired credentials, or no permission (also 403)    | permanent    |
 * | KmsKeyUnusable      | the resource's KMS key is disabled, missing or not allowed            | permanent    |
 * | Expired             | a token of an earlier call expired (shard iterator, pagination token) | permanent    |
 * | Unsupported         | the endpoint does not know the operation (an emulator lacking it)     | permanent    |
 * | Unknown             | anything else: transient for a 5xx or 429 or when the SDK says so     | either       |
 *
 * The AWS name (`awsName`) stays on the error for what the reason does not tell (S3's `NoSuchBucket` and
 * `NoSuchKey` are both `NotFound`).
 *
 * @since 0.1.0
 */
import type { Retryability } from "@tributary/core/TributaryError"
import type * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Predicate from "effect/Predicate"
import * as AwsSdk from "./AwsSdk.js"

/**
 * The brand of every AWS service error, which `isAwsError` checks.
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@tributary/aws/AwsError")

/**
 * The type of `TypeId`.
 *
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * What went wrong, the same for every service (see the module's table).
 *
 * @since 0.1.0
 * @category models
 */
export type Reason =
  | "Throttled"
  | "ServerError"
  | "NetworkError"
  | "ResourceInUse"
  | "TransactionConflict"
  | "ConditionFailed"
  | "NotFound"
  | "InvalidRequest"
  | "AccessDenied"
  | "KmsKeyUnusable"
  | "Expired"
  | "Unsupported"
  | "Unknown"

/**
 * What every service error carries.
 *
 * @since 0.1.0
 * @category models
 */
export interface Fields {
  /** The API operation, e.g. "GetRecords". */
  readonly operation: string
  /** What went wrong, the same for every service (see the module's table). */
  readonly reason: Reason
  /** Whether repeating the same call can help: the reason's, or for `Unknown` the SDK's and the status's. */
  readonly retryability: Retryability
  /** The AWS error name (`__type` or S3's `<Code>`), e.g. "ProvisionedThroughputExceededException", or the Node error code. */
  readonly awsName: string
  /** The service's (or Node's) message. */
  readonly description: string
  /** The HTTP status of the answer; undefined when there was none (a network error). */
  readonly statusCode: number | undefined
  /** The AWS request id, to quote to AWS support; undefined when there was no answer. */
  readonly requestId: string | undefined
  /** What the SDK threw. */
  readonly cause: unknown
}

/**
 * An error of one AWS service: the fields, a `_tag` naming the service's error class, and a message.
 *
 * @since 0.1.0
 * @category models
 */
export interface AwsError<Tag extends string = string> extends Cause.YieldableError, Omit<Fields, "cause"> {
  readonly _tag: Tag
  readonly [TypeId]: TypeId
  /** What the SDK threw. */
  readonly cause: unknown
}

/**
 * The base class of a service's error: `class KinesisError extends ServiceError("KinesisError", "Kinesis") {}`.
 * `service` names the service in messages.
 *
 * @since 0.1.0
 * @category constructors
 */
export const ServiceError = <const Tag extends string>(
  tag: Tag,
  service: string
): new(fields: Fields) => AwsError<Tag> => {
  class Base extends Data.Error<Fields> {
    readonly _tag: Tag = tag
    readonly [TypeId]: TypeId = TypeId
    override get message(): string {
      return `${service} ${this.operation} failed with ${this.awsName} (${this.reason}, ${this.retryability}): ${this.description}`
    }
  }
  ;(Base.prototype as { name?: string }).name = tag
  return Base as unknown as new(fields: Fields) => AwsError<Tag>
}

/**
 * A resource (a stream, a table) did not reach the state waited for (ACTIVE, deleted) in time; waiting
 * longer may help.
 *
 * @since 0.1.0
 * @category errors
 */
export class NotReady extends Data.TaggedError("NotReady")<{
  /** e.g. "Kinesis stream orders", "DynamoDB table leases". */
  readonly resource: string
  readonly status: string
  readonly waited: Duration.Duration
}> {
  /** Waiting longer may help. */
  readonly retryability: Retryability = "transient"
  /**
   * What waited for what, in what status, for how long, e.g. "Kinesis stream orders is still CREATING after
   * 30s".
   *
   * @since 0.1.0
   */
  override get message(): string {
    return `${this.resource} is still ${this.status} after ${Duration.format(this.waited)}`
  }
}

/**
 * True for an error of any AWS service.
 *
 * @since 0.1.0
 * @category guards
 */
export const isAwsError = (u: unknown): u is AwsError => Predicate.hasProperty(u, TypeId)

/**
 * A predicate for `Effect.catchIf` and friends: true for an AWS error with this reason, e.g.
 * `Effect.catchIf(AwsError.hasReason("NotFound"), () => Effect.succeedNone)`.
 *
 * @since 0.1.0
 * @category guards
 */
export const hasReason = (reason: Reason) => (u: unknown): boolean => isAwsError(u) && u.reason === reason

/**
 * True for the errors that mean "slow down": back off and try again, without counting it as a fault.
 *
 * @since 0.1.0
 * @category guards
 */
export const isThrottled = (error: Pick<Fields, "reason">): boolean => error.reason === "Throttled"

/**
 * True for failures after which a write may or may not have been applied (a 5xx, no answer): a retried
 * conditional write may then fail its condition because the first attempt succeeded, and a retried put
 * may store its records twice.
 *
 * @since 0.1.0
 * @category guards
 */
export const isUnknownOutcome = (error: Pick<Fields, "reason" | "retryability">): boolean =>
  error.reason === "ServerError" || error.reason === "NetworkError" ||
  (error.reason === "Unknown" && error.retryability === "transient")

/**
 * The retryability of a reason (`Unknown` is transient only when the SDK or the status says so).
 *
 * @since 0.1.0
 * @category classifying
 */
export const retryabilityOf = (reason: Reason): Retryability => transientReasons.has(reason) ? "transient" : "permanent"

/**
 * Reads whatever the SDK threw (a modeled exception, a generic service exception, a Node network error):
 * by its AWS name first, then by HTTP status, then as a network failure.
 *
 * @since 0.1.0
 * @category classifying
 */
export const classify = (operation: string, error: unknown): Fields => {
  const failure = AwsSdk.inspect(error)
  const { code, name, statusCode } = failure
  const reason = reasonOf(failure)
  return {
    operation,
    reason,
    retryability: reason === "Unknown" ? (failure.retryable ? "transient" : "permanent") : retryabilityOf(reason),
    // an answer the SDK could not parse is a bare Error: name it by its Node code or its status
    awsName: name !== "Error" ? name : code ?? (statusCode === undefined ? name : `HTTP ${statusCode}`),
    description: failure.reason,
    statusCode,
    requestId: failure.requestId,
    cause: error
  }
}

/**
 * The service's `fromSdkError`: classifies what the SDK threw into the service's error class.
 *
 * @since 0.1.0
 * @category classifying
 */
export const classifier = <E>(ServiceClass: new(fields: Fields) => E) => (operation: string, error: unknown): E =>
  new ServiceClass(classify(operation, error))

// ---------------------------------------------------------------------------------------------------------
// internal
// ---------------------------------------------------------------------------------------------------------

const transientReasons: ReadonlySet<Reason> = new Set<Reason>([
  "Throttled",
  "ServerError",
  "NetworkError",
  "ResourceInUse",
  "TransactionConflict"
])

const byName = (reason: Reason, names: ReadonlyArray<string>) => names.map((name) => [name, reason] as const)

/** The AWS names of Kinesis, DynamoDB, S3 and the SDK itself (names do not clash across services). */
const reasons: ReadonlyMap<string, Reason> = new Map([
  ...byName("Throttled", [
    "ProvisionedThroughputExceededException",
    "LimitExceededException",
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequests",
    "TooManyRequestsException",
    "BandwidthLimitExceeded",
    "SlowDown",
    "TransactionInProgressException",
    "KMSThrottlingException"
  ]),
  ...byName("ServerError", [
    "InternalFailure",
    "InternalFailureException",
    "InternalServerError",
    "InternalError",
    "ServiceUnavailable",
    "ServiceUnavailableException"
  ]),
  // S3's RequestTimeout: the body was not sent in time
  ...byName("NetworkError", ["RequestTimeout", "RequestTimeoutException", "TimeoutError"]),
  ...byName("ResourceInUse", ["ResourceInUseException"]),
  ...byName("TransactionConflict", ["TransactionConflictException"]),
  ...byName("ConditionFailed", ["ConditionalCheckFailedException"]),
  ...byName("NotFound", ["ResourceNotFoundException", "NoSuchBucket", "NoSuchKey", "NotFound"]),
  ...byName("InvalidRequest", [
    "InvalidArgumentException",
    "ValidationException",
    "SerializationException",
    "MissingParameter",
    "InvalidParameterValue",
    "InvalidParameterCombination",
    "InvalidQueryParameter",
    "MalformedQueryString",
    "DryRunOperationException",
    "ItemCollectionSizeLimitExceededException",
    "DuplicateItemException",
    "InvalidArgument",
    "InvalidBucketName",
    "InvalidRequest",
    "InvalidDigest",
    "BadDigest",
    "InvalidRange",
    "KeyTooLongError",
    "EntityTooLarge",
    "EntityTooSmall",
    "MalformedXML",
    "MetadataTooLarge",
    "MissingContentLength",
    "InvalidStorageClass",
    "InvalidObjectState",
    "InvalidURI",
    "MethodNotAllowed",
    "XAmzContentSHA256Mismatch"
  ]),
  ...byName("AccessDenied", [
    "AccessDeniedException",
    "AccessDenied",
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
    "OptInRequired",
    "AllAccessDisabled",
    "AccountProblem",
    "InvalidAccessKeyId",
    "InvalidSecurity",
    "InvalidToken",
    "SignatureDoesNotMatch",
    "RequestTimeTooSkewed",
    "MissingSecurityHeader",
    "NotSignedUp"
  ]),
  ...byName("Expired", ["ExpiredIteratorException", "ExpiredNextTokenException"]),
  ...byName("Unsupported", ["UnknownOperationException"])
])

const reasonOf = (failure: AwsSdk.SdkFailure): Reason => {
  const { name, statusCode } = failure
  const named = reasons.get(name)
  if (named !== undefined) return named
  // KMSDisabledException, KMSNotFoundException, KMSOptInRequired, ... (KMSThrottlingException is named above)
  if (name.startsWith("KMS")) return "KmsKeyUnusable"
  if (statusCode === 429) return "Throttled"
  if (statusCode !== undefined && statusCode >= 500) return "ServerError"
  if (statusCode === 403) return "AccessDenied"
  if (statusCode === 404) return "NotFound"
  if (AwsSdk.isNetworkFailure(failure)) return "NetworkError"
  return "Unknown"
}
