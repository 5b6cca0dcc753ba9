/**
 * A headless Chromium for browser tests: the system's (Debian's `chromium` package), driven by
 * playwright-core, which downloads no browser of its own. Installing it is a step of its own (`.ci/run`),
 * never done by the tests.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { existsSync } from "node:fs"
import { type Browser, chromium } from "playwright-core"

/**
 * Where the browser is looked for when `CHROMIUM_PATH` is not set.
 *
 * @since 0.1.0
 */
export const defaultPath = "/usr/bin/chromium"

/**
 * The Chromium executable: `CHROMIUM_PATH`, else /usr/bin/chromium.
 *
 * @since 0.1.0
 */
export const executable: string = process.env.CHROMIUM_PATH ?? defaultPath

/**
 * True when the browser tests do not run: `TRIBUTARY_SKIP_BROWSER=1`, or no Chromium at `executable` (they
 * are then skipped, and say why once). The browser is installed beforehand, not by the tests: `.ci/run`
 * installs Debian's `chromium` on a fresh machine (see docs/server.md, "Browser tests").
 *
 * @since 0.1.0
 */
export const skip: boolean = process.env.TRIBUTARY_SKIP_BROWSER === "1" || !existsSync(executable)

if (skip && process.env.TRIBUTARY_SKIP_BROWSER !== "1") {
  process.stderr.write(
    `browser tests skipped: no Chromium at ${executable} (install it: \`apt-get install -y chromium\` on Debian, as .ci/run ` +
      "does; or point CHROMIUM_PATH at a Chromium or Chrome executable)\n"
  )
}

/**
 * The command line flags: headless, and nothing that talks to the network by itself.
 *
 * @since 0.1.0
 */
export const args: ReadonlyArray<string> = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

/**
 * Starts a headless Chromium (each launch gets its own temporary profile). Close it when done.
 *
 * @since 0.1.0
 */
export const launch = (): Promise<Browser> => chromium.launch({ executablePath: executable, args: [...args], timeout: 60_000 })

/**
 * A browser closed with the scope.
 *
 * @since 0.1.0
 */
export const browser: Effect.Effect<Browser, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(launch),
  (browser) => Effect.promise(() => browser.close().catch(() => undefined))
)
