import { describe, expect, it } from "@effect/vitest"
import * as HttpApp from "@effect/platform/HttpApp"
import * as RecordSink from "@tributary/core/RecordSink"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Tracer from "effect/Tracer"
import * as net from "node:net"
import * as ApiKeys from "../src/ApiKeys.js"
import * as Gateway from "../src/Gateway.js"
import type { IngestRecord } from "../src/Ingest.js"
import * as Metrics from "../src/Metrics.js"
import * as Prometheus from "../src/Prometheus.js"
import { keyA, keyAll, keyLimited, storedKeys, withGateway } from "./helpers.js"

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

/**
 * Sends `request` on a raw connection and waits for the server to close it: what came back (nothing if the
 * server closed without answering). A server that never closes times the test out.
 */
const untilClosed = (port: number, request: string) =>
  Effect.async<string>((resume) => {
    let received = ""
    const socket = net.connect(port, "127.0.0.1", () => socket.write(request))
    socket.on("data", (chunk) => void (received += chunk.toString("utf8")))
    socket.on("error", () => {})
    socket.on("close", () => resume(Effect.succeed(received)))
    return Effect.sync(() => socket.destroy())
  })

const ingestHead = (headers: string) => `POST /v1/streams/a/records HTTP/1.1\r\nHost: x\r\n${headers}\r\n`

const requests = (status: string) =>
  Metric.value(Metric.tagged(Metric.tagged(Metrics.gateway.requests, "route", "ingest"), "status", status))

describe("ingest gateway", () => {
  it.scopedLive("accepts a single record, a batch and raw bytes, answering after the sink stored them", () =>
    Effect.gen(function*() {
      const { a, post } = yield* withGateway()
      const one = yield* post("a", { partitionKey: "p1", data: "hello" })
      expect(one).toMatchObject({ status: 200, body: { accepted: 1 } })
      const batch = yield* post("a", { records: Array.from({ length: 500 }, (_, i) => ({ partitionKey: `k${i}`, data: { n: i } })) })
      expect(batch).toMatchObject({ status: 200, body: { accepted: 500 } })
      const raw = yield* post("a", new Uint8Array([1, 2, 3]), { raw: true, headers: { "x-partition-key": "bin", "content-type": "application/octet-stream" } })
      expect(raw).toMatchObject({ status: 200, body: { accepted: 1 } })
      const items = yield* a.items
      expect(items.length).toBe(502)
      expect(items[0]).toMatchObject({ stream: "a", partitionKey: "p1" })
      expect(text(items[0].data)).toBe("hello")
      expect(JSON.parse(text(items[500].data))).toEqual({ n: 499 })
      expect(Array.from(items[501].data)).toEqual([1, 2, 3])
      expect(yield* a.writeCount).toBe(3)
    }))

  it.scopedLive("400 for malformed JSON, missing fields and bad shapes, naming the field; the sink sees nothing", () =>
    Effect.gen(function*() {
      const { a, post } = yield* withGateway()
      const malformed = yield* post("a", "{\"partitionKey\": \"p\", \"data\": ")
      expect(malformed.status).toBe(400)
      expect(malformed.body.error).toMatchObject({ code: "malformed_json", field: "body" })
      const noKey = yield* post("a", { data: "x" })
      expect(noKey.status).toBe(400)
      expect(noKey.body.error).toMatchObject({ code: "missing_partition_key", field: "partitionKey" })
      const noData = yield* post("a", { partitionKey: "p" })
      expect(noData.body.error).toMatchObject({ code: "missing_data", field: "data" })
      const badInBatch = yield* post("a", { records: [{ partitionKey: "p", data: 1 }, { partitionKey: "", data: 2 }] })
      expect(badInBatch.status).toBe(400)
      expect(badInBatch.body.error.field).toBe("records[1].partitionKey")
      const longKey = yield* post("a", { partitionKey: "x".repeat(257), data: 1 })
      expect(longKey.body.error.field).toBe("partitionKey")
      const notArray = yield* post("a", { records: {} })
      expect(notArray.body.error.field).toBe("records")
      const rawNoKey = yield* post("a", "bytes", { raw: true, headers: { "content-type": "application/octet-stream" } })
      expect(rawNoKey.status).toBe(415)
      expect(rawNoKey.body.error.field).toBe("X-Partition-Key")
      expect(yield* a.writeCount).toBe(0)
    }))

  it.scopedLive("401 without or with a wrong key, 403 for another stream, 404 for an unknown stream", () =>
    Effect.gen(function*() {
      const { a, b, post } = yield* withGateway()
      const none = yield* post("a", { partitionKey: "p", data: 1 }, { key: undefined })
      expect(none.status).toBe(401)
      expect(none.body.error).toMatchObject({ code: "unauthenticated", field: "Authorization" })
      const wrong = yield* post("a", { partitionKey: "p", data: 1 }, { key: "not-a-key" })
      expect(wrong.status).toBe(401)
      const other = yield* post("b", { partitionKey: "p", data: 1 }, { key: keyA })
      expect(other.status).toBe(403)
      expect(other.body.error.code).toBe("forbidden")
      const unknown = yield* post("nope", { partitionKey: "p", data: 1 })
      expect(unknown.status).toBe(404)
      expect(unknown.body.error.code).toBe("unknown_stream")
      expect((yield* a.writeCount) + (yield* b.writeCount)).toBe(0)
      const allowed = yield* post("a", { partitionKey: "p", data: 1 }, { key: keyA })
      expect(allowed.status).toBe(200)
    }))

  it.scopedLive("413 for an oversized record, too many records and an oversized batch, before the sink", () =>
    Effect.gen(function*() {
      const { a, post } = yield* withGateway()
      const big = yield* post("a", { partitionKey: "p", data: "x".repeat(1024 * 1024) })
      expect(big.status).toBe(413)
      expect(big.body.error).toMatchObject({ code: "record_too_large", field: "data" })
      const exact = yield* post("a", { partitionKey: "p", data: "x".repeat(1024 * 1024 - 1) })
      expect(exact.status).toBe(200)
      const many = yield* post("a", { records: Array.from({ length: 501 }, () => ({ partitionKey: "p", data: 1 })) })
      expect(many.status).toBe(413)
      expect(many.body.error).toMatchObject({ code: "too_many_records", field: "records" })
      const heavy = yield* post("a", { records: Array.from({ length: 6 }, (_, i) => ({ partitionKey: `p${i}`, data: "y".repeat(1000 * 1000) })) })
      expect(heavy.status).toBe(413)
      expect(heavy.body.error.code).toBe("batch_too_large")
      const rawBig = yield* post("a", new Uint8Array(1024 * 1024), { raw: true, headers: { "x-partition-key": "k" } })
      expect(rawBig.status).toBe(413)
      const huge = yield* post("a", "[" + "1,".repeat(6 * 1024 * 1024) + "1]")
      expect(huge.status).toBe(413)
      expect(huge.body.error.code).toBe("body_too_large")
      expect(yield* a.writeCount).toBe(1)
    }))

  it.scopedLive("429 with Retry-After once a key's bucket is empty", () =>
    Effect.gen(function*() {
      const { a, post } = yield* withGateway()
      const record = { partitionKey: "p", data: 1 }
      expect((yield* post("a", record, { key: keyLimited })).status).toBe(200)
      expect((yield* post("a", record, { key: keyLimited })).status).toBe(200)
      const limited = yield* post("a", record, { key: keyLimited })
      expect(limited.status).toBe(429)
      expect(limited.body.error.code).toBe("rate_limited")
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
      // other keys have their own buckets (and no default limit)
      expect((yield* post("a", record, { key: keyA })).status).toBe(200)
      expect(yield* a.writeCount).toBe(3)
    }))

  it.scopedLive("a default rate limit applies to every key", () =>
    Effect.gen(function*() {
      const { post } = yield* withGateway({ rateLimit: { perSecond: 1, burst: 1 } })
      expect((yield* post("a", { partitionKey: "p", data: 1 }, { key: keyA })).status).toBe(200)
      expect((yield* post("a", { partitionKey: "p", data: 1 }, { key: keyA })).status).toBe(429)
    }))

  it.scopedLive("503 with Retry-After when the sink fails transiently; 422 with the reason when it refuses", () =>
    Effect.gen(function*() {
      const { a, post } = yield* withGateway()
      yield* a.failNext(1, "transient")
      const unavailable = yield* post("a", { partitionKey: "p", data: 1 })
      expect(unavailable.status).toBe(503)
      expect(unavailable.body.error.code).toBe("sink_unavailable")
      expect(unavailable.headers.get("retry-after")).toBe("1")
      yield* a.rejectWhen((r) => r.partitionKey === "poison", "poison record")
      const rejected = yield* post("a", { partitionKey: "poison", data: 1 })
      expect(rejected.status).toBe(422)
      expect(rejected.body.error).toMatchObject({ code: "rejected" })
      expect(rejected.body.error.message).toContain("poison record")
      expect(yield* a.items).toEqual([])
    }))

  it.scopedLive("503 when the sink does not answer in time; the write is interrupted", () =>
    Effect.gen(function*() {
      let interrupted = 0
      const slow = yield* withGateway({
        writeTimeout: "50 millis",
        sinkFor: () => Effect.succeed({ name: "slow", write: () => Effect.onInterrupt(Effect.never, () => Effect.sync(() => interrupted++)) })
      })
      const answer = yield* slow.post("a", { partitionKey: "p", data: 1 })
      expect(answer.status).toBe(503)
      expect(answer.body.error.code).toBe("sink_timeout")
      expect(answer.headers.get("retry-after")).toBe("1")
      expect(interrupted).toBe(1)
    }))

  it.scopedLive("the app answers ingest requests the same way on another platform (a web handler)", () =>
    Effect.gen(function*() {
      const a = yield* RecordSink.memory<IngestRecord>("a")
      const gateway = Gateway.make({ keys: storedKeys, sinkFor: Gateway.sinks({ a }), maxBodyBytes: 1000 })
      const handler = HttpApp.toWebHandler(gateway.app)
      const post = (body: string, key = keyAll) =>
        Effect.promise(async () => {
          const response = await handler(
            new Request("http://gateway/v1/streams/a/records", {
              method: "POST",
              headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
              body
            })
          )
          return { status: response.status, body: JSON.parse(await response.text()) }
        })
      expect(yield* post(JSON.stringify({ records: [{ partitionKey: "p", data: "x" }, { partitionKey: "q", data: { n: 1 } }] })))
        .toEqual({ status: 200, body: { accepted: 2 } })
      expect((yield* post("{}", "not-a-key")).body.error.code).toBe("unauthenticated")
      expect((yield* post("{\"partitionKey\":")).body.error.code).toBe("malformed_json")
      expect((yield* post(JSON.stringify({ partitionKey: "p", data: "x".repeat(2000) }))).body.error.code).toBe("body_too_large")
      expect((yield* a.items).map((r) => text(r.data))).toEqual(["x", "{\"n\":1}"])
      const slow = HttpApp.toWebHandler(
        Gateway.make({ keys: storedKeys, sinkFor: () => Effect.succeed({ name: "slow", write: () => Effect.never }), writeTimeout: "50 millis" }).app
      )
      const late = yield* Effect.promise(() =>
        slow(new Request("http://gateway/v1/streams/a/records", {
          method: "POST",
          headers: { authorization: `Bearer ${keyAll}`, "content-type": "application/json" },
          body: JSON.stringify({ partitionKey: "p", data: "x" })
        }))
      )
      expect(late.status).toBe(503)
      expect((yield* Effect.promise(() => late.json())).error.code).toBe("sink_timeout")
    }))

  it.scopedLive("under a tracer, ingest requests keep the platform's request span", () =>
    Effect.gen(function*() {
      const names: Array<string> = []
      const native = yield* Effect.tracer
      const recording = Tracer.make({
        span: (name, ...rest) => {
          names.push(name)
          return native.span(name, ...rest)
        },
        context: native.context
      })
      const { a, post } = yield* Effect.withTracer(withGateway(), recording)
      expect((yield* post("a", { partitionKey: "p", data: "traced" })).status).toBe(200)
      expect(names).toContain("http.server POST")
      expect((yield* a.items).map((r) => text(r.data))).toEqual(["traced"])
    }))

  it.scopedLive("concurrent requests: every accepted record arrives", () =>
    Effect.gen(function*() {
      const { a, post } = yield* withGateway()
      const answers = yield* Effect.forEach(
        Array.from({ length: 50 }, (_, i) => i),
        (i) => post("a", { records: Array.from({ length: 20 }, (_, j) => ({ partitionKey: `k${i}`, data: `${i}-${j}` })) }),
        { concurrency: 16 }
      )
      expect(answers.every((r) => r.status === 200)).toBe(true)
      const items = yield* a.items
      expect(new Set(items.map((r) => text(r.data))).size).toBe(1000)
    }))
})

describe("health and metrics", () => {
  it.scopedLive("/healthz, /readyz (configurable), unknown paths", () =>
    Effect.gen(function*() {
      let up = true
      const { server } = yield* withGateway({ ready: Effect.suspend(() => (up ? Effect.void : Effect.fail(new Error("kinesis down")))) })
      const get = (path: string) => Effect.promise(() => fetch(`${server.url}${path}`).then(async (r) => ({ status: r.status, body: await r.json() as any })))
      expect(yield* get("/healthz")).toEqual({ status: 200, body: { status: "ok" } })
      expect((yield* get("/readyz")).status).toBe(200)
      up = false
      const down = yield* get("/readyz")
      expect(down.status).toBe(503)
      expect(down.body.error.message).toContain("kinesis down")
      const missing = yield* get("/nope")
      expect(missing.status).toBe(404)
      expect(missing.body.error.code).toBe("not_found")
    }))

  it.scopedLive("a server on every interface reports a URL that reaches it", () =>
    Effect.gen(function*() {
      const server = yield* Gateway.serve({ keys: [], sinkFor: Gateway.sinks({}) }, { host: "0.0.0.0", port: 0 })
      expect(server.url).toBe(`http://127.0.0.1:${server.port}`)
      const answer = yield* Effect.promise(() => fetch(`${server.url}/healthz`).then((r) => r.json()))
      expect(answer).toEqual({ status: "ok" })
    }))

  it.scopedLive("/metrics is Prometheus text with gateway and pipeline counters", () =>
    Effect.gen(function*() {
      const { post, server } = yield* withGateway()
      yield* post("a", { records: [{ partitionKey: "p", data: 1 }, { partitionKey: "q", data: 2 }] })
      yield* post("a", { partitionKey: "p" })
      yield* Metric.incrementBy(Metric.tagged(Metric.counter("tributary_records_in_total", { incremental: true }), "pipeline", "test"), 3)
      const response = yield* Effect.promise(() => fetch(`${server.url}/metrics`))
      expect(response.headers.get("content-type")).toContain("text/plain")
      const body = yield* Effect.promise(() => response.text())
      const samples = new Map<string, number>()
      for (const line of body.split("\n")) {
        if (line === "" || line.startsWith("#")) continue
        const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})?) (\S+)$/.exec(line)
        expect(match, line).not.toBeNull()
        samples.set(match![1], Number(match![2] === "+Inf" ? Infinity : match![2]))
      }
      expect(body).toContain("# TYPE tributary_gateway_requests_total counter")
      expect(body).toContain("# TYPE tributary_gateway_request_duration_seconds histogram")
      expect(samples.get("tributary_records_in_total{pipeline=\"test\"}")).toBeGreaterThanOrEqual(3)
      expect(samples.get("tributary_gateway_records_accepted_total{stream=\"a\"}")).toBeGreaterThanOrEqual(2)
      expect([...samples.keys()].some((k) => k.startsWith("tributary_gateway_requests_total{") && k.includes("status=\"400\""))).toBe(true)
      expect([...samples.keys()].some((k) => k.startsWith("tributary_gateway_request_duration_seconds_bucket{") && k.includes("le=\"+Inf\""))).toBe(true)
    }))

  it.scopedLive("400 for data nested deeper than a pipeline decodes; 1,000 levels are accepted", () =>
    Effect.gen(function*() {
      const { a, post } = yield* withGateway()
      const nested = (depth: number) => `{"partitionKey":"p","data":${"[".repeat(depth)}${"]".repeat(depth)}}`
      expect((yield* post("a", nested(1000))).status).toBe(200)
      for (const depth of [1001, 5000, 100_000]) {
        const deep = yield* post("a", nested(depth))
        expect(deep.status).toBe(400)
        expect(deep.body.error).toMatchObject({ code: "data_too_deep", field: "data" })
      }
      expect(yield* a.writeCount).toBe(1)
    }))

  it.scopedLive("an answer given before the body was read closes the connection instead of reading an unbounded body", () =>
    Effect.gen(function*() {
      const { server } = yield* withGateway()
      // 100 MB announced, a few bytes sent: answered and closed without waiting for the rest
      const huge = "Content-Type: application/json\r\nContent-Length: 104857600\r\n"
      const unauthenticated = yield* untilClosed(server.port, ingestHead(huge) + `{"partitionKey":`)
      expect(unauthenticated).toMatch(/^HTTP\/1\.1 401 /)
      expect(unauthenticated.toLowerCase()).toContain("connection: close")
      const tooLarge = yield* untilClosed(server.port, ingestHead(`Authorization: Bearer ${keyAll}\r\n${huge}`) + `{"partitionKey":`)
      expect(tooLarge).toMatch(/^HTTP\/1\.1 413 /)
      expect(tooLarge).toContain("body_too_large")
    }))

  it.scopedLive("a body slower than bodyTimeout is answered 408 and its connection closed; not a 500", () =>
    Effect.gen(function*() {
      const { server } = yield* withGateway({ bodyTimeout: "300 millis" })
      const before = (yield* requests("408")).count
      const slow = yield* untilClosed(
        server.port,
        ingestHead(`Authorization: Bearer ${keyAll}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n`) + `{"partitionKey":`
      )
      expect(slow).toMatch(/^HTTP\/1\.1 408 /)
      expect(slow).toContain("request_timeout")
      expect((yield* requests("408")).count).toBe(before + 1)
    }))

  it.scopedLive("a client that goes away mid-request is counted as 499, not as a server error", () =>
    Effect.gen(function*() {
      const { server } = yield* withGateway()
      const before = { aborted: (yield* requests("499")).count, failed: (yield* requests("500")).count }
      yield* Effect.async<void>((resume) => {
        const socket = net.connect(server.port, "127.0.0.1", () => {
          socket.write(ingestHead(`Authorization: Bearer ${keyAll}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n`) + `{"partitionKey":`)
          // once the server is reading the body
          setTimeout(() => {
            socket.destroy()
            resume(Effect.void)
          }, 100)
        })
      })
      while ((yield* requests("499")).count === before.aborted) yield* Effect.sleep("20 millis")
      expect((yield* requests("499")).count).toBe(before.aborted + 1)
      expect((yield* requests("500")).count).toBe(before.failed)
    }))

  it.scopedLive("headersTimeout and maxConnections: slow headers get 408, connections beyond the limit are closed", () =>
    Effect.gen(function*() {
      const { server } = yield* withGateway({ headersTimeout: "1 second", maxConnections: 1 })
      const slowHeaders = yield* untilClosed(server.port, "POST /v1/streams/a/records HTTP/1.1\r\nHost: x\r\n")
      expect(slowHeaders).toMatch(/^HTTP\/1\.1 408 /)
      // one connection open (idle, its headers not sent): the next is closed at once, unanswered
      const first = net.connect(server.port, "127.0.0.1")
      yield* Effect.addFinalizer(() => Effect.sync(() => first.destroy()))
      yield* Effect.async<void>((resume) => void first.on("connect", () => resume(Effect.void)))
      expect(yield* untilClosed(server.port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")).toBe("")
    }))

  it.effect("renders label values escaped", () =>
    Effect.gen(function*() {
      yield* Metric.increment(Metric.tagged(Metric.counter("test_escape_total"), "path", "a\"b\\c\nd"))
      const text = yield* Prometheus.render
      expect(text).toContain('test_escape_total{path="a\\"b\\\\c\\nd"} 1')
    }))
})

describe("API keys", () => {
  it("stores only hashes and authenticates by them", () => {
    const { key, stored } = ApiKeys.generate({ name: "gen", streams: ["s"] })
    expect(stored.sha256).toBe(ApiKeys.hash(key))
    expect(JSON.stringify(stored)).not.toContain(key)
    const keys = ApiKeys.make([stored])
    expect(keys.authenticate(key)?.name).toBe("gen")
    expect(keys.authenticate(key + "x")).toBeUndefined()
    expect(() => ApiKeys.make([{ name: "bad", sha256: "abc", streams: "*" }])).toThrow()
  })
})
