import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { describe, expect, it } from "@effect/vitest"
import { parseDuration } from "../src/internal/duration.js"
import { message } from "../src/Traffic.js"

describe("Demo", () => {
  it("messages: a quarter per format, about 1% broken", () => {
    const all = Array.from({ length: 4000 }, (_, i) => message(i, 1_700_000_000_000))
    expect(all.filter((m) => m.broken).length).toBe(40)
    expect(all.filter((m) => m.data.startsWith("{")).length).toBeGreaterThan(900)
    expect(all.filter((m) => m.data.startsWith("<")).length).toBeGreaterThan(900)
    expect(all.filter((m) => m.data.startsWith("customer=")).length).toBeGreaterThan(900)
    expect(all.filter((m) => m.data.startsWith("CustomerId,")).length).toBeGreaterThan(900)
    expect(parseDuration("8s").toString()).toBe(parseDuration("8 seconds").toString())
  })

  it("runs end to end: gateway, two workers, results table, job; conservation holds", async () => {
    const root = fileURLToPath(new URL("..", import.meta.url))
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "src/Demo.ts", "--duration", "8s", "--job-every", "2s"],
      { cwd: root, env: { ...process.env }, timeout: 55_000 }
    ) // rejects on a non-zero exit code
    expect(stdout).toMatch(/gateway: http:\/\/127\.0\.0\.1:\d+/)
    expect(stdout).toContain("drained: every produced record was processed")
    expect(stdout).toContain("workers stopped: 0 of 4 leases still owned")
    expect(stdout).toMatch(/summary: produced [1-9]\d* .*dead letters are the broken messages: true; conservation holds/)
    expect(stdout).toMatch(/re-aggregation job: [1-9]\d* scheduled runs succeeded .*; last run succeeded, [1-9]\d* records from the archive; batch table aggregated (\d+) \(stream table \1\)/)
  }, 60_000)
})
