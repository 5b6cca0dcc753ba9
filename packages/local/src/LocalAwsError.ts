/**
 * The one error of @tributary/local: an emulator could not be started or did not answer in time.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * An emulator could not be started or did not answer in time: `service` names it (`kinesalite`, `dynalite`,
 * `s3rver`, `kinesis-mock`, `fault-proxy`...), `reason` says what happened, `cause` holds the underlying
 * error when there is one.
 *
 * @since 0.1.0
 * @category errors
 */
export class LocalAwsError extends Data.TaggedError("LocalAwsError")<{
  readonly service: string
  readonly reason: string
  readonly cause?: unknown
}> {
  /**
   * `local <service> failed: <reason>`.
   *
   * @since 0.1.0
   */
  override get message(): string {
    return `local ${this.service} failed: ${this.reason}`
  }
}
