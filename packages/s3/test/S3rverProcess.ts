/**
 * s3rver in a child process started with `--openssl-legacy-provider`, as the `LocalS3` service of
 * @tributary/local.
 *
 * Why: s3rver 3.7.1 encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 (Node 17+)
 * offers only through its legacy provider; without it every truncated listing answers 500. The provider
 * can only be chosen when a process starts, and vitest 3 takes worker `execArgv` from the root config only,
 * so instead of asking whoever runs the tests to set NODE_OPTIONS, the emulator gets a process of its own
 * with the flag. The package itself never needs it: real S3 has no such limitation.
 */
import * as ClientConfig from "@tributary/local/ClientConfig"
import { LocalS3 } from "@tributary/local/LocalS3"
import type { LocalS3Shape } from "@tributary/local/LocalS3"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

export class S3rverProcessError extends Data.TaggedError("S3rverProcessError")<{
  readonly reason: string
  readonly cause?: unknown
}> {}

const script = fileURLToPath(new URL("./s3rver-child.cjs", import.meta.url))

export const make = (options: { readonly buckets?: ReadonlyArray<string> } = {}) =>
  Effect.gen(function*() {
    const directory = yield* Effect.acquireRelease(
      Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "tributary-s3rver-"))),
      (directory) => Effect.promise(() => Fs.rm(directory, { recursive: true, force: true }))
    )
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        ChildProcess.spawn(process.execPath, ["--openssl-legacy-provider", script, directory, (options.buckets ?? []).join(",")], {
          stdio: ["pipe", "pipe", "pipe"]
        })
      ),
      (child) =>
        Effect.async<void>((resume) => {
          if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
          // closing stdin asks it to stop; SIGKILL if it has not within 2 seconds
          const timer = setTimeout(() => child.kill("SIGKILL"), 2_000)
          child.once("exit", () => {
            clearTimeout(timer)
            resume(Effect.void)
          })
          child.stdin.end()
        })
    )
    const port = yield* Effect.async<number, S3rverProcessError>((resume) => {
      let output = ""
      let errors = ""
      child.stderr.on("data", (chunk: Buffer) => void (errors += chunk.toString("utf8")))
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString("utf8")
        const line = output.indexOf("\n")
        if (line >= 0) resume(Effect.succeed((JSON.parse(output.slice(0, line)) as { port: number }).port))
      })
      child.once("exit", (code) => resume(Effect.fail(new S3rverProcessError({ reason: `exited with ${code}: ${errors}` }))))
      child.once("error", (cause) => resume(Effect.fail(new S3rverProcessError({ reason: "cannot spawn", cause }))))
    }).pipe(Effect.timeoutFail({
      duration: "15 seconds",
      onTimeout: () => new S3rverProcessError({ reason: "did not start within 15 seconds" })
    }))
    const endpoint = `http://127.0.0.1:${port}`
    const local: LocalS3Shape = {
      endpoint,
      port,
      region: ClientConfig.defaultRegion,
      directory,
      clientConfig: {
        ...ClientConfig.make(endpoint, { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }),
        forcePathStyle: true,
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED"
      }
    }
    return local
  })

export const layer = (options?: { readonly buckets?: ReadonlyArray<string> }): Layer.Layer<LocalS3, S3rverProcessError> =>
  Layer.scoped(LocalS3, make(options))
