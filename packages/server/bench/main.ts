/**
 * The ingest gateway on loopback against a bare `node:http` server doing the same work by hand (`Bearer` key
 * checked by its SHA-256 digest, body read, `JSON.parse`, each record's fields checked and its data encoded,
 * the same memory sink written through `RecordSink.write`): 1,000 requests of 100 records each (8 bytes of
 * data + a short key) per round, 64 in flight, from this process. Rounds alternate which side goes first;
 * medians of the rounds (the ratio is the median of the rounds' ratios); p99 is the latency of one request.
 * Many short rounds rather than a few long ones: on a shared machine a burst of other work spoils a round,
 * and the median of seven rides over two spoiled rounds where the median of three rides over one.
 *
 *   pnpm --filter @tributary/server bench      (or: pnpm tsx packages/server/bench/main.ts)
 *
 * BENCH_REQUESTS sets the requests per round (1,000), BENCH_ROUNDS the rounds (7).
 */
import * as RecordSink from "@tributary/core/RecordSink"
import * as Effect from "effect/Effect"
import { createHash, timingSafeEqual } from "node:crypto"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as ApiKeys from "../src/ApiKeys.js"
import * as Gateway from "../src/Gateway.js"
import type { IngestRecord } from "../src/Ingest.js"

const requests = Number(process.env.BENCH_REQUESTS ?? 1_000)
const rounds = Number(process.env.BENCH_ROUNDS ?? 7)
const recordsPerRequest = 100
const concurrency = 64
const key = "bench-key"

interface Round {
  readonly seconds: number
  readonly p99: number
}

/** The baseline: what a hand-written server does for the same request, into the same kind of sink. */
const bareServer = (sink: RecordSink.RecordSink<IngestRecord>) =>
  Effect.acquireRelease(
    Effect.async<Http.Server>((resume) => {
      const digest = createHash("sha256").update(key, "utf8").digest()
      const encoder = new TextEncoder()
      const reply = (response: Http.ServerResponse, status: number, body: unknown) => {
        response.writeHead(status, { "content-type": "application/json" })
        response.end(JSON.stringify(body))
      }
      const server = Http.createServer((request, response) => {
        const chunks: Array<Buffer> = []
        request.on("data", (chunk: Buffer) => chunks.push(chunk))
        request.on("end", () => {
          const auth = request.headers.authorization ?? ""
          const given = createHash("sha256").update(auth.slice("Bearer ".length), "utf8").digest()
          if (!auth.startsWith("Bearer ") || !timingSafeEqual(given, digest)) return reply(response, 401, { error: "unauthorized" })
          const stream = request.url!.split("/")[3]
          let body: { records?: unknown }
          try {
            body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
          } catch {
            return reply(response, 400, { error: "invalid JSON" })
          }
          if (!Array.isArray(body.records)) return reply(response, 400, { error: "no records" })
          const records: Array<IngestRecord> = []
          for (const record of body.records as Array<{ partitionKey?: unknown; data?: unknown }>) {
            if (typeof record.partitionKey !== "string" || typeof record.data !== "string") {
              return reply(response, 400, { error: "invalid record" })
            }
            records.push({ stream, partitionKey: record.partitionKey, data: encoder.encode(record.data) })
          }
          Effect.runPromise(sink.write(records)).then(
            () => reply(response, 200, { records: records.length }),
            () => reply(response, 503, { error: "unavailable" })
          )
        })
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
  ).pipe(Effect.map((server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`))

const body = JSON.stringify({
  records: Array.from({ length: recordsPerRequest }, (_, i) => ({ partitionKey: `key-${i}`, data: "12345678" }))
})

/** `count` requests to `url`, `concurrency` in flight. */
const load = (url: string, count: number) =>
  Effect.gen(function*() {
    const latencies: Array<number> = []
    const send = () =>
      Effect.promise(async () => {
        const sent = performance.now()
        const response = await fetch(`${url}/v1/streams/bench/records`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body
        })
        await response.arrayBuffer()
        if (response.status !== 200) throw new Error(`status ${response.status}`)
        latencies.push(performance.now() - sent)
      })
    const start = performance.now()
    yield* Effect.forEach(Array.from({ length: count }), send, { concurrency, discard: true })
    const seconds = (performance.now() - start) / 1000
    latencies.sort((a, b) => a - b)
    return { seconds, p99: latencies[Math.floor(latencies.length * 0.99)] } satisfies Round
  })

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const program = Effect.gen(function*() {
  const gatewaySink = yield* RecordSink.memory<IngestRecord>("bench")
  const gateway = yield* Gateway.serve({
    keys: [{ name: "bench", sha256: ApiKeys.hash(key), streams: "*" }],
    sinkFor: Gateway.sinks({ bench: gatewaySink })
  })
  const bareSink = yield* RecordSink.memory<IngestRecord>("bench")
  const bare = yield* bareServer(bareSink)
  // warm up
  yield* load(gateway.url, 100)
  yield* load(bare, 100)
  const sides = { gateway: [] as Array<Round>, bare: [] as Array<Round> }
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? (["gateway", "bare"] as const) : (["bare", "gateway"] as const)
    for (const side of order) sides[side].push(yield* load(side === "gateway" ? gateway.url : bare, requests))
  }
  for (const [name, sink] of [["gateway", gatewaySink], ["bare", bareSink]] as const) {
    const stored = (yield* sink.items).length
    if (stored !== (requests * rounds + 100) * recordsPerRequest) throw new Error(`${name} stored ${stored} records`)
  }
  const rate = (r: Round) => requests / r.seconds
  const ratio = median(sides.gateway.map((g, i) => rate(g) / rate(sides.bare[i])))
  const summary = (rs: ReadonlyArray<Round>) =>
    `${Math.round(median(rs.map(rate))).toLocaleString("en-US")} req/s p99 ${median(rs.map((r) => r.p99)).toFixed(1)} ms`
  console.log(
    `bench gateway: ${summary(sides.gateway)} (${
      Math.round(median(sides.gateway.map(rate)) * recordsPerRequest).toLocaleString("en-US")
    } rec/s), node:http ${summary(sides.bare)}, ratio ${ratio.toFixed(2)} ` +
      `(${requests} requests x ${recordsPerRequest} records, ${concurrency} in flight, median of ${rounds})`
  )
})

Effect.runPromise(Effect.scoped(program)).catch((error) => {
  console.error(error)
  process.exit(1)
})
