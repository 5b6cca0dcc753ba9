/**
 * `bench lambda-bundle`: the size of the function bundled as docs/lambda.md says, and its cold start in a
 * fresh Node process (import the bundle, build the handler's layer in the first invocation): the median of
 * several processes.
 *
 *   pnpm exec tsx examples/lambda-consumer/bench/main.ts
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { bundle, coldStart } from "../test/bundle.js"

const runs = 7
const dir = mkdtempSync(join(tmpdir(), "tributary-lambda-bundle-"))
try {
  const file = join(dir, "index.mjs")
  const { bytes } = await bundle(file)
  const millis: Array<number> = []
  for (let i = 0; i < runs; i++) millis.push((await coldStart(file)).millis)
  const median = millis.sort((a, b) => a - b)[runs >> 1]
  console.log(`bench lambda-bundle: ${(bytes / 1024).toFixed(0)} KiB, init ${median.toFixed(0)} ms`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
