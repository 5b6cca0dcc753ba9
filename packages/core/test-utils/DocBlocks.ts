/**
 * The TypeScript examples of `docs/*.md`, and the check that each one is tested: every ```ts (or
 * ```typescript) block of a page must appear verbatim in one of the test files named (whitespace aside,
 * import lines left out), and, when asked, each name the block imports must be imported by that file from
 * the same module (a package's own modules count as the same whether a test imports them as
 * `@tributary/kinesis` or `../src/index.js`, `@tributary/kinesis/Producer` or `../src/Producer.js`).
 *
 * ```ts
 * import * as DocBlocks from "@tributary/core/test-utils/DocBlocks"
 *
 * it("docs/kinesis.md: every TypeScript example is tested here", () => {
 *   expect(DocBlocks.problems("kinesis.md", { files: [import.meta.url], checkImports: true })).toStrictEqual([])
 * })
 * ```
 *
 * The one exception: a block whose fence reads ```ts no-check is not looked for. It is meant for fragments
 * that cannot run by themselves (a signature, a snippet with `...`); use it sparingly, and prefer turning
 * the fragment into an example that runs.
 *
 * @since 0.1.0
 */
import { existsSync, readFileSync } from "node:fs"
import { dirname, join, relative, resolve, sep } from "node:path"
import { fileURLToPath } from "node:url"

/**
 * The `docs/` directory of the repository, with a trailing separator.
 *
 * @since 0.1.0
 * @category constants
 */
export const docsDirectory: string = fileURLToPath(new URL("../../../docs/", import.meta.url))

const packagesDirectory = fileURLToPath(new URL("../../", import.meta.url))

/**
 * One fenced TypeScript block of a page.
 *
 * @since 0.1.0
 * @category models
 */
export interface Block {
  /** The code between the fences. */
  readonly code: string
  /** The line of the opening fence, from 1. */
  readonly line: number
  /** The fence reads ```ts no-check: the block is not looked for in the tests. */
  readonly noCheck: boolean
}

/**
 * A page of `docs/`, by file name (`"kinesis.md"`).
 *
 * @since 0.1.0
 * @category reading
 */
export const read = (page: string): string => readFileSync(docsDirectory + page, "utf8")

/**
 * The ```ts and ```typescript blocks of a markdown text, in order.
 *
 * @since 0.1.0
 * @category reading
 */
export const blocks = (markdown: string): ReadonlyArray<Block> =>
  Array.from(markdown.matchAll(/^```(?:ts|typescript)(?:[ \t]+([^\n]*))?\n([\s\S]*?)^```/gm), (match) => ({
    code: match[2],
    line: markdown.slice(0, match.index).split("\n").length,
    noCheck: (match[1] ?? "").split(/\s+/).includes("no-check")
  }))

/**
 * Whitespace runs as one space, none at the ends.
 *
 * @since 0.1.0
 * @category comparing
 */
export const normalize = (code: string): string => code.replace(/\s+/g, " ").trim()

/**
 * The parts of a block that must appear in a test, normalized: the block without its import lines, cut
 * before each line starting with one of `standApart` (such a statement may stand apart from the rest, e.g.
 * an `Effect.runPromise(` that prints, which a test replaces with assertions).
 *
 * @since 0.1.0
 * @category comparing
 */
export const segments = (code: string, standApart: ReadonlyArray<string> = []): ReadonlyArray<string> => {
  const parts: Array<Array<string>> = [[]]
  for (const line of code.split("\n")) {
    if (line.startsWith("import ")) continue
    if (standApart.some((prefix) => line.startsWith(prefix))) parts.push([])
    parts[parts.length - 1].push(line)
  }
  return parts.map((lines) => normalize(lines.join("\n"))).filter((part) => part !== "")
}

/**
 * An imported name and its module; `name` is `* as X` for a namespace import.
 *
 * @since 0.1.0
 * @category models
 */
export interface Import {
  readonly name: string
  readonly module: string
}

/**
 * The names a piece of code imports (named and namespace imports, `import type` included), with the
 * modules as written.
 *
 * @since 0.1.0
 * @category comparing
 */
export const imports = (code: string): ReadonlyArray<Import> => [
  ...Array.from(code.matchAll(/^import (?:type )?\{([^}]*)\} from "([^"]+)"/gm), (match) =>
    match[1].split(",").map((name) => name.trim()).filter((name) => name !== "").map((name) => ({
      name: name.replace(/^type\s+/, ""),
      module: match[2]
    }))).flat(),
  ...Array.from(code.matchAll(/^import (?:type )?\* as (\w+) from "([^"]+)"/gm), (match) => ({
    name: `* as ${match[1]}`,
    module: match[2]
  }))
]

/**
 * Options of `problems`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CheckOptions {
  /** The test files that may hold the page's blocks (file URLs, such as `import.meta.url`, or paths). */
  readonly files: ReadonlyArray<URL | string>
  /** Each name a block imports must be imported by the file that holds the block, from the same module. */
  readonly checkImports?: boolean
  /**
   * Names a block imports that the test file defines itself instead (from a module its package cannot
   * depend on); they are not looked for among its imports.
   */
  readonly standIns?: ReadonlyArray<string>
  /** Lines starting with one of these may stand apart from the rest of their block (see `segments`). */
  readonly standApart?: ReadonlyArray<string>
  /** Applied to each block and each test file before they are compared. */
  readonly rewrite?: (code: string) => string
}

/**
 * What keeps a page's examples from being tested: one message per block found in none of the files, or
 * whose imports the file holding it lacks. Empty when every block (but the ```ts no-check ones) is
 * tested.
 *
 * @since 0.1.0
 * @category checking
 */
export const problems = (page: string, options: CheckOptions): ReadonlyArray<string> => {
  const rewrite = options.rewrite ?? ((code: string) => code)
  const standIns = new Set(options.standIns ?? [])
  const files = options.files.map((file) => {
    const path = typeof file === "string" && !file.startsWith("file:") ? resolve(file) : fileURLToPath(file)
    const text = readFileSync(path, "utf8")
    return {
      path,
      source: normalize(rewrite(text)),
      imports: new Set(imports(text).map((i) => key(i.name, canonicalModule(path, i.module))))
    }
  })
  const out: Array<string> = []
  for (const block of blocks(read(page))) {
    if (block.noCheck) continue
    const parts = segments(rewrite(block.code), options.standApart)
    const holder = files.find((file) => parts.every((part) => file.source.includes(part)))
    if (holder === undefined) {
      out.push(`docs/${page}:${block.line}: this block is in none of ${files.map((f) => shortPath(f.path)).join(", ")}:\n${block.code}`)
      continue
    }
    if (options.checkImports !== true) continue
    for (const i of imports(block.code)) {
      if (standIns.has(i.name.replace(/^\* as /, ""))) continue
      if (!holder.imports.has(key(i.name, i.module))) {
        out.push(`docs/${page}:${block.line}: the block imports ${i.name} from "${i.module}", ${shortPath(holder.path)} does not`)
      }
    }
  }
  return out
}

const key = (name: string, module: string) => `${name} from ${module}`

const shortPath = (path: string) => relative(join(packagesDirectory, ".."), path).split(sep).join("/")

/** `../src/index.js` of a test of packages/kinesis is `@tributary/kinesis`; `../src/Producer.js` `@tributary/kinesis/Producer`. */
const canonicalModule = (file: string, module: string): string => {
  if (!module.startsWith(".")) return module
  const target = resolve(dirname(file), module)
  const inPackages = relative(packagesDirectory, target).split(sep)
  if (inPackages.length < 3 || inPackages[0] === "..") return module
  const [directory, folder, ...rest] = inPackages
  const manifest = join(packagesDirectory, directory, "package.json")
  if (!existsSync(manifest)) return module
  const name = (JSON.parse(readFileSync(manifest, "utf8")) as { readonly name: string }).name
  const path = rest.join("/").replace(/\.(js|ts)$/, "")
  if (folder === "src") return path === "index" ? name : `${name}/${path}`
  if (folder === "test-utils") return `${name}/test-utils/${path}`
  return module
}
