/**
 * Clickstream sessions: page views of a shop's visitors, from the web site as JSON and from the mobile app as
 * CSV, arrive mixed on a 2-shard stream, partitioned by user. One pipeline decodes them with `Decoder.auto`
 * and cuts each user's clicks into sessions with `Window.session("30 minutes")`: a session ends after 30
 * minutes without a click (event time). Clicks may arrive up to 5 minutes out of order (the app buffers them
 * while offline); a late click that falls between two sessions less than 30 minutes from each merges them.
 * Per session: clicks, the distinct pages, duration (last click - first click), landing and exit page.
 *
 *   pnpm --filter @tributary/example-clickstream-sessions start
 */
import { Aggregate, DeadLetter, Decoder, MemoryStream, Pipeline, RecordSink, Window } from "@tributary/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { pathToFileURL } from "node:url"

export const Click = Schema.Struct({
  user: Schema.String,
  at: Schema.Number, // epoch ms
  page: Schema.String
})
export type Click = typeof Click.Type

export const gap = 30 * 60_000
export const maxOutOfOrderness = 5 * 60_000

/** The distinct pages of a session, exact (a session has tens of clicks at most), sorted. */
const pages = Aggregate.make({
  empty: (): Array<string> => [],
  add: (s: Array<string>, page: string) => {
    if (!s.includes(page)) s.push(page)
    return s
  },
  merge: (self, that) => {
    for (const page of that) if (!self.includes(page)) self.push(page)
    return self
  },
  result: (s): ReadonlyArray<string> => [...s].sort(),
  state: Schema.mutable(Schema.Array(Schema.String))
})

const Edge = Schema.Struct({ at: Schema.Number, page: Schema.String })
type Edge = typeof Edge.Type

/**
 * The first and the last click of a session, by event time whatever the order they arrived in, so sessions
 * merged by a late click still have the right landing and exit page. Edges are never mutated (replaced), so
 * a merged state shares nothing mutable with the other one.
 */
const edges = Aggregate.make({
  empty: (): { first: Edge | null; last: Edge | null } => ({ first: null, last: null }),
  add: (s, c: Click) => {
    if (s.first === null || c.at < s.first.at) s.first = { at: c.at, page: c.page }
    if (s.last === null || c.at > s.last.at) s.last = { at: c.at, page: c.page }
    return s
  },
  merge: (self, that) => {
    if (that.first !== null && (self.first === null || that.first.at < self.first.at)) self.first = that.first
    if (that.last !== null && (self.last === null || that.last.at > self.last.at)) self.last = that.last
    return self
  },
  result: (s) => ({ first: s.first, last: s.last }),
  state: Schema.mutable(Schema.Struct({ first: Schema.NullOr(Edge), last: Schema.NullOr(Edge) }))
})

export interface SessionStats {
  readonly clicks: number
  readonly pages: ReadonlyArray<string>
  readonly landing: string
  readonly exit: string
  readonly firstAt: number
  readonly lastAt: number
  /** Last click - first click. */
  readonly durationMs: number
}

export const sessionStats = Aggregate.struct({
  clicks: Aggregate.count,
  pages: pages.pipe(Aggregate.mapInput((c: Click) => c.page)),
  edges
}).pipe(Aggregate.map(({ clicks, edges, pages }): SessionStats => ({
  clicks,
  pages,
  landing: edges.first?.page ?? "",
  exit: edges.last?.page ?? "",
  firstAt: edges.first?.at ?? 0,
  lastAt: edges.last?.at ?? 0,
  durationMs: (edges.last?.at ?? 0) - (edges.first?.at ?? 0)
})))

export type Session = Window.WindowResult<string, SessionStats>

export const pipeline = (sessions: RecordSink.RecordSink<Session>) =>
  Pipeline.make("clickstream-sessions").pipe(
    Pipeline.decode(Decoder.auto(Click)),
    Pipeline.window({
      window: Window.session(gap),
      key: (c: Click) => c.user,
      eventTime: (c) => c.at,
      maxOutOfOrderness,
      aggregate: sessionStats
    }),
    Pipeline.to(sessions)
  )

// ---------------------------------------------------------------------------------------------------------
// the clicks
// ---------------------------------------------------------------------------------------------------------

export const start = Date.UTC(2025, 10, 21, 8, 0) // 08:00 UTC
const hours = 6

export const users = [
  "amara", "ben", "chloe", "dmitri", "elena", "farid", "grace", "hiro", "ines", "jonas", "kemal", "lea",
  "mateo", "nadia", "oscar", "priya", "quinn", "rosa", "sami", "tomas", "uma", "victor", "wen", "yusuf"
]

/** The user whose two sessions a late click merges into one. */
export const commuter = "maya"

const catalogue = [
  "/", "/products", "/products?category=shoes", "/products?category=jackets", "/search?q=rain+jacket",
  "/search?q=trail+shoes", "/cart", "/checkout", "/checkout/done", "/account", "/blog/packing-list",
  ...Array.from({ length: 24 }, (_, i) => `/products/${101 + i}`)
]
const landings = ["/", "/", "/products", "/search?q=rain+jacket", "/blog/packing-list", "/products/107", "/products/112"]

export interface Delivered extends Click {
  /** When the click reached the stream: `at` plus its delay. */
  readonly arrival: number
  readonly format: "json" | "csv"
}

export interface Clicks {
  /** Every click, in arrival order. */
  readonly clicks: ReadonlyArray<Delivered>
  /** The click that arrived late and bridges the commuter's two sessions. */
  readonly bridge: Delivered
}

/**
 * Six hours of clicks of 25 users, in arrival order. Within a session clicks are 5 seconds to 10 minutes
 * apart, between sessions at least 40 minutes. Most clicks arrive within 20 seconds, some within 2 minutes,
 * a few (the app offline) within 4.5 minutes: always within `maxOutOfOrderness`.
 */
export const clicks = (): Clicks => {
  let seed = 2_025
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648
  const pick = <A>(items: ReadonlyArray<A>): A => items[Math.floor(random() * items.length)]
  const delay = () => {
    const r = random()
    return Math.floor(r < 0.85 ? random() * 20_000 : r < 0.97 ? 20_000 + random() * 100_000 : 120_000 + random() * 150_000)
  }
  const all: Array<Delivered> = []
  const click = (user: string, at: number, page: string, format: "json" | "csv", late = delay()) => {
    const c: Delivered = { user, at, page, arrival: at + late, format }
    all.push(c)
    return c
  }

  for (const user of users) {
    let at = start + Math.floor(random() * 90 * 60_000)
    while (at < start + hours * 3_600_000) {
      const format = random() < 0.5 ? "json" : "csv"
      const n = random() < 0.2 ? 1 : 2 + Math.floor(random() * 18)
      let page = pick(landings)
      for (let i = 0; i < n; i++) {
        click(user, at, page, format)
        page = pick(catalogue)
        at += 5_000 + Math.floor(random() * (random() < 0.8 ? 120_000 : 600_000))
      }
      at += 40 * 60_000 + Math.floor(random() * 120 * 60_000)
    }
  }

  // the commuter: a session from 09:10, then the train. A click at 09:47 while offline arrives 4 minutes
  // late, after the click of 09:50; 09:19 to 09:50 is more than 30 minutes, but 09:19, 09:47 and 09:50
  // are all within 30 minutes of the next: one session.
  const t = (h: number, m: number, s = 0) => Date.UTC(2025, 10, 21, h, m, s)
  for (const [at, page] of [[t(9, 10, 4), "/"], [t(9, 12, 31), "/products?category=jackets"], [t(9, 15, 2), "/products/107"], [t(9, 19, 40), "/cart"]] as const) {
    click(commuter, at, page, "json", 3_000)
  }
  const bridge = click(commuter, t(9, 47, 12), "/products/112", "csv", 4 * 60_000)
  for (const [at, page] of [[t(9, 50, 20), "/cart"], [t(9, 52, 3), "/checkout"], [t(9, 55, 48), "/checkout/done"]] as const) {
    click(commuter, at, page, "csv", 2_000)
  }
  click(commuter, t(12, 30, 0), "/account", "json", 1_000)

  all.sort((a, b) => a.arrival - b.arrival)
  return { clicks: all, bridge }
}

/** A click as its producer writes it: JSON from the web site, CSV from the app (a header on some). */
export const encode = (c: Delivered, i: number): string =>
  c.format === "json"
    ? JSON.stringify({ user: c.user, at: c.at, page: c.page, agent: "Mozilla/5.0" })
    : `${i % 5 === 0 ? "user,at,page\n" : ""}${c.user},${c.at},${c.page}`

/** Two messages no decoder can use. */
export const broken = [
  `{"user":"ben","at":1763715600000}`, // no page
  `amara,1763715600000` // a short CSV row
]

// ---------------------------------------------------------------------------------------------------------
// running it
// ---------------------------------------------------------------------------------------------------------

export const program = Effect.gen(function*() {
  const stream = yield* MemoryStream.make({ name: "clicks", shards: 2 })
  const { clicks: all } = clicks()
  const messages = all.map((c, i) => ({ partitionKey: c.user, data: encode(c, i) }))
  messages.splice(200, 0, { partitionKey: "ben", data: broken[0] })
  messages.splice(700, 0, { partitionKey: "amara", data: broken[1] })
  for (let i = 0; i < messages.length; i += 500) yield* stream.put(messages.slice(i, i + 500))

  const sessions = yield* RecordSink.memory<Session>("sessions")
  return yield* Effect.gen(function*() {
    const summary = yield* Pipeline.run(pipeline(sessions))
    const deadLetters = yield* Effect.flatMap(DeadLetter.MemoryDeadLetters, (sink) => sink.items)
    const results = [...(yield* sessions.items)].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.start - b.start))
    return { summary, sessions: results, deadLetters }
  }).pipe(Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layerMemory)))
})

const time = (ms: number) => new Date(ms).toISOString().slice(11, 19)
export const duration = (ms: number): string => {
  const s = Math.round(ms / 1_000)
  const h = Math.floor(s / 3_600)
  const m = Math.floor((s % 3_600) / 60)
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : `${m}m${String(s % 60).padStart(2, "0")}s`
}

const main = Effect.gen(function*() {
  const { deadLetters, sessions, summary } = yield* program
  const { deadLettered, filtered, late, recordsIn, recordsOut } = summary
  console.log(`records in ${recordsIn} = out ${recordsOut} + dead letters ${deadLettered} + late ${late} + filtered ${filtered}`)
  const byUser = new Map<string, Array<Session>>()
  for (const s of sessions) byUser.set(s.key, [...(byUser.get(s.key) ?? []), s])
  console.log(`${sessions.length} sessions of ${byUser.size} users (a session ends after 30 minutes without a click)`)
  const { bridge } = clicks()
  for (const user of [commuter, ...users.slice(0, 3)]) {
    console.log(`\n${user}:`)
    for (const s of byUser.get(user) ?? []) {
      const v = s.value
      console.log(
        `  ${time(v.firstAt)}-${time(v.lastAt)} ${duration(v.durationMs).padStart(7)} ` +
          `${String(v.clicks).padStart(3)} click${v.clicks === 1 ? " " : "s"} ` +
          `${String(v.pages.length).padStart(2)} page${v.pages.length === 1 ? " " : "s"}  ${v.landing} -> ${v.exit}`
      )
      if (user === commuter && v.firstAt < bridge.at && bridge.at < v.lastAt) {
        console.log(
          `    one session: the click of ${time(bridge.at)} arrived at ${time(bridge.arrival)}, after later ones, ` +
            `and bridged two bursts more than 30 minutes apart`
        )
      }
    }
  }

  const n = sessions.length
  const clicksPerSession = sessions.reduce((sum, s) => sum + s.value.clicks, 0) / n
  const durations = sessions.map((s) => s.value.durationMs).sort((a, b) => a - b)
  const median = durations[Math.floor(n / 2)]
  const bounces = sessions.filter((s) => s.value.clicks === 1).length
  const landingCounts = new Map<string, number>()
  for (const s of sessions) landingCounts.set(s.value.landing, (landingCounts.get(s.value.landing) ?? 0) + 1)
  const topLandings = [...landingCounts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 3)
  const checkouts = sessions.filter((s) => s.value.pages.includes("/checkout/done")).length
  console.log(
    `\nsummary: ${(n / byUser.size).toFixed(1)} sessions per user, ${clicksPerSession.toFixed(1)} clicks per session, ` +
      `median duration ${duration(median)}, longest ${duration(durations[n - 1])}`
  )
  console.log(
    `  bounce rate ${((100 * bounces) / n).toFixed(0)}% (${bounces} one-click sessions), ` +
      `${checkouts} sessions reached /checkout/done`
  )
  console.log(`  top landing pages: ${topLandings.map(([page, count]) => `${page} (${count})`).join(", ")}`)
  console.log(`dead letters: ${deadLetters.map((letter) => `${letter.format}: ${letter.reason}`).join("; ")}`)
})

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  Effect.runPromise(main).catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
}
