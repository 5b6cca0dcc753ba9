/**
 * Ctrl-C on the README's demo command, in a terminal: `npx -y pnpm@10.34.9 demo` run in a pseudo-terminal
 * (util-linux's `script`), Ctrl-C typed after a few seconds of progress. The whole chain (npx, the shells
 * and pnpm above the demo) ends with exit code 0 after the demo drained, printed its summary and its checks
 * held, and nothing is left in the temporary folder. It runs the compiled command, as the README does:
 * `pnpm test` builds it first (`pnpm build` before running this file alone).
 */
import { describe, expect, it } from "@effect/vitest"
import { execFileSync, spawn } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../../..", import.meta.url))

const hasScript = (() => {
  try {
    execFileSync("script", ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()

/** The README's demo command, as its Quick start writes it. */
const readmeDemoCommand = () => {
  const readme = readFileSync(join(root, "README.md"), "utf8")
  const command = /```sh\n(npx -y pnpm@[\d.]+ install) && (npx -y pnpm@[\d.]+ demo)\n```/.exec(readme)
  if (command === null) throw new Error("the README's Quick start has no `... install && ... demo` command")
  // the install half is what the suite runs in already
  return command[2]
}

/** The README's demo command in a pseudo-terminal, its temporary folder of its own; its output so far. */
const startDemo = () => {
  const temp = mkdtempSync(join(tmpdir(), "tributary-ctrl-c-"))
  // a user's shell: without the npm_* settings of the pnpm running this test
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)))
  const child = spawn("script", ["-qfec", readmeDemoCommand(), "/dev/null"], {
    cwd: root,
    env: { ...env, TMPDIR: temp },
    stdio: ["pipe", "pipe", "pipe"]
  })
  let output = ""
  child.stdout.on("data", (chunk: Buffer) => void (output += chunk.toString("utf8")))
  child.stderr.on("data", (chunk: Buffer) => void (output += chunk.toString("utf8")))
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return {
    temp,
    output: () => output,
    exited,
    ctrlC: () => void child.stdin.write("\u0003"),
    /** Waits for progress lines showing records processed. */
    progressed: async () => {
      for (;;) {
        const processed = [...output.matchAll(/\[\d+s\] produced (\d+) \/ in (\d+)/g)].at(-1)
        if (processed !== undefined && Number(processed[2]) > 0) return
        if (child.exitCode !== null) throw new Error(`the demo ended before any progress:\n${output}`)
        await sleep(200)
      }
    },
    stop: () => {
      child.kill("SIGKILL")
      rmSync(temp, { recursive: true, force: true })
    }
  }
}

const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

describe.skipIf(!hasScript)("Ctrl-C on the README's demo command in a terminal", () => {
  it("drains, prints the summary with its checks holding, exits 0 through npx and pnpm, leaves no temporary folder", async () => {
    const demo = startDemo()
    try {
      await demo.progressed()
      demo.ctrlC()
      expect(await demo.exited).toBe(0)
      const output = demo.output()
      expect(output).toContain("stopping (Ctrl-C again to exit now)")
      expect(output).toContain("drained: every produced record was processed")
      expect(output).toContain("workers stopped: 0 of 4 leases still owned")
      expect(output).toMatch(/summary: produced [1-9]\d* .*dead letters are the broken messages: true; conservation holds/)
      // nothing of pnpm's failure reporting, no stack traces
      expect(output).not.toMatch(/ELIFECYCLE|ERR_PNPM|\n\s+at /)
      expect(readdirSync(demo.temp)).toEqual([])
    } finally {
      demo.stop()
    }
  }, 240_000)

  it("a second Ctrl-C exits at once with 130, and the emulator's folder goes with its process", async () => {
    const demo = startDemo()
    try {
      await demo.progressed()
      demo.ctrlC()
      while (!demo.output().includes("stopping (Ctrl-C again to exit now)")) await sleep(50)
      demo.ctrlC()
      expect(await demo.exited).toBe(130)
      expect(demo.output()).toContain("interrupted")
      expect(demo.output()).not.toContain("summary:")
      // s3rver's child process sees its parent gone and removes its folder
      while (readdirSync(demo.temp).length > 0) await sleep(100)
    } finally {
      demo.stop()
    }
  }, 240_000)
})
