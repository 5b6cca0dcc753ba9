/**
 * Local DynamoDB: dynalite embedded in this process (in memory), as a scoped layer on a free loopback port.
 * It has conditional writes, Query/Scan/GSI, BatchWriteItem and BatchGetItem; it lacks transactions, TTL and
 * DynamoDB Streams.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as Http from "node:http"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import type { ClientConfig } from "./ClientConfig.js"
import * as Config from "./ClientConfig.js"
import * as Child from "./internal/child.js"
import * as Net from "./internal/net.js"
import { waitUntil } from "./internal/wait.js"
import type { LocalAwsError } from "./LocalAwsError.js"

/**
 * A running local DynamoDB: where it listens and how to reach it.
 *
 * @since 0.1.0
 * @category models
 */
export interface LocalDynamoDBShape {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string
  /** The loopback port it listens on. */
  readonly port: number
  /** The region clients should use: `ClientConfig.defaultRegion`. */
  readonly region: string
  /** Ready to spread into `new DynamoDBClient(...)`. */
  readonly clientConfig: ClientConfig
}

/**
 * The local DynamoDB a test or demo runs against, as a service (see `layerDynalite`).
 *
 * @since 0.1.0
 * @category tags
 */
export class LocalDynamoDB extends Context.Tag("@tributary/local/LocalDynamoDB")<LocalDynamoDB, LocalDynamoDBShape>() {}

/**
 * Options of `makeDynalite`: its simulated table-change delays, and its port.
 *
 * @since 0.1.0
 * @category models
 */
export interface DynaliteOptions {
  /** How long a table stays CREATING. Default 0. */
  readonly createTableMs?: number
  /** How long a table stays DELETING. Default 0. */
  readonly deleteTableMs?: number
  /** How long a table stays UPDATING. Default 0. */
  readonly updateTableMs?: number
  /** The loopback port to listen on. Default 0: a free one. */
  readonly port?: number
}

/**
 * Starts dynalite in this process, in memory, and waits (up to 10 seconds) until it answers; when the scope
 * closes it finishes the requests in progress, then stops and its tables are gone. Fails with
 * `LocalAwsError` when it cannot listen or does not answer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDynalite = (
  options: DynaliteOptions = {}
): Effect.Effect<LocalDynamoDBShape, LocalAwsError, Scope.Scope> =>
  Effect.gen(function*() {
    const dynalite = require("dynalite") as (options: Record<string, number>) => Http.Server
    const server = dynalite(dynaliteSettings(options))
    const settled = Net.trackRequests(server)
    const port = yield* Effect.acquireRelease(
      Net.listen("dynalite", server, options.port),
      // what it still works on first: its store closes with the server
      () => Effect.zipRight(settled, Net.close(server))
    )
    const endpoint = `http://127.0.0.1:${port}`
    yield* waitUntil("dynalite", answersDynamoDB(endpoint), { timeout: "10 seconds" })
    return { endpoint, port, region: Config.defaultRegion, clientConfig: Config.make(endpoint) }
  })

/**
 * `LocalDynamoDB` as dynalite embedded in this process (`makeDynalite`), stopped when the layer closes.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDynalite = (options?: DynaliteOptions): Layer.Layer<LocalDynamoDB, LocalAwsError> =>
  Layer.scoped(LocalDynamoDB, makeDynalite(options))

/**
 * Starts dynalite in a child process (`makeDynalite`'s options), in memory, so that its work runs on another
 * core than this program's, as a real endpoint's would. Stopped when the scope closes (its stdin is closed;
 * SIGKILL after 2 seconds) or when this process exits; its tables are gone then.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDynaliteProcess = (
  options: DynaliteOptions = {}
): Effect.Effect<LocalDynamoDBShape, LocalAwsError, Scope.Scope> =>
  Effect.gen(function*() {
    const settings = JSON.stringify(dynaliteSettings(options))
    const { port } = yield* Child.spawnListening("dynalite", [emulatorScript, "dynalite", settings, String(options.port ?? 0)])
    const endpoint = `http://127.0.0.1:${port}`
    yield* waitUntil("dynalite", answersDynamoDB(endpoint), { timeout: "10 seconds" })
    return { endpoint, port, region: Config.defaultRegion, clientConfig: Config.make(endpoint) }
  })

/**
 * `LocalDynamoDB` as dynalite in a child process (`makeDynaliteProcess`), stopped when the layer closes.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDynaliteProcess = (options?: DynaliteOptions): Layer.Layer<LocalDynamoDB, LocalAwsError> =>
  Layer.scoped(LocalDynamoDB, makeDynaliteProcess(options))

/** dynalite's own options, embedded or in its process: the defaults filled in (its tables in memory). */
const dynaliteSettings = (options: DynaliteOptions) => ({
  createTableMs: options.createTableMs ?? 0,
  deleteTableMs: options.deleteTableMs ?? 0,
  updateTableMs: options.updateTableMs ?? 0
})

const answersDynamoDB = (endpoint: string) =>
  Effect.map(
    Net.probe(endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-amz-json-1.0", "x-amz-target": "DynamoDB_20120810.ListTables" },
      body: "{}"
    }),
    (status) => status !== undefined
  )

const emulatorScript = fileURLToPath(new URL("./internal/emulator-child.cjs", import.meta.url))

const require = createRequire(import.meta.url)
