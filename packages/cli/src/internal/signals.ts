/**
 * Ctrl-C for the `tributary` process. A command that can stop cleanly (finish what is in flight, print a
 * summary) asks for a `stopSignal`; the first SIGINT completes it, a second one exits at once with 130.
 * Without one, SIGINT interrupts the program (its finalizers run). Only the bin installs the handler, so in
 * tests (and in other programs running the commands) nothing listens and the signal never completes.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"

const stops = new Set<() => void>()
let signals = 0

/**
 * Handles SIGINT from now on: `interrupt` is what to do when no command waits for a stop signal (the
 * runtime's own handler, which interrupts the main fiber).
 */
export const install = (interrupt: () => void): void => {
  process.on("SIGINT", () => {
    if (++signals > 1) {
      process.stderr.write("\ninterrupted\n")
      process.exit(130)
    }
    if (stops.size === 0) return interrupt()
    process.stderr.write("\nstopping (Ctrl-C again to exit now)\n")
    for (const stop of stops) stop()
  })
}

/** Completes on the first Ctrl-C while the scope is open. */
export const stopSignal: Effect.Effect<Deferred.Deferred<void>, never, Scope.Scope> = Effect.gen(function*() {
  const deferred = yield* Deferred.make<void>()
  const stop = () => Deferred.unsafeDone(deferred, Exit.void)
  yield* Effect.acquireRelease(Effect.sync(() => stops.add(stop)), () => Effect.sync(() => stops.delete(stop)))
  return deferred
})
