import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { describe, expect, it } from "@effect/vitest"

const run = promisify(execFile)
const root = fileURLToPath(new URL("..", import.meta.url))

describe("examples/activity-analytics", () => {
  it("runs as written and prints its counts", async () => {
    const { stdout } = await run(process.execPath, ["--import", "tsx", "src/main.ts"], { cwd: root, timeout: 100_000 })
    expect(stdout).toContain("records in 10000 = out 9800 + dead letters 200 + late 0 + filtered 0")
    // 4 activities over the 6 to 7 minutes the messages span
    const rows = stdout.split("\n").filter((line) => /^ {2}\d\d:\d\d /.test(line))
    expect(rows.length).toBeGreaterThanOrEqual(24)
    expect(rows.reduce((n, line) => n + Number(/n= *(\d+)/.exec(line)![1]), 0)).toBe(9800)
    expect(stdout).toContain(`csv: DateUnixMs: Expected number, actual "yesterday"`)
  }, 120_000)
})
