/**
 * What the commands log. By default warnings and errors only, each as one line on stderr (`tributary:
 * warning: <message>: <its cause, in one line>`), without stack traces: what they report is expected and
 * retried (a failed dashboard snapshot, a sink write tried again). With `--verbose`, everything from debug
 * level on (lease movements among it), with Effect's pretty logger: causes with their stack traces.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as HashSet from "effect/HashSet"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { describe } from "./errors.js"
import { errorLineSync } from "./output.js"

const text = (message: unknown): string =>
  (Array.isArray(message) ? message : [message]).map((part) => typeof part === "string" ? part : describe(part)).join(" ")

const oneLine = Logger.make(({ cause, logLevel, message }) => {
  const reason = Cause.isEmpty(cause) ? "" : `: ${describe(Cause.squash(cause))}`
  errorLineSync(`tributary: ${logLevel.label.toLowerCase()}: ${text(message)}${reason}`)
})

/** Runs `effect` logging quietly (one line per warning or error), or everything when `verbose`. */
export const withLogging = (verbose: boolean) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  verbose
    ? effect.pipe(
      Effect.locallyWith(FiberRef.currentLoggers, () => HashSet.make(Logger.prettyLoggerDefault)),
      Logger.withMinimumLogLevel(LogLevel.Debug)
    )
    : effect.pipe(
      Effect.locallyWith(FiberRef.currentLoggers, () => HashSet.make(oneLine)),
      Logger.withMinimumLogLevel(LogLevel.Warning)
    )
