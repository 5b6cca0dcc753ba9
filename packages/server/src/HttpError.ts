/**
 * The one error shape of the server's answers: `{ "error": { "code", "message", "field"? } }`.
 *
 * @since 0.1.0
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Data from "effect/Data"

/**
 * A request the server refuses or cannot serve, answered by `toResponse` with its status and the JSON
 * error body.
 *
 * @since 0.1.0
 * @category errors
 */
export class HttpError extends Data.TaggedError("HttpError")<{
  /** The HTTP status answered, e.g. 400, 413, 429, 503. */
  readonly status: number
  /** A stable code for programs, e.g. `invalid_partition_key` (the body's `error.code`). */
  readonly code: string
  /** What went wrong, for people (the body's `error.message`). */
  readonly reason: string
  /** The request field at fault, e.g. `records[3].partitionKey` or the `X-Partition-Key` header. */
  readonly field?: string
  /** Seconds, sent as `Retry-After` (429, 503). */
  readonly retryAfter?: number
  /**
   * Answered before the request's body was read: the connection is closed after the answer
   * (`Connection: close`), instead of reading a body of any size just to keep the connection.
   */
  readonly closeConnection?: boolean
}> {
  /**
   * `<status> <code>: <reason>`, for logs.
   *
   * @since 0.1.0
   */
  override get message(): string {
    return `${this.status} ${this.code}: ${this.reason}`
  }
}

/**
 * An `HttpError` from its status, code and reason, with the field at fault and a `Retry-After` when given.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  status: number,
  code: string,
  reason: string,
  extra: { readonly field?: string; readonly retryAfter?: number } = {}
): HttpError => new HttpError({ status, code, reason, ...extra })

/**
 * The error as the server answers it: its status, the body `{ "error": { "code", "message", "field"? } }`,
 * and the `Retry-After` and `Connection: close` headers when the error asks for them.
 *
 * @since 0.1.0
 * @category responses
 */
export const toResponse = (error: HttpError): HttpServerResponse.HttpServerResponse => {
  const body = error.field === undefined
    ? { error: { code: error.code, message: error.reason } }
    : { error: { code: error.code, message: error.reason, field: error.field } }
  const headers: Record<string, string> = {}
  if (error.retryAfter !== undefined) headers["retry-after"] = String(error.retryAfter)
  if (error.closeConnection === true) headers["connection"] = "close"
  return HttpServerResponse.unsafeJson(body, { status: error.status, headers })
}

/**
 * The same error, answered with `Connection: close`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const closing = (error: HttpError): HttpError =>
  error.closeConnection === true ? error : new HttpError({ ...error, closeConnection: true })
