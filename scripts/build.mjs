#!/usr/bin/env node
// Builds the workspace's packages to their dist/ folders: ES modules, declarations and source maps.
//
//   node scripts/build.mjs                    every package (`pnpm build`, and `pnpm install`'s prepare)
//   node scripts/build.mjs packages/core      one package and what it depends on (a package's `pnpm build`)
//   node scripts/build.mjs --clean            from scratch: dist/ and tsc's build state removed first (a release)
//
// One `tsc -b` over the packages' tsconfig.src.json (and tsconfig.test-utils.json where a package publishes
// test helpers): incremental, in dependency order. Then the files tsc does not emit, every file under src/
// that is not TypeScript (s3rver's child script, the dashboard's page), are copied next to the code, so a
// module finds them beside itself (`new URL("./static/", import.meta.url)`) in src/ and in dist/ alike.
import { execFileSync } from "node:child_process"
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")

/** The publishable packages: every folder of packages/ with a package.json that is not private. */
export const packageDirs = () =>
  readdirSync(join(root, "packages"))
    .map((name) => join(root, "packages", name))
    .filter((dir) => existsSync(join(dir, "package.json")) && !JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).private)

const projects = (dir) =>
  ["tsconfig.src.json", "tsconfig.test-utils.json"].map((name) => join(dir, name)).filter((path) => existsSync(path))

const copyAssets = (from, to) => {
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name)
    const target = join(to, entry.name)
    if (entry.isDirectory()) copyAssets(source, target)
    else if (!entry.name.endsWith(".ts")) {
      if (existsSync(target) && statSync(target).mtimeMs >= statSync(source).mtimeMs) continue
      mkdirSync(to, { recursive: true })
      copyFileSync(source, target)
    }
  }
}

export const build = (dirs = packageDirs(), { clean = false } = {}) => {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
  const configs = dirs.flatMap(projects).map((path) => relative(root, path))
  if (clean) {
    // tsc -b --clean removes only what it would write now: a module deleted since would stay in dist/
    execFileSync(process.execPath, [tsc, "-b", "--clean", ...configs], { cwd: root, stdio: "inherit" })
    for (const dir of dirs) rmSync(join(dir, "dist"), { recursive: true, force: true })
  }
  execFileSync(process.execPath, [tsc, "-b", ...configs], { cwd: root, stdio: "inherit" })
  // tsc -b builds what a package depends on too: their assets are needed as much as its own
  for (const dir of packageDirs()) {
    if (existsSync(join(dir, "dist"))) copyAssets(join(dir, "src"), join(dir, "dist"))
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2).filter((arg) => arg !== "--clean")
  try {
    build(args.length === 0 ? undefined : args.map((dir) => resolve(dir)), { clean: process.argv.includes("--clean") })
  } catch {
    // tsc printed the errors
    process.exit(1)
  }
}
