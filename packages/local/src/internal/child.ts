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

/**
 * A Node script in a child process that prints its port as its first line (`{"port":1234}`) once it
 * listens, tied to the scope: on close its stdin is closed (the script stops then), SIGKILL after 2
 * seconds. It runs in a process group of its own, so a Ctrl-C meant for this process does not stop it
 * under the program still using it; the program stops it as its scope closes. Answers the port and the
 * process id; fails when the script exits first, writes something else, or does not listen within 15
 * seconds (a port in use is said so).
 */
export const spawnListening = (
  service: string,
  args: ReadonlyArray<string>
): Effect.Effect<{ readonly port: number; readonly pid: number | undefined }, LocalAwsError, Scope.Scope> =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => ChildProcess.spawn(process.execPath, args, { stdio: ["pipe", "pipe", "pipe"], detached: true })),
      (child) =>
        Effect.async<void>((resume) => {
          if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
          const timer = setTimeout(() => child.kill("SIGKILL"), 2_000)
          child.once("exit", () => {
            clearTimeout(timer)
            resume(Effect.void)
          })
          child.stdin.end()
        })
    )
    const port = yield* Effect.async<number, LocalAwsError>((resume) => {
      let output = ""
      let errors = ""
      child.stderr.on("data", (chunk: Buffer) => void (errors += chunk.toString("utf8")))
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString("utf8")
        const line = output.indexOf("\n")
        if (line < 0) return
        // the child's first line is its port, as JSON; anything else is a start that went wrong
        const port = parsePort(output.slice(0, line))
        resume(port === undefined
          ? Effect.fail(new LocalAwsError({ service, reason: `its process wrote ${JSON.stringify(output.slice(0, line))} instead of its port` }))
          : Effect.succeed(port))
      })
      child.once("exit", (code) =>
        resume(Effect.fail(
          new LocalAwsError({
            service,
            reason: /^port \d+ is in use$/m.test(errors) ? errors.trim() : `its process exited with ${code}: ${errors}`
          })
        )))
      child.once("error", (cause) => resume(Effect.fail(new LocalAwsError({ service, reason: "cannot spawn its process", cause }))))
    }).pipe(Effect.timeoutFail({
      duration: "15 seconds",
      onTimeout: () => new LocalAwsError({ service, reason: "its process did not start within 15 seconds" })
    }))
    return { port, pid: child.pid }
  })

/** The port in the child's first line, `{"port":1234}`, if that is what it is. */
const parsePort = (line: string): number | undefined => {
  try {
    const port = (JSON.parse(line) as { readonly port?: unknown } | null)?.port
    return typeof port === "number" && Number.isInteger(port) && port > 0 ? port : undefined
  } catch {
    return undefined
  }
}
