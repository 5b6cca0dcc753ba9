/**
 * What every AWS-backed package reads the same way: the facts of an error the SDK threw (a modeled
 * exception, a generic service exception, a Node network error), whether it was a network failure, and
 * whether an endpoint is on this machine. Each package maps the facts to its own tagged errors.
 *
 * @since 0.1.0
 */

/**
 * The facts of an error the SDK threw, read by `inspect` and classified by each service's error mapping.
 *
 * @since 0.1.0
 * @category models
 */
export interface SdkFailure {
  /** The exception's name: the AWS error name for modeled and service exceptions, "Error" otherwise. */
  readonly name: string
  /** A Node error code (ECONNRESET, ...), when there is one. */
  readonly code: string | undefined
  /** The HTTP status of the service's answer, from `$metadata`; undefined when there was no answer. */
  readonly statusCode: number | undefined
  /** The AWS request id, from `$metadata`; undefined when there was no answer. */
  readonly requestId: string | undefined
  /** The service's (or Node's) message. */
  readonly reason: string
  /** The SDK's own hint that the call may be retried. */
  readonly retryable: boolean
}

interface SdkErrorLike {
  readonly name?: unknown
  readonly code?: unknown
  readonly message?: unknown
  readonly $retryable?: unknown
  readonly $metadata?: { readonly httpStatusCode?: number; readonly requestId?: string }
}

/**
 * Reads the facts of whatever the SDK threw; never fails: a value that is not an error gives name "Error" and
 * its string as the reason.
 *
 * @since 0.1.0
 * @category constructors
 */
export const inspect = (error: unknown): SdkFailure => {
  const e: SdkErrorLike = typeof error === "object" && error !== null ? error : {}
  return {
    name: typeof e.name === "string" ? e.name : "Error",
    code: typeof e.code === "string" ? e.code : undefined,
    statusCode: e.$metadata?.httpStatusCode,
    requestId: e.$metadata?.requestId,
    reason: typeof e.message === "string" && e.message.length > 0 ? e.message : String(error),
    retryable: e.$retryable !== undefined && e.$retryable !== null
  }
}

const networkCodes = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "ERR_HTTP2_STREAM_ERROR",
  "ERR_HTTP2_GOAWAY_SESSION",
  "ERR_STREAM_PREMATURE_CLOSE"
])

/**
 * A failure with no answer from the service: a timeout, a refused or reset connection. Whether the call
 * took effect is unknown.
 *
 * @since 0.1.0
 * @category guards
 */
export const isNetworkFailure = (failure: SdkFailure): boolean =>
  failure.statusCode === undefined &&
  (failure.name === "TimeoutError" || failure.name === "RequestTimeout" || failure.name === "RequestTimeoutException" ||
    (failure.code !== undefined && networkCodes.has(failure.code)) ||
    /socket hang up|ECONNRESET|ECONNREFUSED|EPIPE/.test(failure.reason))

/**
 * True for loopback endpoints (127.0.0.0/8, ::1, localhost): local emulators, which want HTTP/1.1 and
 * allow faster polling than AWS.
 *
 * @since 0.1.0
 * @category guards
 */
export const isLoopback = (endpoint: string | undefined): boolean => {
  if (endpoint === undefined) return false
  let host: string
  try {
    host = new URL(endpoint).hostname
  } catch {
    return false
  }
  return host === "localhost" || host.endsWith(".localhost") || host === "[::1]" || host === "::1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}
