/**
 * The HTTP handler for a loopback endpoint (a local emulator): HTTP/1.1 for every call but event streams,
 * which go over HTTP/2.
 *
 * The SDK's Kinesis client speaks HTTP/2 for every call by default, which kinesalite does not answer and
 * kinesis-mock answers unreliably (about 6% of calls fail); over HTTP/1.1 both answer every call. But an
 * event-stream operation (Kinesis' SubscribeToShard) needs HTTP/2, as on AWS: the SDK marks such a request
 * (`isEventStream`), and this handler sends it with a `NodeHttp2Handler` (in a session of its own, as the
 * SDK always does for event streams). Real AWS keeps the SDK's default handler.
 *
 * @since 0.1.0
 */
import { NodeHttp2Handler, NodeHttpHandler } from "@smithy/node-http-handler"

type Request = Parameters<NodeHttpHandler["handle"]>[0]
type Options = NonNullable<Parameters<NodeHttp2Handler["handle"]>[1]>
type HandlerOptions = Parameters<NodeHttpHandler["updateHttpClientConfig"]>[0]

/**
 * Options of a `LoopbackHandler`.
 *
 * @since 0.1.0
 * @category models
 */
export interface LoopbackHandlerOptions {
  /** How long to wait for a TCP connection, in milliseconds. Default: the SDK's (none). */
  readonly connectionTimeout?: number | undefined
}

/**
 * HTTP/1.1 (a keep-alive agent) for ordinary calls, HTTP/2 for event streams. `destroy` closes the idle
 * connections; the handler stays usable (a client made later opens new ones).
 *
 * @since 0.1.0
 * @category models
 */
export class LoopbackHandler {
  /** The protocol the SDK prepares requests for: HTTP/1.1 (a `host` header), which HTTP/2 accepts too. */
  readonly metadata = { handlerProtocol: "http/1.1" }
  /** The handler of every call but event streams: HTTP/1.1 with keep-alive. */
  readonly http1: NodeHttpHandler
  /** The handler of event streams (SubscribeToShard): HTTP/2, a session per stream as the SDK does. */
  readonly http2: NodeHttp2Handler

  constructor(options: LoopbackHandlerOptions = {}) {
    const connectionTimeout = options.connectionTimeout === undefined ? {} : { connectionTimeout: options.connectionTimeout }
    this.http1 = new NodeHttpHandler(connectionTimeout)
    this.http2 = new NodeHttp2Handler()
  }

  /** Sends a request: over HTTP/2 when the SDK marks it an event stream, else over HTTP/1.1. */
  handle(request: Request, options: Options = {}): ReturnType<NodeHttpHandler["handle"]> {
    return options.isEventStream === true ? this.http2.handle(request, options) : this.http1.handle(request, options)
  }

  /** Changes a setting of the HTTP/1.1 handler (the SDK calls it, e.g. for timeouts). */
  updateHttpClientConfig(key: HandlerOptions, value: unknown): void {
    this.http1.updateHttpClientConfig(key, value as never)
  }

  /** The HTTP/1.1 handler's settings, as the SDK reads them. */
  httpHandlerConfigs(): ReturnType<NodeHttpHandler["httpHandlerConfigs"]> {
    return this.http1.httpHandlerConfigs()
  }

  /** Closes both handlers' idle connections; the handler stays usable. */
  destroy(): void {
    this.http1.destroy()
    this.http2.destroy()
  }
}
