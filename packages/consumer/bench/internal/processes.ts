/**
 * The processes of the consumer benches: emulators in processes of their own, and each side (the
 * Tributary consumer, the plain SDK loop, the paced producer) bundled with esbuild into one JavaScript
 * file and run by plain `node`, so both sides run compiled code under the same conditions and each
 * process's CPU and RSS are its own.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Readline from "node:readline"
import { fileURLToPath } from "node:url"
import * as esbuild from "esbuild"

const here = Path.dirname(fileURLToPath(import.meta.url))

/** What a side reports when it is done (see `sides/measure.ts`). */
export interface SideReport {
  readonly records: number
  /** From the side's start (modules loaded) to its last record. */
  readonly seconds: number
  /** CPU time (user + system) from the side's start to its last record. */
  readonly cpuSeconds: number
  /** CPU time from the process's start (module loading included) to its last record. */
  readonly cpuTotalSeconds: number
  /** CPU time from the moment every shard was being read (start-up done) to the last record. */
  readonly cpuReadingSeconds: number
  readonly peakRssMb: number
  /** Delay from put to the pipeline, milliseconds (live runs). */
  readonly p50?: number
  readonly p99?: number
  /** p99 of the records put after the first second (readers idle before the load do not count). */
  readonly p99Steady?: number
}

/** Processes started here, killed if this process exits without stopping them. */
const children = new Set<ChildProcess.ChildProcess>()
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL")
})

const spawn = (args: ReadonlyArray<string>, env: Record<string, string>) => {
  const child = ChildProcess.spawn(process.execPath, args, {
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", ...env },
    stdio: ["ignore", "pipe", "inherit"]
  })
  children.add(child)
  child.on("exit", () => children.delete(child))
  return child
}

const stop = (child: ChildProcess.ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGTERM")
    setTimeout(() => child.kill("SIGKILL"), 2_000).unref()
  })

/** The lines a child prints on stdout, one at a time. */
const lines = (child: ChildProcess.ChildProcess): AsyncIterator<string> =>
  Readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]()

const nextLine = async (iterator: AsyncIterator<string>, what: string): Promise<string> => {
  const next = await iterator.next()
  if (next.done === true) throw new Error(`${what} exited before answering`)
  return next.value
}

/**
 * An emulator running in its own process.
 */
export interface Emulator {
  readonly endpoint: string
  readonly stop: () => Promise<void>
}

export const startEmulator = async (kind: "kinesalite" | "dynalite"): Promise<Emulator> => {
  const child = spawn([Path.join(here, "emulator.cjs"), kind], {})
  const port = Number(await nextLine(lines(child), kind))
  return { endpoint: `http://127.0.0.1:${port}`, stop: () => stop(child) }
}

let bundles: string | undefined

/** Bundles `sides/<name>.ts` (once per process) and answers the JavaScript file. */
export const bundle = async (name: string): Promise<string> => {
  bundles ??= Fs.mkdtempSync(Path.join(Os.tmpdir(), `tributary-bench-${process.pid}-`))
  const outfile = Path.join(bundles, `${name}.mjs`)
  if (Fs.existsSync(outfile)) return outfile
  await esbuild.build({
    entryPoints: [Path.join(here, "..", "sides", `${name}.ts`)],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
    // CommonJS dependencies of the SDK call require
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" }
  })
  return outfile
}

process.on("exit", () => {
  if (bundles !== undefined) Fs.rmSync(bundles, { recursive: true, force: true })
})

/**
 * A side running in its own process: `ready` resolves when it prints "ready" (it reads the stream), `report`
 * when it prints its report and exits.
 */
export interface Side {
  readonly ready: Promise<void>
  readonly report: Promise<SideReport>
}

export const startSide = async (name: string, env: Record<string, string>): Promise<Side> => {
  const child = spawn(await sideArgs(name), env)
  const output = lines(child)
  const exited = new Promise<never>((_, reject) =>
    child.once("exit", (code, signal) => reject(new Error(`${name} exited (${signal ?? code}) without a report`)))
  )
  const ready = Promise.race([nextLine(output, name), exited]).then((line) => {
    if (line !== "ready") throw new Error(`${name} said ${line}`)
  })
  const report = ready.then(() => Promise.race([nextLine(output, name), exited])).then(
    (line) => JSON.parse(line) as SideReport
  )
  // it exits by itself after its report (writing its profile, if any); one that does not is stopped
  void report.then(() => exitedWithin(child, 10_000), () => undefined).then(() => stop(child))
  return { ready, report }
}

/**
 * How a side is run: its bundle by plain node; with BENCH_PROFILE=<dir>, from its TypeScript sources
 * through tsx with `--cpu-prof` into that directory (the profile then names source files).
 */
const sideArgs = async (name: string): Promise<Array<string>> => {
  const profile = process.env.BENCH_PROFILE
  if (profile === undefined || profile === "") return [await bundle(name)]
  const extra = (process.env.BENCH_PROFILE_ARGS ?? "").split(" ").filter((arg) => arg !== "")
  return ["--import", import.meta.resolve("tsx"), "--cpu-prof", `--cpu-prof-dir=${profile}`, ...extra, Path.join(here, "..", "sides", `${name}.ts`)]
}

const exitedWithin = (child: ChildProcess.ChildProcess, millis: number): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(resolve, millis)
    child.once("exit", () => {
      clearTimeout(timer)
      resolve()
    })
  })

/** Runs a program (the producer) in its own process to its end. */
export const runToEnd = async (name: string, env: Record<string, string>): Promise<string> => {
  const child = spawn([await bundle(name)], env)
  const output = lines(child)
  const exited = new Promise<void>((resolve, reject) =>
    child.once("exit", (code) => code === 0 ? resolve() : reject(new Error(`${name} exited with ${code}`)))
  )
  const last: Array<string> = []
  for (let line = await output.next(); line.done !== true; line = await output.next()) last.push(line.value)
  await exited
  return last.join("\n")
}

/**
 * Runs a round's two sides one after the other, the first alternating between rounds (`SIDES=a,b` fixes the
 * order), and answers their reports.
 */
export const bothSides = async (
  round: number,
  side: (name: "tributary" | "sdkLoop") => Promise<SideReport>
): Promise<{ readonly tributary: SideReport; readonly sdkLoop: SideReport }> => {
  const order = process.env.SIDES?.split(",") ?? (round % 2 === 0 ? ["sdkLoop", "tributary"] : ["tributary", "sdkLoop"])
  const reports: Partial<Record<string, SideReport>> = {}
  for (const name of order) {
    if (name !== "tributary" && name !== "sdkLoop") throw new Error(`SIDES names an unknown side: ${name}`)
    reports[name] = await side(name)
  }
  if (reports.tributary === undefined || reports.sdkLoop === undefined) throw new Error("SIDES must name tributary and sdkLoop")
  return { tributary: reports.tributary, sdkLoop: reports.sdkLoop }
}

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** What a bench's rounds gave each side, in round order. */
export interface Rounds {
  readonly tributary: ReadonlyArray<SideReport>
  readonly loop: ReadonlyArray<SideReport>
  /** Each round's ratio tributary / loop of a figure, the median over the rounds. */
  readonly ratio: (f: (report: SideReport) => number) => number
}

/**
 * Runs `rounds` rounds, each on a fresh kinesalite and dynalite (each in its own process, stopped after the
 * round): `prepare` sets the round's stream up and answers each side's environment, then both sides run
 * one after the other (`bothSides`) through `side`.
 */
export const runRounds = async (options: {
  readonly rounds: number
  readonly prepare: (round: number, endpoints: { readonly kinesis: string; readonly dynamodb: string }) => Promise<Record<string, string>>
  readonly side: (name: "tributary" | "sdkLoop", env: Record<string, string>, round: number) => Promise<SideReport>
  readonly onRound?: ((round: number, tributary: SideReport, loop: SideReport) => void) | undefined
}): Promise<Rounds> => {
  const tributary: Array<SideReport> = []
  const loop: Array<SideReport> = []
  for (let round = 0; round < options.rounds; round++) {
    const [kinesalite, dynalite] = await Promise.all([startEmulator("kinesalite"), startEmulator("dynalite")])
    try {
      const env = await options.prepare(round, { kinesis: kinesalite.endpoint, dynamodb: dynalite.endpoint })
      const reports = await bothSides(round, (name) => options.side(name, env, round))
      tributary.push(reports.tributary)
      loop.push(reports.sdkLoop)
      options.onRound?.(round, reports.tributary, reports.sdkLoop)
    } finally {
      await Promise.all([kinesalite.stop(), dynalite.stop()])
    }
  }
  const ratio = (f: (report: SideReport) => number) => median(tributary.map((t, i) => f(t) / f(loop[i])))
  return { tributary, loop, ratio }
}
