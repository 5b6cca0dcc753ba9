/**
 * Summarises a CPU profile of a consumer bench side (`BENCH_PROFILE=<dir>` runs the sides from their
 * sources with `--cpu-prof`): self time by package and the functions with the most self time, counting
 * only the samples after the side's start (its modules loaded; `start.<pid>.json` beside the profiles).
 *
 *   tsx packages/consumer/bench/profile.ts <dir>/CPU.<...>.<pid>.0.001.cpuprofile [top]
 */
import * as Fs from "node:fs"
import * as Path from "node:path"

interface Node {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
}
interface Profile {
  readonly nodes: ReadonlyArray<Node>
  readonly startTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const [file, topArg] = process.argv.slice(2)
const profile = JSON.parse(Fs.readFileSync(file, "utf8")) as Profile
const pid = Path.basename(file).split(".")[3]
const markFile = Path.join(Path.dirname(file), `start.${pid}.json`)
const from = Fs.existsSync(markFile) ? (JSON.parse(Fs.readFileSync(markFile, "utf8")) as { monotonicMicros: number }).monotonicMicros : 0

const packageOf = (url: string): string => {
  if (url === "") return "(native)"
  const dependency = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((@[^/]+\/)?[^/]+)/.exec(url)
  if (dependency !== null) return dependency[1]
  const own = /\/packages\/([^/]+)\//.exec(url)
  if (own !== null) return `@tributary/${own[1]}`
  return url.startsWith("node:") ? "node" : url
}

const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
const byPackage = new Map<string, number>()
const byFunction = new Map<string, number>()
const add = (map: Map<string, number>, key: string, micros: number) => map.set(key, (map.get(key) ?? 0) + micros)
let at = profile.startTime
let busy = 0
for (let i = 0; i < profile.samples.length; i++) {
  at += profile.timeDeltas[i]
  const micros = profile.timeDeltas[i + 1] ?? 0
  if (at < from) continue
  const { functionName, lineNumber, url } = nodes.get(profile.samples[i])!.callFrame
  if (functionName === "(idle)") continue
  busy += micros
  const special = functionName === "(garbage collector)" || functionName === "(program)"
  add(byPackage, special ? functionName : packageOf(url), micros)
  add(byFunction, `${functionName || "(anonymous)"} ${packageOf(url)} ${Path.basename(url)}:${lineNumber + 1}`, micros)
}
const print = (map: Map<string, number>, top: number) => {
  for (const [key, micros] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${(micros / 1000).toFixed(0).padStart(8)} ms  ${key}`)
  }
}
console.log(`busy ${(busy / 1e6).toFixed(2)} s after the start`)
print(byPackage, 15)
console.log("top self time:")
print(byFunction, Number(topArg ?? 40))
