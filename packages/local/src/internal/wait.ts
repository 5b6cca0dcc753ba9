import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { LocalAwsError } from "../LocalAwsError.js"

/**
 * Polls `check` every 50 ms until it answers true, failing after `timeout`; `gaveUp` may fail earlier
 * (say, the child process exited).
 */
export const waitUntil = (
  service: string,
  check: Effect.Effect<boolean>,
  options: {
    readonly timeout: Duration.DurationInput
    readonly gaveUp?: () => string | undefined
    readonly detail?: () => string
  }
): Effect.Effect<void, LocalAwsError> => {
  type Attempt = Effect.Effect<void, LocalAwsError | "not yet">
  const attempt: Attempt = Effect.flatMap(check, (ready): Attempt => {
    if (ready) return Effect.void
    const reason = options.gaveUp?.()
    return reason === undefined
      ? Effect.fail("not yet" as const)
      : Effect.fail(new LocalAwsError({ service, reason: `stopped before answering (${reason}): ${options.detail?.() ?? ""}` }))
  })
  const timedOut = () =>
    new LocalAwsError({
      service,
      reason: `did not answer within ${Duration.format(options.timeout)}: ${options.detail?.() ?? ""}`
    })
  return attempt.pipe(
    Effect.retry({ schedule: Schedule.spaced("50 millis"), while: (error) => error === "not yet" }),
    Effect.timeoutFail({ duration: options.timeout, onTimeout: timedOut }),
    Effect.catchAll((error) => Effect.fail(error === "not yet" ? timedOut() : error))
  )
}
