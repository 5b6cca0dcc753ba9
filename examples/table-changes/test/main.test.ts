import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { layer, program } from "../src/main.js"

/** What the workload adds per customer, computed from the writes themselves. */
const expected = () => {
  const out: Record<string, { value: number; changes: number }> = {}
  for (let i = 0; i < 120; i++) {
    const c = (out[`customer-${i % 8}`] ??= { value: 0, changes: 0 })
    const amount = 20 + (i * 7) % 90 + (i % 7 === 3 ? 5 : 0)
    const deleted = i % 10 === 5 || i % 30 === 12
    c.value += deleted ? 0 : amount
    c.changes += 1 + (i % 2 === 0 ? 1 : 0) + (i % 6 === 0 ? 1 : 0) + (i % 7 === 3 ? 1 : 0) + (deleted ? 1 : 0)
  }
  return out
}

describe("examples/table-changes", () => {
  it.scopedLive("both routes aggregate every change once, and their result tables are equal", () =>
    Effect.gen(function*() {
      const { changes, consumed, deadLetters, fromKinesis, fromLambda, lambda } = yield* program
      expect(changes).toBe(234)
      expect(lambda).toMatchObject({ records: 234, failedBatches: [], functionErrors: 0 })
      expect(consumed).toMatchObject({ recordsIn: 234, deadLettered: 1 })
      // the order with an unknown status: one dead letter per route, naming the attribute
      expect(deadLetters.map((l) => l.reason)).toEqual([
        "newImage.status: Expected \"placed\" | \"paid\" | \"shipped\", actual \"refunded\"",
        "newImage.status: Expected \"placed\" | \"paid\" | \"shipped\", actual \"refunded\""
      ])
      expect(fromKinesis.rows).toEqual(fromLambda.rows)
      const got: Record<string, { value: number; changes: number }> = {}
      for (const row of fromLambda.rows) {
        const c = (got[row.customer] ??= { value: 0, changes: 0 })
        c.value += row.value
        c.changes += row.changes
      }
      expect(got).toEqual(expected())
      const transitions: Record<string, number> = {}
      for (const row of fromKinesis.rows) {
        for (const [label, n] of Object.entries(row.transitions)) transitions[label] = (transitions[label] ?? 0) + n
      }
      expect(transitions).toEqual({
        "new→placed": 120,
        "placed→paid": 60,
        "paid→shipped": 20,
        "placed→deleted": 12,
        "shipped→expired": 4
      })
    }).pipe(Effect.provide(layer)), 60_000)

  it("runs as written", async () => {
    const root = fileURLToPath(new URL("..", import.meta.url))
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: root,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" }
    })
    expect(stdout).toContain("table orders: 234 changes recorded (2 stream shards)")
    expect(stdout).toContain("2. Kinesis Data Streams for DynamoDB -> Consumer: 234 records")
    expect(stdout).toContain("status transitions: new→placed 120, paid→shipped 20, placed→deleted 12, placed→paid 60, shipped→expired 4")
    expect(stdout.match(/^dead letter /gm)).toHaveLength(2)
    expect(stdout).toMatch(/the two routes' results are identical \(\d+ rows\)/)
  }, 60_000)
})
