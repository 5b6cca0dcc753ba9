/**
 * Local Kinesis for tests and demos, as scoped layers on free loopback ports:
 *
 * - kinesalite, embedded in this process: starts in ~0.1 s and is fast (thousands of records per second),
 *   but lacks ChildShards in GetRecords, UpdateShardCount, StreamARN parameters and consumers;
 * - kinesis-mock (npm `kinesis-local`), a child process: slow to start (~1 s) and to write to, but faithful
 *   (ChildShards, SplitShard/MergeShards, UpdateShardCount, realistic MillisBehindLatest, stream consumers
 *   and SubscribeToShard). Its endpoint is an `Http2Proxy` in front of it, which repairs the two faults of
 *   the emulator that break the SDK's SubscribeToShard (see there).
 *
 * Neither enforces per-shard limits nor expires iterators before 300 s: put a `FaultProxy` in front of
 * them for throttling, errors, resets, latency and expired iterators.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import type * as Http from "node:http"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import type { ClientConfig } from "./ClientConfig.js"
import * as Config from "./ClientConfig.js"
import * as Child from "./internal/child.js"
import * as Http2Proxy from "./internal/http2Proxy.js"
import * as Net from "./internal/net.js"
import { waitUntil } from "./internal/wait.js"
import type { LocalAwsError } from "./LocalAwsError.js"

/**
 * A running local Kinesis: which emulator it is, where it listens and how to reach it.
 *
 * @since 0.1.0
 * @category models
 */
export interface LocalKinesisShape {
  /** Which emulator answers, or `proxy` when a `FaultProxy` stands in front of one (`FaultProxy.layerKinesis`). */
  readonly kind: "kinesalite" | "kinesis-mock" | "proxy"
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string
  /** The loopback port it listens on. */
  readonly port: number
  /** The region clients should use: `ClientConfig.defaultRegion`. */
  readonly region: string
  /** Ready to spread into `new KinesisClient(...)`. */
  readonly clientConfig: ClientConfig
  /** The emulator's process id when it runs as a child process. */
  readonly pid: number | undefined
}

/**
 * The local Kinesis a test or demo runs against, as a service (see `layerKinesalite`, `layerKinesisMock`).
 *
 * @since 0.1.0
 * @category tags
 */
export class LocalKinesis extends Context.Tag("@tributary/local/LocalKinesis")<LocalKinesis, LocalKinesisShape>() {}

/**
 * Options of `makeKinesalite`: its simulated stream-change delays, its shard limit and its port.
 *
 * @since 0.1.0
 * @category models
 */
export interface KinesaliteOptions {
  /** How long a stream stays CREATING. Default 50 ms. */
  readonly createStreamMs?: number
  /** How long a stream stays DELETING. Default 50 ms. */
  readonly deleteStreamMs?: number
  /** How long a stream stays UPDATING after a split, merge or retention change. Default 50 ms. */
  readonly updateStreamMs?: number
  /** Shards per account. Default 100. */
  readonly shardLimit?: number
  /** The loopback port to listen on. Default 0: a free one. */
  readonly port?: number
}

/**
 * Starts kinesalite in this process; stops it (and closes every connection to it) when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeKinesalite = (
  options: KinesaliteOptions = {}
): Effect.Effect<LocalKinesisShape, LocalAwsError, Scope.Scope> =>
  Effect.gen(function*() {
    const kinesalite = require("kinesalite") as (options: Record<string, number>) => Http.Server
    const server = kinesalite(kinesaliteSettings(options))
    const settled = Net.trackRequests(server)
    const port = yield* Effect.acquireRelease(
      Net.listen("kinesalite", server, options.port),
      // what it still works on first: its store closes with the server
      () => Effect.zipRight(settled, Net.close(server))
    )
    const endpoint = `http://127.0.0.1:${port}`
    yield* waitUntil("kinesalite", answersKinesis(endpoint), { timeout: "10 seconds" })
    return { kind: "kinesalite" as const, endpoint, port, region: Config.defaultRegion, clientConfig: Config.make(endpoint), pid: undefined }
  })

/**
 * `LocalKinesis` as kinesalite embedded in this process (`makeKinesalite`), stopped when the layer closes.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerKinesalite = (options?: KinesaliteOptions): Layer.Layer<LocalKinesis, LocalAwsError> =>
  Layer.scoped(LocalKinesis, makeKinesalite(options))

/**
 * Starts kinesalite in a child process (`makeKinesalite`'s options), so that its work runs on another core
 * than this program's, as a real endpoint's would: a program that also works hard (a demo with its
 * producer, workers and jobs) then does not slow its own emulator down. Stopped when the scope closes (its
 * stdin is closed; SIGKILL after 2 seconds) or when this process exits.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeKinesaliteProcess = (
  options: KinesaliteOptions = {}
): Effect.Effect<LocalKinesisShape, LocalAwsError, Scope.Scope> =>
  Effect.gen(function*() {
    const settings = JSON.stringify(kinesaliteSettings(options))
    const { pid, port } = yield* Child.spawnListening("kinesalite", [emulatorScript, "kinesalite", settings, String(options.port ?? 0)])
    const endpoint = `http://127.0.0.1:${port}`
    yield* waitUntil("kinesalite", answersKinesis(endpoint), { timeout: "10 seconds" })
    return { kind: "kinesalite" as const, endpoint, port, region: Config.defaultRegion, clientConfig: Config.make(endpoint), pid }
  })

/**
 * `LocalKinesis` as kinesalite in a child process (`makeKinesaliteProcess`), stopped when the layer closes.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerKinesaliteProcess = (options?: KinesaliteOptions): Layer.Layer<LocalKinesis, LocalAwsError> =>
  Layer.scoped(LocalKinesis, makeKinesaliteProcess(options))

/**
 * Options of `makeKinesisMock`: its simulated control-plane delays, limits, initial streams, logging and
 * how long its start may take.
 *
 * @since 0.1.0
 * @category models
 */
export interface KinesisMockOptions {
  /**
   * How long every control-plane change takes (CreateStream, DeleteStream, SplitShard, MergeShards,
   * UpdateShardCount, consumers, encryption). Default 10 ms (kinesis-mock's own default is 500 ms).
   */
  readonly operationDuration?: Duration.DurationInput
  /** Shards per account. Default 100. */
  readonly shardLimit?: number
  /** Streams to create at start, e.g. `{ orders: 2 }`. */
  readonly initializeStreams?: Readonly<Record<string, number>>
  /** kinesis-mock's log level (its output is shown when it fails to start). Default "WARN". */
  readonly logLevel?: "ERROR" | "WARN" | "INFO" | "DEBUG"
  /**
   * How long to wait for its health check before giving up (with `LocalAwsError`). Default 60 s (a loaded
   * 2-core machine needs more than the usual ~1 s).
   */
  readonly startTimeout?: Duration.DurationInput
  /**
   * Put an `Http2Proxy` in front of the emulator (the endpoint is then the proxy's). Default true: without
   * it the SDK's SubscribeToShard fails on kinesis-mock (every other call works either way).
   */
  readonly http2Proxy?: boolean
}

/**
 * Starts kinesis-mock as a child process on free loopback ports and waits for its health check, and an
 * `Http2Proxy` in front of it (unless `http2Proxy: false`); when the scope closes the proxy stops, and the
 * emulator gets SIGTERM, then SIGKILL after 2 s if it is still running.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeKinesisMock = (
  options: KinesisMockOptions = {}
): Effect.Effect<LocalKinesisShape, LocalAwsError, Scope.Scope> => {
  const attempt = Effect.gen(function*() {
    const plainPort = yield* Net.freePort("kinesis-mock")
    const tlsPort = yield* Net.freePort("kinesis-mock")
    const duration = `${Duration.toMillis(Duration.decode(options.operationDuration ?? "10 millis"))}ms`
    const env: Record<string, string> = {
      KINESIS_MOCK_PLAIN_PORT: String(plainPort),
      KINESIS_MOCK_TLS_PORT: String(tlsPort),
      // it crashes without a certificate, even when only plain HTTP is used
      KINESIS_MOCK_CERT_PATH: require.resolve("kinesis-local/server.json"),
      LOG_LEVEL: options.logLevel ?? "WARN",
      AWS_REGION: Config.defaultRegion,
      SHARD_LIMIT: String(options.shardLimit ?? 100),
      SHOULD_PERSIST_DATA: "false"
    }
    for (const name of durationVariables) env[name] = duration
    if (options.initializeStreams !== undefined) {
      env.INITIALIZE_STREAMS = Object.entries(options.initializeStreams).map(([name, shards]) => `${name}:${shards}`).join(",")
    }
    const child = yield* Child.spawnNode("kinesis-mock", require.resolve("kinesis-local/main.js"), env)
    const emulator = `http://127.0.0.1:${plainPort}`
    yield* waitUntil("kinesis-mock", Effect.map(Net.probe(`${emulator}/healthcheck`), (status) => status === 200), {
      timeout: options.startTimeout ?? "60 seconds",
      gaveUp: child.exited,
      detail: child.output
    })
    const proxy = options.http2Proxy === false ? undefined : yield* Http2Proxy.start(emulator, 2_000)
    const endpoint = proxy === undefined ? emulator : `http://127.0.0.1:${proxy.port}`
    const clientConfig = Config.make(endpoint)
    // Open keep-alive connections make kinesis-mock wait up to 30 s on SIGTERM: close ours first.
    yield* Effect.addFinalizer(() => Effect.sync(() => clientConfig.requestHandler.destroy()))
    return {
      kind: "kinesis-mock" as const,
      endpoint,
      port: proxy?.port ?? plainPort,
      region: Config.defaultRegion,
      clientConfig,
      pid: child.pid
    }
  })
  // The free ports are probed, then handed to the child: another process may take one in between, so a
  // failed start is tried again (its scope is closed first, so the failed child is stopped).
  return Effect.gen(function*() {
    const outer = yield* Effect.scope
    const once = Effect.gen(function*() {
      const inner = yield* Scope.fork(outer, ExecutionStrategy.sequential)
      return yield* attempt.pipe(Scope.extend(inner), Effect.onError((cause) => Scope.close(inner, Exit.failCause(cause))))
    })
    return yield* Effect.retry(once, { times: 2 })
  })
}

/**
 * `LocalKinesis` as kinesis-mock in a child process (`makeKinesisMock`), stopped when the layer closes.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerKinesisMock = (options?: KinesisMockOptions): Layer.Layer<LocalKinesis, LocalAwsError> =>
  Layer.scoped(LocalKinesis, makeKinesisMock(options))

const durationVariables = [
  "CREATE_STREAM_DURATION",
  "DELETE_STREAM_DURATION",
  "REGISTER_STREAM_CONSUMER_DURATION",
  "DEREGISTER_STREAM_CONSUMER_DURATION",
  "START_STREAM_ENCRYPTION_DURATION",
  "STOP_STREAM_ENCRYPTION_DURATION",
  "MERGE_SHARDS_DURATION",
  "SPLIT_SHARD_DURATION",
  "UPDATE_SHARD_COUNT_DURATION",
  "UPDATE_STREAM_MODE_DURATION"
] as const

/** Any HTTP answer to a Kinesis call (kinesalite rejects an unsigned one with 400) means it is serving. */
const answersKinesis = (endpoint: string): Effect.Effect<boolean> =>
  Effect.map(
    Net.probe(endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-amz-json-1.1", "x-amz-target": "Kinesis_20131202.ListStreams" },
      body: "{}"
    }),
    (status) => status !== undefined
  )

const require = createRequire(import.meta.url)

const emulatorScript = fileURLToPath(new URL("./internal/emulator-child.cjs", import.meta.url))

/** kinesalite's own options, embedded or in its process: the defaults filled in. */
const kinesaliteSettings = (options: KinesaliteOptions) => ({
  createStreamMs: options.createStreamMs ?? 50,
  deleteStreamMs: options.deleteStreamMs ?? 50,
  updateStreamMs: options.updateStreamMs ?? 50,
  shardLimit: options.shardLimit ?? 100
})
