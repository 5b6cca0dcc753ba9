import * as ChildProcess from "node:child_process"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { LocalAwsError } from "../LocalAwsError.js"

export interface Child {
  readonly pid: number | undefined
  /** The last lines the process printed, for error messages. */
  readonly output: () => string
  /** Completes with the exit code (or signal) once the process has exited. */
  readonly exited: () => string | undefined
}

/**
 * Spawns a Node script as a child process tied to the scope: on close it gets SIGTERM, then SIGKILL if it
 * has not exited within `graceful` (kinesis-mock sometimes ignores SIGTERM). The process is also killed if
 * this process exits without closing the scope (a crashed test worker must not leave emulators behind).
 */
export const spawnNode = (
  service: string,
  script: string,
  env: Record<string, string>,
  graceful: Duration.DurationInput = "2 seconds"
): Effect.Effect<Child, LocalAwsError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        const lines: Array<string> = []
        let exit: string | undefined
        const child = ChildProcess.spawn(process.execPath, [script], {
          env: { ...process.env, ...env },
          stdio: ["ignore", "pipe", "pipe"],
          // a process group of its own: a Ctrl-C on the terminal does not stop it under its user
          detached: true
        })
        const keep = (chunk: Buffer) => {
          lines.push(chunk.toString("utf8"))
          if (lines.length > 50) lines.shift()
        }
        child.stdout.on("data", keep)
        child.stderr.on("data", keep)
        child.on("exit", (code, signal) => void (exit = signal ?? `exit code ${code}`))
        child.on("error", (error) => void (exit = `spawn failed: ${error.message}`))
        const killOnExit = () => void child.kill("SIGKILL")
        process.once("exit", killOnExit)
        return { child, killOnExit, lines, exited: () => exit }
      },
      catch: (cause) => new LocalAwsError({ service, reason: `cannot spawn ${script}`, cause })
    }),
    ({ child, killOnExit }) =>
      Effect.gen(function*() {
        process.removeListener("exit", killOnExit)
        if (child.exitCode !== null || child.signalCode !== null) return
        // Finalizers are uninterruptible, so the grace period is a timer inside the wait, not a timeout
        // around it.
        const exited = (withinMillis: number) =>
          Effect.async<boolean>((resume) => {
            if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.succeed(true))
            const timer = withinMillis === Infinity ? undefined : setTimeout(() => {
              child.removeListener("exit", onExit)
              resume(Effect.succeed(false))
            }, withinMillis)
            const onExit = () => {
              if (timer !== undefined) clearTimeout(timer)
              resume(Effect.succeed(true))
            }
            child.once("exit", onExit)
          })
        child.kill("SIGTERM")
        if (!(yield* exited(Duration.toMillis(Duration.decode(graceful))))) {
          child.kill("SIGKILL")
          yield* exited(Infinity)
        }
      })
  ).pipe(Effect.map(({ child, lines, exited }) => ({
    pid: child.pid,
    output: () => lines.join("").split("\n").slice(-20).join("\n"),
    exited
  })))
