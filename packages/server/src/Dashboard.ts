/**
 * The live dashboard: one sampler per server takes a `Snapshot` of the pipeline every `interval`, derives
 * per-second rates from consecutive snapshots, keeps a bounded rate history and pushes an `update` event to
 * every connected browser over Server-Sent Events (`GET /v1/dashboard/events`). The page itself
 * (`GET /dashboard`) is plain JavaScript and uPlot, served from this package: no CDN, no build step.
 * See docs/server.md.
 *
 * @since 0.1.0
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as PubSub from "effect/PubSub"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import * as Errors from "./HttpError.js"

/**
 * One shard's row in the dashboard's shard table: who holds it, where its checkpoint is, how far behind.
 *
 * @since 0.1.0
 * @category models
 */
export interface ShardStatus {
  /** The shard's id, e.g. `shardId-000000000000`. */
  readonly shardId: string
  /** The worker holding the shard's lease, null when nobody does. */
  readonly owner: string | null
  /** The last checkpointed sequence number (or any position text). */
  readonly checkpoint: string
  /** The last record processed, when it is known and further than the checkpoint. */
  readonly processed?: string | undefined
  /** Why the checkpoint is behind what was processed (e.g. a window stage holds it), when it is. */
  readonly checkpointNote?: string | undefined
  /** How far the shard's reader is behind the stream's tip, null when unknown. */
  readonly lagMillis: number | null
}

/**
 * One line of a chart.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChartSeries {
  /** The line's name in the legend; the page redraws a chart whose labels change. */
  readonly label: string
  /** `[x, y]`: x is the window start in epoch milliseconds. */
  readonly points: ReadonlyArray<readonly [number, number]>
}

/**
 * A chart the snapshot brings along (e.g. the demo's activities per minute), drawn by the page as it is,
 * next to the rate charts the page draws itself.
 *
 * @since 0.1.0
 * @category models
 */
export interface Chart {
  /** Stable across snapshots: the page keeps one chart per id (`[data-chart="<id>"]`). */
  readonly id: string
  /** The chart's heading. */
  readonly title: string
  /** What the y values count, shown next to the title (e.g. `records`, `ms`). Default none. */
  readonly unit?: string
  /** The lines drawn, one per label. */
  readonly series: ReadonlyArray<ChartSeries>
}

/**
 * One row of the dashboard's recent dead letters.
 *
 * @since 0.1.0
 * @category models
 */
export interface RecentDeadLetter {
  /** The shard the record was read from. */
  readonly shardId: string
  /** The record's sequence number in its shard. */
  readonly sequenceNumber: string
  /** The pipeline stage that rejected it (e.g. `decode`). */
  readonly stage: string
  /** Why it was rejected, as the stage said it. */
  readonly reason: string
  /** Epoch milliseconds. */
  readonly failedAt: number
}

/**
 * What the pipeline looks like now. JSON-safe: it is sent to browsers as it is.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  /** Epoch milliseconds when sampled: rates are computed over the difference of two snapshots' `at`. */
  readonly at: number
  /** Cumulative counts since start. */
  readonly totals: {
    readonly recordsIn: number
    readonly recordsOut: number
    readonly deadLetters: number
    readonly filtered: number
    readonly late: number
  }
  /** The shards to show, with their owners, checkpoints and lag. */
  readonly shards: ReadonlyArray<ShardStatus>
  /** Charts of the snapshot's own, drawn as they are; empty for none. */
  readonly charts: ReadonlyArray<Chart>
  /** The most recent few. */
  readonly deadLetters: ReadonlyArray<RecentDeadLetter>
}

/**
 * Options of the dashboard (`make`, `GatewayOptions.dashboard`): where snapshots come from, how often, and
 * how much history is kept.
 *
 * @since 0.1.0
 * @category models
 */
export interface DashboardOptions {
  /** Samples the pipeline. A failure (or a snapshot taking over max(5 × interval, 5 s)) is logged and skipped. */
  readonly snapshot: Effect.Effect<Snapshot, unknown>
  /** Time between two snapshots. Default 1 second. */
  readonly interval?: Duration.DurationInput
  /** Shown at the top of the page. Default "Tributary". */
  readonly title?: string
  /** Rate points kept (and drawn). Default 300: five minutes at one snapshot a second. */
  readonly history?: number
  /** Time between two `: ping` comments on an idle event stream (keeps proxies from closing it). Default 15 seconds. */
  readonly heartbeat?: Duration.DurationInput
}

/**
 * Per-second rates between two snapshots.
 *
 * @since 0.1.0
 * @category models
 */
export interface Rates {
  /** Records read from the source per second. */
  readonly recordsIn: number
  /** Records written (or absorbed by a window) per second. */
  readonly recordsOut: number
  /** Records dead-lettered per second. */
  readonly deadLetters: number
}

/**
 * A point of the rate history, at the later snapshot's `at`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RatePoint extends Rates {
  /** The later snapshot's `at` (epoch ms): the point's x. */
  readonly at: number
}

/**
 * Whether the snapshot source answers.
 *
 * @since 0.1.0
 * @category models
 */
export interface SourceStatus {
  /** False while the latest snapshot failed: the snapshot shown is then the last good one. */
  readonly ok: boolean
  /** Why the latest snapshot failed. */
  readonly error?: string
  /** Clock time (epoch ms) of the first failure in a row. */
  readonly failingSince?: number
  /** Clock time (epoch ms) of the latest sample, good or not; absent before the first. */
  readonly sampledAt?: number
}

/**
 * What the feed knows after its latest sample.
 *
 * @since 0.1.0
 * @category models
 */
export interface State {
  /** 0 before the first sample, then one more per sample. */
  readonly seq: number
  /** The dashboard's title (the `title` option). */
  readonly title: string
  /** Whether the latest sample succeeded, and since when it fails if not. */
  readonly source: SourceStatus
  /** The latest good snapshot, null before the first. */
  readonly snapshot: Snapshot | null
  /** Between the two latest good snapshots, null before the second. */
  readonly rates: Rates | null
  /** Oldest first, at most `history` points. */
  readonly history: ReadonlyArray<RatePoint>
}

/**
 * The data of an `update` event.
 *
 * @since 0.1.0
 * @category models
 */
export interface Update {
  /** The state's `seq`: increases from one event to the next of a connection. */
  readonly seq: number
  /** The dashboard's title. */
  readonly title: string
  /** Whether the latest sample succeeded (`State.source`). */
  readonly source: SourceStatus
  /** The latest good snapshot, null before the first (`State.snapshot`). */
  readonly snapshot: Snapshot | null
  /** The latest rates, null before the second good snapshot (`State.rates`). */
  readonly rates: Rates | null
  /**
   * True on the first event of a connection: `points` is then the whole rate history, replacing what the
   * client had (it may have reconnected). Otherwise `points` are the new ones, to append.
   */
  readonly reset: boolean
  /** Rate history points, oldest first: all of them when `reset`, else those since the previous event. */
  readonly points: ReadonlyArray<RatePoint>
  /** How many points the client should keep (the `history` option). */
  readonly historyLimit: number
}

/**
 * The sampler and the event streams of one server.
 *
 * @since 0.1.0
 * @category models
 */
export interface Feed {
  /** The dashboard's title. Default "Tributary". */
  readonly title: string
  /** The time between two samples. Default 1 second. */
  readonly interval: Duration.Duration
  /** The time between two `: ping` comments on an event stream. Default 15 seconds. */
  readonly heartbeat: Duration.Duration
  /** The feed's state now, after its latest sample. */
  readonly state: Effect.Effect<State>
  /** Takes one snapshot now and publishes the result (the sampler runs it every `interval`). */
  readonly sample: Effect.Effect<State>
  /**
   * Runs the sampler until the scope closes; closing it also ends every event stream (so a server
   * waiting for its connections can stop). Run it once.
   */
  readonly start: Effect.Effect<void, never, Scope.Scope>
  /** The updates of one client: the current state first, then one per sample; ends when the feed closes. */
  readonly updates: Stream.Stream<Update>
  /** The Server-Sent Events bytes of one client: `update` events and a `: ping` comment every `heartbeat`. */
  readonly events: Stream.Stream<Uint8Array>
  /** How many event streams are running. */
  readonly clients: Effect.Effect<number>
}

/**
 * Per-second rates from `previous` to `current`, or undefined when `current` is not later. A counter that
 * went down was reset (its process restarted): its whole value counts as the increase, as Prometheus does.
 *
 * @since 0.1.0
 * @category rates
 */
export const rates = (previous: Snapshot, current: Snapshot): Rates | undefined => {
  const seconds = (current.at - previous.at) / 1000
  if (!(seconds > 0)) return undefined
  const rate = (before: number, after: number) => {
    const increase = after >= before ? after - before : after
    return Number.isFinite(increase) ? increase / seconds : 0
  }
  return {
    recordsIn: rate(previous.totals.recordsIn, current.totals.recordsIn),
    recordsOut: rate(previous.totals.recordsOut, current.totals.recordsOut),
    deadLetters: rate(previous.totals.deadLetters, current.totals.deadLetters)
  }
}

/**
 * The state after a good snapshot: rates against the previous good one, a new history point (dropping
 * the oldest past `limit`).
 *
 * @since 0.1.0
 * @category rates
 */
export const advance = (state: State, snapshot: Snapshot, now: number, limit: number): State => {
  const computed = state.snapshot === null ? undefined : rates(state.snapshot, snapshot)
  const history = computed === undefined
    ? state.history
    : [...state.history.slice(Math.max(0, state.history.length + 1 - limit)), { at: snapshot.at, ...computed }]
  return {
    seq: state.seq + 1,
    title: state.title,
    source: { ok: true, sampledAt: now },
    snapshot,
    // a snapshot that is not later than the previous one keeps the rates we had
    rates: computed ?? state.rates,
    history
  }
}

/**
 * The state after a failed snapshot: everything kept, the source marked failing.
 *
 * @since 0.1.0
 * @category rates
 */
export const failed = (state: State, error: string, now: number): State => ({
  ...state,
  seq: state.seq + 1,
  source: { ok: false, error, failingSince: state.source.ok ? now : state.source.failingSince ?? now, sampledAt: now }
})

const messageOf = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  if (error instanceof Error) return error.message === "" ? error.name : error.message
  if (typeof error === "object" && error !== null && "message" in error) return String(error.message)
  return String(error)
}

const encoder = new TextEncoder()

/** `data:` lines cannot hold newlines; JSON.stringify never writes raw ones. */
const encodeUpdate = (update: Update): Uint8Array => encoder.encode(`event: update\ndata: ${JSON.stringify(update)}\n\n`)

/**
 * Builds a feed. Nothing runs until `start`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unsafeMake = (options: DashboardOptions): Feed => {
  const interval = Duration.decode(options.interval ?? "1 second")
  const heartbeat = Duration.decode(options.heartbeat ?? "15 seconds")
  const title = options.title ?? "Tributary"
  const limit = Math.max(1, Math.floor(options.history ?? 300))
  const timeout = Duration.max(Duration.times(interval, 5), Duration.seconds(5))

  const state = Ref.unsafeMake<State>({ seq: 0, title, source: { ok: true }, snapshot: null, rates: null, history: [] })
  // sliding: a client that cannot keep up skips states, and catches up on the history points (see `updates`)
  const changes = Effect.runSync(PubSub.sliding<State>(16))
  const closed = Deferred.unsafeMake<void>(FiberId.none)
  const clients = Ref.unsafeMake(0)

  const sample = Effect.gen(function*() {
    const exit = yield* Effect.exit(
      Effect.suspend(() => options.snapshot).pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => new Error(`the snapshot did not complete within ${Duration.format(timeout)}`)
        })
      )
    )
    const now = yield* Clock.currentTimeMillis
    const [wasOk, after] = yield* Ref.modify(state, (before) => {
      const after = Exit.isSuccess(exit) ? advance(before, exit.value, now, limit) : failed(before, messageOf(exit.cause), now)
      return [[before.source.ok, after] as const, after]
    })
    if (Exit.isSuccess(exit)) {
      if (!wasOk) yield* Effect.logInfo("dashboard: the snapshot source recovered")
    } else if (wasOk) {
      // once per failing spell: the page says it on every update anyway
      yield* Effect.logWarning("dashboard: the snapshot failed, keeping the last one", exit.cause)
    } else {
      yield* Effect.logDebug("dashboard: the snapshot failed again", exit.cause)
    }
    yield* PubSub.publish(changes, after)
    return after
  }).pipe(Effect.annotateLogs("module", "Dashboard"))

  const start = Effect.gen(function*() {
    yield* Effect.addFinalizer(() => Deferred.done(closed, Exit.void))
    yield* Effect.forkScoped(Effect.repeat(sample, Schedule.fixed(interval)))
  })

  const updates: Stream.Stream<Update> = Stream.unwrapScoped(Effect.gen(function*() {
    // subscribe before reading the current state, so no change falls in between (duplicates are dropped by seq)
    const subscription = yield* PubSub.subscribe(changes)
    yield* Effect.acquireRelease(Ref.update(clients, (n) => n + 1), () => Ref.update(clients, (n) => n - 1))
    const current = yield* Ref.get(state)
    let lastSeq = -1
    let lastPointAt = -Infinity
    const toUpdate = (next: State): ReadonlyArray<Update> => {
      if (next.seq <= lastSeq) return []
      const reset = lastSeq === -1
      const points = reset ? next.history : next.history.filter((point) => point.at > lastPointAt)
      lastSeq = next.seq
      if (next.history.length > 0) lastPointAt = next.history[next.history.length - 1].at
      return [{
        seq: next.seq,
        title: next.title,
        source: next.source,
        snapshot: next.snapshot,
        rates: next.rates,
        reset,
        points,
        historyLimit: limit
      }]
    }
    return Stream.concat(Stream.make(current), Stream.fromQueue(subscription)).pipe(
      Stream.mapConcat(toUpdate),
      Stream.interruptWhen(Deferred.await(closed))
    )
  }))

  const pings = Stream.fromSchedule(Schedule.spaced(heartbeat)).pipe(Stream.as(encoder.encode(": ping\n\n")))
  const events = Stream.make(encoder.encode("retry: 2000\n\n")).pipe(
    Stream.concat(Stream.merge(Stream.map(updates, encodeUpdate), pings, { haltStrategy: "left" }))
  )

  return {
    title,
    interval,
    heartbeat,
    state: Ref.get(state),
    sample,
    start,
    updates,
    events,
    clients: Ref.get(clients)
  }
}

/**
 * Builds a feed (`unsafeMake`) in an effect. Nothing runs until `start`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: DashboardOptions): Effect.Effect<Feed> => Effect.sync(() => unsafeMake(options))

// ---------------------------------------------------------------------------------------------------------------------
// the page and its assets
// ---------------------------------------------------------------------------------------------------------------------

interface Asset {
  readonly body: Uint8Array
  readonly contentType: string
  /** Short content hash: the page asks for `<file>?v=<version>`, so the files can be cached for long. */
  readonly version: string
}

const contentTypes: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".html": "text/html; charset=utf-8"
}

const readAsset = (path: string): Asset => {
  const body = readFileSync(path)
  return {
    body,
    contentType: contentTypes[path.slice(path.lastIndexOf("."))] ?? "application/octet-stream",
    version: createHash("sha256").update(body).digest("hex").slice(0, 12)
  }
}

// next to this module, both in src/ (tsx, vitest) and in dist/ (the build copies it)
const staticDir = fileURLToPath(new URL("./static/", import.meta.url))

let assets: ReadonlyMap<string, Asset> | undefined
/** Read once, on the first request. */
const loadAssets = (): ReadonlyMap<string, Asset> => {
  if (assets === undefined) {
    const uplot = join(dirname(createRequire(import.meta.url).resolve("uplot/package.json")), "dist")
    assets = new Map([
      ["uPlot.iife.min.js", readAsset(join(uplot, "uPlot.iife.min.js"))],
      ["uPlot.min.css", readAsset(join(uplot, "uPlot.min.css"))],
      ["dashboard.js", readAsset(join(staticDir, "dashboard.js"))],
      ["dashboard.css", readAsset(join(staticDir, "dashboard.css"))]
    ])
  }
  return assets
}

let pageTemplate: string | undefined

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" })[c]!)

/**
 * The page's HTML: `{{title}}` and `{{v:<file>}}` (an asset's version) filled in.
 *
 * @since 0.1.0
 * @category page
 */
export const page = (title: string): string => {
  pageTemplate ??= readFileSync(join(staticDir, "dashboard.html"), "utf8")
  const files = loadAssets()
  return pageTemplate.replace(/\{\{(title|v:[\w.]+)\}\}/g, (_, name: string) =>
    name === "title" ? escapeHtml(title) : files.get(name.slice(2))?.version ?? "0")
}

/** Only the page's own files may run or load anything: reasons in the tables are data, never markup. */
const pageHeaders = {
  "cache-control": "no-cache",
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer"
}

// ---------------------------------------------------------------------------------------------------------------------
// routes
// ---------------------------------------------------------------------------------------------------------------------

const parseLimit = (text: string | null): number | Errors.HttpError => {
  if (text === null || text === "") return 50
  const value = /^\d{1,6}$/.test(text) ? Number(text) : NaN
  return value >= 1 && value <= 1000
    ? value
    : Errors.make(400, "invalid_limit", "limit must be an integer from 1 to 1000", { field: "limit" })
}

const noSnapshot = (state: State) =>
  Errors.make(
    503,
    "no_snapshot",
    state.source.ok ? "no snapshot yet" : `no snapshot yet: ${state.source.error ?? "the source fails"}`,
    { retryAfter: 1 }
  )

/**
 * The dashboard's routes (no authentication: see docs/server.md): `GET /`, `/dashboard`,
 * `/dashboard/assets/:file`, `/v1/dashboard/events`, `/v1/status`, `/v1/dead-letters`.
 *
 * @since 0.1.0
 * @category routes
 */
export const router = (feed: Feed): HttpRouter.HttpRouter<Errors.HttpError> =>
  HttpRouter.empty.pipe(
    HttpRouter.get("/", Effect.succeed(HttpServerResponse.redirect("/dashboard", { status: 302 }))),
    HttpRouter.get(
      "/dashboard",
      Effect.sync(() => HttpServerResponse.text(page(feed.title), { contentType: "text/html; charset=utf-8", headers: pageHeaders }))
    ),
    HttpRouter.get(
      "/dashboard/assets/:file",
      Effect.gen(function*() {
        const file = (yield* HttpRouter.params).file ?? ""
        const asset = loadAssets().get(file)
        if (asset === undefined) return yield* Errors.make(404, "not_found", `no asset named ${file}`)
        return HttpServerResponse.uint8Array(asset.body, {
          contentType: asset.contentType,
          headers: { "cache-control": "public, max-age=31536000, immutable", "x-content-type-options": "nosniff" }
        })
      })
    ),
    HttpRouter.get(
      "/v1/dashboard/events",
      Effect.succeed(HttpServerResponse.stream(feed.events, {
        contentType: "text/event-stream",
        headers: {
          // proxies must neither compress nor buffer the stream
          "cache-control": "no-cache, no-transform",
          "x-accel-buffering": "no",
          // the connection ends with the stream: a stopping server has no idle keep-alive connection to wait for
          "connection": "close"
        }
      }))
    ),
    HttpRouter.get(
      "/v1/status",
      Effect.flatMap(feed.state, (state) =>
        state.snapshot === null
          ? Effect.fail(noSnapshot(state))
          : Effect.succeed(HttpServerResponse.unsafeJson(
            { title: state.title, source: state.source, rates: state.rates, snapshot: state.snapshot },
            { headers: { "cache-control": "no-cache" } }
          )))
    ),
    HttpRouter.get(
      "/v1/dead-letters",
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const limit = parseLimit(new URL(request.url, "http://localhost").searchParams.get("limit"))
        if (limit instanceof Errors.HttpError) return yield* limit
        const state = yield* feed.state
        if (state.snapshot === null) return yield* noSnapshot(state)
        const recent = [...state.snapshot.deadLetters].sort((a, b) => b.failedAt - a.failedAt).slice(0, limit)
        return HttpServerResponse.unsafeJson(
          { at: state.snapshot.at, deadLetters: recent },
          { headers: { "cache-control": "no-cache" } }
        )
      })
    )
  )
