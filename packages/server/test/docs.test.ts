/**
 * The examples of docs/server.md: the gateway example runs against kinesalite and dynalite with the
 * standard AWS settings pointing at them, the dashboard example in memory; the page's `StoredKey` and
 * `Snapshot` are checked (by tsc) to be the modules' own types. The last test checks that each ```ts block of
 * the page appears here verbatim (whitespace aside, import lines left out) and that this file imports what
 * the block imports ("@tributary/server/Gateway" being "../src/Gateway.js"; see test-utils/DocBlocks.ts of
 * @tributary/core). Change an example in both places.
 */
import { expect, it, layer } from "@effect/vitest"
import * as DeadLetter from "@tributary/core/DeadLetter"
import * as Decoder from "@tributary/core/Decoder"
import * as MemoryStream from "@tributary/core/MemoryStream"
import * as Pipeline from "@tributary/core/Pipeline"
import * as RecordSink from "@tributary/core/RecordSink"
import * as DocBlocks from "@tributary/core/test-utils/DocBlocks"
import * as DynamoDBClient from "@tributary/dynamodb/DynamoDBClient"
import * as ResultsTable from "@tributary/dynamodb/ResultsTable"
import * as Kinesis from "@tributary/kinesis/Kinesis"
import * as Producer from "@tributary/kinesis/Producer"
import * as ShardReader from "@tributary/kinesis/ShardReader"
import * as StreamAdmin from "@tributary/kinesis/StreamAdmin"
import * as Environment from "@tributary/local/Environment"
import * as LocalDynamoDB from "@tributary/local/LocalDynamoDB"
import * as LocalKinesis from "@tributary/local/LocalKinesis"
import { Clock, Config, Effect, Exit, Fiber, Layer, Logger, Metric, Schema, Stream } from "effect"
import { createServer } from "node:net"
import { expectTypeOf } from "vitest"
import * as ApiKeys from "../src/ApiKeys.js"
import type * as Dashboard from "../src/Dashboard.js"
import * as Gateway from "../src/Gateway.js"
import type * as Ingest from "../src/Ingest.js"

/** A port nobody listens on now (the example's PORT: a fixed one could be taken on this machine). */
const freePort = Effect.async<number>((resume) => {
  const server = createServer()
  server.listen(0, "0.0.0.0", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Polls `check` every 20 ms until it is true (at most 10 s). */
const waitUntil = (check: Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      if (yield* check) return
      yield* Effect.sleep("20 millis")
    }
    throw new Error("timed out waiting")
  })

interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly body: any
}

const request = (url: string, init: RequestInit = {}) =>
  Effect.promise(async (): Promise<Answer> => {
    const response = await fetch(url, init)
    const text = await response.text()
    let body: unknown = undefined
    try {
      body = JSON.parse(text)
    } catch {
      // not JSON: the page, /metrics
    }
    return { status: response.status, headers: response.headers, text, body }
  })

/** Whether something answers at `url` (a closed server refuses the connection). */
const answers = (url: string) =>
  Effect.promise(() => fetch(url).then((r) => r.text().then(() => true), () => false))

/** The first `update` event of the dashboard's event stream, then the connection is closed. */
const firstUpdate = (url: string) =>
  Effect.promise(async (): Promise<Dashboard.Update> => {
    const controller = new AbortController()
    const response = await fetch(url, { signal: controller.signal })
    const reader = response.body!.getReader()
    const decoder = new TextDecoder()
    let buffer = ""
    try {
      for (;;) {
        const match = /event: update\ndata: (.*)\n\n/.exec(buffer)
        if (match !== null) return JSON.parse(match[1]) as Dashboard.Update
        const chunk = await reader.read()
        if (chunk.done) throw new Error(`the event stream ended: ${buffer}`)
        buffer += decoder.decode(chunk.value, { stream: true })
      }
    } finally {
      controller.abort()
    }
  })

/** kinesalite and dynalite embedded, with the Kinesis and DynamoDB client services talking to them. */
const emulators = Layer.mergeAll(
  Layer.unwrapEffect(Effect.map(LocalKinesis.LocalKinesis, (local) => Kinesis.layer({ ...local.clientConfig }))),
  Layer.unwrapEffect(Effect.map(LocalDynamoDB.LocalDynamoDB, (local) => DynamoDBClient.layer({ ...local.clientConfig })))
).pipe(Layer.provideMerge(Layer.mergeAll(LocalKinesis.layerKinesalite(), LocalDynamoDB.layerDynalite())))

// ---------------------------------------------------------------------------------------------------------------------
// the page's StoredKey and Snapshot, verbatim: tsc checks they are ApiKeys.StoredKey and Dashboard.Snapshot

interface StoredKey {
  name: string                                   // for logs and errors, never the key
  sha256: string                                 // ApiKeys.hash(key)
  streams: ReadonlyArray<string> | "*"           // streams it may write to
  pipelines?: ReadonlyArray<string> | "*"        // pipelines whose results it may read (default none)
  rateLimit?: { perSecond: number; burst: number } // overrides the gateway default
}

interface Snapshot {
  at: number                                  // epoch ms when sampled: rates use the difference of two `at`
  totals: { recordsIn: number; recordsOut: number; deadLetters: number; filtered: number; late: number } // cumulative
  shards: Array<{ shardId: string; owner: string | null; checkpoint: string; processed?: string; checkpointNote?: string; lagMillis: number | null }>
  charts: Array<{ id: string; title: string; unit?: string; series: Array<{ label: string; points: Array<[x: number, y: number]> }> }>
  deadLetters: Array<{ shardId: string; sequenceNumber: string; stage: string; reason: string; failedAt: number }> // the most recent few
}

/** `T` with every `readonly` removed, all the way down (the page leaves them out). */
type Mutable<T> = { -readonly [K in keyof T]: Mutable<T[K]> }

it("docs/server.md: StoredKey and Snapshot are the modules' types, readonly aside (checked by tsc)", () => {
  expectTypeOf<Mutable<StoredKey>>().toEqualTypeOf<Mutable<ApiKeys.StoredKey>>()
  expectTypeOf<Mutable<Snapshot>>().toEqualTypeOf<Mutable<Dashboard.Snapshot>>()
  // and what ApiKeys.generate makes is such an entry
  const { key, stored } = ApiKeys.generate({ name: "web", streams: ["events"], pipelines: ["clicks"] })
  const entry: StoredKey = stored
  expect(entry).toStrictEqual({ name: "web", streams: ["events"], pipelines: ["clicks"], sha256: ApiKeys.hash(key) })
  expect(entry.sha256).toMatch(/^[0-9a-f]{64}$/)
  expect(key).toMatch(/^trb_[A-Za-z0-9_-]{43}$/)
})

// ---------------------------------------------------------------------------------------------------------------------
// the gateway example

/** What the example's results table holds: clicks per user and minute. */
const minute = 60_000
const t0 = Date.UTC(2026, 0, 1)
const clicksOf = (key: string, start: number, clicks: number) => ({
  key,
  start,
  end: start + minute,
  value: { clicks },
  count: clicks,
  shards: ["shardId-000000000000"],
  firing: "onTime" as const
})

layer(emulators, { excludeTestServices: true, timeout: "60 seconds" })("docs/server.md", (it) => {
  it.scoped("the gateway example: records POSTed are in the stream, results read from the table, /readyz asks Kinesis", () =>
    Effect.gen(function*() {
      const localKinesis = yield* LocalKinesis.LocalKinesis
      const localDynamoDB = yield* LocalDynamoDB.LocalDynamoDB
      // the key handed out to the web client once; the server gets its hash
      const { key, stored } = ApiKeys.generate({ name: "web", streams: ["events"] })
      const port = yield* freePort
      yield* Environment.scoped({
        AWS_ENDPOINT_URL_KINESIS: localKinesis.endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: localDynamoDB.endpoint,
        AWS_REGION: localKinesis.region,
        AWS_ACCESS_KEY_ID: "local",
        AWS_SECRET_ACCESS_KEY: "local",
        WEB_KEY_SHA256: stored.sha256,
        PORT: String(port)
      })
      // the stream, and results of pipeline "clicks" in the table
      yield* StreamAdmin.ensureStream("events", { shards: 2 })
      const results = yield* ResultsTable.sink<string, { clicks: number }>({ tableName: "results", pipeline: "clicks" })
      yield* results.write([
        clicksOf("user-42", t0, 3),
        clicksOf("user-42", t0 + minute, 5),
        clicksOf("user-42", t0 + 3 * minute, 1), // after `to` below
        clicksOf("user-7", t0, 2)
      ])

      // --- the docs' example ---
      const program = Effect.gen(function*() {
        const events = yield* Producer.make<Ingest.IngestRecord>({
          stream: "events", partitionKey: (r) => r.partitionKey, data: (r) => r.data
        })
        // the checks and reads below run in requests, outside this program: give them its AWS clients
        const aws = yield* Effect.context<Kinesis.Kinesis | DynamoDBClient.DynamoDBClient>()
        const server = yield* Gateway.serve(
          {
            // the key's SHA-256 (ApiKeys.hash), never the key itself
            keys: [{ name: "web", sha256: yield* Config.string("WEB_KEY_SHA256"), streams: ["events"], pipelines: ["clicks"] }],
            sinkFor: Gateway.sinks({ events }),          // or any (name) => Effect<RecordSink | undefined>
            rateLimit: { perSecond: 50, burst: 100 },   // per key, optional
            // /readyz check, optional (an Effect with no requirements: provide its services)
            ready: StreamAdmin.listShards("events").pipe(Effect.provide(aws)),
            // optional: GET /v1/results/{pipeline}/{key}
            results: { reader: (q) => ResultsTable.query({ tableName: "results", ...q }).pipe(Effect.provide(aws)) }
          },
          // default: port 0 (a free port) on 127.0.0.1
          { port: yield* Config.integer("PORT").pipe(Config.withDefault(8080)), host: "0.0.0.0" }
        )
        yield* Effect.log(`gateway listening on port ${server.port}`)
        // server.url, server.port, server.results?.invalidate(pipeline, key?)
        return yield* Effect.never
      })

      // the standard AWS settings: AWS_REGION, AWS_ENDPOINT_URL_KINESIS, ... (see Deployment)
      const awsClients = Layer.merge(Kinesis.layerConfig(), DynamoDBClient.layerConfig())
      const running = Effect.runFork(program.pipe(Effect.provide(awsClients), Effect.scoped)) // interrupting it closes the scope: the server stops
      // --- end of the example ---
      yield* Effect.addFinalizer(() => Fiber.interrupt(running))

      const base = `http://127.0.0.1:${port}`
      yield* waitUntil(Effect.map(answers(`${base}/healthz`), (up) => up || running.unsafePoll() !== null))
      expect(running.unsafePoll()).toBeNull() // serving
      expect((yield* request(`${base}/healthz`)).body).toStrictEqual({ status: "ok" })
      expect(yield* request(`${base}/readyz`)).toMatchObject({ status: 200, body: { status: "ready" } })

      // the three body forms of the page's Ingest section, with the key handed out
      const post = (body: BodyInit, headers: Record<string, string>, stream = "events") =>
        request(`${base}/v1/streams/${stream}/records`, { method: "POST", headers: { authorization: `Bearer ${key}`, ...headers }, body })
      const json = { "content-type": "application/json" }
      expect(yield* post(JSON.stringify({ partitionKey: "user-42", data: { type: "click" } }), json))
        .toMatchObject({ status: 200, body: { accepted: 1 } })
      expect(
        yield* post(JSON.stringify({ records: [{ partitionKey: "user-42", data: "plain text" }, { partitionKey: "user-7", data: [1, 2] }] }), json)
      ).toMatchObject({ status: 200, body: { accepted: 2 } })
      expect(yield* post(new Uint8Array([0, 255, 1]), { "x-partition-key": "user-42", "content-type": "application/octet-stream" }))
        .toMatchObject({ status: 200, body: { accepted: 1 } })
      // the key may write to "events" only; without it nothing gets in
      expect((yield* post("{}", json, "other")).body.error.code).toBe("forbidden")
      expect(
        (yield* request(`${base}/v1/streams/events/records`, { method: "POST", headers: json, body: JSON.stringify({ partitionKey: "p", data: 1 }) })).status
      ).toBe(401)

      // answered 200: the records are in the stream already
      const read: Array<readonly [string, string]> = []
      for (const shard of yield* StreamAdmin.listShards("events")) {
        const reader = yield* ShardReader.make({ stream: "events", shardId: shard.shardId, follow: false, idleInterval: "10 millis", maxCallsPerSecond: 1000 })
        for (const page of yield* Stream.runCollect(reader.batches)) {
          for (const record of page) read.push([record.partitionKey, Buffer.from(record.data).toString("latin1")])
        }
      }
      expect(read.sort()).toStrictEqual([
        ["user-42", "\u0000\u00ff\u0001"],
        ["user-42", "plain text"],
        ["user-42", "{\"type\":\"click\"}"],
        ["user-7", "[1,2]"]
      ])

      // the results endpoint answers what ResultsTable.query reads from the table
      const from = t0
      const to = t0 + 2 * minute
      const direct = yield* ResultsTable.query({ tableName: "results", pipeline: "clicks", key: "user-42", from, to })
      expect(direct.map((result) => [result.start - t0, result.value])).toStrictEqual([[0, { clicks: 3 }], [minute, { clicks: 5 }]])
      const answer = yield* request(`${base}/v1/results/clicks/user-42?from=${new Date(from).toISOString()}&to=${to}`, {
        headers: { authorization: `Bearer ${key}` }
      })
      expect(answer).toMatchObject({ status: 200 })
      expect(answer.body).toStrictEqual({ pipeline: "clicks", key: "user-42", from, to, results: JSON.parse(JSON.stringify(direct)) })

      // the gateway's counters are in /metrics
      const metrics = yield* request(`${base}/metrics`)
      expect(metrics.text).toContain("tributary_gateway_records_accepted_total{stream=\"events\"} 4\n")

      // interrupted: the scope closes, the server stops
      yield* Fiber.interrupt(running)
      expect(Exit.isInterrupted(yield* Fiber.await(running))).toBe(true)
      expect(yield* answers(`${base}/healthz`)).toBe(false)
    }))
})

// ---------------------------------------------------------------------------------------------------------------------
// the dashboard example

const Click = Schema.Struct({ user: Schema.String, bot: Schema.Boolean })

/** Runs the pipeline "clicks" over `messages` in memory: its counters are what the example's snapshot reads. */
const runClicks = (messages: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const stream = yield* MemoryStream.make({ name: "clicks", shards: 2 })
    yield* stream.put(messages.map((data, i) => ({ partitionKey: `p${i}`, data })))
    const out = yield* RecordSink.memory<typeof Click.Type>("out")
    return yield* Pipeline.make("clicks").pipe(
      Pipeline.decode(Decoder.json(Click)),
      Pipeline.filter((click) => !click.bot),
      Pipeline.to(out),
      Pipeline.run
    ).pipe(Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layerMemory)))
  })

it.scopedLive("the dashboard example: the page has the example's title, the status and the events the clicks pipeline's totals", () =>
  Effect.gen(function*() {
    // before the server starts: 3 clicks, a bot (filtered) and a broken message (dead-lettered)
    const before = yield* runClicks([
      `{"user":"a","bot":false}`,
      `{"user":"b","bot":false}`,
      `{"user":"a","bot":true}`,
      `{"user":"c"`,
      `{"user":"c","bot":false}`
    ])
    expect(before).toMatchObject({ recordsIn: 5, recordsOut: 3, deadLettered: 1, filtered: 1, late: 0 })

    // --- the docs' example ---
    // what the workers of pipeline "clicks" counted in this process
    const total = (counter: typeof Pipeline.metrics.recordsIn) =>
      Effect.map(Metric.value(Metric.tagged(counter, "pipeline", "clicks")), (state) => state.count)

    const snapshot: Effect.Effect<Dashboard.Snapshot> = Effect.gen(function*() {
      return {
        at: yield* Clock.currentTimeMillis,
        totals: {
          recordsIn: yield* total(Pipeline.metrics.recordsIn),
          recordsOut: yield* total(Pipeline.metrics.recordsOut),
          deadLetters: yield* total(Pipeline.metrics.deadLettered),
          filtered: yield* total(Pipeline.metrics.filtered),
          late: yield* total(Pipeline.metrics.late)
        },
        shards: [],      // e.g. from the lease store: owners, checkpoints, lag
        charts: [],      // e.g. from the results table
        deadLetters: []  // e.g. the latest of the dead-letter sink
      }
    })

    const monitoring = Effect.gen(function*() {
      const server = yield* Gateway.serve({
        keys: [], sinkFor: Gateway.sinks({}), // no ingest here: the dashboard, the health checks and /metrics
        dashboard: {
          snapshot,
          interval: "1 second",      // default 1 second
          title: "clicks (prod)",    // default "Tributary"
          history: 300,              // rate points kept, default 300
          heartbeat: "15 seconds"    // default 15 seconds
        }
      })                             // a free port on 127.0.0.1 (listen options as above)
      yield* Effect.log(`dashboard at ${server.url}/dashboard`)
      return yield* Effect.never
    })
    // --- end of the example ---

    // run it, learning its address from its log line
    const logged: Array<string> = []
    const capture = Logger.make(({ message }) => {
      logged.push(String(message))
    })
    const running = yield* Effect.fork(Effect.scoped(monitoring).pipe(Effect.provide(Logger.add(capture))))
    const address = () => logged.map((line) => /^dashboard at (http:\/\/127\.0\.0\.1:\d+)\/dashboard$/.exec(line)?.[1]).find((url) => url !== undefined)
    yield* waitUntil(Effect.sync(() => address() !== undefined || running.unsafePoll() !== null))
    expect(running.unsafePoll()).toBeNull() // serving
    const base = address()!

    const html = yield* request(`${base}/dashboard`)
    expect(html.status).toBe(200)
    expect(html.text).toContain("<title>clicks (prod)</title>")
    expect(yield* request(`${base}/healthz`)).toMatchObject({ status: 200, body: { status: "ok" } })
    // no keys: no ingest
    expect((yield* request(`${base}/v1/streams/clicks/records`, { method: "POST", body: "{}" })).status).toBe(401)

    // the first snapshot: the totals of the run above
    const totals = { recordsIn: 5, recordsOut: 3, deadLetters: 1, filtered: 1, late: 0 }
    let status = yield* request(`${base}/v1/status`)
    expect(status.status).toBe(200)
    expect(status.body).toMatchObject({ title: "clicks (prod)", source: { ok: true } })
    const shown: Snapshot = status.body.snapshot
    expect(shown).toStrictEqual({ at: shown.at, totals, shards: [], charts: [], deadLetters: [] })
    const update = yield* firstUpdate(`${base}/v1/dashboard/events`)
    expect(update).toMatchObject({ title: "clicks (prod)", reset: true, historyLimit: 300, snapshot: { totals } })

    // more clicks: a following snapshot (one a second) has them, and rates against the one before
    yield* runClicks([`{"user":"d","bot":false}`, `{"user":"e","bot":false}`])
    yield* waitUntil(Effect.map(request(`${base}/v1/status`), (answer) => {
      status = answer
      return answer.body.snapshot.totals.recordsIn === 7
    }))
    expect(status.body.snapshot.totals).toStrictEqual({ ...totals, recordsIn: 7, recordsOut: 5 })
    expect(status.body.rates.recordsIn).toBeGreaterThan(0)
    expect((yield* request(`${base}/metrics`)).text).toContain("tributary_records_in_total{pipeline=\"clicks\"} 7\n")

    yield* Fiber.interrupt(running)
    expect(Exit.isInterrupted(yield* Fiber.await(running))).toBe(true)
    expect(yield* answers(`${base}/healthz`)).toBe(false)
  }))

it("docs/server.md: every TypeScript example is tested here", () => {
  expect(DocBlocks.blocks(DocBlocks.read("server.md")).length).toBe(4)
  // the example's last line stands apart: here it keeps the fiber it starts
  expect(DocBlocks.problems("server.md", { files: [import.meta.url], checkImports: true, standApart: ["Effect.runFork("] }))
    .toStrictEqual([])
})
