/**
 * Ports of this machine.
 */
import * as Effect from "effect/Effect"
import * as Net from "node:net"

/** Whether nothing listens on `port` of 127.0.0.1 yet: a server told at once, not after what starts first. */
export const isFree = (port: number): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    const server = Net.createServer()
    server.once("error", () => resume(Effect.succeed(false)))
    server.listen(port, "127.0.0.1", () => server.close(() => resume(Effect.succeed(true))))
  })
