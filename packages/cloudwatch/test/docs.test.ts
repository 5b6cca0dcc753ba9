/**
 * docs/operations.md names every CloudWatch metric as `CloudWatchMetrics.definitions` does (its examples
 * run in packages/opentelemetry/test/docs.test.ts).
 */
import { expect, it } from "@effect/vitest"
import * as DocBlocks from "@tributary/core/test-utils/DocBlocks"
import { CloudWatchMetrics } from "../src/index.js"

it("docs/operations.md: the table of names and dimensions is the definitions'", () => {
  const page = DocBlocks.read("operations.md")
  const table = page.slice(page.indexOf("| CloudWatch name | Unit | Dimension sets |"))
  const rows = Array.from(table.matchAll(/^\| `(\w+)` \| (\w+) \| ([^|]+) \| `(\w+)` \|$/gm), (m) => [m[4], m[1], m[2], m[3].trim()])
  expect(rows).toStrictEqual(
    Object.entries(CloudWatchMetrics.definitions).map(([metric, d]) => [
      metric,
      d.name,
      d.unit,
      d.dimensionSets.map((set) => set.join(", ")).join("; ")
    ])
  )
})
