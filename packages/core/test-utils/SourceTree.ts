/**
 * The TypeScript sources of every package (`packages/<name>/src/**.ts`), for tests that check a fact
 * about all the code at once: every AWS SDK command sent has an IAM mapping, every metric defined has a
 * CloudWatch name.
 *
 * @since 0.1.0
 */
import { readdirSync, readFileSync } from "node:fs"
import { join, relative, sep } from "node:path"
import { fileURLToPath } from "node:url"

/**
 * The repository's `packages/` directory.
 *
 * @since 0.1.0
 * @category constants
 */
export const packagesDirectory: string = fileURLToPath(new URL("../../", import.meta.url))

/**
 * A source file: its path from the repository's root (`packages/kinesis/src/Kinesis.ts`) and its text.
 *
 * @since 0.1.0
 * @category models
 */
export interface SourceFile {
  readonly path: string
  readonly text: string
}

const walk = (directory: string): Array<string> =>
  readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name)
    if (entry.isDirectory()) return entry.name === "node_modules" ? [] : walk(path)
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [path] : []
  })

/**
 * Every `.ts` file under `packages/*\/src`, sorted by path.
 *
 * @since 0.1.0
 * @category reading
 */
export const files = (): ReadonlyArray<SourceFile> =>
  readdirSync(packagesDirectory, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => {
      try {
        return walk(join(packagesDirectory, entry.name, "src"))
      } catch {
        return []
      }
    })
    .sort()
    .map((path) => ({
      path: relative(join(packagesDirectory, ".."), path).split(sep).join("/"),
      text: readFileSync(path, "utf8")
    }))

/**
 * Each match of `pattern` (a global regular expression) in every source file: its first capture group,
 * with the files it occurs in.
 *
 * @since 0.1.0
 * @category reading
 */
export const occurrences = (pattern: RegExp): ReadonlyMap<string, ReadonlyArray<string>> => {
  const out = new Map<string, Array<string>>()
  for (const file of files()) {
    for (const match of file.text.matchAll(pattern)) {
      const found = out.get(match[1])
      if (found === undefined) out.set(match[1], [file.path])
      else if (!found.includes(file.path)) found.push(file.path)
    }
  }
  return out
}
