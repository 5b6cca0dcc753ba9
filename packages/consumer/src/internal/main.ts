/**
 * What `NodeRuntime.runMain` of @effect/platform-node does, without its dependencies (it needs
 * @effect/cluster, @effect/rpc and @effect/sql as peers): runs the program, interrupts it on SIGTERM or
 * SIGINT (so its scopes close and finalizers run), and exits with 0 after a success or an interruption by
 * signal, 1 after a failure (logged).
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"

export const runMain = <A, E>(program: Effect.Effect<A, E>): void => {
  const fiber = Effect.runFork(program)
  let signalled = false
  const onSignal = () => {
    if (signalled) return
    signalled = true
    fiber.unsafeInterruptAsFork(fiber.id())
  }
  process.once("SIGTERM", onSignal)
  process.once("SIGINT", onSignal)
  fiber.addObserver((exit) => {
    process.removeListener("SIGTERM", onSignal)
    process.removeListener("SIGINT", onSignal)
    if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
      Effect.runSync(Effect.logError("the program failed", exit.cause))
      process.exit(1)
    }
    process.exit(0)
  })
  // keeps the event loop alive while the program waits on timers that are unref'd
  void Fiber.await(fiber)
}

/** `--name value` or `--name=value` from argv, else the environment variable, else undefined. */
export const arg = (name: string, env: string): string | undefined => {
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}`) return argv[i + 1]
    if (argv[i].startsWith(`--${name}=`)) return argv[i].slice(name.length + 3)
  }
  const value = process.env[env]
  return value === undefined || value === "" ? undefined : value
}
