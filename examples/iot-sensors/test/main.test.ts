import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { program, readings } from "../src/main.js"

describe("examples/iot-sensors", () => {
  it.effect("each window holds min, max and mean of the readings in its 10 seconds", () =>
    Effect.gen(function*() {
      const { results, summary } = yield* program
      expect(summary).toMatchObject({ recordsIn: 721, recordsOut: 720, deadLettered: 1 })
      const all = readings()
      for (const r of results) {
        const inside = all.filter((x) => x.device === r.key && x.at >= r.start && x.at < r.end)
        const celsius = inside.map((x) => x.celsius)
        expect(r.count).toBe(inside.length)
        expect(r.value.celsius.min).toBe(Math.min(...celsius))
        expect(r.value.celsius.max).toBe(Math.max(...celsius))
        expect(r.value.celsius.mean).toBeCloseTo(celsius.reduce((a, b) => a + b, 0) / celsius.length, 9)
        expect(r.value.humidity.max).toBe(Math.max(...inside.map((x) => x.humidity)))
        expect(r.end - r.start).toBe(10_000)
      }
      // one window starting every second, per device, from 9 s before the first reading to the last one
      expect(new Set(results.map((r) => r.start % 1_000))).toStrictEqual(new Set([0]))
    }))

  it("runs as written", async () => {
    const root = fileURLToPath(new URL("..", import.meta.url))
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "src/main.ts"], { cwd: root, timeout: 100_000 })
    expect(stdout).toContain("readings in 721, windowed 720, dead letters 1")
    expect(stdout.match(/n=\d+ °C min/g)).toHaveLength(6)
  }, 120_000)
})
