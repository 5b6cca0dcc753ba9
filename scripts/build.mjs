#!/usr/bin/env node
// Builds the workspace's packages to their dist/ folders: ES modules, declarations and source maps; and the
// `tributary` command as one bundle.
//
//   node scripts/build.mjs                    every package, and the command (`pnpm build`, `pnpm test`)
//   node scripts/build.mjs packages/core      one package and what it depends on (a package's `pnpm build`)
//   node scripts/build.mjs --clean            from scratch: dist/ and tsc's build state removed first (a release)
//   node scripts/build.mjs --command          the command alone, in seconds (`pnpm install`'s prepare)
//
// One `tsc -b` over the packages' tsconfig.src.json (and tsconfig.test-utils.json where a package publishes
// test helpers): incremental, in dependency order. Then the files tsc does not emit, every file under src/
// that is not TypeScript (s3rver's child script, the dashboard's page), are copied next to the code, so a
// module finds them beside itself (`new URL("./static/", import.meta.url)`) in src/ and in dist/ alike.
//
// The command (packages/cli/dist/bundle/tributary.js, the `tributary` bin) is bundled by esbuild from the
// sources: a few files to load instead of some 700 modules of Effect, @effect/cli and fast-check, so
// `tributary --help` answers in a third of the time. What a command needs when it runs (the demo, the AWS
// SDK) is in chunks loaded then.
import { execFileSync } from "node:child_process"
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs"
import { readFile } from "node:fs/promises"
import { createRequire } from "node:module"
import { dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const cliDir = join(root, "packages", "cli")

const manifest = (dir) => JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))

/** The publishable packages: every folder of packages/ with a package.json that is not private. */
export const packageDirs = () =>
  readdirSync(join(root, "packages"))
    .map((name) => join(root, "packages", name))
    .filter((dir) => existsSync(join(dir, "package.json")) && !manifest(dir).private)

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

const copyAllAssets = () => {
  for (const dir of packageDirs()) copyAssets(join(dir, "src"), join(dir, "dist"))
}

/**
 * A bundled module's `import.meta.url` is its chunk's: a module of a workspace package that finds files
 * beside itself (the dashboard's page, s3rver's child script, the emulators it resolves, package.json)
 * gets the URL of its compiled file in its own package instead, wherever that is installed.
 */
const moduleUrls = {
  name: "module-urls",
  setup(build) {
    build.onLoad({ filter: /[\\/]packages[\\/][^\\/]+[\\/]src[\\/].+\.ts$/ }, async (args) => {
      const text = await readFile(args.path, "utf8")
      if (!text.includes("import.meta.url")) return undefined
      const [, dir, path] = /[\\/]packages[\\/]([^\\/]+)[\\/]src[\\/](.+)\.ts$/.exec(args.path)
      const name = manifest(join(root, "packages", dir)).name
      const url = `__moduleUrl(${JSON.stringify(name)}, ${JSON.stringify(`dist/${path.split("\\").join("/")}.js`)})`
      return { contents: text.replaceAll("import.meta.url", url), loader: "ts" }
    })
  }
}

/** What the bundle leaves to Node: the CDK (a dependency of the command, loaded by `synth` only) and the emulators (run from @tributary/local). */
const external = ["aws-cdk-lib", "aws-cdk-lib/*", "constructs", "dynalite", "kinesalite", "kinesis-local", "s3rver"]

export const bundleCommand = async () => {
  const esbuild = await import("esbuild")
  const outdir = join(cliDir, "dist", "bundle")
  rmSync(outdir, { recursive: true, force: true })
  await esbuild.build({
    entryPoints: { tributary: join(cliDir, "src", "bin", "tributary.ts") },
    outdir,
    chunkNames: "chunks/[name]-[hash]",
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    // the AWS SDK's ES module builds
    mainFields: ["module", "main"],
    external,
    plugins: [moduleUrls],
    // the CommonJS modules in the bundle call require; a workspace module's URL (see moduleUrls)
    banner: {
      js: [
        `import { createRequire as __createRequire } from "node:module";`,
        `import { pathToFileURL as __pathToFileURL } from "node:url";`,
        `const require = __createRequire(import.meta.url);`,
        "const __moduleUrl = (name, path) => new URL(path, __pathToFileURL(require.resolve(`${name}/package.json`))).href;"
      ].join("\n")
    },
    logLevel: "warning"
  })
}

export const build = async (dirs = packageDirs(), { clean = false } = {}) => {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
  const configs = dirs.flatMap(projects).map((path) => relative(root, path))
  if (clean) {
    // tsc -b --clean removes only what it would write now: a module deleted since would stay in dist/
    execFileSync(process.execPath, [tsc, "-b", "--clean", ...configs], { cwd: root, stdio: "inherit" })
    for (const dir of dirs) rmSync(join(dir, "dist"), { recursive: true, force: true })
  }
  execFileSync(process.execPath, [tsc, "-b", ...configs], { cwd: root, stdio: "inherit" })
  // tsc -b builds what a package depends on too: their assets are needed as much as its own
  copyAllAssets()
  if (dirs.includes(cliDir)) await bundleCommand()
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const flags = ["--clean", "--command"]
  const args = process.argv.slice(2).filter((arg) => !flags.includes(arg))
  try {
    if (process.argv.includes("--command")) {
      copyAllAssets()
      await bundleCommand()
    } else {
      await build(args.length === 0 ? undefined : args.map((dir) => resolve(dir)), { clean: process.argv.includes("--clean") })
    }
  } catch {
    // tsc or esbuild printed the errors
    process.exit(1)
  }
}
