/**
 * Every failure of an S3 call, as a tagged error named after the S3 error code it stands for, each saying
 * whether repeating the same call can help (`retryability`, as in @tributary/core).
 *
 * | tag            | S3 codes                                                                   | retryability |
 * | -------------- | -------------------------------------------------------------------------- | ------------ |
 * | SlowDown       | SlowDown, Throttling, RequestLimitExceeded, TooManyRequests, any 429, 503  | transient    |
 * | InternalError  | InternalError, ServiceUnavailable, any other HTTP 5xx                      | transient    |
 * | NetworkError   | no HTTP answer (reset, refused, timeout), RequestTimeout                   | transient    |
 * | NoSuchBucket   | NoSuchBucket                                                               | permanent    |
 * | NoSuchKey      | NoSuchKey, NotFound (HEAD)                                                 | permanent    |
 * | AccessDenied   | AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch, ExpiredToken, ... | permanent    |
 * | InvalidRequest | InvalidArgument, InvalidBucketName, KeyTooLongError, EntityTooLarge, ...   | permanent    |
 * | UnknownS3Error | anything else: transient for 5xx/429 or SDK-retryable                     | either       |
 *
 * Every S3 call the archive makes is idempotent (a put of a deterministic key, a get, a listing, a
 * delete), so a transient failure is always safe to repeat, even when the first attempt took effect.
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
export const TypeId: unique symbol = Symbol.for("@tributary/s3/S3Error")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * What every S3 error carries.
 *
 * @since 0.1.0
 * @category models
 */
export interface Fields {
  /** The API operation, e.g. "PutObject". */
  readonly operation: string
  /** The S3 error code (`<Code>` of the XML error), e.g. "SlowDown", or the Node error code. */
  readonly awsName: string
  /** The service's message. */
  readonly reason: string
  readonly statusCode: number | undefined
  readonly requestId: string | undefined
  readonly cause: unknown
}

const describe = (self: Fields & { readonly retryability: Retryability }) =>
  `S3 ${self.operation} failed with ${self.awsName} (${self.retryability}): ${self.reason}`

/**
 * S3 asks to slow down (503 SlowDown: over the request rate of a prefix, 3,500 writes/s and 5,500 reads/s).
 *
 * @since 0.1.0
 * @category errors
 */
export class SlowDown extends Data.TaggedError("SlowDown")<Fields> {
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
 * A server-side failure (InternalError, ServiceUnavailable, any other 5xx).
 *
 * @since 0.1.0
 * @category errors
 */
export class InternalError extends Data.TaggedError("InternalError")<Fields> {
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
 * No HTTP answer (the connection was reset, refused or timed out), or S3's RequestTimeout (the body was
 * not sent in time).
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
 * The bucket does not exist.
 *
 * @since 0.1.0
 * @category errors
 */
export class NoSuchBucket extends Data.TaggedError("NoSuchBucket")<Fields> {
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
 * The object does not exist (the object store turns this into `Option.none()`).
 *
 * @since 0.1.0
 * @category errors
 */
export class NoSuchKey extends Data.TaggedError("NoSuchKey")<Fields> {
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
 * The request is invalid (a bad argument or bucket name, a key over 1,024 bytes, an object over 5 GB).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidRequest extends Data.TaggedError("InvalidRequest")<Fields> {
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
export class UnknownS3Error extends Data.TaggedError("UnknownS3Error")<Fields & { readonly retryability: Retryability }> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  override get message(): string {
    return describe(this)
  }
}

/**
 * The errors of an S3 call.
 *
 * @since 0.1.0
 * @category models
 */
export type S3Error =
  | SlowDown
  | InternalError
  | NetworkError
  | NoSuchBucket
  | NoSuchKey
  | AccessDenied
  | InvalidRequest
  | UnknownS3Error

/**
 * @since 0.1.0
 * @category guards
 */
export const isS3Error = (u: unknown): u is S3Error => Predicate.hasProperty(u, TypeId)


const accessNames = new Set([
  "AccessDenied",
  "AccessDeniedException",
  "AllAccessDisabled",
  "AccountProblem",
  "InvalidAccessKeyId",
  "InvalidSecurity",
  "InvalidToken",
  "ExpiredToken",
  "SignatureDoesNotMatch",
  "RequestTimeTooSkewed",
  "MissingSecurityHeader",
  "CredentialsProviderError",
  "NotSignedUp"
])

const invalidNames = new Set([
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
])

const slowDownNames = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "RequestLimitExceeded",
  "TooManyRequests",
  "TooManyRequestsException"
])

const internalNames = new Set(["InternalError", "ServiceUnavailable", "InternalFailure"])


/**
 * Maps whatever the SDK threw (a modeled exception, a generic service exception, a Node network error) to
 * an `S3Error`, by its S3 code first, then by HTTP status, then by Node error code.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromSdkError = (operation: string, error: unknown): S3Error => {
  const failure = AwsSdk.inspect(error)
  const { code, name, statusCode } = failure
  const fields: Fields = {
    operation,
    // an answer the SDK could not parse (not S3's XML) is a bare Error: name it by its status
    awsName: name !== "Error" ? name : code ?? (statusCode === undefined ? name : `HTTP ${statusCode}`),
    reason: failure.reason,
    statusCode,
    requestId: failure.requestId,
    cause: error
  }
  if (name === "NoSuchBucket") return new NoSuchBucket(fields)
  if (name === "NoSuchKey" || (name === "NotFound" && statusCode === 404)) return new NoSuchKey(fields)
  if (name === "RequestTimeout" || name === "TimeoutError") return new NetworkError(fields)
  if (slowDownNames.has(name) || statusCode === 429 || statusCode === 503) return new SlowDown(fields)
  if (internalNames.has(name) || (statusCode !== undefined && statusCode >= 500)) return new InternalError(fields)
  if (accessNames.has(name) || statusCode === 403) return new AccessDenied(fields)
  if (invalidNames.has(name)) return new InvalidRequest(fields)
  if (AwsSdk.isNetworkFailure(failure)) return new NetworkError(fields)
  return new UnknownS3Error({ ...fields, retryability: failure.retryable ? "transient" : "permanent" })
}
