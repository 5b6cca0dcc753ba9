/**
 * The function bundled the way docs/lambda.md ("Packaging") says, and started the way Lambda starts it: the
 * esbuild command is read from the page, so the page and what is tested cannot drift apart. Used by
 * bundle.test.ts and by `pnpm bench` (`bench lambda-bundle`).
 */
import { execFile } from "node:child_process"
import { readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const example = fileURLToPath(new URL("..", import.meta.url))
const root = join(example, "..", "..")

/** The arguments of the page's `npx esbuild ...` command (its line continuations joined). */
export const docsCommand = (): ReadonlyArray<string> => {
  const page = readFileSync(join(root, "docs", "lambda.md"), "utf8")
  const block = /## Packaging[\s\S]*?```sh\n([\s\S]*?)```/.exec(page)?.[1]
  const command = block?.replace(/\\\n\s*/g, "").split("\n").find((line) => line.startsWith("npx esbuild "))
  if (command === undefined) throw new Error("docs/lambda.md has no `npx esbuild` command under Packaging")
  return command.slice("npx esbuild ".length).trim().split(/\s+/)
}

const exec = (command: string, args: ReadonlyArray<string>, options: { cwd: string; env?: NodeJS.ProcessEnv }) =>
  new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
    execFile(command, args, { ...options, timeout: 120_000 }, (error, stdout, stderr) =>
      error === null ? resolve({ stdout, stderr }) : reject(new Error(`${command} failed: ${stderr || error.message}`))))

/** Runs the page's command in the example's folder, writing the bundle to `outfile` instead of dist/index.mjs. */
export const bundle = async (outfile: string): Promise<{ readonly bytes: number; readonly warnings: string }> => {
  const args = docsCommand().map((arg) => arg.startsWith("--outfile=") ? `--outfile=${outfile}` : arg)
  const { stderr } = await exec(join(root, "node_modules", ".bin", "esbuild"), [...args, "--log-level=warning"], { cwd: example })
  return { bytes: statSync(outfile).size, warnings: stderr }
}

/** A tumbling-window invocation with no records: enough for the handler to build its layer. */
export const emptyInvocation = {
  Records: [],
  window: { start: "2024-05-01T10:00:00Z", end: "2024-05-01T10:05:00Z" },
  state: {},
  shardId: "shardId-000000000000",
  eventSourceARN: "arn:aws:kinesis:us-east-1:123456789012:stream/page-views",
  isFinalInvokeForWindow: false,
  isWindowTerminatedEarly: false
}

/**
 * In a fresh Node process: imports the bundle and invokes its handler once (which builds the layer: the
 * configuration read, the DynamoDB client made; nothing is sent). Answers the handler's response and the
 * milliseconds from before the import to the response.
 */
export const coldStart = async (file: string): Promise<{ readonly millis: number; readonly response: unknown }> => {
  const script = `
    const started = performance.now()
    const { handler } = await import(${JSON.stringify(file)})
    const response = await handler(${JSON.stringify(emptyInvocation)})
    process.stdout.write(JSON.stringify({ millis: performance.now() - started, response }))
  `
  const { stdout } = await exec(process.execPath, ["--input-type=module", "-e", script], {
    cwd: example,
    env: {
      PATH: process.env.PATH,
      // what Lambda sets: a region and the function's credentials
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
      AWS_SECRET_ACCESS_KEY: "secret",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true"
    }
  })
  return JSON.parse(stdout) as { millis: number; response: unknown }
}
