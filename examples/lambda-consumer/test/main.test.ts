import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { layer, program, views } from "../src/main.js"

describe("examples/lambda-consumer", () => {
  it.scopedLive("aggregates every view exactly once in the DynamoDB table, per page, despite the throttled first write", () =>
    Effect.gen(function*() {
      const { deadLetters, partials, results, summary } = yield* program
      expect(summary).toMatchObject({ records: 10_001, failedBatches: [] })
      expect(summary.functionErrors).toBeGreaterThanOrEqual(1)
      expect(deadLetters).toHaveLength(1)
      // one item per shard, page and window: at least one per page, at most one per shard and page per window
      expect(partials).toBeGreaterThanOrEqual(8)
      const expected = new Map<string, { views: number; millis: number }>()
      for (const v of views()) {
        const e = expected.get(v.page) ?? { views: 0, millis: 0 }
        expected.set(v.page, { views: e.views + 1, millis: e.millis + v.millis })
      }
      const got = new Map<string, { views: number; millis: number }>()
      for (const r of results) {
        expect(r.count).toBe(r.value.views)
        const g = got.get(r.key) ?? { views: 0, millis: 0 }
        got.set(r.key, { views: g.views + r.value.views, millis: g.millis + (r.value.meanMillis ?? 0) * r.value.views })
      }
      expect([...got.keys()].sort()).toEqual([...expected.keys()].sort())
      for (const [page, e] of expected) {
        expect(got.get(page)!.views).toBe(e.views)
        expect(got.get(page)!.millis).toBeCloseTo(e.millis, 6)
      }
    }).pipe(Effect.provide(layer)), 60_000)

  it("runs as written", async () => {
    const root = fileURLToPath(new URL("..", import.meta.url))
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: root,
      // the process's own limit, inside the test's
      timeout: 100_000,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" }
    })
    expect(stdout).toContain("records 10001")
    expect(stdout).toContain("DynamoDB table page-results")
    expect(stdout).toContain("views aggregated: 10000")
    expect(stdout.match(/views, mean render/g)).toHaveLength(8)
  }, 120_000)
})
