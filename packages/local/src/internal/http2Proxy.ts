/**
 * The machinery of `Http2Proxy` (see that module for why it exists): a TCP proxy that reads HTTP/2
 * connections frame by frame (a 9-byte header: 24-bit length, type, flags, 31-bit stream id; RFC 9113 §4.1)
 * and passes HTTP/1.1 connections through byte for byte. `LocalKinesis` starts one in front of kinesis-mock;
 * `Http2Proxy` wraps one in Effects, with its faults.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"
import type { LocalAwsError } from "../LocalAwsError.js"
import * as Listen from "./net.js"

/** What a client sends first on an HTTP/2 connection with prior knowledge (RFC 9113 §3.4). */
const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1")

const Type = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7 } as const
const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const
const ErrorCode = { NO_ERROR: 0, INTERNAL_ERROR: 2, CANCEL: 8 } as const

/** An error the proxy answers an HTTP/2 request with, instead of forwarding it. */
export interface Refusal {
  /** The AWS error name, e.g. "LimitExceededException". */
  readonly name: string
  readonly message: string
}

/** Splits a byte stream into frames; the client's side starts with the preface. */
class FrameReader {
  private buffer: Buffer = Buffer.alloc(0)
  constructor(private prefaceLeft: number) {}

  push(chunk: Buffer): { readonly preface: Buffer | undefined; readonly frames: Array<Buffer> } {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk])
    let first: Buffer | undefined
    if (this.prefaceLeft > 0) {
      if (this.buffer.length < this.prefaceLeft) return { preface: undefined, frames: [] }
      first = this.buffer.subarray(0, this.prefaceLeft)
      this.buffer = this.buffer.subarray(this.prefaceLeft)
      this.prefaceLeft = 0
    }
    const frames: Array<Buffer> = []
    while (this.buffer.length >= 9) {
      const end = 9 + this.buffer.readUIntBE(0, 3)
      if (this.buffer.length < end) break
      frames.push(this.buffer.subarray(0, end))
      this.buffer = this.buffer.subarray(end)
    }
    return { preface: first, frames }
  }
}

const typeOf = (frame: Buffer) => frame[3]
const flagsOf = (frame: Buffer) => frame[4]
const streamOf = (frame: Buffer) => frame.readUInt32BE(5) & 0x7fffffff

const frame = (type: number, flags: number, stream: number, payload: Buffer): Buffer => {
  const header = Buffer.alloc(9)
  header.writeUIntBE(payload.length, 0, 3)
  header[3] = type
  header[4] = flags
  header.writeUInt32BE(stream, 5)
  return Buffer.concat([header, payload])
}

const rstStream = (stream: number, code: number) => {
  const payload = Buffer.alloc(4)
  payload.writeUInt32BE(code)
  return frame(Type.RST_STREAM, 0, stream, payload)
}

/** An HPACK string literal, not Huffman-coded (RFC 7541 §5.2); the names and values here are short. */
const literal = (text: string) => Buffer.concat([Buffer.from([Buffer.byteLength(text)]), Buffer.from(text)])

/** A 400 answer in AWS JSON 1.1 with the error's name, as HEADERS and DATA frames on `stream`. */
const errorAnswer = (stream: number, refusal: Refusal, requestId: string): Buffer => {
  const headers = Buffer.concat([
    Buffer.from([0x8c]), // :status 400: entry 12 of the static table
    Buffer.from([0x0f, 0x10]), // content-type (entry 31), a literal value, not indexed
    literal("application/x-amz-json-1.1"),
    Buffer.from([0x00]), // a literal name and value, not indexed
    literal("x-amzn-requestid"),
    literal(requestId)
  ])
  const body = Buffer.from(JSON.stringify({ __type: refusal.name, message: refusal.message }))
  return Buffer.concat([
    frame(Type.HEADERS, Flag.END_HEADERS, stream, headers),
    frame(Type.DATA, Flag.END_STREAM, stream, body)
  ])
}

/** Writes with backpressure: a full socket pauses the one it is fed from until it drains. */
const forward = (from: Net.Socket, to: Net.Socket, bytes: Buffer) => {
  if (bytes.length > 0 && !to.write(bytes)) {
    from.pause()
    to.once("drain", () => from.resume())
  }
}

export class ProxyServer {
  readonly server: Net.Server
  /** The port it listens on, once started. */
  port = 0
  private readonly sockets = new Set<Net.Socket>()
  private readonly connections = new Set<Http2Connection>()
  private refusals: Array<Refusal> = []
  private requestIds = 0
  readonly stats = { connections: 0, http2Connections: 0, goawaysDropped: 0, cancelledOnClose: 0, refused: 0, reset: 0 }

  constructor(readonly targetPort: number, readonly linger: number) {
    this.server = Net.createServer((client) => this.accept(client))
  }

  /** The next HTTP/2 requests (one per connection, as the SDK sends event streams) get these answers. */
  refuse(refusals: ReadonlyArray<Refusal>): void {
    this.refusals.push(...refusals)
  }

  /** Cuts every open stream: a stream error for the client, a cancel for the server. */
  resetStreams(): number {
    let count = 0
    for (const connection of this.connections) count += connection.resetAll()
    this.stats.reset += count
    return count
  }

  snapshot(): typeof this.stats {
    return { ...this.stats }
  }

  /** Every connection cut at once (the server stops accepting first). */
  destroyAll(): void {
    for (const socket of this.sockets) socket.destroy()
  }

  track(socket: Net.Socket): Net.Socket {
    this.sockets.add(socket)
    socket.on("close", () => this.sockets.delete(socket))
    socket.on("error", () => socket.destroy())
    return socket
  }

  nextRequestId(): string {
    return `http2-proxy-${++this.requestIds}`
  }

  private accept(client: Net.Socket): void {
    this.track(client)
    this.stats.connections++
    let head: Buffer = Buffer.alloc(0)
    const decide = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk])
      const compared = Math.min(head.length, preface.length)
      const http2 = head.subarray(0, compared).equals(preface.subarray(0, compared))
      if (http2 && head.length < preface.length) return
      client.removeListener("data", decide)
      client.pause()
      if (!http2) return this.pipe(client, head)
      this.stats.http2Connections++
      const refusal = this.refusals.shift()
      if (refusal !== undefined) return new Refuser(this, client, head, refusal)
      const connection = new Http2Connection(this, client, head)
      this.connections.add(connection)
      client.on("close", () => this.connections.delete(connection))
    }
    client.on("data", decide)
  }

  private pipe(client: Net.Socket, head: Buffer): void {
    const upstream = this.track(Net.connect(this.targetPort, "127.0.0.1"))
    upstream.write(head)
    client.pipe(upstream)
    upstream.pipe(client)
    client.on("close", () => upstream.destroy())
    upstream.on("close", () => client.destroy())
    client.resume()
  }
}

/** A client's HTTP/2 connection, forwarded frame by frame to its own upstream connection. */
class Http2Connection {
  private readonly upstream: Net.Socket
  /** Streams the client opened that the server has not ended. */
  private readonly open = new Set<number>()
  /** Streams already cancelled upstream (by the client or by the proxy). */
  private readonly cancelled = new Set<number>()
  private clientGone = false

  constructor(private readonly proxy: ProxyServer, private readonly client: Net.Socket, head: Buffer) {
    this.upstream = proxy.track(Net.connect(proxy.targetPort, "127.0.0.1"))
    const fromClient = new FrameReader(preface.length)
    const fromServer = new FrameReader(0)
    client.on("data", (chunk: Buffer) => this.clientFrames(fromClient.push(chunk)))
    this.upstream.on("data", (chunk: Buffer) => this.serverFrames(fromServer.push(chunk).frames))
    client.on("close", () => this.clientClosed())
    this.upstream.on("close", () => client.destroy())
    this.clientFrames(fromClient.push(head))
    client.resume()
  }

  resetAll(): number {
    let count = 0
    for (const stream of this.open) {
      if (this.cancelled.has(stream) || this.clientGone) continue
      this.cancelled.add(stream)
      this.client.write(rstStream(stream, ErrorCode.INTERNAL_ERROR))
      this.upstream.write(rstStream(stream, ErrorCode.CANCEL))
      count++
    }
    return count
  }

  private clientFrames({ frames, preface: first }: ReturnType<FrameReader["push"]>): void {
    const out: Array<Buffer> = first === undefined ? [] : [first]
    for (const f of frames) {
      const type = typeOf(f)
      if (type === Type.GOAWAY && f.readUInt32BE(13) === ErrorCode.NO_ERROR) {
        this.proxy.stats.goawaysDropped++
        continue
      }
      if (type === Type.HEADERS && !this.open.has(streamOf(f))) this.open.add(streamOf(f))
      if (type === Type.RST_STREAM) this.cancelled.add(streamOf(f))
      out.push(f)
    }
    forward(this.client, this.upstream, Buffer.concat(out))
  }

  private serverFrames(frames: ReadonlyArray<Buffer>): void {
    const out: Array<Buffer> = []
    for (const f of frames) {
      const stream = streamOf(f)
      const type = typeOf(f)
      if ((type === Type.DATA || type === Type.HEADERS) && (flagsOf(f) & Flag.END_STREAM) !== 0 || type === Type.RST_STREAM) {
        this.open.delete(stream)
      }
      // a cancelled stream is over for the client: what the server still sends on it is dropped
      if (stream !== 0 && this.cancelled.has(stream)) continue
      out.push(f)
    }
    if (!this.clientGone) forward(this.upstream, this.client, Buffer.concat(out))
  }

  /**
   * The client's connection is gone: its open streams are cancelled upstream, and the upstream connection
   * stays open for `linger` so that the server notices (kinesis-mock looks once a second, while it can).
   */
  private clientClosed(): void {
    this.clientGone = true
    let waiting = false
    for (const stream of this.open) {
      waiting = true
      if (this.cancelled.has(stream)) continue
      this.cancelled.add(stream)
      this.upstream.write(rstStream(stream, ErrorCode.CANCEL))
      this.proxy.stats.cancelledOnClose++
    }
    if (!waiting) return void this.upstream.destroy()
    this.upstream.resume()
    setTimeout(() => this.upstream.destroy(), this.proxy.linger).unref()
  }
}

/** Answers the one request of an HTTP/2 connection with a refusal; the server never sees it. */
class Refuser {
  constructor(proxy: ProxyServer, client: Net.Socket, head: Buffer, refusal: Refusal) {
    const reader = new FrameReader(preface.length)
    let answered = false
    const serve = (chunk: Buffer) => {
      for (const f of reader.push(chunk).frames) {
        const type = typeOf(f)
        if (type === Type.SETTINGS && (flagsOf(f) & Flag.ACK) === 0) client.write(frame(Type.SETTINGS, Flag.ACK, 0, Buffer.alloc(0)))
        if (type === Type.PING && (flagsOf(f) & Flag.ACK) === 0) client.write(frame(Type.PING, Flag.ACK, 0, f.subarray(9)))
        if (type === Type.HEADERS && !answered) {
          answered = true
          proxy.stats.refused++
          client.write(errorAnswer(streamOf(f), refusal, proxy.nextRequestId()))
        }
      }
    }
    // the server's SETTINGS come first (RFC 9113 §3.4)
    client.write(frame(Type.SETTINGS, 0, 0, Buffer.alloc(0)))
    client.on("data", serve)
    serve(head)
    client.resume()
  }
}

/**
 * Starts a proxy to `target` (an `http://127.0.0.1:<port>` endpoint) on a free loopback port; when the scope
 * closes it stops accepting and cuts every connection.
 */
export const start = (target: string, linger: number): Effect.Effect<ProxyServer, LocalAwsError, Scope.Scope> =>
  Effect.suspend(() => {
    const proxy = new ProxyServer(Number(new URL(target).port), linger)
    const stop = Effect.async<void>((resume) => {
      proxy.server.close(() => resume(Effect.void))
      proxy.destroyAll()
    })
    return Effect.map(Effect.acquireRelease(Listen.listen("http2-proxy", proxy.server), () => stop), (port) => {
      proxy.port = port
      return proxy
    })
  })
