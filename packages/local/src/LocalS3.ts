/**
 * Local S3: s3rver, embedded in this process or in a child process of its own, storing objects in a
 * temporary directory that is removed when the scope closes. Its PUTs replace an object whole, as S3's do
 * (s3rver 3.7.1 itself writes an object in place and answers before the bytes are written: concurrent PUTs
 * of one key interleaved, and a GET right after a PUT could read part of it).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import type { ClientConfig } from "./ClientConfig.js"
import * as Config from "./ClientConfig.js"
import * as Child from "./internal/child.js"
import * as Net from "./internal/net.js"
import * as TempDirectory from "./internal/tempDirectory.js"
import { waitUntil } from "./internal/wait.js"
import { LocalAwsError } from "./LocalAwsError.js"

/**
 * `ClientConfig` plus what an S3 client needs against s3rver: path-style addressing, and checksums only
 * when required (otherwise streamed bodies are stored with their chunk framing).
 *
 * @since 0.1.0
 * @category models
 */
export interface S3ClientConfig extends ClientConfig {
  /** Buckets in the path (`http://127.0.0.1:<port>/<bucket>/<key>`), not in the host name. */
  readonly forcePathStyle: true
  /** Request checksums only where S3 requires them, so uploads are not sent with chunk framing. */
  readonly requestChecksumCalculation: "WHEN_REQUIRED"
  /** Response checksums validated only when the operation requires it. */
  readonly responseChecksumValidation: "WHEN_REQUIRED"
}

/**
 * A running local S3: where it listens, how to reach it, and where it keeps the objects.
 *
 * @since 0.1.0
 * @category models
 */
export interface LocalS3Shape {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string
  /** The loopback port it listens on. */
  readonly port: number
  /** The region clients should use: `ClientConfig.defaultRegion`. */
  readonly region: string
  /** Ready to spread into `new S3Client(...)`. */
  readonly clientConfig: S3ClientConfig
  /** Where s3rver keeps the objects. */
  readonly directory: string
}

/**
 * The local S3 a test or demo runs against, as a service (see `layerS3rver`, `layerS3rverProcess`).
 *
 * @since 0.1.0
 * @category tags
 */
export class LocalS3 extends Context.Tag("@tributary/local/LocalS3")<LocalS3, LocalS3Shape>() {}

/**
 * Options of `makeS3rver` and `makeS3rverProcess`: the buckets it starts with, and its port.
 *
 * @since 0.1.0
 * @category models
 */
export interface S3rverOptions {
  /** Buckets to create at start. */
  readonly buckets?: ReadonlyArray<string>
  /** The loopback port to listen on. Default 0: a free one. */
  readonly port?: number
}

interface S3rver {
  run(): Promise<{ readonly port: number } | Readonly<Record<string, unknown>>>
  close(): Promise<void>
  readonly httpServer?: { closeAllConnections(): void }
}

/**
 * Where s3rver keeps the objects: a temporary directory, removed when the scope closes (by the next start
 * when this process is killed first; by the child itself when its parent is).
 */
const objectsDirectory = TempDirectory.make("s3rver", "s3rver")

/**
 * Starts s3rver on a free loopback port. ListObjectsV2 pagination needs Node's legacy OpenSSL provider
 * (`NODE_OPTIONS=--openssl-legacy-provider`) in the process running it; everything else works without.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeS3rver = (options: S3rverOptions = {}): Effect.Effect<LocalS3Shape, LocalAwsError, Scope.Scope> =>
  Effect.gen(function*() {
    const directory = yield* objectsDirectory
    const S3rver = require("s3rver") as new(options: Record<string, unknown>) => S3rver
    // whole-object PUTs, as S3 does them (see internal/s3rver-store.cjs)
    const store = require(storeScript) as { readonly patch: () => void }
    store.patch()
    const server = new S3rver({
      port: options.port ?? 0,
      address: "127.0.0.1",
      silent: true,
      directory,
      resetOnClose: true,
      configureBuckets: (options.buckets ?? []).map((name) => ({ name }))
    })
    const port = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const address = await server.run()
          if (typeof address.port !== "number") throw new Error("s3rver reported no port")
          return address.port
        },
        catch: (cause) => new LocalAwsError({ service: "s3rver", reason: "cannot start", cause })
      }),
      () =>
        Effect.promise(() => {
          const closed = server.close().catch(() => undefined)
          // keep-alive sockets would keep the port open
          server.httpServer?.closeAllConnections()
          return closed
        })
    )
    const endpoint = `http://127.0.0.1:${port}`
    yield* waitUntil("s3rver", Effect.map(Net.probe(endpoint), (status) => status !== undefined), { timeout: "10 seconds" })
    return shape(endpoint, port, directory)
  })

/**
 * `LocalS3` as s3rver embedded in this process (`makeS3rver`), stopped when the layer closes.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerS3rver = (options?: S3rverOptions): Layer.Layer<LocalS3, LocalAwsError> =>
  Layer.scoped(LocalS3, makeS3rver(options))

/**
 * s3rver in a child process started with Node's `--openssl-legacy-provider`, so ListObjectsV2 pagination
 * works whatever flags this process was started with.
 *
 * Why a process: s3rver 3.7.1 encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 offers
 * only through its legacy provider, and a provider can only be chosen when a process starts. The child
 * stops when this scope closes (its stdin is closed; SIGKILL after 2 seconds) or when this process exits,
 * and removes its objects' directory then. It runs in a process group of its own, so a Ctrl-C meant for this
 * process does not reach it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeS3rverProcess = (options: S3rverOptions = {}): Effect.Effect<LocalS3Shape, LocalAwsError, Scope.Scope> =>
  Effect.gen(function*() {
    const directory = yield* objectsDirectory
    const { port } = yield* Child.spawnListening(
      "s3rver",
      ["--openssl-legacy-provider", childScript, directory, (options.buckets ?? []).join(","), String(options.port ?? 0)]
    )
    return shape(`http://127.0.0.1:${port}`, port, directory)
  })

/**
 * `LocalS3` as s3rver in a child process (`makeS3rverProcess`), so ListObjectsV2 pagination works; stopped
 * when the layer closes.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerS3rverProcess = (options?: S3rverOptions): Layer.Layer<LocalS3, LocalAwsError> =>
  Layer.scoped(LocalS3, makeS3rverProcess(options))

const shape = (endpoint: string, port: number, directory: string): LocalS3Shape => ({
  endpoint,
  port,
  region: Config.defaultRegion,
  directory,
  clientConfig: {
    // s3rver checks the key: it knows only its own
    ...Config.make(endpoint, { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }),
    forcePathStyle: true as const,
    requestChecksumCalculation: "WHEN_REQUIRED" as const,
    responseChecksumValidation: "WHEN_REQUIRED" as const
  }
})

const childScript = fileURLToPath(new URL("./internal/s3rver-child.cjs", import.meta.url))
const storeScript = fileURLToPath(new URL("./internal/s3rver-store.cjs", import.meta.url))

const require = createRequire(import.meta.url)
