import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { attackers, crawler, program, queryOf, threshold, traffic } from "../src/main.js"

/** The windows computed directly from the generated lines: per client IP and minute, exact. */
const expected = () => {
  const lines = traffic()
  const windows = new Map<string, { ip: string; start: number; requests: number; queries: Set<string> }>()
  for (const line of lines) {
    if (line.kind !== "request") continue
    const start = line.time! - (line.time! % 60_000)
    const id = `${line.ip} ${start}`
    let w = windows.get(id)
    if (w === undefined) windows.set(id, w = { ip: line.ip!, start, requests: 0, queries: new Set() })
    w.requests++
    const query = queryOf(line.path!)
    if (query !== null) w.queries.add(query)
  }
  const count = (kind: string) => lines.filter((line) => line.kind === kind).length
  return { lines, windows, count }
}

describe("examples/log-intrusion", () => {
  it.effect("flags the attackers' minutes and nobody else's; malformed lines are the dead letters", () =>
    Effect.gen(function*() {
      const { alerts, deadLetters, late, summary, windows } = yield* program
      const { count, lines, windows: direct } = expected()

      // every line counted once
      expect(summary).toMatchObject({
        recordsIn: lines.length,
        recordsOut: count("request"),
        deadLettered: count("malformed"),
        late: count("late"),
        filtered: count("noise")
      })
      expect(count("malformed")).toBe(5)
      expect(count("late")).toBe(2)

      // one result per client and minute, with the exact request count and a distinct count near the exact one
      expect(windows.every((w) => w.firing === "onTime" && w.end - w.start === 60_000)).toBe(true)
      expect(new Set(windows.map((w) => `${w.key} ${w.start}`))).toStrictEqual(new Set(direct.keys()))
      for (const w of windows) {
        const d = direct.get(`${w.key} ${w.start}`)!
        expect(w.value.requests).toBe(d.requests)
        expect(w.count).toBe(d.requests)
        expect(Math.abs(w.value.distinctQueries - d.queries.size)).toBeLessThanOrEqual(Math.max(1, 0.03 * d.queries.size))
        expect(w.value.distinctQueries).toBeLessThanOrEqual(w.value.withQuery)
      }
      // no minute is near the threshold, so the estimate cannot flip a decision
      for (const d of direct.values()) expect(Math.abs(d.queries.size - threshold)).toBeGreaterThanOrEqual(5)

      // the alerts: exactly the minutes whose exact distinct count is above the threshold, all the attackers'
      const flagged = [...direct.values()].filter((d) => d.queries.size > threshold)
      expect(new Set(alerts.map((a) => `${a.ip} ${a.start}`))).toStrictEqual(new Set(flagged.map((d) => `${d.ip} ${d.start}`)))
      expect(new Set(alerts.map((a) => a.ip))).toStrictEqual(new Set(attackers))
      expect(alerts).toHaveLength(4)
      for (const a of alerts) {
        expect(a.samples).toHaveLength(3)
        expect(a.samples.every((q) => /^(id|q)=.*(OR|UNION|SLEEP|DROP)/.test(q))).toBe(true)
      }
      expect(alerts.find((a) => a.ip === attackers[0])!.agent).toMatch(/^sqlmap\//)
      // the crawler sends the most requests, with few distinct query strings
      const crawled = windows.filter((w) => w.key === crawler)
      expect(Math.min(...crawled.map((w) => w.value.requests))).toBeGreaterThan(200)
      expect(Math.max(...crawled.map((w) => w.value.distinctQueries))).toBeLessThanOrEqual(3)

      // dead letters: the malformed lines, as they were
      const text = new TextDecoder()
      expect(deadLetters.every((letter) => letter.stage === "decode" && letter.format === "apacheLog")).toBe(true)
      expect(new Set(deadLetters.map((letter) => text.decode(letter.data)))).toStrictEqual(
        new Set(lines.filter((line) => line.kind === "malformed").map((line) => line.text))
      )
      // late: the two re-sent lines, to the late sink (not the dead letters)
      expect(late.map((r) => `${r.ip} ${r.time} ${r.path}`).sort()).toStrictEqual(
        lines.filter((line) => line.kind === "late").map((line) => `${line.ip} ${line.time} ${line.path}`).sort()
      )
    }))

  it("runs as written", async () => {
    const root = fileURLToPath(new URL("..", import.meta.url))
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "src/main.ts"], { cwd: root, timeout: 100_000 })
    const { count, lines } = expected()
    expect(stdout).toContain(
      `records in ${lines.length} = out ${count("request")} + dead letters 5 + late 2 + filtered ${count("noise")}`
    )
    expect(stdout).toContain("4 alerts (more than 20 distinct query strings in a minute)")
    expect(stdout.match(/^ {2}ALERT 185\.220\.101\.7 /gm)).toHaveLength(3)
    expect(stdout.match(/^ {2}ALERT 45\.146\.165\.12 +09:07-09:08 +28 distinct query strings in 28 requests/gm)).toHaveLength(1)
    expect(stdout).toContain("?id=1' OR 1=1-- -")
    expect(stdout).toMatch(/not flagged: the busiest client, 66\.249\.66\.1 at 09:\d\d, 2\d\d requests with [0-3] distinct/)
    expect(stdout).toContain("dead letters (malformed lines): 5")
    expect(stdout).toContain("apacheLog: status must be 3 digits, found '2OO'")
  }, 120_000)
})
