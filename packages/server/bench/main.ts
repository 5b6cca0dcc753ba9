/**
 * The ingest gateway on loopback: 2,000 requests of 100 records each (8 bytes of data + a short key),
 * 64 in flight, from this process, into a memory sink.
 *
 *   pnpm --filter @tributary/server bench      (or: pnpm tsx packages/server/bench/main.ts)
 */
import * as RecordSink from "@tributary/core/RecordSink"
import * as Effect from "effect/Effect"
import * as ApiKeys from "../src/ApiKeys.js"
import * as Gateway from "../src/Gateway.js"
import type { IngestRecord } from "../src/Ingest.js"

const requests = Number(process.env.BENCH_REQUESTS ?? 2_000)
const recordsPerRequest = 100
const concurrency = 64
const key = "bench-key"

const program = Effect.gen(function*() {
  const sink = yield* RecordSink.memory<IngestRecord>("bench")
  const server = yield* Gateway.serve({
    keys: [{ name: "bench", sha256: ApiKeys.hash(key), streams: "*" }],
    sinkFor: Gateway.sinks({ bench: sink })
  })
  const body = JSON.stringify({
    records: Array.from({ length: recordsPerRequest }, (_, i) => ({ partitionKey: `key-${i}`, data: "12345678" }))
  })
  const send = () =>
    Effect.promise(async () => {
      const response = await fetch(`${server.url}/v1/streams/bench/records`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body
      })
      await response.arrayBuffer()
      if (response.status !== 200) throw new Error(`status ${response.status}`)
    })
  // warm up
  yield* Effect.forEach(Array.from({ length: 100 }), send, { concurrency, discard: true })
  const start = performance.now()
  yield* Effect.forEach(Array.from({ length: requests }), send, { concurrency, discard: true })
  const seconds = (performance.now() - start) / 1000
  const stored = (yield* sink.items).length
  if (stored !== (requests + 100) * recordsPerRequest) throw new Error(`stored ${stored} records`)
  console.log(
    `bench gateway: ${Math.round(requests / seconds).toLocaleString("en-US")} req/s, ${
      Math.round((requests * recordsPerRequest) / seconds).toLocaleString("en-US")
    } rec/s (${requests} requests x ${recordsPerRequest} records, ${concurrency} in flight, ${seconds.toFixed(2)} s)`
  )
})

Effect.runPromise(Effect.scoped(program)).catch((error) => {
  console.error(error)
  process.exit(1)
})
