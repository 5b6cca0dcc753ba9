import { describe, expect, it } from "@effect/vitest"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { bundle, coldStart, docsCommand } from "./bundle.js"

describe("examples/lambda-consumer bundled as docs/lambda.md says", () => {
  it("is one ES module with a source map, without the local emulators, and its handler starts", async () => {
    expect(docsCommand()).toContain("src/handler.ts")
    const dir = mkdtempSync(join(tmpdir(), "tributary-lambda-bundle-"))
    try {
      const file = join(dir, "index.mjs")
      const { bytes, warnings } = await bundle(file)
      expect(warnings).toBe("")
      expect(bytes).toBeGreaterThan(0)
      const code = readFileSync(file, "utf8")
      expect(code).toContain("//# sourceMappingURL=index.mjs.map")
      expect(JSON.parse(readFileSync(`${file}.map`, "utf8")).sources.some((s: string) => s.endsWith("src/handler.ts"))).toBe(true)
      // the function's code only: neither the emulators nor the test helpers
      for (const name of ["kinesalite", "dynalite", "s3rver", "vitest"]) expect(code).not.toContain(`node_modules/${name}/`)
      const { response } = await coldStart(file)
      expect(response).toMatchObject({ batchItemFailures: [], state: { tributary: { version: 1, segment: 0 } } })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 180_000)
})
