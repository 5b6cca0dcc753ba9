/**
 * The shape of the source tree, over every package: no import cycle between modules, and no module over
 * 700 lines. Imports are found and resolved by TypeScript itself (`preProcessFile`, `resolveModuleName`
 * with the repository's compiler options), so `import type`, re-exports and imports of other packages
 * (`@tributary/kinesis/Kinesis`, through their `exports`) all count.
 *
 *   pnpm exec vitest run --project core test/Structure.test.ts
 */
import { describe, expect, it } from "@effect/vitest"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..")
const maxLines = 700

const sourceFiles = (): ReadonlyArray<string> => {
  const out: Array<string> = []
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry)
      if (statSync(path).isDirectory()) walk(path)
      else if (path.endsWith(".ts") && !path.endsWith(".d.ts")) out.push(path)
    }
  }
  for (const pkg of readdirSync(join(root, "packages"))) {
    const src = join(root, "packages", pkg, "src")
    if (statSync(join(root, "packages", pkg)).isDirectory() && existsDir(src)) walk(src)
  }
  return out.sort()
}

const existsDir = (path: string) => {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

const compilerOptions: ts.CompilerOptions = (() => {
  const config = ts.readConfigFile(join(root, "tsconfig.base.json"), ts.sys.readFile)
  return ts.convertCompilerOptionsFromJson(config.config.compilerOptions, root).options
})()

/** Each source file's imports of other source files (resolved, real paths). */
const importGraph = (files: ReadonlyArray<string>): ReadonlyMap<string, ReadonlyArray<string>> => {
  const known = new Set(files)
  const graph = new Map<string, Array<string>>()
  for (const file of files) {
    const info = ts.preProcessFile(readFileSync(file, "utf8"), true, true)
    const targets = new Set<string>()
    for (const imported of info.importedFiles) {
      const resolved = ts.resolveModuleName(imported.fileName, file, compilerOptions, ts.sys).resolvedModule
      if (resolved === undefined) continue
      const target = ts.sys.realpath?.(resolved.resolvedFileName) ?? resolved.resolvedFileName
      if (known.has(target) && target !== file) targets.add(target)
    }
    graph.set(file, [...targets].sort())
  }
  return graph
}

/** The strongly connected components with more than one module (Tarjan), each a cycle or several. */
const cycles = (graph: ReadonlyMap<string, ReadonlyArray<string>>): ReadonlyArray<ReadonlyArray<string>> => {
  let index = 0
  const indices = new Map<string, number>()
  const lowlinks = new Map<string, number>()
  const stack: Array<string> = []
  const onStack = new Set<string>()
  const out: Array<Array<string>> = []
  const connect = (v: string) => {
    indices.set(v, index)
    lowlinks.set(v, index)
    index++
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!indices.has(w)) {
        connect(w)
        lowlinks.set(v, Math.min(lowlinks.get(v)!, lowlinks.get(w)!))
      } else if (onStack.has(w)) {
        lowlinks.set(v, Math.min(lowlinks.get(v)!, indices.get(w)!))
      }
    }
    if (lowlinks.get(v) === indices.get(v)) {
      const component: Array<string> = []
      let w: string
      do {
        w = stack.pop()!
        onStack.delete(w)
        component.push(w)
      } while (w !== v)
      if (component.length > 1) out.push(component.sort())
    }
  }
  for (const v of graph.keys()) if (!indices.has(v)) connect(v)
  return out
}

const short = (path: string) => relative(root, path)

describe("source tree", () => {
  const files = sourceFiles()

  it("has modules in every package, and their imports resolve to each other", () => {
    expect(files.length).toBeGreaterThan(100)
    const graph = importGraph(files)
    // a sample edge across packages, through the package's exports: the shard reader uses the Kinesis client
    expect(graph.get(join(root, "packages/kinesis/src/ShardReader.ts"))).toContain(join(root, "packages/kinesis/src/Kinesis.ts"))
    expect(graph.get(join(root, "packages/kinesis/src/ShardReader.ts"))).toContain(join(root, "packages/core/src/Retry.ts"))
  })

  it("has no import cycle between modules (type imports included)", () => {
    expect(cycles(importGraph(files)).map((component) => component.map(short))).toStrictEqual([])
  })

  it("finds a cycle when there is one", () => {
    const graph = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]])
    expect(cycles(graph)).toStrictEqual([["a", "b", "c"]])
  })

  it(`has no module over ${maxLines} lines`, () => {
    const long = files
      .map((file) => [short(file), readFileSync(file, "utf8").split("\n").length] as const)
      .filter(([, lines]) => lines > maxLines)
    expect(long).toStrictEqual([])
  })
})
