/**
 * What the commands print. Lines go through Effect's `Console` (tests capture it); a progress line is
 * rewritten in place (`\r`) when stdout is a terminal, and printed as a plain line otherwise.
 */
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"

export interface TerminalShape {
  /** True when stdout is a terminal: progress lines are rewritten in place, `--watch` clears the screen. */
  readonly isTTY: boolean
  readonly write: (text: string) => void
}

export class Terminal extends Context.Reference<Terminal>()("@tributary/cli/internal/output/Terminal", {
  defaultValue: (): TerminalShape => ({
    isTTY: process.stdout.isTTY === true,
    write: (text) => void process.stdout.write(text)
  })
}) {}

// a progress line is on the screen, without its line break
let pendingProgress = false

const endProgress = (terminal: TerminalShape) => {
  if (pendingProgress) {
    pendingProgress = false
    terminal.write("\n")
  }
}

/** A line on stdout. */
export const line = (text: string): Effect.Effect<void> =>
  Effect.flatMap(Terminal, (terminal) => {
    endProgress(terminal)
    return Console.log(text)
  })

/**
 * A line on stderr, written at once (for loggers, which cannot run effects), after the progress line on the
 * screen if there is one.
 */
export const errorLineSync = (text: string): void => {
  if (pendingProgress) {
    pendingProgress = false
    process.stdout.write("\n")
  }
  process.stderr.write(`${text}\n`)
}

/** A line on stderr. */
export const errorLine = (text: string): Effect.Effect<void> =>
  Effect.flatMap(Terminal, (terminal) => {
    endProgress(terminal)
    return Console.error(text)
  })

/** A progress line: replaces the previous one on a terminal. */
export const progress = (text: string): Effect.Effect<void> =>
  Effect.flatMap(Terminal, (terminal) => {
    if (!terminal.isTTY) return Console.log(text)
    pendingProgress = true
    return Effect.sync(() => terminal.write(`\r${text}\u001b[K`))
  })

/** Clears the screen (a terminal only), e.g. before each round of `--watch`. */
export const clearScreen: Effect.Effect<void> = Effect.flatMap(Terminal, (terminal) =>
  terminal.isTTY ? Effect.sync(() => terminal.write("\u001b[2J\u001b[H")) : Effect.void)

/** Seconds with one decimal: "0.6 s". */
export const seconds = (millis: number): string => `${(millis / 1000).toFixed(1)} s`

/** A count with thousands separators: "12,345". */
export const count = (n: number): string => n.toLocaleString("en-US")

/** "1 shard", "2 shards", "1,000 records". */
export const plural = (n: number, noun: string): string => `${count(n)} ${noun}${n === 1 ? "" : "s"}`
