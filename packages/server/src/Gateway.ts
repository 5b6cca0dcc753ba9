/**
 * The HTTP server: the ingest gateway (`POST /v1/streams/{name}/records`), health (`/healthz`,
 * `/readyz`), Prometheus metrics (`/metrics`), the results API (`GET /v1/results/{pipeline}/{key}`) and,
 * when configured, the live dashboard (`/dashboard`, see `Dashboard`). See docs/server.md.
 *
 * Every ingest request is authenticated, authorized for its stream, rate limited, read with a size cap
 * and fully validated before its records reach the stream's sink; it is answered 200 only after the
 * sink's `write` returned (for the Kinesis producer: after Kinesis accepted every record).
 *
 * @since 0.1.0
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpRouter from "@effect/platform/HttpRouter"
import type { RouteNotFound, ServeError } from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type { RecordSink } from "@tributary/core/RecordSink"
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import { constVoid } from "effect/Function"
import * as HashSet from "effect/HashSet"
import type * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { createServer, IncomingMessage, type ServerResponse } from "node:http"
import * as ApiKeys from "./ApiKeys.js"
import * as Dashboard from "./Dashboard.js"
import type { HttpError } from "./HttpError.js"
import * as Errors from "./HttpError.js"
import * as Ingest from "./Ingest.js"
import * as Metrics from "./Metrics.js"
import * as Prometheus from "./Prometheus.js"
import * as RateLimiter from "./RateLimiter.js"
import * as ResultsCache from "./ResultsCache.js"

/**
 * The sink of a stream, or undefined for a stream the gateway does not know (404).
 *
 * @since 0.1.0
 * @category models
 */
export type SinkResolver = (stream: string) => Effect.Effect<RecordSink<Ingest.IngestRecord> | undefined>

/**
 * Options of `make` and `serve`: the keys, each stream's sink, limits and timeouts, readiness, and the
 * optional results API and dashboard. Only `keys` and `sinkFor` are required.
 *
 * @since 0.1.0
 * @category models
 */
export interface GatewayOptions {
  /** The stored API keys (hashed), or a ready `ApiKeys`. */
  readonly keys: ApiKeys.ApiKeys | ReadonlyArray<ApiKeys.StoredKey>
  /** The producer sink of each stream: see `sinks` for a fixed map. */
  readonly sinkFor: SinkResolver
  /** Default token bucket of every key (a key's own `rateLimit` wins). Default: no limit. */
  readonly rateLimit?: RateLimiter.RateLimit
  /** Lower limits than Kinesis' (never higher: the sink would refuse). */
  readonly limits?: Partial<Ingest.Limits>
  /** Largest JSON body read. Default 2 × the batch limit + 64 KiB (JSON escaping). */
  readonly maxBodyBytes?: number
  /** How long a sink write may take before the request is answered 503. Default 30 s. */
  readonly writeTimeout?: Duration.DurationInput
  /**
   * How long reading a request's body may take (from the end of its headers) before it is answered 408 and
   * its connection closed. Default 30 s.
   */
  readonly bodyTimeout?: Duration.DurationInput
  /** `serve` only: how long a client may take to send a request's headers (Node's `headersTimeout`). Default 10 s. */
  readonly headersTimeout?: Duration.DurationInput
  /** `serve` only: the most connections open at once; Node closes the ones beyond at once. Default 1,000. */
  readonly maxConnections?: number
  /** Readiness: succeeds when the sinks are reachable (e.g. a DescribeStreamSummary). Default always ready. */
  readonly ready?: Effect.Effect<unknown, unknown>
  /** Serves `GET /v1/results/{pipeline}/{key}` when given. */
  readonly results?: {
    readonly reader: ResultsCache.ResultsReader
    /** Default 2,000 ms. */
    readonly ttlMillis?: number
    /** Known pipelines (others are 404). Default any. */
    readonly pipelines?: ReadonlyArray<string>
  }
  /**
   * Serves the live dashboard (`/dashboard`, `/v1/dashboard/events`, `/v1/status`, `/v1/dead-letters`) when
   * given. These routes need no API key, like `/metrics`: keep them on a private network or behind a proxy.
   */
  readonly dashboard?: Dashboard.DashboardOptions
}

/**
 * The gateway as an HTTP app, with the results cache and dashboard feed behind it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Gateway {
  /** Every route, with errors answered as JSON and each request counted in `Metrics.gateway`. */
  readonly app: HttpApp.Default
  /** The results cache (to invalidate when new results land), when results are served. */
  readonly results: ResultsCache.ResultsCache | undefined
  /**
   * The dashboard's feed, when the dashboard is served. `serve` starts its sampler; serving `app` some other
   * way, run `feed.start` in the server's scope.
   */
  readonly dashboard: Dashboard.Feed | undefined
}

/**
 * A fixed map of stream names to sinks.
 *
 * @since 0.1.0
 * @category constructors
 */
export const sinks = (byStream: Readonly<Record<string, RecordSink<Ingest.IngestRecord>>>): SinkResolver => (stream) =>
  Effect.succeed(Object.prototype.hasOwnProperty.call(byStream, stream) ? byStream[stream] : undefined)

const routeOf = (url: string, dashboard: boolean): string => {
  const path = url.split("?")[0]
  if (path.startsWith("/v1/streams/")) return "ingest"
  if (path.startsWith("/v1/results/")) return "results"
  if (path === "/healthz" || path === "/readyz" || path === "/metrics") return path.slice(1)
  if (
    dashboard && (path === "/" || path === "/dashboard" || path.startsWith("/dashboard/") ||
      path === "/v1/dashboard/events" || path === "/v1/status" || path === "/v1/dead-letters")
  ) return "dashboard"
  return "other"
}

/** Counted as status 499 ("client closed request"), apart from 5xx; nobody reads the answer. */
const clientClosed = HttpServerResponse.empty({ status: 499 })

const bearer = (header: string | undefined): string | undefined => {
  if (header === undefined) return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return match === null ? undefined : match[1]
}

/**
 * Updates `metric` with labels of the given names, as `Metric.tagged` would (the fiber's own metric labels
 * after them). `Metric.tagged` builds and hashes the labelled key again on every update; an array of labels
 * kept per set of values hits the metric's own cache of keys instead. The values are few (routes, statuses,
 * known streams).
 */
const labelled = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>, ...names: ReadonlyArray<string>) => {
  const byValues = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()
  return (input: In, ...values: ReadonlyArray<string>): Effect.Effect<void> =>
    FiberRef.getWith(FiberRef.currentMetricLabels, (fiberLabels) =>
      Effect.sync(() => {
        const id = values.join("\n")
        let labels = byValues.get(id)
        if (labels === undefined) byValues.set(id, labels = names.map((name, i) => MetricLabel.make(name, values[i])))
        metric.unsafeUpdate(input, fiberLabels.length === 0 ? labels : Arr.union(labels, fiberLabels))
      }))
}

/** A request's headers, as Node's `IncomingMessage` and the platform's request both give them. */
type RequestHeaders = { readonly [name: string]: string | ReadonlyArray<string> | undefined }

const header = (headers: RequestHeaders, name: string): string | undefined => {
  const value = headers[name]
  return typeof value === "string" ? value : undefined
}

/** A body read up to a limit, failing with `tooLarge` beyond it. */
type ReadBody = (limit: number, tooLarge: () => HttpError) => Effect.Effect<Uint8Array, HttpError>

const unreadable = () => Errors.make(400, "unreadable_body", "the request body could not be read", { field: "body" })

const timedOut = (timeout: Duration.Duration) => () =>
  Errors.make(408, "request_timeout", `the body was not received within ${Duration.format(timeout)}`, { field: "body" })

/** A body announced over the limit is refused before any of it is read. */
const announcedOver = (headers: RequestHeaders, limit: number): boolean => {
  const declared = header(headers, "content-length")
  return declared !== undefined && Number(declared) > limit
}

/** Runs `f` after `duration` on Node's timers, none for an infinite one; returns its cancel. */
const after = (duration: Duration.Duration, f: () => void): () => void => {
  if (!Duration.isFinite(duration)) return constVoid
  const timer = setTimeout(f, Math.min(Duration.toMillis(duration), 2 ** 31 - 1))
  return () => clearTimeout(timer)
}

/** Who interrupts a request whose sink write ran past `writeTimeout` (see `withinTimeout`). */
const writeTimedOut = FiberId.make(-1, 0)

/**
 * `effect`, run in this fiber; past `timeout` the fiber is interrupted by `writeTimedOut`, which the request's
 * handler answers 503 `sink_timeout` (see `answered`). The same as `Effect.timeoutFail` around the write,
 * whose answer waits for the write's interruption too, without its two forked fibers (measured: 90-110 µs,
 * the largest Effect cost of an ingest request). On the wall clock, like the server's other timeouts.
 */
const withinTimeout = <A, E>(effect: Effect.Effect<A, E>, timeout: Duration.Duration): Effect.Effect<A, E> =>
  Effect.withFiberRuntime((fiber) => {
    const cancel = after(timeout, () => fiber.unsafeInterruptAsFork(writeTimedOut))
    return Effect.ensuring(effect, Effect.sync(cancel))
  })

/** Whether `cause` is the interruption of a sink write past its timeout (see `withinTimeout`). */
const isWriteTimeout = (cause: Cause.Cause<unknown>): boolean => HashSet.has(Cause.interruptors(cause), writeTimedOut)

/**
 * Reads the body of Node's request whole, failing with `tooLarge` past `limit` bytes and with 408 past
 * `timeout`: one callback per chunk, no stream or fiber per chunk (the ingest route's cost).
 */
const readIncoming = (source: IncomingMessage, timeout: Duration.Duration): ReadBody => (limit, tooLarge) =>
  announcedOver(source.headers, limit) ? Effect.fail(tooLarge()) : Effect.async<Uint8Array, HttpError>((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    let settled = false
    const settle = (result: Effect.Effect<Uint8Array, HttpError>) => {
      if (settled) return
      settled = true
      cancel()
      chunks.length = 0
      resume(result)
    }
    // After an answer the rest is still drained (never destroyed: that would lose the answer), until the
    // connection the answer closes ends.
    const onData = (chunk: Buffer) => {
      if (settled) return
      size += chunk.length
      if (size > limit) return settle(Effect.fail(tooLarge()))
      chunks.push(chunk)
    }
    const onEnd = () => {
      if (chunks.length === 1) return settle(Effect.succeed(chunks[0]))
      // one copy into a buffer of its own (Buffer.concat may share Node's pool)
      const body = new Uint8Array(size)
      let at = 0
      for (const chunk of chunks) {
        body.set(chunk, at)
        at += chunk.length
      }
      settle(Effect.succeed(body))
    }
    const onError = () => settle(Effect.fail(unreadable()))
    const cancel = after(timeout, () => settle(Effect.fail(timedOut(timeout)())))
    source.on("data", onData)
    source.once("end", onEnd)
    source.once("error", onError)
    return Effect.sync(() => {
      settled = true
      cancel()
    })
  })

/** The same through the platform's `request.stream`, for a request not of Node's server. */
const readStream = (request: HttpServerRequest.HttpServerRequest, timeout: Duration.Duration): ReadBody => (limit, tooLarge) =>
  Effect.suspend(() => {
    if (announcedOver(request.headers, limit)) return Effect.fail(tooLarge())
    const chunks: Array<Uint8Array> = []
    let size = 0
    const read = request.stream.pipe(
      Stream.mapError(unreadable),
      Stream.runForEach((chunk) => {
        size += chunk.length
        if (size > limit) return Effect.fail(tooLarge())
        chunks.push(chunk)
        return Effect.void
      }),
      Effect.map(() => (chunks.length === 1 ? chunks[0] : new Uint8Array(Buffer.concat(chunks))))
    )
    // Interrupting the read would destroy the connection before the 408 is sent: on a timeout the read is
    // left to end with the connection, which the 408 closes.
    return Effect.flatMap(
      Effect.forkDaemon(read),
      (reading) => Fiber.join(reading).pipe(Effect.timeoutFail({ duration: timeout, onTimeout: timedOut(timeout) }))
    )
  })

/**
 * Builds the HTTP app.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: GatewayOptions): Gateway => build(options).gateway

/** The app, and its ingest route off Node's request for `serve`. */
const build = (options: GatewayOptions) => {
  const keys = Array.isArray(options.keys) ? ApiKeys.make(options.keys as ReadonlyArray<ApiKeys.StoredKey>) : options.keys as ApiKeys.ApiKeys
  const limits: Ingest.Limits = {
    maxRecordsPerRequest: Math.min(options.limits?.maxRecordsPerRequest ?? Ingest.limits.maxRecordsPerRequest, Ingest.limits.maxRecordsPerRequest),
    maxBytesPerRequest: Math.min(options.limits?.maxBytesPerRequest ?? Ingest.limits.maxBytesPerRequest, Ingest.limits.maxBytesPerRequest),
    maxRecordBytes: Math.min(options.limits?.maxRecordBytes ?? Ingest.limits.maxRecordBytes, Ingest.limits.maxRecordBytes)
  }
  const maxBodyBytes = options.maxBodyBytes ?? 2 * limits.maxBytesPerRequest + 64 * 1024
  const writeTimeout = Duration.decode(options.writeTimeout ?? "30 seconds")
  const bodyTimeout = Duration.decode(options.bodyTimeout ?? "30 seconds")
  const limiter = RateLimiter.make()
  const ready = options.ready ?? Effect.void
  const cache = options.results === undefined
    ? undefined
    : ResultsCache.make(options.results.reader, options.results.ttlMillis === undefined ? {} : { ttlMillis: options.results.ttlMillis })
  const knownPipelines = options.results?.pipelines
  const feed = options.dashboard === undefined ? undefined : Dashboard.unsafeMake(options.dashboard)
  const requests = labelled(Metrics.gateway.requests, "route", "status")
  const duration = labelled(Metrics.gateway.duration, "route")
  const recordsAccepted = labelled(Metrics.gateway.recordsAccepted, "stream")
  const bytesAccepted = labelled(Metrics.gateway.bytesAccepted, "stream")

  const authenticate = (headers: RequestHeaders) => {
    const presented = bearer(header(headers, "authorization"))
    if (presented === undefined) {
      return Effect.fail(Errors.make(401, "unauthenticated", "an API key is required: Authorization: Bearer <key>", { field: "Authorization" }))
    }
    const key = keys.authenticate(presented)
    return key === undefined
      ? Effect.fail(Errors.make(401, "unauthenticated", "the API key is not valid", { field: "Authorization" }))
      : Effect.succeed(key)
  }

  const limitRate = (key: ApiKeys.StoredKey) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const limit = key.rateLimit ?? options.rateLimit
      if (limit === undefined) return Effect.void
      const wait = limiter.take(key.sha256, limit, now)
      return wait === 0
        ? Effect.void
        : Effect.fail(Errors.make(429, "rate_limited", `the key ${key.name} is over its rate limit`, { retryAfter: wait }))
    })

  // Everything that can be said before the body is read; those answers close the connection, so the unread
  // rest of a body of any size is never pulled off the wire just to keep the connection.
  const admit = (headers: RequestHeaders, stream: string) =>
    Effect.gen(function*() {
      const key = yield* authenticate(headers)
      if (!ApiKeys.mayWrite(key, stream)) {
        return yield* Errors.make(403, "forbidden", `the key ${key.name} may not write to stream ${stream}`)
      }
      const sink = yield* options.sinkFor(stream)
      if (sink === undefined) return yield* Errors.make(404, "unknown_stream", `no stream named ${stream}`, { field: "name" })
      yield* limitRate(key)
      const partitionKey = header(headers, "x-partition-key")
      const contentType = (header(headers, "content-type") ?? "").toLowerCase()
      if (partitionKey === undefined && contentType !== "" && !contentType.includes("json")) {
        return yield* Errors.make(
          415,
          "unsupported_media_type",
          "send application/json, or raw bytes with the partition key in X-Partition-Key",
          { field: "X-Partition-Key" }
        )
      }
      return { sink, partitionKey }
    }).pipe(Effect.mapError(Errors.closing))

  /** The ingest route after its path: admitted, body read (by `read`), parsed, written, answered. */
  const ingestRecords = (
    headers: RequestHeaders,
    stream: string,
    read: ReadBody
  ) =>
    Effect.gen(function*() {
      const { partitionKey, sink } = yield* admit(headers, stream)
      const raw = partitionKey !== undefined
      const tooLarge = () =>
        raw
          ? Errors.make(413, "record_too_large", `the record is over ${limits.maxRecordBytes} bytes`, { field: "body" })
          : Errors.make(413, "body_too_large", `the body is over ${maxBodyBytes} bytes`, { field: "body" })
      // a body not read whole is not read on either: its answer closes the connection
      const body = yield* Effect.mapError(read(raw ? limits.maxRecordBytes : maxBodyBytes, tooLarge), Errors.closing)
      const parsed = raw ? Ingest.parseRaw(stream, partitionKey, body, limits) : Ingest.parseJson(stream, body, limits)
      if (parsed instanceof Errors.HttpError) return yield* parsed
      yield* withinTimeout(sink.write(parsed), writeTimeout).pipe(
        Effect.catchTag("SinkError", (error) =>
          Effect.fail(
            error.retryability === "transient"
              ? Errors.make(503, "sink_unavailable", `the stream is unavailable, try again: ${error.reason}`, { retryAfter: 1 })
              : Errors.make(422, "rejected", `the stream refused the records: ${error.reason}`)
          ))
      )
      let bytes = 0
      for (const record of parsed) bytes += record.data.length
      yield* recordsAccepted(parsed.length, stream)
      yield* bytesAccepted(bytes, stream)
      return HttpServerResponse.unsafeJson({ accepted: parsed.length })
    })

  const ingest = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const stream = (yield* HttpRouter.params).name ?? ""
    const source = request.source
    return yield* ingestRecords(
      request.headers,
      stream,
      source instanceof IncomingMessage ? readIncoming(source, bodyTimeout) : readStream(request, bodyTimeout)
    )
  })

  const results = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (cache === undefined) return yield* Errors.make(404, "not_found", "results are not served here")
    const params = yield* HttpRouter.params
    const pipeline = params.pipeline ?? ""
    // the router has decoded the path parameter already
    const resultKey = params.key ?? ""
    const key = yield* authenticate(request.headers)
    if (!ApiKeys.mayRead(key, pipeline)) return yield* Errors.make(403, "forbidden", `the key ${key.name} may not read pipeline ${pipeline}`)
    if (knownPipelines !== undefined && !knownPipelines.includes(pipeline)) {
      return yield* Errors.make(404, "unknown_pipeline", `no pipeline named ${pipeline}`, { field: "pipeline" })
    }
    yield* limitRate(key)
    const query = new URL(request.url, "http://localhost").searchParams
    const time = (name: "from" | "to", fallback: number) => {
      const text = query.get(name)
      if (text === null || text === "") return fallback
      const value = /^\d+$/.test(text) ? Number(text) : Date.parse(text)
      return Number.isFinite(value) ? value : Errors.make(400, "invalid_time", `${name} must be epoch milliseconds or an ISO date`, { field: name })
    }
    const from = time("from", 0)
    if (from instanceof Errors.HttpError) return yield* from
    const to = time("to", Number.MAX_SAFE_INTEGER)
    if (to instanceof Errors.HttpError) return yield* to
    if (to < from) return yield* Errors.make(400, "invalid_time", "to must not be before from", { field: "to" })
    const found = yield* cache.get({ pipeline, key: resultKey, from, to }).pipe(
      Effect.mapError((error) =>
        Errors.make(503, "results_unavailable", `cannot read results: ${error instanceof Error ? error.message : String(error)}`, { retryAfter: 1 })
      )
    )
    return HttpServerResponse.unsafeJson({ pipeline, key: resultKey, from, to, results: found })
  })

  const router = HttpRouter.empty.pipe(
    HttpRouter.post("/v1/streams/:name/records", ingest),
    HttpRouter.get("/v1/results/:pipeline/:key", results),
    HttpRouter.get("/healthz", Effect.succeed(HttpServerResponse.unsafeJson({ status: "ok" }))),
    HttpRouter.get(
      "/readyz",
      Effect.match(ready, {
        onFailure: (error) =>
          HttpServerResponse.unsafeJson(
            { status: "unavailable", error: { code: "not_ready", message: error instanceof Error ? error.message : String(error) } },
            { status: 503 }
          ),
        onSuccess: () => HttpServerResponse.unsafeJson({ status: "ready" })
      })
    ),
    HttpRouter.get("/metrics", Effect.map(Prometheus.render, (text) => HttpServerResponse.text(text, { contentType: Prometheus.contentType }))),
    // without the option the dashboard's paths fall through to 404
    (router) => feed === undefined ? router : HttpRouter.concat(router, Dashboard.router(feed))
  )

  /** Errors answered as JSON; an interruption (the client went away) as 499, a defect as 500. */
  const answered = <R>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, HttpError | RouteNotFound, R>) =>
    handler.pipe(
      Effect.catchTags({
        HttpError: (error) => Effect.succeed(Errors.toResponse(error)),
        RouteNotFound: () => Effect.succeed(Errors.toResponse(Errors.make(404, "not_found", "no such endpoint")))
      }),
      Effect.catchAllCause((cause) => {
        if (!Cause.isInterruptedOnly(cause)) {
          return Effect.as(Effect.logError("request failed", cause), Errors.toResponse(Errors.make(500, "internal", "internal error")))
        }
        if (isWriteTimeout(cause)) {
          return Effect.succeed(Errors.toResponse(
            Errors.make(503, "sink_timeout", `the stream's sink did not answer within ${Duration.format(writeTimeout)}`, { retryAfter: 1 })
          ))
        }
        // interrupted otherwise: the client went away (or the server is stopping), nothing went wrong here;
        // 499 as nginx counts it
        return Effect.as(Effect.logDebug("request interrupted: the client closed the connection"), clientClosed)
      })
    )

  /** The answer of `handler`, counted in `Metrics.gateway` under `route`. */
  const counted = <R>(route: string, handler: Effect.Effect<HttpServerResponse.HttpServerResponse, never, R>) =>
    Effect.gen(function*() {
      const start = yield* Clock.currentTimeNanos
      const response = yield* handler
      const elapsed = Number((yield* Clock.currentTimeNanos) - start) / 1e9
      yield* requests(1, route, String(response.status))
      yield* duration(elapsed, route)
      return response
    })

  const app: HttpApp.Default = Effect.flatMap(
    HttpServerRequest.HttpServerRequest,
    (request) => counted(routeOf(request.url, feed !== undefined), answered(router))
  )

  /**
   * `POST /v1/streams/{stream}/records` off Node's request, without the platform's request, router and
   * response: the same admission, reading, parsing, writing, answers and counts as the route in `app`.
   */
  const ingestNode = (request: IncomingMessage, response: ServerResponse, stream: string) =>
    counted(
      "ingest",
      answered(Effect.interruptible(ingestRecords(request.headers, stream, readIncoming(request, bodyTimeout))))
    ).pipe(
      Effect.flatMap((answer) => send(response, answer)),
      // answered even once interrupted (the write's timeout), like the platform's requests
      Effect.uninterruptible
    )

  return { gateway: { app, results: cache, dashboard: feed }, ingestNode }
}

/**
 * A gateway being served (`serve`): the gateway, and where to reach it.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunningServer extends Gateway {
  /** e.g. `http://127.0.0.1:41234` */
  readonly url: string
  /** The port listened on: the one asked for, or the free one picked for port 0. */
  readonly port: number
}

/** A URL to reach the server at: a wildcard address is reached on loopback, an IPv6 one in brackets. */
const urlOf = (host: string, port: number): string => {
  const reachable = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host
  return `http://${reachable.includes(":") ? `[${reachable}]` : reachable}:${port}`
}

/**
 * The stream of an ingest request `serve` answers off Node's request, or undefined: any other request, and a
 * name the router would decode (`%`), go through the platform.
 */
const ingestPath = /^\/v1\/streams\/([^/?#%;]+)\/records(?:\?|$)/

const ingestStream = (request: IncomingMessage): string | undefined =>
  request.method === "POST" ? ingestPath.exec(request.url ?? "")?.[1] : undefined

/** Writes one of the gateway's answers (a JSON or empty body) to Node's response, as the platform does. */
const send = (response: ServerResponse, answer: HttpServerResponse.HttpServerResponse) =>
  Effect.sync(() => {
    if (response.writableEnded || response.destroyed) return
    response.writeHead(answer.status, answer.headers)
    response.end(answer.body._tag === "Uint8Array" ? answer.body.body : undefined)
  })

/** The tracer Effect runs with when none is installed: its spans go nowhere. */
const untraced = Effect.runSync(Effect.tracer)

/**
 * Serves the gateway on Node's HTTP server until the scope closes. Port 0 picks a free port. With
 * `options.dashboard`, the dashboard's sampler runs in the same scope.
 *
 * @since 0.1.0
 * @category running
 */
export const serve = (
  options: GatewayOptions,
  listen: { readonly port?: number; readonly host?: string } = {}
): Effect.Effect<RunningServer, ServeError, Scope.Scope> =>
  Effect.gen(function*() {
    const { gateway, ingestNode } = build(options)
    const host = listen.host ?? "127.0.0.1"
    const headersTimeout = Duration.toMillis(Duration.decode(options.headersTimeout ?? "10 seconds"))
    const bodyTimeout = Duration.toMillis(Duration.decode(options.bodyTimeout ?? "30 seconds"))
    const node = createServer({
      keepAlive: true,
      headersTimeout,
      // Node's own limit on a whole request, a backstop behind the body timeout the app answers 408
      requestTimeout: headersTimeout + bodyTimeout + 5_000,
      // how often Node looks for requests past those limits (default 30 s, too coarse for them)
      connectionsCheckingInterval: 1_000
    })
    node.maxConnections = options.maxConnections ?? 1000
    let listener: ((request: IncomingMessage, response: ServerResponse) => void) | undefined
    // Removed only once the server has closed (finalizers run in reverse order): a request that comes on a
    // kept-alive connection while the server closes must still be answered, or the close waits for it forever.
    yield* Effect.addFinalizer(() => Effect.sync(() => listener !== undefined && node.off("request", listener)))
    const server = yield* NodeHttpServer.make(() => node, { port: listen.port ?? 0, host })
    // The platform opens a span per request, with its URL and headers as attributes: made only under a tracer
    // that exports them, not Effect's default one (see `untraced`).
    const traced = (yield* Effect.tracer) !== untraced
    const platform = yield* NodeHttpServer.makeHandler(gateway.app).pipe(HttpMiddleware.withTracerDisabledWhenEffect(() => !traced))
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    // Ingest requests, the hot path, are answered without the platform's request, router, request scope and
    // response (measured: 50-75 µs of CPU less per request, about 15%; see `ingestNode`). Under a tracer they
    // go through the platform, for its span.
    listener = (request: IncomingMessage, response: ServerResponse) => {
      const stream = traced ? undefined : ingestStream(request)
      if (stream === undefined) return platform(request, response)
      const fiber = runFork(ingestNode(request, response, stream))
      response.on("close", () => {
        if (!response.writableEnded) fiber.unsafeInterruptAsFork(FiberId.none)
      })
    }
    node.on("request", listener)
    // started last, so closing the scope first ends the event streams, then the server waits for no one
    if (gateway.dashboard !== undefined) yield* gateway.dashboard.start
    const port = server.address._tag === "TcpAddress" ? server.address.port : 0
    return { ...gateway, port, url: urlOf(host, port) }
  })

