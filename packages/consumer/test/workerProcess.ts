/**
 * The worker script (src/bin/worker.ts) as a child process (tsx) against the emulators embedded in the test
 * process, and its JSON-lines output.
 */
import * as LocalDynamoDB from "@tributary/local/LocalDynamoDB"
import * as LocalKinesis from "@tributary/local/LocalKinesis"
import * as Effect from "effect/Effect"
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const packageDir = fileURLToPath(new URL("..", import.meta.url))

export interface WorkerProcess {
  readonly child: ChildProcess
  /** The exit code, or the signal that ended it. */
  readonly exited: Effect.Effect<number | string>
  /** stdout and stderr so far. */
  readonly log: () => string
}

/**
 * Starts the worker script with TRIM_HORIZON and the settings of `env` (STREAM, LEASE_TABLE, LEASE_DURATION,
 * ...); the process is SIGKILLed when the scope closes, if still running.
 */
export const spawnWorker = (env: Record<string, string>) => spawnScript("worker.ts", env)

/** Runs a script of src/bin to its end: its exit code and what it printed. */
export const runScript = (script: string, env: Record<string, string>) =>
  Effect.gen(function*() {
    const run = yield* spawnScript(script, env)
    const code = yield* run.exited
    return { code, output: run.log() }
  })

const spawnScript = (script: string, env: Record<string, string>) =>
  Effect.gen(function*() {
    const kinesis = yield* LocalKinesis.LocalKinesis
    const dynamodb = yield* LocalDynamoDB.LocalDynamoDB
    const path = fileURLToPath(new URL(`../src/bin/${script}`, import.meta.url))
    const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", path], {
      cwd: packageDir,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        AWS_REGION: kinesis.region,
        AWS_ACCESS_KEY_ID: "local",
        AWS_SECRET_ACCESS_KEY: "local",
        AWS_ENDPOINT_URL_KINESIS: kinesis.endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        INITIAL_POSITION: "TRIM_HORIZON",
        ...env
      }
    })
    let log = ""
    child.stdout!.on("data", (chunk) => void (log += chunk))
    child.stderr!.on("data", (chunk) => void (log += chunk))
    const exited = new Promise<number | string>((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal ?? "unknown")))
    yield* Effect.addFinalizer(() => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL")))
    const worker: WorkerProcess = { child, exited: Effect.promise(() => exited), log: () => log }
    return worker
  })

/** One line of the worker's `--output`. */
export interface OutputLine {
  readonly shard: string
  readonly seq: string
  readonly sub?: number
  readonly key: string
  readonly data: string
  readonly worker: string
  readonly pid: number
  /** When the worker wrote it, epoch milliseconds. */
  readonly at: number
}

/**
 * The lines of an output file, in the order written. A SIGKILL can cut the last line short (the worker writes
 * a batch with one append): such a torn last line is dropped.
 */
export const readOutput = (file: string): ReadonlyArray<OutputLine> => {
  if (!existsSync(file)) return []
  const lines: Array<OutputLine> = []
  for (const text of readFileSync(file, "utf8").split("\n")) {
    if (text.length === 0) continue
    try {
      lines.push(JSON.parse(text) as OutputLine)
    } catch {
      // a torn last line
    }
  }
  return lines
}

/** The output files (`*.jsonl`) of a directory, each with its lines. */
export const readOutputs = (dir: string): ReadonlyArray<{ readonly file: string; readonly lines: ReadonlyArray<OutputLine> }> =>
  readdirSync(dir).filter((file) => file.endsWith(".jsonl")).map((file) => ({ file, lines: readOutput(join(dir, file)) }))

/** How many of the `expected` data no output line of the directory has. */
export const missingFrom = (dir: string, expected: ReadonlySet<string>): number => {
  const seen = new Set<string>()
  for (const { lines } of readOutputs(dir)) for (const line of lines) seen.add(line.data)
  let count = 0
  for (const data of expected) if (!seen.has(data)) count++
  return count
}

/**
 * The lines of a directory's outputs, whose data are `<key>:<counter>` with counters rising per key, checked
 * for order: `all` the lines, `runs` the delivery runs, `disorder` up to 10 lines out of order. A delivery run
 * is the lines of one shard in one output file (one worker incarnation) until its sequence numbers go back
 * (a replay from the checkpoint after the shard was lost and taken again); within a run each key's counters
 * must rise.
 */
export const deliveries = (dir: string) => {
  const all: Array<OutputLine> = []
  let runs = 0
  const disorder: Array<string> = []
  for (const { file, lines } of readOutputs(dir)) {
    all.push(...lines)
    const last = new Map<string, { seq: bigint; counters: Map<string, number> }>()
    for (const line of lines) {
      const seq = BigInt(line.seq)
      let run = last.get(line.shard)
      if (run === undefined || seq <= run.seq) {
        run = { seq, counters: new Map() }
        last.set(line.shard, run)
        runs++
      }
      run.seq = seq
      const counter = Number(line.data.split(":")[1])
      const previous = run.counters.get(line.key)
      if (previous !== undefined && counter <= previous && disorder.length < 10) {
        disorder.push(`${file} ${line.shard} ${line.key}: ${counter} after ${previous}`)
      }
      run.counters.set(line.key, counter)
    }
  }
  return { all, runs, disorder }
}

/** A small seeded PRNG (mulberry32): numbers in [0, 1). */
export const seeded = (seed: number) => {
  let a = seed >>> 0
  return (): number => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
