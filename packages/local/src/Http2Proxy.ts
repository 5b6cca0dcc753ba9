/**
 * A frame-level HTTP/2 proxy on a free loopback port, in front of kinesis-mock: it repairs two faults of the
 * emulator that break the AWS SDK's SubscribeToShard (enhanced fan-out), and injects, for tests, the
 * SubscribeToShard failures the emulator never produces. `LocalKinesis.layerKinesisMock` starts one in
 * front of the emulator by default, so its endpoint just works; `layerKinesis` puts another in front of any
 * `LocalKinesis` to inject faults.
 *
 * The faults of kinesis-mock (npm `kinesis-local` 0.6.2), and the repairs:
 *
 * - **A graceful GOAWAY ends every stream.** The SDK sends an event-stream request in an HTTP/2 session of
 *   its own and closes that session as soon as the response headers arrive: a GOAWAY frame with NO_ERROR
 *   and last stream id 0. Per RFC 9113 §6.8 that refuses new streams *from the server* and leaves the
 *   client's open streams alone; kinesis-mock resets the subscription's stream instead, and answers with
 *   an unsolicited PING ACK, which Node's HTTP/2 rejects: the SDK fails with `ERR_HTTP2_ERROR` (Protocol
 *   error) before the first event. The proxy drops the client's GOAWAY frames with NO_ERROR (those with an
 *   error code pass); the SDK then receives the events normally.
 * - **A subscription outlives its connection.** kinesis-mock notices a cancelled subscription only while
 *   the connection is open (when it next sends, once a second). When the SDK aborts a subscription it closes
 *   the connection at once, and the emulator then holds the subscription until its 5 minutes are up,
 *   refusing every SubscribeToShard of that consumer on that shard with ResourceInUseException meanwhile
 *   (AWS releases it with the connection). When a client's connection closes with streams still open, the
 *   proxy cancels them upstream (RST_STREAM CANCEL) and keeps the upstream connection open for `linger`.
 *
 * Requests, answers and the event stream itself are passed through untouched (the SDK decodes the events).
 * HTTP/1.1 connections (every other call of a `LoopbackHandler` client) are passed through byte for byte.
 *
 * Faults, for tests: `refuse` answers the next HTTP/2 requests with an AWS error (HTTP 400) without
 * forwarding them: a client of `LoopbackHandler` sends only SubscribeToShard over HTTP/2, one per
 * connection, so these are its next subscriptions. `resetStreams` cuts the subscriptions under way.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { ClientConfig } from "./ClientConfig.js"
import * as Config from "./ClientConfig.js"
import * as Machinery from "./internal/http2Proxy.js"
import { throughProxy } from "./internal/proxiedKinesis.js"
import type { LocalAwsError } from "./LocalAwsError.js"
import { LocalKinesis } from "./LocalKinesis.js"

/**
 * Options of `make` and `layerKinesis`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Http2ProxyOptions {
  /**
   * How long the upstream connection stays open after its client closed with streams open, so that the
   * emulator notices they were cancelled. Default 2 seconds.
   */
  readonly linger?: Duration.DurationInput | undefined
}

/**
 * An AWS error the proxy answers a request with: its name (`ResourceInUseException`,
 * `LimitExceededException`, ...) and message.
 *
 * @since 0.1.0
 * @category models
 */
export interface Refusal {
  /** The error's name, as AWS puts it in `__type`, e.g. `LimitExceededException`. */
  readonly name: string
  /** The error's message. Default: the name, said to be injected by the proxy. */
  readonly message?: string | undefined
}

/**
 * Counts of what the proxy did since it started.
 *
 * @since 0.1.0
 * @category models
 */
export interface Http2ProxyStats {
  /** Client connections, HTTP/1.1 and HTTP/2. */
  readonly connections: number
  /** The client connections that spoke HTTP/2. */
  readonly http2Connections: number
  /** Client GOAWAY frames with NO_ERROR not forwarded. */
  readonly goawaysDropped: number
  /** Streams cancelled upstream because their client's connection closed while they were open. */
  readonly cancelledOnClose: number
  /** Requests answered by `refuse`. */
  readonly refused: number
  /** Streams cut by `resetStreams`. */
  readonly reset: number
}

/**
 * A running proxy: where it listens, the client settings to reach it, the faults it injects on demand, and
 * what it counted.
 *
 * @since 0.1.0
 * @category models
 */
export interface Http2ProxyShape {
  /** `http://127.0.0.1:<port>` of the proxy. */
  readonly endpoint: string
  /** The proxy's loopback port. */
  readonly port: number
  /** The endpoint behind the proxy. */
  readonly target: string
  /** Client settings for the proxy's endpoint. */
  readonly clientConfig: ClientConfig
  /**
   * Answers the next `times` (default 1) HTTP/2 requests with the error (HTTP 400, AWS JSON), without
   * forwarding them.
   */
  readonly refuse: (refusal: Refusal, times?: number) => Effect.Effect<void>
  /**
   * Cuts every HTTP/2 stream under way, as a broken connection to AWS would: the client sees its stream reset
   * (INTERNAL_ERROR), the emulator sees it cancelled. Answers how many were cut.
   */
  readonly resetStreams: Effect.Effect<number>
  /** What the proxy did since it started. */
  readonly stats: Effect.Effect<Http2ProxyStats>
}

/**
 * The `Http2Proxy` service: a running proxy (`layerKinesis` provides one in front of `LocalKinesis`).
 *
 * @since 0.1.0
 * @category tags
 */
export class Http2Proxy extends Context.Tag("@tributary/local/Http2Proxy")<Http2Proxy, Http2ProxyShape>() {}

/**
 * Starts a proxy in front of `target` (an `http://127.0.0.1:<port>` endpoint); it stops with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  target: string,
  options: Http2ProxyOptions = {}
): Effect.Effect<Http2ProxyShape, LocalAwsError, Scope.Scope> =>
  Effect.map(Machinery.start(target, Duration.toMillis(Duration.decode(options.linger ?? "2 seconds"))), (proxy) => {
    const endpoint = `http://127.0.0.1:${proxy.port}`
    return {
      endpoint,
      port: proxy.port,
      target,
      clientConfig: Config.make(endpoint),
      refuse: (refusal, times = 1) =>
        Effect.sync(() =>
          proxy.refuse(Array.from({ length: times }, () => ({
            name: refusal.name,
            message: refusal.message ?? `${refusal.name} (injected by Http2Proxy)`
          })))
        ),
      resetStreams: Effect.sync(() => proxy.resetStreams()),
      stats: Effect.sync(() => proxy.snapshot())
    }
  })

/**
 * A proxy in front of `LocalKinesis`: provides the `Http2Proxy` and replaces `LocalKinesis` with one whose
 * endpoint and client settings point at the proxy.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerKinesis = (
  options?: Http2ProxyOptions
): Layer.Layer<Http2Proxy | LocalKinesis, LocalAwsError, LocalKinesis> =>
  Layer.scopedContext(Effect.gen(function*() {
    const local = yield* LocalKinesis
    const proxy = yield* make(local.endpoint, options)
    return Context.make(Http2Proxy, proxy).pipe(Context.add(LocalKinesis, throughProxy(local, proxy)))
  }))
