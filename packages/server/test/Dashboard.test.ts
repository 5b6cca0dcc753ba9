import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import * as Dashboard from "../src/Dashboard.js"
import * as Gateway from "../src/Gateway.js"
import { storedKeys, withGateway } from "./helpers.js"

const snapshotAt = (at: number, recordsIn: number, recordsOut = recordsIn, deadLetters = 0): Dashboard.Snapshot => ({
  at,
  totals: { recordsIn, recordsOut, deadLetters, filtered: 0, late: 0 },
  shards: [],
  charts: [],
  deadLetters: []
})

const initial: Dashboard.State = { seq: 0, title: "t", source: { ok: true }, snapshot: null, rates: null, history: [] }

describe("rates", () => {
  it("per second over the snapshots' times", () => {
    expect(Dashboard.rates(snapshotAt(1_000, 100, 50, 1), snapshotAt(3_000, 500, 250, 5))).toEqual({
      recordsIn: 200,
      recordsOut: 100,
      deadLetters: 2
    })
    expect(Dashboard.rates(snapshotAt(0, 0), snapshotAt(250, 10))?.recordsIn).toBe(40)
  })

  it("none when the later snapshot is not later", () => {
    expect(Dashboard.rates(snapshotAt(1_000, 1), snapshotAt(1_000, 5))).toBeUndefined()
    expect(Dashboard.rates(snapshotAt(2_000, 1), snapshotAt(1_000, 5))).toBeUndefined()
  })

  it("a counter that went down was reset: its value is the increase", () => {
    expect(Dashboard.rates(snapshotAt(0, 1_000, 1_000), snapshotAt(1_000, 30, 1_010))).toEqual({
      recordsIn: 30,
      recordsOut: 10,
      deadLetters: 0
    })
  })

  it("advance keeps at most `limit` points, oldest first; failed keeps everything and marks the source", () => {
    let state = initial
    for (let i = 0; i <= 6; i++) state = Dashboard.advance(state, snapshotAt(i * 1_000, i * 10), i * 1_000, 4)
    expect(state.seq).toBe(7)
    expect(state.history.map((p) => p.at)).toEqual([3_000, 4_000, 5_000, 6_000])
    expect(state.rates).toEqual({ recordsIn: 10, recordsOut: 10, deadLetters: 0 })
    const down = Dashboard.failed(Dashboard.failed(state, "boom", 7_000), "boom again", 8_000)
    expect(down.source).toEqual({ ok: false, error: "boom again", failingSince: 7_000, sampledAt: 8_000 })
    expect(down.snapshot).toBe(state.snapshot)
    expect(down.history).toBe(state.history)
    // back: the rate is over the time since the last good snapshot
    const up = Dashboard.advance(down, snapshotAt(9_000, 90), 9_000, 4)
    expect(up.source).toEqual({ ok: true, sampledAt: 9_000 })
    expect(up.rates?.recordsIn).toBe(10)
    expect(up.history.map((p) => p.at)).toEqual([4_000, 5_000, 6_000, 9_000])
  })
})

describe("sampler", () => {
  /** A source counting 100 records in and 80 out per second of (test) clock time, failing while `fail` is set. */
  const source = () => {
    const control = { fail: false, calls: 0 }
    const snapshot = Effect.gen(function*() {
      control.calls += 1
      if (control.fail) return yield* Effect.fail(new Error("source down"))
      const now = yield* Clock.currentTimeMillis
      return snapshotAt(now, now / 10, (now / 1000) * 80, now / 1000)
    })
    return { control, snapshot }
  }

  it.scoped("samples every interval, derives rates, skips failures (logged once) and bounds the history", () => {
    const logs: Array<string> = []
    const logger = Logger.make(({ logLevel, message }) => {
      if (logLevel._tag !== "Debug") logs.push(`${logLevel.label} ${String(message)}`)
    })
    return Effect.gen(function*() {
      const { control, snapshot } = source()
      const feed = Dashboard.unsafeMake({ snapshot, interval: "1 second", history: 3 })
      yield* feed.start
      yield* TestClock.adjust(0)
      expect(control.calls).toBe(1)
      let state = yield* feed.state
      expect(state.snapshot?.at).toBe(0)
      expect(state.rates).toBeNull()

      yield* TestClock.adjust("1 second")
      state = yield* feed.state
      expect(control.calls).toBe(2)
      expect(state.rates).toEqual({ recordsIn: 100, recordsOut: 80, deadLetters: 1 })
      expect(state.history).toEqual([{ at: 1_000, recordsIn: 100, recordsOut: 80, deadLetters: 1 }])

      control.fail = true
      yield* TestClock.adjust("2 seconds")
      state = yield* feed.state
      expect(control.calls).toBe(4)
      expect(state.source).toMatchObject({ ok: false, error: "source down", failingSince: 2_000, sampledAt: 3_000 })
      expect(state.snapshot?.at).toBe(1_000)
      expect(state.history.length).toBe(1)
      expect(logs).toEqual(["WARN dashboard: the snapshot failed, keeping the last one"])

      control.fail = false
      yield* TestClock.adjust("1 second")
      state = yield* feed.state
      expect(state.source).toEqual({ ok: true, sampledAt: 4_000 })
      expect(state.rates?.recordsIn).toBeCloseTo(100)
      expect(state.history.map((p) => p.at)).toEqual([1_000, 4_000])
      expect(logs[1]).toBe("INFO dashboard: the snapshot source recovered")

      yield* TestClock.adjust("5 seconds")
      state = yield* feed.state
      expect(control.calls).toBe(10)
      expect(state.history.map((p) => p.at)).toEqual([7_000, 8_000, 9_000])
    }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
  })

  it.scoped("a new client gets the whole history first, then only new points; the stream ends when the feed closes", () =>
    Effect.gen(function*() {
      const { snapshot } = source()
      const feed = Dashboard.unsafeMake({ snapshot, interval: "1 second", history: 10, title: "T" })
      const scope = yield* Scope.make()
      yield* Scope.extend(feed.start, scope)
      yield* TestClock.adjust("3 seconds")
      expect((yield* feed.state).history.length).toBe(3)

      const client = yield* Effect.fork(Stream.runCollect(feed.updates))
      yield* TestClock.adjust(0)
      expect(yield* feed.clients).toBe(1)
      yield* TestClock.adjust("2 seconds")
      yield* Scope.close(scope, Exit.void)
      const updates = Chunk.toReadonlyArray(yield* Fiber.join(client))
      expect(updates.map((u) => u.seq)).toEqual([4, 5, 6])
      expect(updates[0]).toMatchObject({ title: "T", reset: true, historyLimit: 10 })
      expect(updates[0].points.map((p) => p.at)).toEqual([1_000, 2_000, 3_000])
      expect(updates[1]).toMatchObject({ reset: false, points: [{ at: 4_000, recordsIn: 100 }] })
      expect(updates[2].points.map((p) => p.at)).toEqual([5_000])
      expect(updates[2].snapshot?.at).toBe(5_000)
      expect(yield* feed.clients).toBe(0)
    }))

  it.scoped("a snapshot that never answers times out and the feed goes on", () =>
    Effect.gen(function*() {
      const feed = Dashboard.unsafeMake({ snapshot: Effect.never, interval: "1 second" })
      yield* feed.start
      yield* TestClock.adjust("5 seconds")
      const state = yield* feed.state
      expect(state.source.ok).toBe(false)
      expect(state.source.error).toContain("did not complete within 5s")
      // the schedule keeps its beat: the next snapshot starts at the next interval boundary, 6 s
      yield* TestClock.adjust("6 seconds")
      expect((yield* feed.state).source.sampledAt).toBe(11_000)
    }))
})

// ---------------------------------------------------------------------------------------------------------------------
// over HTTP

interface Frame {
  readonly event?: string
  readonly data?: string
  readonly comment?: string
  readonly retry?: number
}

const parseFrame = (text: string): Frame => {
  const frame: { event?: string; data?: string; comment?: string; retry?: number } = {}
  for (const line of text.split("\n")) {
    if (line.startsWith(":")) frame.comment = line.slice(1).trim()
    else if (line.startsWith("event: ")) frame.event = line.slice(7)
    else if (line.startsWith("data: ")) frame.data = (frame.data === undefined ? "" : frame.data + "\n") + line.slice(6)
    else if (line.startsWith("retry: ")) frame.retry = Number(line.slice(7))
  }
  return frame
}

/** An SSE connection read frame by frame; aborted with the scope. */
const openEvents = (url: string) =>
  Effect.gen(function*() {
    const controller = new AbortController()
    yield* Effect.addFinalizer(() => Effect.sync(() => controller.abort()))
    const response = yield* Effect.promise(() => fetch(url, { signal: controller.signal }))
    const reader = response.body!.getReader()
    const decoder = new TextDecoder()
    let buffer = ""
    const next = Effect.promise(async (): Promise<Frame | undefined> => {
      for (;;) {
        const end = buffer.indexOf("\n\n")
        if (end >= 0) {
          const frame = parseFrame(buffer.slice(0, end))
          buffer = buffer.slice(end + 2)
          return frame
        }
        const chunk = await reader.read().catch(() => ({ done: true as const, value: undefined }))
        if (chunk.done) return undefined
        buffer += decoder.decode(chunk.value, { stream: true })
      }
    })
    const nextUpdate = Effect.gen(function*() {
      for (;;) {
        const frame = yield* next
        if (frame === undefined) return undefined
        if (frame.event === "update") return JSON.parse(frame.data!) as Dashboard.Update
      }
    })
    return { response, next, nextUpdate, abort: () => controller.abort() }
  })

/** A source whose counters grow with wall-clock time: 2,000 records/s in, 1,500 out, 10 dead letters. */
const liveSource = () => {
  const start = Date.now()
  return Effect.sync((): Dashboard.Snapshot => {
    const at = Date.now()
    const seconds = (at - start) / 1000
    return {
      at,
      totals: { recordsIn: 2_000 * seconds, recordsOut: 1_500 * seconds, deadLetters: 10 * seconds, filtered: 7, late: 3 },
      shards: [
        { shardId: "shardId-000000000001", owner: "worker-b", checkpoint: "49590338271490256608559692540925702759324208523137515618", lagMillis: 12 },
        { shardId: "shardId-000000000000", owner: "worker-a", checkpoint: "TRIM_HORIZON", lagMillis: null }
      ],
      charts: [{ id: "counts", title: "Counts", series: [{ label: "a", points: [[at - (at % 1000), 1]] }] }],
      deadLetters: [1, 2, 3, 4].map((i) => ({
        shardId: "shardId-000000000000",
        sequenceNumber: String(i),
        stage: "decode",
        reason: `bad record ${i}`,
        failedAt: start + i
      }))
    }
  })
}

const getJson = (url: string) =>
  Effect.promise(() => fetch(url).then(async (r) => ({ status: r.status, headers: r.headers, body: await r.json() as any })))

describe("dashboard over HTTP", () => {
  it.scopedLive("GET /v1/dashboard/events streams update events and pings", () =>
    Effect.gen(function*() {
      const { server } = yield* withGateway({ dashboard: { snapshot: liveSource(), interval: "50 millis", heartbeat: "120 millis" } })
      const events = yield* openEvents(`${server.url}/v1/dashboard/events`)
      expect(events.response.status).toBe(200)
      expect(events.response.headers.get("content-type")).toBe("text/event-stream")
      expect(events.response.headers.get("cache-control")).toContain("no-cache")
      expect(yield* events.next).toEqual({ retry: 2000 })

      const first = (yield* events.nextUpdate)!
      expect(first.reset).toBe(true)
      const updates = [first]
      while (updates.length < 4) updates.push((yield* events.nextUpdate)!)
      const seqs = updates.map((u) => u.seq)
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
      expect(new Set(seqs).size).toBe(4)
      const last = updates[3]
      expect(last.reset).toBe(false)
      expect(last.source.ok).toBe(true)
      // rates come from the snapshots' own times, so they are exact whatever the scheduling
      expect(last.rates!.recordsIn).toBeCloseTo(2_000, 6)
      expect(last.rates!.recordsOut).toBeCloseTo(1_500, 6)
      expect(last.rates!.deadLetters).toBeCloseTo(10, 6)
      expect(last.points.length).toBeGreaterThanOrEqual(1)
      expect(last.snapshot!.shards.length).toBe(2)
      expect(last.snapshot!.totals.filtered).toBe(7)

      let ping = false
      while (!ping) ping = (yield* events.next)?.comment === "ping"
      expect(ping).toBe(true)

      // a client that goes away is dropped
      expect(yield* server.dashboard!.clients).toBe(1)
      events.abort()
      let clients = 1
      for (let i = 0; i < 100 && clients > 0; i++) {
        yield* Effect.sleep("20 millis")
        clients = yield* server.dashboard!.clients
      }
      expect(clients).toBe(0)
    }))

  it.live("closing the server's scope ends the event streams and the server stops at once", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const server = yield* Gateway.serve({
        keys: storedKeys,
        sinkFor: Gateway.sinks({}),
        dashboard: { snapshot: liveSource(), interval: "50 millis" }
      }).pipe(Scope.extend(scope))
      const connectionScope = yield* Scope.make()
      const events = yield* openEvents(`${server.url}/v1/dashboard/events`).pipe(Scope.extend(connectionScope))
      expect((yield* events.nextUpdate)?.seq).toBeGreaterThanOrEqual(0)
      const started = Date.now()
      yield* Scope.close(scope, Exit.void).pipe(Effect.timeoutFail({ duration: "3 seconds", onTimeout: () => new Error("the server did not stop") }))
      expect(Date.now() - started).toBeLessThan(3_000)
      // the stream ended: what was in flight, then the end
      let frame = yield* events.next
      while (frame !== undefined) frame = yield* events.next
      yield* Scope.close(connectionScope, Exit.void)
    }))

  it.scopedLive("GET /v1/status and /v1/dead-letters", () =>
    Effect.gen(function*() {
      const { server } = yield* withGateway({ dashboard: { snapshot: liveSource(), interval: "30 millis" } })
      let status = yield* getJson(`${server.url}/v1/status`)
      while (status.status !== 200 || status.body.rates === null) {
        yield* Effect.sleep("20 millis")
        status = yield* getJson(`${server.url}/v1/status`)
      }
      expect(status.headers.get("content-type")).toContain("application/json")
      expect(status.body).toMatchObject({ title: "Tributary", source: { ok: true } })
      expect(status.body.rates.recordsIn).toBeCloseTo(2_000, 6)
      expect(status.body.snapshot.shards).toEqual([
        { shardId: "shardId-000000000001", owner: "worker-b", checkpoint: "49590338271490256608559692540925702759324208523137515618", lagMillis: 12 },
        { shardId: "shardId-000000000000", owner: "worker-a", checkpoint: "TRIM_HORIZON", lagMillis: null }
      ])

      const all = yield* getJson(`${server.url}/v1/dead-letters`)
      expect(all.status).toBe(200)
      // most recent first
      expect(all.body.deadLetters.map((d: Dashboard.RecentDeadLetter) => d.sequenceNumber)).toEqual(["4", "3", "2", "1"])
      const two = yield* getJson(`${server.url}/v1/dead-letters?limit=2`)
      expect(two.body.deadLetters.map((d: Dashboard.RecentDeadLetter) => d.reason)).toEqual(["bad record 4", "bad record 3"])
      for (const bad of ["0", "-1", "abc", "1.5", "1001", "1e3"]) {
        const answer = yield* getJson(`${server.url}/v1/dead-letters?limit=${bad}`)
        expect(answer.status, bad).toBe(400)
        expect(answer.body.error).toMatchObject({ code: "invalid_limit", field: "limit" })
      }
    }))

  it.scopedLive("a failing source: 503 from /v1/status, the events say so", () =>
    Effect.gen(function*() {
      const { server } = yield* withGateway({
        dashboard: { snapshot: Effect.fail(new Error("lease table unreachable")), interval: "30 millis" }
      })
      const events = yield* openEvents(`${server.url}/v1/dashboard/events`)
      let update = (yield* events.nextUpdate)!
      while (update.source.ok) update = (yield* events.nextUpdate)!
      expect(update.source.error).toBe("lease table unreachable")
      expect(update.snapshot).toBeNull()
      const status = yield* getJson(`${server.url}/v1/status`)
      expect(status.status).toBe(503)
      expect(status.body.error.code).toBe("no_snapshot")
      expect(status.body.error.message).toContain("lease table unreachable")
      expect((yield* getJson(`${server.url}/v1/dead-letters`)).status).toBe(503)
    }).pipe(Logger.withMinimumLogLevel(LogLevel.Error)))

  it.scopedLive("the page and its assets: content types, cache headers, no external URL", () =>
    Effect.gen(function*() {
      const { server } = yield* withGateway({ dashboard: { snapshot: liveSource(), title: "Clicks <prod> & \"co\"" } })
      const root = yield* Effect.promise(() => fetch(`${server.url}/`, { redirect: "manual" }))
      expect(root.status).toBe(302)
      expect(root.headers.get("location")).toBe("/dashboard")

      const response = yield* Effect.promise(() => fetch(`${server.url}/dashboard`))
      expect(response.status).toBe(200)
      expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8")
      expect(response.headers.get("content-security-policy")).toContain("script-src 'self'")
      const html = yield* Effect.promise(() => response.text())
      expect(html).toContain("<title>Clicks &lt;prod&gt; &amp; &quot;co&quot;</title>")
      expect(html).not.toMatch(/https?:\/\//)
      expect(html).not.toContain("{{")

      const links = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1])
      // the favicon is an empty data: URL (no request); everything else is on this server
      expect(links.filter((url) => !url.startsWith("/"))).toEqual(["data:,"])
      const referenced = links.filter((url) => url.startsWith("/"))
      expect(referenced.map((url) => url.split("?")[0]).sort()).toEqual([
        "/dashboard/assets/dashboard.css",
        "/dashboard/assets/dashboard.js",
        "/dashboard/assets/uPlot.iife.min.js",
        "/dashboard/assets/uPlot.min.css"
      ])
      const uplotDist = join(dirname(createRequire(import.meta.url).resolve("uplot/package.json")), "dist")
      for (const url of referenced) {
        const asset = yield* Effect.promise(() => fetch(`${server.url}${url}`))
        const body = yield* Effect.promise(() => asset.text())
        expect(asset.status, url).toBe(200)
        expect(asset.headers.get("content-type"), url).toBe(url.includes(".js") ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8")
        expect(asset.headers.get("cache-control"), url).toContain("max-age=31536000")
        expect(body.length, url).toBeGreaterThan(500)
        if (url.includes("uPlot")) expect(body).toBe(readFileSync(join(uplotDist, url.slice("/dashboard/assets/".length).split("?")[0]), "utf8"))
        if (url.includes("dashboard.")) expect(body, url).not.toMatch(/https?:\/\//)
      }
      const missing = yield* getJson(`${server.url}/dashboard/assets/secret.txt`)
      expect(missing.status).toBe(404)
      const traversal = yield* Effect.promise(() => fetch(`${server.url}/dashboard/assets/..%2F..%2Fpackage.json`))
      expect(traversal.status).toBe(404)
    }))

  it.scopedLive("no dashboard option: its routes are 404; with it, they count as route \"dashboard\" in /metrics", () =>
    Effect.gen(function*() {
      const { server } = yield* withGateway()
      expect(server.dashboard).toBeUndefined()
      for (const path of ["/", "/dashboard", "/dashboard/assets/dashboard.js", "/v1/dashboard/events", "/v1/status", "/v1/dead-letters"]) {
        const answer = yield* getJson(`${server.url}${path}`)
        expect(answer.status, path).toBe(404)
        expect(answer.body.error.code, path).toBe("not_found")
      }
      const withDashboard = yield* withGateway({ dashboard: { snapshot: liveSource() } })
      expect((yield* Effect.promise(() => fetch(`${withDashboard.server.url}/dashboard`))).status).toBe(200)
      const metrics = yield* Effect.promise(() => fetch(`${withDashboard.server.url}/metrics`).then((r) => r.text()))
      expect(metrics).toMatch(/tributary_gateway_requests_total\{[^}]*route="dashboard"[^}]*\} [1-9]/)
    }))
})
