/**
 * The dashboard of a running demo, in Debian's chromium: the demo runs as a user runs it (its own process,
 * embedded local AWS), the page shows live numbers that move, the charts fill with window results read from
 * the results table, and Ctrl-C then ends the demo with its checks holding.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Chromium from "@tributary/server/test-utils/Chromium"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import type { Page } from "playwright-core"

const root = fileURLToPath(new URL("..", import.meta.url))
const outputDir = fileURLToPath(new URL("../test-output/", import.meta.url))

/** The demo's output so far, and a promise of its exit code. */
const startDemo = () => {
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", "tsx", "src/bin/tributary.ts", "demo", "--duration", "600s", "--rate", "1000", "--job-every", "3s"],
    { cwd: root, env: { ...process.env }, stdio: ["ignore", "pipe", "pipe"] }
  )
  let output = ""
  child.stdout!.on("data", (chunk: Buffer) => void (output += chunk.toString("utf8")))
  child.stderr!.on("data", (chunk: Buffer) => void (output += chunk.toString("utf8")))
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return { child, output: () => output, exited }
}

const waitFor = async <A>(what: string, f: () => A | undefined, timeoutMs: number): Promise<A> => {
  const until = Date.now() + timeoutMs
  for (;;) {
    const value = f()
    if (value !== undefined) return value
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** The numbers the page shows: big figures, shard rows, and the latest value of each chart's series. */
const readPage = (page: Page) =>
  page.evaluate(() => {
    const number = (selector: string) => Number((document.querySelector(selector)?.textContent ?? "").replace(/,/g, ""))
    const chart = (id: string) =>
      Array.from(document.querySelectorAll(`[data-chart="${id}"] .u-legend .u-series`)).slice(1).map((row) => ({
        label: row.querySelector(".u-label")?.textContent ?? "",
        value: Number((row.querySelector(".u-value")?.textContent ?? "").replace(/,/g, ""))
      }))
    return {
      updates: Number(document.body.dataset.updates),
      connection: document.querySelector("#connection")?.getAttribute("data-state"),
      totalIn: number("#total-in"),
      totalOut: number("#total-out"),
      deadLetters: number("#dead-letters"),
      shards: Array.from(document.querySelectorAll("#shards tbody tr"), (tr) =>
        Array.from(tr.querySelectorAll("td"), (td) => td.textContent ?? "")),
      activityCount: chart("activity-count"),
      activityP95: chart("activity-p95"),
      customerCount: chart("customer-count"),
      deadLetterRows: document.querySelectorAll("#recent-dead-letters tbody tr").length,
      checkpointNote: document.querySelector("#checkpoint-note")?.textContent ?? ""
    }
  })

/** The page read again every half second until `done` holds of it or `timeoutMs` passed: its last reading. */
const readUntil = async (
  page: Page,
  done: (read: Awaited<ReturnType<typeof readPage>>) => boolean,
  timeoutMs: number
) => {
  const until = Date.now() + timeoutMs
  for (;;) {
    const read = await readPage(page)
    if (done(read) || Date.now() > until) return read
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}

/**
 * How long each step may wait for the page: generous, since a machine busy with other work moves slowly
 * (the demo runs for at most 600 s, and is stopped with Ctrl-C once the page has been read).
 */
const patience = 240_000

describe.skipIf(Chromium.skip)("the demo's dashboard", () => {
  it("shows live numbers and charts of the window results; Ctrl-C then ends the demo with its checks holding", async () => {
    const demo = startDemo()
    const browser = await Chromium.launch()
    try {
      const url = await waitFor("the dashboard URL", () => /dashboard: (http:\/\/\S+)/.exec(demo.output())?.[1], patience)
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
      await page.goto(url)
      await page.waitForFunction(() => Number(document.body.dataset.updates) >= 3, undefined, { timeout: patience })
      // the window results reach the charts: every activity has a count this minute
      await page.waitForFunction(
        () => {
          const values = Array.from(document.querySelectorAll("[data-chart=\"activity-count\"] .u-legend .u-series .u-value"))
            .slice(1).map((v) => Number((v.textContent ?? "").replace(/,/g, "")))
          // and the workers' totals, which count a batch once all of it is done (its results first)
          const totalIn = Number((document.querySelector("#total-in")?.textContent ?? "").replace(/,/g, ""))
          return values.length === 6 && values.every((v) => v > 0) && totalIn > 0
        },
        undefined,
        { timeout: patience }
      )
      const first = await readPage(page)
      // the numbers move: more records in, and the counts of the current minute grow (or a new minute
      // starts); waited for, not timed (a busy machine moves slowly)
      const activityTotal = (counts: ReadonlyArray<{ readonly value: number }>) => counts.reduce((sum, s) => sum + s.value, 0)
      await page.waitForFunction(
        ({ totalIn, activities }) => {
          const number = (text: string | null | undefined) => Number((text ?? "").replace(/,/g, ""))
          const counts = Array.from(document.querySelectorAll("[data-chart=\"activity-count\"] .u-legend .u-series .u-value"))
            .slice(1).reduce((sum, v) => sum + number(v.textContent), 0)
          return number(document.querySelector("#total-in")?.textContent) > totalIn && counts !== activities
        },
        { totalIn: first.totalIn, activities: activityTotal(first.activityCount) },
        { timeout: patience }
      )
      // every shard shows the last record it processed: read again until it does, since a lease that just
      // moved to the other worker shows its checkpoint until its new owner's first batch is done
      const later = await readUntil(page, (read) => read.shards.length === 4 && read.shards.every((cells) => /^\d{20,}$/.test(cells[2])), patience)

      expect(first.connection).toBe("live")
      expect(first.totalIn).toBeGreaterThan(0)
      expect(later.totalIn).toBeGreaterThan(first.totalIn)
      expect(later.totalOut).toBeGreaterThan(0)
      expect(later.shards).toHaveLength(4)
      expect(new Set(later.shards.map((cells) => cells[1]))).toEqual(new Set(["worker-1", "worker-2"]))
      // each shard's last processed record beside its checkpoint, which the window stage holds back: the
      // page says so, and why
      expect(later.shards.map((cells) => [/^\d{20,}$/.test(cells[2]), cells[3]])).toEqual(later.shards.map(() => [true, "TRIM_HORIZON"]))
      expect(later.checkpointNote).toContain("the window stage keeps each checkpoint at the earliest record of its open windows")
      expect(later.activityCount.map((s) => s.label).sort()).toEqual(["add-to-cart", "checkout", "login", "logout", "search", "view"])
      expect(activityTotal(later.activityCount)).not.toBe(activityTotal(first.activityCount))
      // durations spread around each activity's typical duration, one in 20 four times slower
      const p95 = Object.fromEntries(later.activityP95.map((s) => [s.label, s.value]))
      expect(p95.checkout).toBeGreaterThan(p95.view)
      for (const value of Object.values(p95)) expect(value).toBeGreaterThan(0)
      expect(later.customerCount.length).toBe(5)
      expect(later.customerCount.every((s) => /^C\d+$/.test(s.label) && s.value > 0)).toBe(true)
      // about 1 % of the messages are broken: the demo dead-letters them, the page lists them
      expect(later.deadLetters).toBeGreaterThan(0)
      expect(later.deadLetterRows).toBeGreaterThan(0)

      // the results API of the same server: merged windows of a key, behind the API key
      const base = url.replace(/\/dashboard$/, "")
      const answer = await fetch(`${base}/v1/results/activity-per-minute/${encodeURIComponent("activity:login")}`, {
        headers: { authorization: "Bearer demo-key" }
      })
      expect(answer.status).toBe(200)
      const body = await answer.json() as { results: ReadonlyArray<{ key: string; count: number; value: { count: number } }> }
      expect(body.results.length).toBeGreaterThan(0)
      expect(body.results.every((r) => r.key === "activity:login" && r.count > 0 && r.value.count === r.count)).toBe(true)
      const status = await (await fetch(`${base}/v1/status`)).json() as { snapshot: { shards: ReadonlyArray<unknown> } }
      expect(status.snapshot.shards).toHaveLength(4)
      expect((await fetch(`${base}/v1/results/activity-per-minute/activity:login`)).status).toBe(401)

      mkdirSync(outputDir, { recursive: true })
      await page.screenshot({ path: `${outputDir}demo-dashboard.png`, fullPage: true })
    } finally {
      await browser.close()
      demo.child.kill("SIGINT")
    }
    const code = await demo.exited
    expect(demo.output()).toContain("drained: every produced record was processed")
    expect(demo.output()).toMatch(/dead letters are the broken messages: true; conservation holds/)
    expect(code).toBe(0)
  }, 1_500_000)
})
