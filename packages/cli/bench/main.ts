/**
 * `bench cli-start`: how long `tributary --help` takes, compiled JavaScript in a fresh Node process (as
 * `pnpm tributary` and the published bin run it), the median of several runs, next to Node starting with
 * nothing to do in the same rounds.
 *
 *   pnpm --filter @tributary/cli bench      (or: pnpm exec tsx packages/cli/bench/main.ts; after pnpm build)
 */
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const rounds = 9

const timed = (args: ReadonlyArray<string>) =>
  new Promise<number>((resolve, reject) => {
    const started = performance.now()
    execFile(process.execPath, args, { cwd: root, timeout: 60_000 }, (error) =>
      error === null ? resolve(performance.now() - started) : reject(error))
  })

const median = (values: Array<number>) => values.sort((a, b) => a - b)[values.length >> 1]

const cli: Array<number> = []
const node: Array<number> = []
// alternating, so a busier moment of the machine falls on both alike
for (let i = 0; i < rounds; i++) {
  cli.push(await timed(["dist/bundle/tributary.js", "--help"]))
  node.push(await timed(["-e", ""]))
}
console.log(`bench cli-start: ${median(cli).toFixed(0)} ms (node alone: ${median(node).toFixed(0)} ms)`)
