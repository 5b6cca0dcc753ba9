import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { mkdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import type { Page } from "playwright-core"
import type * as Dashboard from "../src/Dashboard.js"
import * as Chromium from "../test-utils/Chromium.js"
import * as Gateway from "../src/Gateway.js"
import { storedKeys, withGateway } from "./helpers.js"

const outputDir = fileURLToPath(new URL("../test-output/", import.meta.url))

/** Deterministic noise in [0, 1) for a (series, x) pair, so a window keeps its value from snapshot to snapshot. */
const noise = (seed: number, x: number) => {
  const v = Math.sin(seed * 12.9898 + x * 78.233) * 43758.5453
  return v - Math.floor(v)
}

/**
 * A pipeline that is not there: every call is one second later on a simulated clock (so a short test has a
 * long history), throughput wanders around 1,200 records/s, 4 shards are leased by 2 workers, two charts.
 */
const syntheticSource = () => {
  const start = Date.now() - 60_000
  let calls = 0
  const totals = { recordsIn: 0, recordsOut: 0, deadLetters: 0, filtered: 0, late: 0 }
  const deadLetters: Array<Dashboard.RecentDeadLetter> = [
    { shardId: "shardId-000000000002", sequenceNumber: "49590338271490256608559692540925702759324208523137515618", stage: "decode", reason: "Unexpected token < in JSON at position 0", failedAt: start + 1_000 },
    { shardId: "shardId-000000000000", sequenceNumber: "49590338271490256608559692540925702759324208523137515619", stage: "validate", reason: "<script>window.__pwned = true</script>", failedAt: start + 2_000 },
    { shardId: "shardId-000000000003", sequenceNumber: "49590338271490256608559692540925702759324208523137515620", stage: "enrich", reason: "<img src=x onerror=\"window.__pwned = true\"> user not found", failedAt: start + 3_000 }
  ]
  return Effect.sync((): Dashboard.Snapshot => {
    calls += 1
    const at = start + calls * 1_000
    const rateIn = 1_200 + 400 * Math.sin(calls / 8) + 150 * noise(1, calls)
    totals.recordsIn += Math.round(rateIn)
    totals.recordsOut += Math.round(rateIn * (0.93 + 0.05 * noise(2, calls)))
    totals.filtered += Math.round(rateIn * 0.04)
    totals.late += noise(3, calls) < 0.3 ? 1 : 0
    if (noise(4, calls) < 0.15) totals.deadLetters += 1
    const windows = Array.from({ length: 24 }, (_, i) => at - (at % 5_000) - (23 - i) * 5_000)
    const series = (labels: ReadonlyArray<string>, scale: number): Array<Dashboard.ChartSeries> =>
      labels.map((label, s) => ({
        label,
        points: windows.map((w) => [w, Math.round(scale * (1 + s) * (0.6 + 0.4 * Math.sin(w / 40_000 + s) + 0.2 * noise(s + 10, w)))] as const)
      }))
    return {
      at,
      totals: { ...totals },
      shards: [0, 1, 2, 3].map((i) => ({
        shardId: `shardId-00000000000${i}`,
        owner: i % 2 === 0 ? "worker-a" : "worker-b",
        checkpoint: `4959033827149025660855969254092570275932420852313751${5600 + calls * 4 + i}`,
        // shard 1's checkpoint is held back by a window stage
        ...(i === 1 ? { processed: `4959033827149025660855969254092570275932420852313751${9600 + calls}`, checkpointNote: "open windows need it" } : {}),
        lagMillis: i === 3 ? 7_500 + 100 * calls : Math.round(200 + 800 * noise(i + 20, calls))
      })),
      charts: [
        { id: "clicks", title: "Clicks per page", unit: "per 5 s window", series: series(["home", "search", "checkout"], 800) },
        { id: "latency", title: "Enrichment latency", unit: "ms", series: series(["p50", "p99"], 40) }
      ],
      deadLetters
    }
  })
}

const updatesOf = (page: Page) => page.evaluate(() => Number(document.body.dataset.updates))

const readNumbers = (page: Page) =>
  page.evaluate(() => {
    const read = (selector: string) => Number((document.querySelector(selector)?.textContent ?? "").replace(/,/g, ""))
    return {
      rateIn: read("#rate-in"),
      rateOut: read("#rate-out"),
      deadLetters: read("#dead-letters"),
      filtered: read("#filtered"),
      totalIn: read("#total-in")
    }
  })

describe.skipIf(Chromium.skip)("dashboard in a browser", () => {
  it.scopedLive("shows live numbers, shards, charts and dead letters (as text)", () =>
    Effect.gen(function*() {
      const { server } = yield* withGateway({
        dashboard: { snapshot: syntheticSource(), interval: "100 millis", title: "Synthetic pipeline" }
      })
      const browser = yield* Chromium.browser
      const page = yield* Effect.promise(() => browser.newPage({ viewport: { width: 1280, height: 900 } }))
      const problems: Array<string> = []
      page.on("pageerror", (error) => problems.push(`page error: ${error.message}`))
      page.on("console", (message) => {
        if (message.type() === "error") problems.push(`console: ${message.text()}`)
      })
      page.on("request", (request) => {
        if (!request.url().startsWith(server.url)) problems.push(`external request: ${request.url()}`)
      })

      yield* Effect.promise(() => page.goto(`${server.url}/dashboard`))
      yield* Effect.promise(() => page.waitForFunction(() => Number(document.body.dataset.updates) >= 3, null, { timeout: 30_000 }))
      expect(yield* Effect.promise(() => page.textContent("#connection"))).toBe("live")
      expect(yield* Effect.promise(() => page.title())).toBe("Synthetic pipeline")

      const first = yield* Effect.promise(() => readNumbers(page))
      expect(first.rateIn).toBeGreaterThan(0)
      expect(first.rateOut).toBeGreaterThan(0)
      expect(first.filtered).toBeGreaterThan(0)
      expect(first.totalIn).toBeGreaterThan(0)
      const seen = yield* Effect.promise(() => updatesOf(page))
      yield* Effect.promise(() =>
        page.waitForFunction((n) => Number(document.body.dataset.updates) >= n + 2, seen, { timeout: 30_000 })
      )
      const second = yield* Effect.promise(() => readNumbers(page))
      expect(second.rateIn).toBeGreaterThan(0)
      expect(second.totalIn).toBeGreaterThan(first.totalIn)
      expect([second.rateIn, second.rateOut]).not.toEqual([first.rateIn, first.rateOut])

      // shards and leases per owner
      const shards = yield* Effect.promise(() =>
        page.$$eval("#shards tbody tr", (rows) => (rows as Array<HTMLTableRowElement>).map((row) => Array.from(row.cells, (cell) => cell.textContent)))
      )
      expect(shards.length).toBe(4)
      expect(shards.map((cells) => cells[0])).toEqual(["shardId-000000000000", "shardId-000000000001", "shardId-000000000002", "shardId-000000000003"])
      expect(shards.map((cells) => cells[1])).toEqual(["worker-a", "worker-b", "worker-a", "worker-b"])
      expect(shards[3][4]).toMatch(/^\d+(\.\d)? s$/)
      // processed and checkpoint side by side: the same, or the checkpoint held back, and why
      expect(shards[0][2]).toBe(shards[0][3])
      expect(shards[1][2]).toMatch(/^4959\d+96\d\d$/)
      expect(shards[1][2]).not.toBe(shards[1][3])
      const held = yield* Effect.promise(() =>
        page.$$eval("#shards tbody td.held", (cells) => cells.map((cell) => (cell as HTMLElement).title))
      )
      expect(held).toEqual([expect.stringMatching(/: open windows need it$/)])
      expect(yield* Effect.promise(() => page.textContent("#checkpoint-note"))).toBe(
        "Checkpoints in italics are behind what was processed: open windows need it"
      )
      const owners = yield* Effect.promise(() =>
        page.$$eval("#owners [data-owner]", (chips) => chips.map((chip) => [chip.getAttribute("data-owner"), chip.querySelector("b")?.textContent]))
      )
      expect(owners).toEqual([["worker-a", "2"], ["worker-b", "2"]])

      // one drawn chart per snapshot chart, and the throughput chart
      for (const selector of ["#rates-chart canvas", "[data-chart=\"clicks\"] canvas", "[data-chart=\"latency\"] canvas"]) {
        const size = yield* Effect.promise(() =>
          page.$eval(selector, (canvas) => ({ width: (canvas as HTMLCanvasElement).width, height: (canvas as HTMLCanvasElement).height }))
        )
        expect(size.width, selector).toBeGreaterThan(100)
        expect(size.height, selector).toBeGreaterThan(50)
      }
      const legend = yield* Effect.promise(() => page.$$eval("[data-chart=\"clicks\"] .u-legend .u-label", (labels) => labels.map((l) => l.textContent)))
      expect(legend).toEqual(expect.arrayContaining(["home", "search", "checkout"]))

      // user data is text, never markup
      const reasons = yield* Effect.promise(() =>
        page.$$eval("#recent-dead-letters tbody tr", (rows) => (rows as Array<HTMLTableRowElement>).map((row) => row.cells[4]?.textContent))
      )
      expect(reasons).toContain("<script>window.__pwned = true</script>")
      expect(reasons).toContain("<img src=x onerror=\"window.__pwned = true\"> user not found")
      const injected = yield* Effect.promise(() =>
        page.evaluate(() => ({
          pwned: (window as unknown as { __pwned?: boolean }).__pwned ?? false,
          elements: document.querySelectorAll("#recent-dead-letters script, #recent-dead-letters img").length
        }))
      )
      expect(injected).toEqual({ pwned: false, elements: 0 })

      // a longer history for the picture
      yield* Effect.promise(() => page.waitForFunction(() => Number(document.body.dataset.updates) >= 25, null, { timeout: 30_000 }))
      mkdirSync(outputDir, { recursive: true })
      yield* Effect.promise(() => page.screenshot({ path: `${outputDir}dashboard.png`, fullPage: true }))
      expect(problems).toEqual([])
    }), 120_000)

  it.scopedLive("says disconnected when the server goes away, and live again when it is back", () =>
    Effect.gen(function*() {
      const serveOn = (port: number) =>
        Effect.gen(function*() {
          const scope = yield* Scope.make()
          const server = yield* Gateway.serve(
            { keys: storedKeys, sinkFor: Gateway.sinks({}), dashboard: { snapshot: syntheticSource(), interval: "100 millis" } },
            { port }
          ).pipe(Scope.extend(scope))
          return { server, scope }
        })
      const first = yield* serveOn(0)
      const browser = yield* Chromium.browser
      const page = yield* Effect.promise(() => browser.newPage())
      yield* Effect.promise(() => page.goto(`${first.server.url}/dashboard`))
      const state = (value: string) =>
        Effect.promise(() => page.waitForSelector(`#connection[data-state="${value}"]`, { timeout: 30_000 }))
      yield* state("live")
      yield* Scope.close(first.scope, Exit.void)
      yield* state("disconnected")
      const seen = yield* Effect.promise(() => updatesOf(page))
      const second = yield* serveOn(first.server.port)
      yield* Effect.addFinalizer(() => Scope.close(second.scope, Exit.void))
      yield* state("live")
      yield* Effect.promise(() =>
        page.waitForFunction((n) => Number(document.body.dataset.updates) > n, seen, { timeout: 30_000 })
      )
    }), 150_000)
})
