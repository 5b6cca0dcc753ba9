/**
 * A fault-injecting HTTP proxy on a free loopback port, put in front of an emulator so clients see the
 * failures real AWS produces and the emulators never do: throttling (400
 * ProvisionedThroughputExceededException with the service's JSON error body), 500 InternalFailure,
 * connection resets (before the request reaches the emulator, or after it was applied and only the answer
 * is lost), added latency, PutRecords partial failures, and expired shard iterators. The SDK parses all of
 * them with its real error handling.
 *
 * Faults are chosen per operation (the `X-Amz-Target` header: `Kinesis_20131202.GetRecords`, or just
 * `GetRecords`, or `*`) by a seeded random generator, so a test run can be reproduced.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"
import type { ClientConfig } from "./ClientConfig.js"
import * as Config from "./ClientConfig.js"
import * as Net from "./internal/net.js"
import { throughProxy } from "./internal/proxiedKinesis.js"
import type { LocalAwsError } from "./LocalAwsError.js"
import { LocalKinesis } from "./LocalKinesis.js"

/**
 * What may happen to one request of an operation. Probabilities are per request (per entry for
 * `entryFailure`); throttle, internalFailure and reset exclude each other and add up to at most 1.
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultRule {
  /** Answer 400 ProvisionedThroughputExceededException without forwarding. */
  readonly throttle?: number
  /** Answer 500 InternalFailure without forwarding. */
  readonly internalFailure?: number
  /** Destroy the client's connection without an answer (see `FaultOptions.resetAfterForward`). */
  readonly reset?: number
  /** Wait this long before forwarding: a fixed duration or a uniform range. */
  readonly latency?: Duration.DurationInput | { readonly min: Duration.DurationInput; readonly max: Duration.DurationInput }
  /**
   * PutRecords only: each entry fails on its own with ProvisionedThroughputExceededException (a partial
   * failure: the other entries are forwarded and stored).
   */
  readonly entryFailure?: number
}

/**
 * The faults a proxy injects (given to `make`, `layerKinesis` or `setFaults`); with no rules every request
 * is forwarded as is.
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultOptions {
  /** Seed of the random generator (reset on every `setFaults` that gives one). Default 1. */
  readonly seed?: number
  /** Rules by `X-Amz-Target` (`Kinesis_20131202.GetRecords`), by operation (`GetRecords`), or `*`. */
  readonly rules?: Readonly<Record<string, FaultRule>>
  /**
   * The share of resets that happen after the request was forwarded and answered by the emulator, so it
   * took effect and only the answer is lost (a PutRecords whose records are stored). Default 0.5.
   */
  readonly resetAfterForward?: number
}

/**
 * Counts of what the proxy did since it started (or since `resetStats`).
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultStats {
  /** Requests received, whatever happened to them. */
  readonly requests: number
  /** Requests received by operation (`GetRecords`, `PutRecords`...). */
  readonly byOperation: Readonly<Record<string, number>>
  /** Requests forwarded to the emulator and answered by it (resets after forwarding included). */
  readonly forwarded: number
  /** Requests answered with ProvisionedThroughputExceededException (the `throttle` rule). */
  readonly throttled: number
  /** Requests answered with 500 InternalFailure (the `internalFailure` rule). */
  readonly internalFailures: number
  /** Resets before forwarding: the emulator never saw the request. */
  readonly resetsBefore: number
  /** Resets after forwarding: the request took effect, the answer was lost. */
  readonly resetsAfter: number
  /** PutRecords entries in requests reset after forwarding: stored, though the client was not told. */
  readonly resetsAfterPutRecordsEntries: number
  /** Requests held back by a `latency` rule. */
  readonly delayed: number
  /** PutRecords entries failed on purpose (the `entryFailure` rule). */
  readonly entryFailures: number
  /** The entries of the PutRecords requests an `entryFailure` rule applied to, failed or not. */
  readonly putRecordsEntries: number
  /** GetRecords answered with ExpiredIteratorException after `expireIteratorsNow`. */
  readonly expiredIterators: number
  /** Requests whose client closed the connection before it was answered (an aborted SDK call). */
  readonly clientAborts: number
}

/**
 * A running fault proxy: where it listens, and the controls a test changes the faults with while it runs.
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultProxyShape {
  /** `http://127.0.0.1:<port>` of the proxy. */
  readonly endpoint: string
  /** The loopback port the proxy listens on. */
  readonly port: number
  /** The endpoint behind the proxy, for clients that must not see faults (test setup, checks). */
  readonly target: string
  /** Client settings for the proxy's endpoint. */
  readonly clientConfig: ClientConfig
  /** Replaces the fault rules (and reseeds when `seed` is given). */
  readonly setFaults: (options: FaultOptions) => Effect.Effect<void>
  /** No faults: every request is forwarded as is. */
  readonly clearFaults: Effect.Effect<void>
  /**
   * From now on, every shard iterator issued before this call is answered once with
   * ExpiredIteratorException when used in GetRecords (iterators issued later work).
   */
  readonly expireIteratorsNow: Effect.Effect<void>
  /** A copy of the counts so far. */
  readonly stats: Effect.Effect<FaultStats>
  /** Sets every count back to 0. */
  readonly resetStats: Effect.Effect<void>
}

/**
 * The fault proxy in front of the local Kinesis, as a service (see `layerKinesis`).
 *
 * @since 0.1.0
 * @category tags
 */
export class FaultProxy extends Context.Tag("@tributary/local/FaultProxy")<FaultProxy, FaultProxyShape>() {}

/**
 * Starts a proxy in front of `target` (an `http://host:port` endpoint); it stops with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (target: string, options: FaultOptions = {}): Effect.Effect<FaultProxyShape, LocalAwsError, Scope.Scope> =>
  Effect.gen(function*() {
    const state = new ProxyState(new URL(target), options)
    const server = Http.createServer((request, response) => state.handle(request, response))
    server.keepAliveTimeout = 30_000
    const port = yield* Effect.acquireRelease(Net.listen("fault-proxy", server), () =>
      Effect.zipRight(Net.close(server), Effect.sync(() => state.agent.destroy())))
    const endpoint = `http://127.0.0.1:${port}`
    return {
      endpoint,
      port,
      target,
      clientConfig: Config.make(endpoint),
      setFaults: (options) => Effect.sync(() => state.configure(options)),
      clearFaults: Effect.sync(() => state.configure({ rules: {} })),
      expireIteratorsNow: Effect.sync(() => state.expireIteratorsNow()),
      stats: Effect.sync(() => state.snapshot()),
      resetStats: Effect.sync(() => state.resetStats())
    }
  })

/**
 * A proxy in front of `LocalKinesis`: provides the `FaultProxy` and replaces `LocalKinesis` with one whose
 * endpoint and client settings point at the proxy (`FaultProxy.target` is the emulator itself).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerKinesis = (
  options?: FaultOptions
): Layer.Layer<FaultProxy | LocalKinesis, LocalAwsError, LocalKinesis> =>
  Layer.scopedContext(Effect.gen(function*() {
    const local = yield* LocalKinesis
    const proxy = yield* make(local.endpoint, options)
    return Context.make(FaultProxy, proxy).pipe(Context.add(LocalKinesis, throughProxy(local, proxy)))
  }))

/**
 * A small seedable generator (mulberry32): the same seed gives the same faults for the same sequence of
 * requests.
 *
 * @since 0.1.0
 * @category random
 */
export const seededRandom = (seed: number): () => number => {
  let state = seed | 0
  return () => {
    state = (state + 0x6d2b79f5) | 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// ---------------------------------------------------------------------------------------------------------
// internal
// ---------------------------------------------------------------------------------------------------------

type Mutable<A> = { -readonly [K in keyof A]: A[K] extends object ? { [key: string]: number } : A[K] }

const emptyStats = (): Mutable<FaultStats> => ({
  requests: 0,
  byOperation: {},
  forwarded: 0,
  throttled: 0,
  internalFailures: 0,
  resetsBefore: 0,
  resetsAfter: 0,
  resetsAfterPutRecordsEntries: 0,
  delayed: 0,
  entryFailures: 0,
  putRecordsEntries: 0,
  expiredIterators: 0,
  clientAborts: 0
})

interface Answer {
  readonly status: number
  readonly headers: Http.OutgoingHttpHeaders
  readonly body: Buffer
}

class ProxyState {
  readonly agent = new Http.Agent({ keepAlive: true, maxSockets: 64 })
  private random: () => number
  private rules: Readonly<Record<string, FaultRule>>
  private resetAfterForward: number
  private stats = emptyStats()
  // Expired-iterator switch: iterators seen (issued) since the last switch work; older ones fail once.
  private switched = false
  private fresh = new Set<string>()
  private answeredExpired = new Set<string>()
  private requestIds = 0

  constructor(readonly target: URL, options: FaultOptions) {
    this.random = seededRandom(options.seed ?? 1)
    this.rules = options.rules ?? {}
    this.resetAfterForward = options.resetAfterForward ?? 0.5
  }

  configure(options: FaultOptions): void {
    if (options.seed !== undefined) this.random = seededRandom(options.seed)
    this.rules = options.rules ?? {}
    this.resetAfterForward = options.resetAfterForward ?? 0.5
  }

  expireIteratorsNow(): void {
    this.switched = true
    this.fresh = new Set()
    this.answeredExpired = new Set()
  }

  snapshot(): FaultStats {
    return { ...this.stats, byOperation: { ...this.stats.byOperation } }
  }

  resetStats(): void {
    this.stats = emptyStats()
  }

  private ruleFor(target: string): FaultRule {
    const operation = target.slice(target.indexOf(".") + 1)
    return this.rules[target] ?? this.rules[operation] ?? this.rules["*"] ?? {}
  }

  handle(request: Http.IncomingMessage, response: Http.ServerResponse): void {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("error", () => response.destroy())
    request.on("end", () => void this.dispatch(request, Buffer.concat(chunks), response))
  }

  private async dispatch(request: Http.IncomingMessage, body: Buffer, response: Http.ServerResponse): Promise<void> {
    const target = String(request.headers["x-amz-target"] ?? `${request.method ?? "GET"}`)
    const operation = target.slice(target.indexOf(".") + 1)
    const stats = this.stats
    stats.requests++
    stats.byOperation[operation] = (stats.byOperation[operation] ?? 0) + 1
    let answered = false
    response.on("close", () => {
      if (!answered) stats.clientAborts++
    })
    const send = (answer: Answer) => {
      answered = true
      if (response.destroyed) return
      response.writeHead(answer.status, { ...answer.headers, "content-length": answer.body.length })
      response.end(answer.body)
    }
    const reset = () => {
      answered = true
      request.socket.destroy()
    }

    const rule = this.ruleFor(target)
    const roll = this.random()
    const throttle = rule.throttle ?? 0
    const internalFailure = rule.internalFailure ?? 0
    const resetChance = rule.reset ?? 0
    let fault: "throttle" | "internal" | "resetBefore" | "resetAfter" | undefined
    if (roll < throttle) fault = "throttle"
    else if (roll < throttle + internalFailure) fault = "internal"
    else if (roll < throttle + internalFailure + resetChance) {
      fault = this.random() < this.resetAfterForward ? "resetAfter" : "resetBefore"
    }
    const delay = this.latencyOf(rule)

    if (delay > 0) {
      stats.delayed++
      await new Promise((resolve) => setTimeout(resolve, delay))
      if (response.destroyed || request.socket.destroyed) return
    }
    if (fault === "throttle") {
      stats.throttled++
      return send(jsonError(400, "ProvisionedThroughputExceededException", throttleMessage(operation, body)))
    }
    if (fault === "internal") {
      stats.internalFailures++
      return send(jsonError(500, "InternalFailure", "Internal service failure."))
    }
    if (fault === "resetBefore") {
      stats.resetsBefore++
      return reset()
    }
    if (operation === "GetRecords" && this.switched) {
      const iterator = parseJson(body)?.ShardIterator
      if (typeof iterator === "string" && !this.fresh.has(iterator) && !this.answeredExpired.has(iterator)) {
        this.answeredExpired.add(iterator)
        stats.expiredIterators++
        return send(jsonError(
          400,
          "ExpiredIteratorException",
          `Iterator expired. The iterator was created at time ${new Date(Date.now() - 300_001).toUTCString()} ` +
            `while right now it is ${new Date().toUTCString()} which is further in the future than the tolerated ` +
            "delay of 300000 milliseconds."
        ))
      }
    }

    let answer: Answer
    try {
      answer = operation === "PutRecords" && (rule.entryFailure ?? 0) > 0
        ? await this.partialPut(request, body, response, rule.entryFailure ?? 0)
        : await this.forward(request, body, response)
    } catch {
      // the emulator did not answer: the client sees a reset, as it would from a failed load balancer
      return reset()
    }
    stats.forwarded++
    if (this.switched && (operation === "GetRecords" || operation === "GetShardIterator") && answer.status === 200) {
      const parsed = parseJson(answer.body)
      const issued = parsed?.NextShardIterator ?? parsed?.ShardIterator
      if (typeof issued === "string") this.fresh.add(issued)
    }
    if (fault === "resetAfter") {
      stats.resetsAfter++
      if (operation === "PutRecords" && answer.status === 200) {
        const records = parseJson(answer.body)?.Records
        if (Array.isArray(records)) {
          stats.resetsAfterPutRecordsEntries += records.filter((r: { ErrorCode?: unknown }) => r?.ErrorCode === undefined).length
        }
      }
      return reset()
    }
    send(answer)
  }

  private latencyOf(rule: FaultRule): number {
    const latency = rule.latency
    if (latency === undefined) return 0
    if (typeof latency === "object" && latency !== null && "min" in latency) {
      const min = Duration.toMillis(Duration.decode(latency.min))
      const max = Duration.toMillis(Duration.decode(latency.max))
      return min + this.random() * (max - min)
    }
    return Duration.toMillis(Duration.decode(latency))
  }

  /** PutRecords with some entries failed here and the rest forwarded, answered as one partial failure. */
  private async partialPut(
    request: Http.IncomingMessage,
    body: Buffer,
    response: Http.ServerResponse,
    chance: number
  ): Promise<Answer> {
    const parsed = parseJson(body)
    const records: Array<unknown> = Array.isArray(parsed?.Records) ? parsed.Records : []
    const failed = records.map(() => this.random() < chance)
    const failures = failed.filter(Boolean).length
    this.stats.entryFailures += failures
    this.stats.putRecordsEntries += records.length
    const failure = {
      ErrorCode: "ProvisionedThroughputExceededException",
      ErrorMessage: `Rate exceeded for shard in stream ${String(parsed?.StreamName)} under account 000000000000.`
    }
    if (failures === 0) return this.forward(request, body, response)
    let stored: Array<unknown> = []
    let storedFailures = 0
    if (failures < records.length) {
      const forwardedBody = Buffer.from(JSON.stringify({ ...parsed, Records: records.filter((_, i) => !failed[i]) }))
      const answer = await this.forward(request, forwardedBody, response)
      const result = parseJson(answer.body)
      if (answer.status !== 200 || !Array.isArray(result?.Records)) return answer
      stored = result.Records
      storedFailures = typeof result.FailedRecordCount === "number" ? result.FailedRecordCount : 0
    }
    let next = 0
    const merged = failed.map((isFailed) => isFailed ? failure : stored[next++])
    return {
      status: 200,
      headers: { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": this.requestId() },
      body: Buffer.from(JSON.stringify({ FailedRecordCount: failures + storedFailures, Records: merged }))
    }
  }

  private forward(request: Http.IncomingMessage, body: Buffer, response: Http.ServerResponse): Promise<Answer> {
    return new Promise((resolve, reject) => {
      let done = false
      const headers = { ...request.headers, "content-length": String(body.length) }
      const upstream = Http.request({
        host: this.target.hostname,
        port: this.target.port,
        method: request.method,
        path: request.url,
        headers,
        agent: this.agent
      }, (answer) => {
        const chunks: Array<Buffer> = []
        answer.on("data", (chunk: Buffer) => chunks.push(chunk))
        answer.on("error", reject)
        answer.on("end", () => {
          done = true
          const { "content-length": _, "transfer-encoding": __, connection: ___, ...rest } = answer.headers
          resolve({ status: answer.statusCode ?? 502, headers: rest, body: Buffer.concat(chunks) })
        })
      })
      upstream.on("error", reject)
      // a client that gives up takes the forwarded request down with it
      response.once("close", () => {
        if (!done) upstream.destroy()
      })
      upstream.end(body)
    })
  }

  requestId(): string {
    return `fault-proxy-${++this.requestIds}`
  }
}

const parseJson = (body: Buffer): any => {
  try {
    return JSON.parse(body.toString("utf8"))
  } catch {
    return undefined
  }
}

const jsonError = (status: number, type: string, message: string): Answer => ({
  status,
  headers: { "content-type": "application/x-amz-json-1.1", "x-amzn-errortype": type },
  body: Buffer.from(JSON.stringify({ __type: type, message }))
})

const throttleMessage = (operation: string, body: Buffer): string => {
  const parsed = parseJson(body)
  const shard = typeof parsed?.ShardId === "string" ? parsed.ShardId : "shardId-000000000000"
  const stream = typeof parsed?.StreamName === "string" ? parsed.StreamName : "unknown"
  return operation === "GetRecords" || operation === "PutRecords" || operation === "PutRecord"
    ? `Rate exceeded for shard ${shard} in stream ${stream} under account 000000000000.`
    : `Rate exceeded for ${operation}.`
}
