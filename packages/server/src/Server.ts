/**
 * The gateway served as a layer (`Server`), next to a consumer or a pipeline under `Layer.launch`, with its
 * address and limits given (`layer`) or read through Effect's `Config` (`layerConfig`). What only code can
 * give (the API keys, each stream's sink, the results reader, the dashboard) stays in the options.
 *
 * @since 0.1.0
 */
import type { ServeError } from "@effect/platform/HttpServerError"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { GatewayOptions, RunningServer } from "./Gateway.js"
import * as Gateway from "./Gateway.js"

/**
 * The running server: its URL and port, the results cache and the dashboard's feed.
 *
 * @since 0.1.0
 * @category tags
 */
export class Server extends Context.Tag("@tributary/server/Server")<Server, RunningServer>() {}

/**
 * What configuration can give.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConfigOptions {
  /** Default 0: a free port. */
  readonly port?: number | undefined
  /** Default `127.0.0.1`; `0.0.0.0` for every interface. */
  readonly host?: string | undefined
  /** Every key's token bucket, unless the key has its own (see `GatewayOptions.rateLimit`). */
  readonly rateLimit?: { readonly perSecond: number; readonly burst: number } | undefined
  /** Largest JSON body read (see `GatewayOptions.maxBodyBytes`). Default 2 × the batch limit + 64 KiB. */
  readonly maxBodyBytes?: number | undefined
  /** How long a sink write may take before the request is answered 503. Default 30 s. */
  readonly writeTimeout?: Duration.DurationInput | undefined
  /** How long results are cached, when results are served. */
  readonly resultsTtlMillis?: number | undefined
}

/**
 * The options from configuration, every one optional (unset: the default):
 *
 * | variable | option |
 * | --- | --- |
 * | `PORT` | `port` |
 * | `HOST` | `host` |
 * | `RATE_LIMIT_PER_SECOND`, `RATE_LIMIT_BURST` | `rateLimit` (both, or neither; a rate of 0 or more, a burst of at least 1) |
 * | `MAX_BODY_BYTES` | `maxBodyBytes` |
 * | `WRITE_TIMEOUT` | `writeTimeout` (an Effect duration, `30 seconds`) |
 * | `RESULTS_TTL_MILLIS` | `results.ttlMillis` |
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<ConfigOptions> = Config.all({
  // 0 is a port here: a free one
  port: Config.integer("PORT").pipe(
    Config.validate({ message: "Expected a port from 0 to 65535", validation: (port) => port >= 0 && port <= 65535 }),
    Config.withDefault(undefined)
  ),
  host: Config.nonEmptyString("HOST").pipe(Config.withDefault(undefined)),
  rateLimit: Config.all({
    perSecond: Config.number("RATE_LIMIT_PER_SECOND").pipe(
      Config.validate({ message: "Expected a rate of 0 or more", validation: (rate) => Number.isFinite(rate) && rate >= 0 })
    ),
    // a bucket of less than one token never admits a request
    burst: Config.number("RATE_LIMIT_BURST").pipe(
      Config.validate({ message: "Expected a burst of at least 1 request", validation: (burst) => Number.isFinite(burst) && burst >= 1 })
    )
  }).pipe(Config.withDefault(undefined)),
  maxBodyBytes: Config.integer("MAX_BODY_BYTES").pipe(Config.withDefault(undefined)),
  writeTimeout: Config.duration("WRITE_TIMEOUT").pipe(Config.withDefault(undefined)),
  resultsTtlMillis: Config.integer("RESULTS_TTL_MILLIS").pipe(Config.withDefault(undefined))
})

/**
 * Serves the gateway while the layer lives.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: GatewayOptions,
  listen: { readonly port?: number | undefined; readonly host?: string | undefined } = {}
): Layer.Layer<Server, ServeError> =>
  Layer.scoped(Server, Gateway.serve(options, listenOf(listen)))

/**
 * Serves the gateway while the layer lives, its address and limits from configuration (default: `config`,
 * the documented variables); what is configured wins over `options`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: GatewayOptions,
  settings: Config.Config.Wrap<ConfigOptions> = config
): Layer.Layer<Server, ServeError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(settings), (read) => layer(withConfig(options, read), read)))

const listenOf = (listen: { readonly port?: number | undefined; readonly host?: string | undefined }) => {
  const out: { port?: number; host?: string } = {}
  if (listen.port !== undefined) out.port = listen.port
  if (listen.host !== undefined) out.host = listen.host
  return out
}

const withConfig = (options: GatewayOptions, read: ConfigOptions): GatewayOptions => {
  const out: { -readonly [K in keyof GatewayOptions]: GatewayOptions[K] } = { ...options }
  if (read.rateLimit !== undefined) out.rateLimit = read.rateLimit
  if (read.maxBodyBytes !== undefined) out.maxBodyBytes = read.maxBodyBytes
  if (read.writeTimeout !== undefined) out.writeTimeout = read.writeTimeout
  if (read.resultsTtlMillis !== undefined && options.results !== undefined) {
    out.results = { ...options.results, ttlMillis: read.resultsTtlMillis }
  }
  return out
}
