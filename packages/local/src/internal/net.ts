import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Http from "node:http"
import * as Net from "node:net"
import { LocalAwsError } from "../LocalAwsError.js"

/** An http.Server-like value: what kinesalite and dynalite hand back. */
export interface Listenable {
  listen(port: number, host: string, callback: () => void): unknown
  close(callback?: (error?: Error) => void): unknown
  closeAllConnections?: () => void
  closeIdleConnections?: () => void
  address(): Net.AddressInfo | string | null
  once(event: "error", listener: (error: Error) => void): unknown
  removeListener(event: "error", listener: (error: Error) => void): unknown
}

/**
 * Listens on a loopback port (0, the default: a free one the kernel picks) and answers the port. A port in
 * use fails with reason `port <n> is in use`.
 */
export const listen = (service: string, server: Listenable, port = 0): Effect.Effect<number, LocalAwsError> =>
  Effect.async<number, LocalAwsError>((resume) => {
    const onError = (cause: NodeJS.ErrnoException) =>
      resume(Effect.fail(
        new LocalAwsError({
          service,
          reason: cause.code === "EADDRINUSE" ? `port ${port} is in use` : `cannot listen: ${cause.message}`,
          cause
        })
      ))
    server.once("error", onError)
    server.listen(port, "127.0.0.1", () => {
      server.removeListener("error", onError)
      const address = server.address()
      if (address === null || typeof address === "string") {
        resume(Effect.fail(new LocalAwsError({ service, reason: "server has no TCP address" })))
      } else {
        resume(Effect.succeed(address.port))
      }
    })
  })

/**
 * Closes a server: no new connections, idle keep-alive sockets closed at once, requests in flight given a
 * moment to finish (cutting them would leave the emulator working on a store it is closing: dynalite then
 * throws "Database is closed" out of its callback), then whatever is left is cut so the port is freed.
 */
export const close = (server: Listenable): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const cut = setTimeout(() => server.closeAllConnections?.(), 1_000)
    server.close(() => {
      clearTimeout(cut)
      resume(Effect.void)
    })
    server.closeIdleConnections?.()
  })

/**
 * Counts the requests an emulator is working on, from its `request` event to its answer (`end`), including
 * those whose client went away meanwhile (a cancelled call, a closing test): the socket is closed at once,
 * but the emulator goes on with the request. Answers an effect that waits until there is none (for at most
 * `within`), to run before closing the server: closing dynalite's store under a request still working on it
 * throws "Database is closed" out of its callback, an uncaught exception.
 */
export const trackRequests = (
  server: { on(event: "request", listener: (request: Http.IncomingMessage, response: Http.ServerResponse) => void): unknown },
  within: Duration.DurationInput = "5 seconds"
): Effect.Effect<void> => {
  let inFlight = 0
  server.on("request", (_request, response) => {
    inFlight++
    const end = response.end
    response.end = function(this: Http.ServerResponse, ...args: Parameters<typeof end>) {
      inFlight--
      response.end = end
      return end.apply(this, args)
    } as typeof end
  })
  const idle: Effect.Effect<void, "busy"> = Effect.suspend(() => inFlight === 0 ? Effect.void : Effect.fail("busy" as const))
  return idle.pipe(
    Effect.retry(Schedule.spaced("10 millis")),
    Effect.timeout(within),
    Effect.ignore
  )
}

/**
 * A free loopback port for a child process to listen on: bound and released at once. Another process could
 * take it in between, so callers retry the start when it fails.
 */
export const freePort = (service: string): Effect.Effect<number, LocalAwsError> =>
  Effect.async<number, LocalAwsError>((resume) => {
    const server = Net.createServer()
    server.once("error", (cause) =>
      resume(Effect.fail(new LocalAwsError({ service, reason: `no free port: ${cause.message}`, cause }))))
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as Net.AddressInfo
      server.close(() => resume(Effect.succeed(address.port)))
    })
  })

/** One HTTP request; answers the status code, or undefined if nothing answered. */
export const probe = (
  url: string,
  init: { readonly method?: string; readonly headers?: Record<string, string>; readonly body?: string } = {}
): Effect.Effect<number | undefined> =>
  Effect.async<number | undefined>((resume, signal) => {
    const request = Http.request(url, { method: init.method ?? "GET", headers: init.headers, signal, agent: false }, (response) => {
      response.resume()
      response.on("end", () => resume(Effect.succeed(response.statusCode)))
      response.on("error", () => resume(Effect.succeed(undefined)))
    })
    request.on("error", () => resume(Effect.succeed(undefined)))
    request.end(init.body)
  })

/** True when nothing listens on the port any more. */
export const isClosed = (port: number): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    const socket = Net.connect(port, "127.0.0.1")
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(false))
    })
    socket.once("error", () => resume(Effect.succeed(true)))
  })
