/**
 * A headless Chromium for browser tests: the system's (Debian's `chromium` package), driven by
 * playwright-core, which downloads no browser of its own.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { execFileSync } from "node:child_process"
import { existsSync } from "node:fs"
import { type Browser, chromium } from "playwright-core"

/**
 * Where the browser is looked for when `CHROMIUM_PATH` is not set.
 *
 * @since 0.1.0
 */
export const defaultPath = "/usr/bin/chromium"

/**
 * True when `TRIBUTARY_SKIP_BROWSER=1`: the browser is neither installed nor used.
 *
 * @since 0.1.0
 */
export const skip: boolean = process.env.TRIBUTARY_SKIP_BROWSER === "1"

const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0
const isDebian = () => existsSync("/etc/debian_version") && existsSync("/usr/bin/apt-get")

/**
 * The Chromium executable (`CHROMIUM_PATH`, else /usr/bin/chromium). When it is missing and we are root on
 * Debian (a fresh CI machine), installs the `chromium` package first (about 25 s); otherwise throws,
 * saying how to install it.
 *
 * @since 0.1.0
 */
export const ensureChromium = (): string => {
  const path = process.env.CHROMIUM_PATH ?? defaultPath
  if (existsSync(path)) return path
  const howTo = "install it (Debian/Ubuntu: `apt-get install -y chromium`), point CHROMIUM_PATH at a Chromium or Chrome executable, " +
    "or set TRIBUTARY_SKIP_BROWSER=1 to skip the browser tests"
  if (process.env.CHROMIUM_PATH !== undefined) throw new Error(`CHROMIUM_PATH=${path} does not exist: ${howTo}`)
  if (!isRoot() || !isDebian()) throw new Error(`no Chromium at ${path}: ${howTo}`)
  process.stderr.write(`no Chromium at ${path}: installing Debian's chromium package (apt-get)...\n`)
  try {
    execFileSync("sh", ["-c", "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium"], {
      stdio: ["ignore", "ignore", "inherit"],
      timeout: 10 * 60 * 1000
    })
  } catch (error) {
    throw new Error(`installing chromium with apt-get failed (${error instanceof Error ? error.message : String(error)}): ${howTo}`)
  }
  if (!existsSync(path)) throw new Error(`apt-get installed chromium, but there is still nothing at ${path}: ${howTo}`)
  return path
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
export const launch = (): Promise<Browser> =>
  chromium.launch({ executablePath: ensureChromium(), args: [...args], timeout: 60_000 })

/**
 * A browser closed with the scope.
 *
 * @since 0.1.0
 */
export const browser: Effect.Effect<Browser, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(launch),
  (browser) => Effect.promise(() => browser.close().catch(() => undefined))
)
