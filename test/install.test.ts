/**
 * The packages as users get them: every package of the workspace packed with `pnpm pack`, installed from
 * the tarballs with npm in a temporary folder outside the workspace (their dependencies from the registry),
 * and used there with plain Node and tsc: the README's pipeline runs and prints what the README says, a
 * strict program type-checks against the installed declarations, and `npx tributary --help` answers.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const manifest = (dir: string) =>
  JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
    readonly name: string
    readonly version: string
    readonly private?: boolean
    readonly devDependencies?: Record<string, string>
  }

/** Every package that is published: the folders of packages/ that are not private. */
const published = readdirSync(join(root, "packages"))
  .map((name) => join(root, "packages", name))
  .filter((dir) => existsSync(join(dir, "package.json")) && manifest(dir).private !== true)
  .map(manifest)

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** The environment of a user's shell: without the `npm_*` settings pnpm hands to the scripts it runs. */
const userEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)))

/** Runs a command to its end (killed after `timeout`); never rejects. */
const run = (command: string, args: ReadonlyArray<string>, cwd: string, timeout = 300_000, env = userEnv) =>
  new Promise<Run>((resolve) => {
    execFile(command, args, { cwd, timeout, maxBuffer: 64 * 1024 * 1024, env: { ...env, NO_COLOR: "1" } }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr }))
  })

/** pnpm as it runs this test (`pnpm test`), else the one on the PATH. */
const pnpm = (args: ReadonlyArray<string>, cwd: string) => {
  const execPath = process.env.npm_execpath
  return execPath !== undefined && /pnpm/.test(execPath)
    ? run(process.execPath, [execPath, ...args], cwd, 300_000, process.env)
    : run("pnpm", args, cwd)
}

const readme = readFileSync(join(root, "README.md"), "utf8")
const pipelineSection = readme.slice(readme.indexOf("## A pipeline"))
/** The README's pipeline example, and what it says the example prints. */
const example = /```ts\n([\s\S]*?)```/.exec(pipelineSection)![1]
const prints = /It prints:\s*```text\n([\s\S]*?)```/.exec(pipelineSection)![1]

let dir = ""
let app = ""

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tributary-install-"))
  app = join(dir, "app")
  // dist/ up to date, then one tarball per package
  const build = await run(process.execPath, ["scripts/build.mjs"], root)
  expect(build.stderr + build.stdout).toBe("")
  const packed = await pnpm(["-r", "--filter", "./packages/**", "pack", "--pack-destination", join(dir, "tarballs")], root)
  expect(packed.code, packed.stderr).toBe(0)
  const tarballs = readdirSync(join(dir, "tarballs")).sort()
  expect(tarballs).toEqual(published.map((p) => `${p.name.slice(1).replace("/", "-")}-${p.version}.tgz`).sort())

  // a project of a user's: the tarballs, and TypeScript as the workspace has it
  mkdirSync(app)
  cpSync(join(root, "test", "fixture"), app, { recursive: true })
  writeFileSync(join(app, "readme.ts"), example)
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }))
  const dev = manifest(root).devDependencies ?? {}
  const installed = await run("npm", [
    "install",
    "--no-audit",
    "--no-fund",
    "--loglevel=error",
    ...tarballs.map((file) => join(dir, "tarballs", file)),
    `typescript@${dev.typescript}`,
    `@types/node@${dev["@types/node"]}`
  ], app, 600_000)
  expect(installed.code, installed.stderr).toBe(0)
}, 900_000)

// some 200 MB of node_modules
afterAll(() => (dir === "" ? undefined : rm(dir, { recursive: true, force: true })), 300_000)

describe("the packages installed from their tarballs", () => {
  it("the README's pipeline runs with plain node and prints what the README says", async () => {
    // the example as a user's build compiles it (types stripped, not checked: the next test checks them)
    const compiled = await run(process.execPath, [
      "node_modules/typescript/bin/tsc",
      "readme.ts",
      "--outDir",
      "out",
      "--module",
      "nodenext",
      "--target",
      "es2022",
      "--noCheck"
    ], app)
    expect(compiled.stdout + compiled.stderr).toBe("")
    const node = await run(process.execPath, ["out/readme.js"], app, 60_000)
    expect(node.stderr).toBe("")
    expect(node.stdout).toBe(prints)
  }, 120_000)

  it("a strict program using core, kinesis, consumer and lambda type-checks against the installed declarations", async () => {
    const checked = await run(process.execPath, ["node_modules/typescript/bin/tsc", "-p", ".", "--noEmit"], app)
    expect(checked.stdout + checked.stderr).toBe("")
    expect(checked.code).toBe(0)
  }, 300_000)

  it("modules import by path; internals are not exported", async () => {
    const script = `
      const Decoder = await import("@tributary/core/Decoder")
      let internal = "imported"
      try { await import("@tributary/core/internal/batch") } catch (error) { internal = error.code }
      console.log(typeof Decoder.json, internal)
    `
    const node = await run(process.execPath, ["--input-type=module", "-e", script], app, 60_000)
    expect(node.stderr).toBe("")
    expect(node.stdout.trim()).toBe("function ERR_PACKAGE_PATH_NOT_EXPORTED")
  }, 120_000)

  it("npx tributary --help lists the commands", async () => {
    const help = await run("npx", ["tributary", "--help"], app, 60_000)
    expect(help.stderr).toBe("")
    expect(help.code).toBe(0)
    for (const command of ["demo", "local", "provision", "produce", "tail", "leases", "replay", "synth"]) {
      expect(help.stdout).toMatch(new RegExp(`^  ${command} +[A-Z]`, "m"))
    }
  }, 120_000)
})
