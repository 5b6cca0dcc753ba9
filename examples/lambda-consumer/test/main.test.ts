import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { layer, program, views } from "../src/main.js"

describe("examples/lambda-consumer", () => {
  it.scopedLive("aggregates every view exactly once, per page, despite the throttled first write", () =>
    Effect.gen(function*() {
      const { deadLetters, results, summary } = yield* program
      expect(summary).toMatchObject({ records: 10_001, failedBatches: [] })
      expect(summary.functionErrors).toBeGreaterThanOrEqual(1)
      expect(deadLetters).toHaveLength(1)
      const expected = new Map<string, number>()
      for (const v of views()) expected.set(v.page, (expected.get(v.page) ?? 0) + 1)
      const got = new Map<string, number>()
      for (const r of results) got.set(r.key, (got.get(r.key) ?? 0) + r.value.views)
      expect(got).toEqual(expected)
    }).pipe(Effect.provide(layer)), 60_000)

  it("runs as written", async () => {
    const root = fileURLToPath(new URL("..", import.meta.url))
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: root,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" }
    })
    expect(stdout).toContain("records 10001")
    expect(stdout).toContain("views aggregated: 10000")
    expect(stdout.match(/views, mean render/g)).toHaveLength(8)
  }, 60_000)
})
