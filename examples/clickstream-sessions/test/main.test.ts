import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { Click } from "../src/main.js"
import { clicks, commuter, gap, maxOutOfOrderness, program } from "../src/main.js"

/** Sessions computed directly: each user's clicks sorted by time, split where two are more than `gap` apart. */
const sessionize = (all: ReadonlyArray<Click>) => {
  const byUser = new Map<string, Array<Click>>()
  for (const c of all) byUser.set(c.user, [...(byUser.get(c.user) ?? []), c])
  const sessions: Array<{ user: string; clicks: Array<Click> }> = []
  for (const user of [...byUser.keys()].sort()) {
    const sorted = byUser.get(user)!.sort((a, b) => a.at - b.at)
    let current: Array<Click> = []
    for (const c of sorted) {
      if (current.length > 0 && c.at - current[current.length - 1].at > gap) {
        sessions.push({ user, clicks: current })
        current = []
      }
      current.push(c)
    }
    sessions.push({ user, clicks: current })
  }
  return sessions.map(({ clicks, user }) => ({
    key: user,
    start: clicks[0].at,
    end: clicks[clicks.length - 1].at + gap,
    count: clicks.length,
    value: {
      clicks: clicks.length,
      pages: [...new Set(clicks.map((c) => c.page))].sort(),
      landing: clicks[0].page,
      exit: clicks[clicks.length - 1].page,
      firstAt: clicks[0].at,
      lastAt: clicks[clicks.length - 1].at,
      durationMs: clicks[clicks.length - 1].at - clicks[0].at
    }
  }))
}

describe("examples/clickstream-sessions", () => {
  it("the generated clicks arrive out of order, within the bound, in both formats", () => {
    const { bridge, clicks: all } = clicks()
    let maxSeen = -Infinity
    let disorder = 0
    let outOfOrder = 0
    for (const c of all) {
      if (c.at < maxSeen) outOfOrder++
      disorder = Math.max(disorder, maxSeen - c.at)
      maxSeen = Math.max(maxSeen, c.at)
    }
    expect(outOfOrder).toBeGreaterThan(50)
    expect(disorder).toBeGreaterThan(2 * 60_000)
    expect(disorder).toBeLessThan(maxOutOfOrderness)
    expect(all.filter((c) => c.format === "json").length).toBeGreaterThan(100)
    expect(all.filter((c) => c.format === "csv").length).toBeGreaterThan(100)
    // the bridge arrives after a click that happened after it, of the same user
    const later = all.findIndex((c) => c.user === commuter && c.at > bridge.at)
    expect(all.indexOf(bridge)).toBeGreaterThan(later)
    // no two clicks of a user exactly `gap` apart: the direct split and the windows agree at the boundary
    for (const user of new Set(all.map((c) => c.user))) {
      const times = all.filter((c) => c.user === user).map((c) => c.at).sort((a, b) => a - b)
      for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).not.toBe(gap)
    }
  })

  it.effect("sessions are those of the direct computation, the bridged one included", () =>
    Effect.gen(function*() {
      const { deadLetters, sessions, summary } = yield* program
      const { bridge, clicks: all } = clicks()
      expect(summary).toMatchObject({ recordsIn: all.length + 2, recordsOut: all.length, deadLettered: 2, late: 0, filtered: 0 })
      expect(deadLetters.map((letter) => [letter.format, letter.reason])).toStrictEqual([
        ["json", "page: is missing"],
        ["csv", "row has 2 fields, expected 3 (user, at, page) (line 1, column 1)"]
      ])

      const expected = sessionize(all)
      expect(sessions.every((s) => s.firing === "onTime")).toBe(true)
      expect(sessions.map(({ count, end, key, start, value }) => ({ key, start, end, count, value }))).toStrictEqual(expected)
      expect(sessions.length).toBeGreaterThan(60)
      expect(new Set(sessions.map((s) => s.key)).size).toBe(25)

      // the commuter: one session from 09:10:04 to 09:55:48, two without the bridging click
      const mine = sessions.filter((s) => s.key === commuter)
      expect(mine.map((s) => [s.value.clicks, s.value.landing, s.value.exit])).toStrictEqual([
        [8, "/", "/checkout/done"],
        [1, "/account", "/account"]
      ])
      expect(mine[0].value.durationMs).toBe(45 * 60_000 + 44_000)
      const without = sessionize(all.filter((c) => c !== bridge)).filter((s) => s.key === commuter)
      expect(without.map((s) => s.value.clicks)).toStrictEqual([4, 3, 1])
    }))

  it("runs as written", async () => {
    const root = fileURLToPath(new URL("..", import.meta.url))
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "src/main.ts"], { cwd: root, timeout: 100_000 })
    const { clicks: all } = clicks()
    const expected = sessionize(all)
    expect(stdout).toContain(`records in ${all.length + 2} = out ${all.length} + dead letters 2 + late 0 + filtered 0`)
    expect(stdout).toContain(`${expected.length} sessions of 25 users`)
    expect(stdout).toContain("  09:10:04-09:55:48  45m44s   8 clicks  7 pages  / -> /checkout/done")
    expect(stdout).toContain("    one session: the click of 09:47:12 arrived at 09:51:12")
    // maya, amara, ben and chloe: one line per session
    const shown = expected.filter((s) => ["maya", "amara", "ben", "chloe"].includes(s.key)).length
    expect(stdout.match(/^ {2}\d\d:\d\d:\d\d-\d\d:\d\d:\d\d /gm)).toHaveLength(shown)
    const bounces = expected.filter((s) => s.count === 1).length
    expect(stdout).toContain(`bounce rate ${((100 * bounces) / expected.length).toFixed(0)}% (${bounces} one-click sessions)`)
    expect(stdout).toContain("dead letters: json: page: is missing; csv: row has 2 fields")
  }, 120_000)
})
