import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { LocalAwsError } from "../LocalAwsError.js"

/** `tributary-<what>-<pid>-<6 random characters>`: the pid is the process that made it. */
const owned = /^tributary-.+-(\d+)-[A-Za-z0-9]{6}$/

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists, another user's
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * Removes the temporary directories of processes that are gone: a process killed before it could close its
 * scopes (SIGKILL, a crash, a closed terminal) leaves its directories behind, and the next one cleans up.
 */
export const sweep: Effect.Effect<void> = Effect.promise(async () => {
  const names = await Fs.readdir(Os.tmpdir()).catch(() => [])
  await Promise.all(names.map((name) => {
    const pid = Number(owned.exec(name)?.[1] ?? Number.NaN)
    if (Number.isNaN(pid) || pid === process.pid || isAlive(pid)) return undefined
    return Fs.rm(Path.join(Os.tmpdir(), name), { recursive: true, force: true }).catch(() => undefined)
  }))
})

/** A temporary directory of this process, removed when the scope closes (stale ones of others first). */
export const make = (service: string, what: string): Effect.Effect<string, LocalAwsError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.zipRight(
      sweep,
      Effect.tryPromise({
        try: () => Fs.mkdtemp(Path.join(Os.tmpdir(), `tributary-${what}-${process.pid}-`)),
        catch: (cause) => new LocalAwsError({ service, reason: "cannot create its directory", cause })
      })
    ),
    (directory) => Effect.promise(() => Fs.rm(directory, { recursive: true, force: true }))
  )
