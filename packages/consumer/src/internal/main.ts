/**
 * What `NodeRuntime.runMain` of @effect/platform-node does, without its dependencies (it needs
 * @effect/cluster, @effect/rpc and @effect/sql as peers): runs the program, interrupts it on SIGTERM or
 * SIGINT (so its scopes close and finalizers run), and exits with 0 after a success or an interruption by
 * signal, 1 after a failure (logged).
 */
import * as Cause from "effect/Cause"
import * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
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

/**
 * The scripts' settings: `--some-flag value` (or `--some-flag=value`) on the command line is the variable
 * `SOME_FLAG` (or the name `aliases` gives the flag), and wins over the environment. Empty values count as
 * unset, so an optional setting given as `X=` keeps its default.
 */
export const argvConfigProvider = (
  aliases: Readonly<Record<string, string>> = {},
  argv: ReadonlyArray<string> = process.argv.slice(2),
  env: Readonly<Record<string, string | undefined>> = process.env
): ConfigProvider.ConfigProvider => {
  const values = new Map<string, string>()
  for (const [name, value] of Object.entries(env)) if (value !== undefined && value !== "") values.set(name, value)
  for (let i = 0; i < argv.length; i++) {
    const match = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(argv[i])
    if (match === null) continue
    const value = match[2] ?? argv[++i]
    const name = aliases[match[1]] ?? match[1].toUpperCase().replace(/-/g, "_")
    if (value !== undefined && value !== "") values.set(name, value)
  }
  return ConfigProvider.fromMap(values)
}

/** A missing or invalid setting: says which, and exits with 2 (a usage error). */
export const exitOnConfigError = <A, E, R>(program: Effect.Effect<A, E | ConfigError.ConfigError, R>) =>
  Effect.catchIf(program, ConfigError.isConfigError, (error) =>
    Effect.sync(() => {
      process.stderr.write(`${String(error)}\n`)
      process.exit(2)
    }))
