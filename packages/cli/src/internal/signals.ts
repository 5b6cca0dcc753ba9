/**
 * Ctrl-C for the `tributary` process. A command that can stop cleanly (finish what is in flight, print a
 * summary) asks for a `stopSignal`; the first Ctrl-C completes it, a second one exits at once with 130.
 * Without one, Ctrl-C interrupts the program (its finalizers run). Only the bin installs the handler, so in
 * tests (and in other programs running the commands) nothing listens and the signal never completes.
 *
 * While a command waits for a stop signal on a terminal, Ctrl-C is read as a key (stdin in raw mode), not
 * received as SIGINT. The terminal sends SIGINT to every process of its foreground group: to the `npx`,
 * `sh` and `pnpm` processes that started this one (`npx -y pnpm@10.34.9 demo`) as much as to it. pnpm then
 * sends it a second SIGINT of its own (which would read as "Ctrl-C again"), and `sh` (dash) ends itself by
 * SIGINT once its child has exited, whatever the child's exit code: the clean stop would end with pnpm's
 * `ELIFECYCLE` and exit code 130. Read as a key, Ctrl-C reaches this process alone, which stops cleanly and
 * exits 0, and so does every process that started it. SIGINT itself (`kill -INT`, or stdin that is not a
 * terminal) is handled the same way.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import { errorLineSync } from "./output.js"

const stops = new Set<() => void>()
let presses = 0
let installed: (() => void) | undefined

/** Ctrl-C, from the keyboard or as SIGINT. */
const ctrlC = (interrupt: () => void) => {
  if (++presses > 1) {
    errorLineSync("interrupted")
    process.exit(130)
  }
  if (stops.size === 0) return interrupt()
  errorLineSync("stopping (Ctrl-C again to exit now)")
  for (const stop of stops) stop()
}

const ETX = 0x03

const onKeys = (data: Buffer | string) => {
  const bytes = typeof data === "string" ? Buffer.from(data) : data
  if (bytes.includes(ETX)) installed?.()
}

/** Reads Ctrl-C as a key while a stop signal is waited for on a terminal. */
const keyboard = {
  on: () => {
    const stdin = process.stdin
    if (installed === undefined || !stdin.isTTY) return
    stdin.setRawMode(true)
    stdin.on("data", onKeys)
    stdin.resume()
  },
  off: () => {
    const stdin = process.stdin
    if (!stdin.isTTY || !stdin.isRaw) return
    stdin.removeListener("data", onKeys)
    stdin.setRawMode(false)
    // a paused stdin no longer keeps the process alive
    stdin.pause()
  }
}

/**
 * Handles Ctrl-C from now on: `interrupt` is what to do when no command waits for a stop signal (the
 * runtime's own handler, which interrupts the main fiber).
 */
export const install = (interrupt: () => void): void => {
  installed = () => ctrlC(interrupt)
  process.on("SIGINT", installed)
  // never leave the terminal in raw mode
  process.on("exit", keyboard.off)
}

/** Completes on the first Ctrl-C while the scope is open. */
export const stopSignal: Effect.Effect<Deferred.Deferred<void>, never, Scope.Scope> = Effect.gen(function*() {
  const deferred = yield* Deferred.make<void>()
  const stop = () => Deferred.unsafeDone(deferred, Exit.void)
  yield* Effect.acquireRelease(
    Effect.sync(() => {
      stops.add(stop)
      if (stops.size === 1) keyboard.on()
    }),
    () =>
      Effect.sync(() => {
        stops.delete(stop)
        if (stops.size === 0) keyboard.off()
      })
  )
  return deferred
})
