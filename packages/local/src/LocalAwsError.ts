/**
 * The one error of @tributary/local: an emulator could not be started or did not answer in time.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * @since 0.1.0
 * @category errors
 */
export class LocalAwsError extends Data.TaggedError("LocalAwsError")<{
  readonly service: string
  readonly reason: string
  readonly cause?: unknown
}> {
  /** @since 0.1.0 */
  override get message(): string {
    return `local ${this.service} failed: ${this.reason}`
  }
}
