/**
 * A call's abort signal, carried to the HTTP handler beside `send`'s options rather than in them.
 *
 * The SDK resolves a command's middleware stack on every `send` that has options (such as `abortSignal`);
 * only a send without options may reuse the stack resolved once per command class (`cacheMiddleware`).
 * Resolving it costs about a sixth of a small call's CPU. So a client prepared here sends without options:
 * the call's signal rides on the command, a middleware copies it onto the HTTP request, and the client's
 * handler, wrapped, hands it to the real handler as `abortSignal`. Interrupting the call still closes its
 * socket.
 *
 * @internal
 */

/** Where a signal rides: on the middleware arguments, then on the HTTP request of the attempt. */
const signalKey = Symbol.for("@tributary/aws/abortSignal")

/** The signal of each command sent through `send`, until the command is collected. */
const signals = new WeakMap<object, AbortSignal>()

/** The clients prepared here: only they may send without options and still be abortable. */
const prepared = new WeakSet<object>()

interface Handler {
  readonly metadata?: unknown
  handle(request: object, options?: object): Promise<unknown>
  updateHttpClientConfig?(key: never, value: never): void
  httpHandlerConfigs?(): unknown
  destroy?(): void
}

/** The parts of an SDK client this module touches. */
export interface PreparableClient {
  readonly middlewareStack: {
    add(middleware: (next: (args: any) => Promise<unknown>) => (args: any) => Promise<unknown>, options: object): void
  }
  readonly config: { requestHandler?: unknown }
  send(command: object, options?: object): Promise<unknown>
}

/**
 * Wraps the client's HTTP handler and adds the middleware that carries signals (once per client). Call it
 * right after building the client: the handler is read when a command's stack is first resolved.
 */
export const prepare = (client: PreparableClient): void => {
  if (prepared.has(client)) return
  const inner = client.config.requestHandler as Handler | undefined
  if (inner === undefined || typeof inner.handle !== "function") return
  client.config.requestHandler = signalling(inner)
  // first: the command itself is the argument (later steps get copies, which keep the symbol)
  client.middlewareStack.add((next) => (args) => {
    const signal = signals.get(args)
    return next(signal === undefined ? args : { ...args, [signalKey]: signal })
  }, { step: "initialize", priority: "high", name: "tributaryAbortSignalIn" })
  // last, next to the handler: the request of this attempt (the signer and retries make new ones)
  client.middlewareStack.add((next) => (args) => {
    const signal = args[signalKey] as AbortSignal | undefined
    if (signal !== undefined && typeof args.request === "object" && args.request !== null) args.request[signalKey] = signal
    return next(args)
  }, { step: "deserialize", priority: "low", name: "tributaryAbortSignalOut" })
  prepared.add(client)
}

/** Sends a command, aborted by `signal`: without options (the cached stack) when the client was prepared. */
export const send = (client: PreparableClient, command: object, signal: AbortSignal): Promise<unknown> => {
  if (!prepared.has(client)) return client.send(command, { abortSignal: signal })
  signals.set(command, signal)
  return client.send(command)
}

const signalling = (inner: Handler): Handler => ({
  metadata: inner.metadata,
  handle: (request, options = {}) => {
    const signal = (request as { readonly [signalKey]?: AbortSignal })[signalKey]
    return inner.handle(request, signal === undefined ? options : { ...options, abortSignal: signal })
  },
  updateHttpClientConfig: (key, value) => inner.updateHttpClientConfig?.(key, value),
  httpHandlerConfigs: () => inner.httpHandlerConfigs?.() ?? {},
  destroy: () => inner.destroy?.()
})
