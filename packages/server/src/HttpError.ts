/**
 * The one error shape of the server's answers: `{ "error": { "code", "message", "field"? } }`.
 *
 * @since 0.1.0
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Data from "effect/Data"

/**
 * @since 0.1.0
 * @category errors
 */
export class HttpError extends Data.TaggedError("HttpError")<{
  readonly status: number
  readonly code: string
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
  /** @since 0.1.0 */
  override get message(): string {
    return `${this.status} ${this.code}: ${this.reason}`
  }
}

/**
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
