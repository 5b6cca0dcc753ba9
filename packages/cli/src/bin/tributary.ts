#!/usr/bin/env node
/**
 * The `tributary` command line. See docs/cli.md, or `tributary --help`.
 *
 *   pnpm --filter @tributary/cli tributary -- provision --stream orders --shards 2
 *   npx tsx packages/cli/src/bin/tributary.ts tail --stream orders --from trim-horizon
 *
 * Exit codes: 0 done, 1 failed (one line on stderr says why), 2 wrong usage, 130 interrupted (Ctrl-C).
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Cli from "../Cli.js"
import * as Signals from "../internal/signals.js"

// The SDK tells every process once that its 2027 releases will need Node 22; its versions are pinned here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true"

// Run as this package's script (`pnpm tributary`, `pnpm demo`, which run in packages/cli), relative paths
// mean the directory the command was typed in.
const script = process.env.npm_lifecycle_event
if ((script === "tributary" || script === "demo") && process.env.INIT_CWD !== undefined) {
  try {
    process.chdir(process.env.INIT_CWD)
  } catch {
    // stay where the script runs
  }
}

// `pnpm demo -- --duration 60s` passes the `--` on: it is not an argument of ours.
const argv = process.argv.filter((arg, i) => i < 2 || arg !== "--")

// @effect/cli colors its help and errors: plain text when the output is not a terminal (or NO_COLOR is set)
const plain = (stream: NodeJS.WriteStream) => !stream.isTTY || (process.env.NO_COLOR ?? "") !== ""
const strip = (args: ReadonlyArray<unknown>) =>
  args.map((arg) => typeof arg === "string" ? arg.replace(/\u001b\[[0-9;]*m/g, "") : arg)
const withPlainText = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.console, (console) =>
    Effect.withConsole(effect, {
      ...console,
      log: (...args) => console.log(...(plain(process.stdout) ? strip(args) : args)),
      error: (...args) => console.error(...(plain(process.stderr) ? strip(args) : args))
    }))

// the AWS clients are made by the commands that need them (Cli.layer), when they run
const program = Cli.main(argv).pipe(Effect.provide(NodeContext.layer), withPlainText)

const before = new Set(process.listeners("SIGINT"))
NodeRuntime.runMain(program, {
  // failures are printed by Cli.main, as one line
  disableErrorReporting: true,
  teardown: (exit, onExit) =>
    onExit(
      Exit.isSuccess(exit)
        ? exit.value as number
        : Cause.isInterruptedOnly(exit.cause)
        ? 130
        : 1
    )
})
// runMain interrupts the program on SIGINT; a command that stops cleanly on Ctrl-C takes it over (see
// internal/signals.ts), and runMain's handler runs only for the others.
const interrupt = process.listeners("SIGINT").filter((listener) => !before.has(listener))
for (const listener of interrupt) process.removeListener("SIGINT", listener)
Signals.install(() => {
  for (const listener of interrupt) listener("SIGINT")
})
