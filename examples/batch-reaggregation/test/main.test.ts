import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { program } from "../src/main.js"

describe("examples/batch-reaggregation", () => {
  it.live("stream and batch agree: 20,000 records through kinesalite, then the archive, into two tables", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const { deadLetters, fromBatch, fromStream, runs, streamed } = yield* program({
        records: 20_000,
        every: "1 hour",
        duration: 0,
        print: (line) => lines.push(line)
      })
      expect(streamed).toMatchObject({ recordsIn: 20_000, recordsOut: 19_979, deadLettered: 21, late: 0 })
      expect(fromStream.length).toBeGreaterThan(50)
      expect(fromBatch).toStrictEqual(fromStream)
      // every window is merged from several shards' partials, and counts every valid record once
      // (the first and last window of a device may hold a handful of readings, depending on the clock: those
      // can come from one shard)
      expect(fromStream.filter((r) => r.count >= 10).every((r) => r.partials > 1)).toBe(true)
      expect(fromStream.reduce((sum, r) => sum + r.count, 0)).toBe(19_979)
      expect(fromStream.every((r) => r.value.n === r.count)).toBe(true)
      // the batch dead-lettered the same records again: the same items
      expect(deadLetters).toBe(21)
      expect(runs).toMatchObject([{ trigger: "manual", outcome: "succeeded", records: 20_000 }])
      expect(lines).toContain(`windows: stream ${fromStream.length}, batch ${fromBatch.length}, identical: true`)
    }), 120_000)

  it("runs as written", async () => {
    const root = fileURLToPath(new URL("..", import.meta.url))
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: root,
      // the process's own limit, inside the test's
      timeout: 100_000,
      env: { ...process.env, RECORDS: "3000", EVERY: "1 second", SCHEDULED_RUNS: "2" }
    })
    expect(stdout).toContain("stream: 3000 records in, 2996 aggregated, 4 dead letters, 0 late")
    expect(stdout).toMatch(/run \d+-1 \(manual\): succeeded, 3000 records/)
    // the manual run and at least two scheduled ones
    expect(stdout.match(/ schedule succeeded records=3000 /g)?.length).toBeGreaterThanOrEqual(2)
    expect(stdout).toMatch(/windows: stream (\d+), batch \1, identical: true/)
    expect(stdout).toContain("dead letters in DynamoDB: 4")
  }, 120_000)
})
