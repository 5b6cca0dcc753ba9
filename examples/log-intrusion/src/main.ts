/**
 * Log intrusion detection: Apache access log lines (Common and Combined formats, from three web servers in
 * different time zones) arrive on a 4-shard stream, partitioned by client IP. One pipeline decodes them with
 * `Decoder.apacheLog`, drops health checks and static assets, and counts per client IP and minute of the
 * log's own timestamp: requests, distinct query strings (`Aggregate.distinctCount`), 5xx responses and the
 * most frequent query strings and user agent (`Aggregate.topK`). A client that sends more than `threshold`
 * distinct query strings in one minute is probing the site, e.g. an SQL injection scan trying
 * `?id=1' OR '1'='1` and its variations: its window becomes an alert.
 *
 * The traffic: ordinary visitors, one visitor who searches a lot, a search engine crawler with thousands of
 * requests but hardly any query strings, a load balancer's health checks, two attackers, a few malformed
 * lines (dead letters) and two lines a log shipper re-sent minutes too late (the late output).
 *
 *   pnpm --filter @tributary/example-log-intrusion start
 */
import { Aggregate, DeadLetter, Decoder, MemoryStream, Pipeline, RecordSink, Window } from "@tributary/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { pathToFileURL } from "node:url"

/** The fields of a log line this detector reads (`ip` is the log's `host`, the client address). */
export const Request = Schema.Struct({
  ip: Schema.String,
  time: Schema.Number, // epoch ms, the time zone of the line applied
  path: Schema.NullOr(Schema.String),
  status: Schema.Int,
  userAgent: Schema.NullOr(Schema.String)
})
export type Request = typeof Request.Type

/** An alert when a client sends more distinct query strings than this within one minute. */
export const threshold = 20

/** The query string of a request path (after `?`), or null when it has none. */
export const queryOf = (path: string | null): string | null => {
  if (path === null) return null
  const at = path.indexOf("?")
  return at === -1 || at === path.length - 1 ? null : path.slice(at + 1)
}

/** Load balancer health checks and static assets say nothing about a client's intent. */
export const isNoise = (r: Request): boolean =>
  r.path === "/healthz" || (r.path !== null && /^\/(static|img)\//.test(r.path))

/**
 * Folds only the inputs that satisfy `keep` (core has `mapInput` but no input filter, so a
 * request without a query string would otherwise have to count as the query string "").
 */
const onlyWhen = <I, S, O>(keep: (input: I) => boolean, aggregate: Aggregate.Aggregate<I, S, O>) =>
  Aggregate.make({
    empty: aggregate.empty,
    add: (state: S, input: I) => (keep(input) ? aggregate.add(state, input) : state),
    merge: aggregate.merge,
    result: aggregate.result,
    state: aggregate.state
  })

const hasQuery = (r: Request) => queryOf(r.path) !== null

/**
 * Per client and minute. `distinctQueries` is exact up to 512 distinct query strings (a few hundred bytes
 * for a quiet client), then a HyperLogLog estimate (4 KiB, 1.6 % standard error) for a scanner sending more.
 */
export const perClient = Aggregate.struct({
  requests: Aggregate.count,
  withQuery: onlyWhen(hasQuery, Aggregate.count),
  serverErrors: onlyWhen((r: Request) => r.status >= 500, Aggregate.count),
  distinctQueries: onlyWhen(hasQuery, Aggregate.distinctCount().pipe(Aggregate.mapInput((r: Request) => queryOf(r.path)!))),
  topQueries: onlyWhen(hasQuery, Aggregate.topK(3).pipe(Aggregate.mapInput((r: Request) => queryOf(r.path)!))),
  agent: onlyWhen((r: Request) => r.userAgent !== null, Aggregate.topK(1).pipe(Aggregate.mapInput((r: Request) => r.userAgent!)))
})
export type PerClient = Window.WindowResult<string, Aggregate.Aggregate.Output<typeof perClient>>

export interface Alert {
  readonly ip: string
  readonly start: number
  readonly end: number
  readonly requests: number
  readonly distinctQueries: number
  readonly serverErrors: number
  readonly agent: string
  /** The most frequent query strings of the window, URL-decoded. */
  readonly samples: ReadonlyArray<string>
}

const decoded = (query: string): string => {
  try {
    return decodeURIComponent(query.replace(/\+/g, " "))
  } catch {
    return query
  }
}

export const toAlert = (w: PerClient): Alert => ({
  ip: w.key,
  start: w.start,
  end: w.end,
  requests: w.value.requests,
  distinctQueries: w.value.distinctQueries,
  serverErrors: w.value.serverErrors,
  agent: w.value.agent[0]?.value ?? "-",
  samples: w.value.topQueries.map((q) => decoded(q.value))
})

export interface Sinks {
  /** Every window result, alerting or not. */
  readonly windows: RecordSink.RecordSink<PerClient>
  readonly alerts: RecordSink.RecordSink<Alert>
  /** Lines behind the watermark by more than the window allows. */
  readonly late: RecordSink.RecordSink<Request>
}

export const pipeline = (sinks: Sinks) =>
  Pipeline.make("log-intrusion").pipe(
    Pipeline.decode(Decoder.apacheLog(Request, { aliases: { ip: "host" } })),
    Pipeline.filter((r: Request) => !isNoise(r)),
    Pipeline.window({
      window: Window.tumbling("1 minute"),
      key: (r: Request) => r.ip,
      eventTime: (r) => r.time,
      // Apache stamps a line with the request's start but writes it when the response is done
      maxOutOfOrderness: "5 seconds",
      late: sinks.late,
      aggregate: perClient
    }),
    Pipeline.to(sinks.windows),
    Pipeline.filter((w: PerClient) => w.value.distinctQueries > threshold),
    Pipeline.map(toAlert),
    Pipeline.to(sinks.alerts)
  )

// ---------------------------------------------------------------------------------------------------------
// the traffic
// ---------------------------------------------------------------------------------------------------------

/** What a generated line is, so a test can compute the expected results without the pipeline. */
export type Kind = "request" | "noise" | "malformed" | "late"

export interface LogLine {
  readonly kind: Kind
  readonly text: string
  readonly partitionKey: string
  /** For well-formed lines: the fields as written (time to the second). */
  readonly ip?: string
  readonly time?: number
  readonly path?: string
}

export const start = Date.UTC(2025, 10, 21, 9, 0) // Fri 21 Nov 2025, 09:00 UTC
export const minutes = 10

export const crawler = "66.249.66.1"
export const attackers = ["185.220.101.7", "45.146.165.12"] as const

const servers = [
  { format: "combined", offsetMinutes: 0 },
  { format: "combined", offsetMinutes: 60 },
  { format: "common", offsetMinutes: -300 }
] as const

const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
const two = (n: number) => String(n).padStart(2, "0")

/** `21/Nov/2025:10:15:00 +0100`: the server's local time and its offset. */
export const apacheTime = (epochMs: number, offsetMinutes: number): string => {
  const d = new Date(epochMs + offsetMinutes * 60_000)
  const sign = offsetMinutes < 0 ? "-" : "+"
  const abs = Math.abs(offsetMinutes)
  return `${two(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} ${sign}${two(Math.floor(abs / 60))}${two(abs % 60)}`
}

/** Percent-encodes a query value the way a client sends it (quotes included). */
const encode = (value: string) => encodeURIComponent(value).replace(/'/g, "%27")

const browsers = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
  "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"
]
const words = ["shoes", "running shoes", "jacket", "rain jacket", "socks", "backpack", "tent", "gloves", "hat", "boots"]
const injections = [
  (n: number) => `id=${encode(`${n}' OR '1'='1`)}`,
  (n: number) => `id=${encode(`${n}' OR 1=1-- -`)}`,
  (n: number) => `id=${encode(`${n} UNION SELECT NULL,username,password FROM users-- -`)}`,
  (n: number) => `id=${encode(`${n}' AND SLEEP(5)-- -`)}`,
  (n: number) => `id=${encode(`${n}; DROP TABLE users-- -`)}`,
  (n: number) => `q=${encode(`x' UNION ALL SELECT table_name,${n} FROM information_schema.tables-- -`)}`
]

interface Hit {
  readonly ip: string
  readonly time: number
  readonly path: string
  readonly status: number
  readonly bytes: number | null
  readonly agent: string
  readonly referer?: string
  readonly noise?: boolean
}

/**
 * Ten minutes of traffic, in the order the lines are shipped (each line is written when its response is
 * done, up to 2 seconds after its timestamp), with malformed lines among them and two stale lines last.
 */
export const traffic = (): Array<LogLine> => {
  let seed = 20_251_121
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648
  const pick = <A>(items: ReadonlyArray<A>): A => items[Math.floor(random() * items.length)]
  const second = (minute: number) => start + minute * 60_000 + Math.floor(random() * 60) * 1_000
  const hits: Array<Hit> = []

  // ordinary visitors: a few pages a minute, the assets that come with them, a search now and then
  for (let v = 1; v <= 120; v++) {
    const ip = `198.51.100.${v}`
    const agent = pick(browsers)
    const first = Math.floor(random() * minutes)
    const last = Math.min(minutes - 1, first + Math.floor(random() * 4))
    for (let minute = first; minute <= last; minute++) {
      const pages = 1 + Math.floor(random() * 6)
      for (let p = 0; p < pages; p++) {
        const time = second(minute)
        const r = random()
        const path = r < 0.25
          ? "/"
          : r < 0.55
          ? `/products/${1 + Math.floor(random() * 400)}`
          : r < 0.7
          ? `/search?q=${encode(pick(words)).replace(/%20/g, "+")}`
          : r < 0.85
          ? `/products?category=${pick(["men", "women", "kids"])}&sort=${pick(["price", "new"])}`
          : pick(["/cart", "/checkout", "/account"])
        hits.push({ ip, time, path, status: random() < 0.05 ? 404 : 200, bytes: 2_000 + Math.floor(random() * 40_000), agent, referer: "https://shop.example/" })
        if (random() < 0.4) {
          hits.push({ ip, time, path: pick(["/static/app.css", "/static/app.js", "/img/logo.png"]), status: 304, bytes: null, agent, noise: true })
        }
      }
    }
  }

  // a keen shopper: fifteen searches in one minute, below the threshold
  for (let i = 0; i < 15; i++) {
    hits.push({
      ip: "203.0.113.77",
      time: start + 6 * 60_000 + i * 4_000,
      path: `/search?q=trail+running+shoes+size+${36 + i}`,
      status: 200,
      bytes: 18_000,
      agent: browsers[0]
    })
  }

  // a crawler: four requests a second, all product pages, a query string only for the listing's pages
  let product = 1
  for (let t = 0; t < minutes * 60_000; t += 250) {
    const listing = product % 40 === 0
    hits.push({
      ip: crawler,
      time: start + t - (t % 1_000),
      path: listing ? `/products?page=${1 + ((product / 40) % 3)}` : `/products/${product}`,
      status: 200,
      bytes: 12_000 + (product % 7) * 1_000,
      agent: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    })
    product++
  }

  // health checks of the load balancer, every 10 seconds
  for (let t = 0; t < minutes * 60_000; t += 10_000) {
    hits.push({ ip: "10.0.0.2", time: start + t, path: "/healthz", status: 200, bytes: 2, agent: "ELB-HealthChecker/2.0", noise: true })
  }

  // attacker 1, sqlmap: about 75 payloads a minute for three minutes
  let n = 1
  for (let t = 3 * 60_000 + 7_000; t < 6 * 60_000; t += 800) {
    hits.push({
      ip: attackers[0],
      time: start + t - (t % 1_000),
      path: `/products?${injections[n % injections.length](n)}`,
      status: random() < 0.7 ? 500 : 200,
      bytes: 300 + Math.floor(random() * 500),
      agent: "sqlmap/1.7.2#stable (https://sqlmap.org)"
    })
    n++
  }

  // attacker 2, by hand with curl: 28 payloads in minute 7
  for (let i = 0; i < 28; i++) {
    hits.push({
      ip: attackers[1],
      time: start + 7 * 60_000 + 3_000 + i * 2_000,
      path: `/products?${injections[i % 3](1_000 + i)}`,
      status: i % 4 === 0 ? 500 : 200,
      bytes: 640,
      agent: "curl/8.4.0"
    })
  }

  // lines are written when the response is done: up to 2 s after their timestamp
  const written = hits.map((hit) => ({ hit, at: hit.time + Math.floor(random() * 2_000), server: pick(servers) }))
  written.sort((a, b) => a.at - b.at)
  const lines: Array<LogLine> = written.map(({ hit, server }) => ({
    kind: hit.noise === true ? "noise" : "request",
    text: render(hit, server),
    partitionKey: hit.ip,
    ip: hit.ip,
    time: hit.time,
    path: hit.path
  }))

  // malformed lines, spread through the stream
  const malformed: Array<LogLine> = [
    `198.51.100.23 - - [21/Nov/2025:09:02:14 +0000] "GET /products/17 HTTP/1.1" 200`,
    `198.51.100.40 - - [31/Nov/2025:09:03:00 +0000] "GET / HTTP/1.1" 200 5120 "-" "curl/8.4.0"`,
    `198.51.100.41 - - [21/Nov/2025:09:04:09 +0000] "GET /cart HTTP/1.1" 2OO 812`,
    `{"level":"error","msg":"upstream timed out (110: Connection timed out)","upstream":"10.0.3.7:8080"}`,
    `203.0.113.9 - - [21/Nov/2025:09:08:51 +0000] "GET /search?q=sho`
  ].map((text) => ({ kind: "malformed", text, partitionKey: /^\d+\.\d+\.\d+\.\d+ /.test(text) ? text.slice(0, text.indexOf(" ")) : "unknown" }))
  malformed.forEach((line, i) => lines.splice(Math.floor(((i + 1) * lines.length) / (malformed.length + 1)), 0, line))

  // a log shipper re-sends two lines of minute 1 after everything else: far behind the watermark
  for (const [ip, path] of [["198.51.100.7", "/products/88"], ["198.51.100.8", "/search?q=tent"]] as const) {
    const hit: Hit = { ip, time: start + 60_000 + 30_000, path, status: 200, bytes: 4_200, agent: browsers[1] }
    lines.push({ kind: "late", text: render(hit, servers[0]), partitionKey: ip, ip, time: hit.time, path })
  }
  return lines
}

const render = (hit: Hit, server: (typeof servers)[number]): string => {
  const common = `${hit.ip} - - [${apacheTime(hit.time, server.offsetMinutes)}] "GET ${hit.path} HTTP/1.1" ${hit.status} ${hit.bytes ?? "-"}`
  return server.format === "common" ? common : `${common} "${hit.referer ?? "-"}" "${hit.agent}"`
}

// ---------------------------------------------------------------------------------------------------------
// running it
// ---------------------------------------------------------------------------------------------------------

export const program = Effect.gen(function*() {
  const stream = yield* MemoryStream.make({ name: "access-logs", shards: 4 })
  const lines = traffic()
  for (let i = 0; i < lines.length; i += 500) {
    yield* stream.put(lines.slice(i, i + 500).map(({ partitionKey, text }) => ({ partitionKey, data: text })))
  }
  const windows = yield* RecordSink.memory<PerClient>("windows")
  const alerts = yield* RecordSink.memory<Alert>("alerts")
  const late = yield* RecordSink.memory<Request>("late")
  return yield* Effect.gen(function*() {
    const summary = yield* Pipeline.run(pipeline({ windows, alerts, late }))
    const deadLetters = yield* Effect.flatMap(DeadLetter.MemoryDeadLetters, (sink) => sink.items)
    return {
      summary,
      windows: yield* windows.items,
      alerts: yield* alerts.items,
      late: yield* late.items,
      deadLetters
    }
  }).pipe(Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layerMemory)))
})

const clock = (ms: number) => new Date(ms).toISOString().slice(11, 16)

const main = Effect.gen(function*() {
  const { alerts, deadLetters, late, summary, windows } = yield* program
  const { deadLettered, filtered, recordsIn, recordsOut } = summary
  console.log(
    `records in ${recordsIn} = out ${recordsOut} + dead letters ${deadLettered} + late ${summary.late} + filtered ${filtered}`
  )
  console.log(
    `${windows.length} windows (client IP x minute, UTC); ${alerts.length} alerts ` +
      `(more than ${threshold} distinct query strings in a minute):`
  )
  for (const a of [...alerts].sort((x, y) => x.start - y.start || (x.ip < y.ip ? -1 : 1))) {
    console.log(
      `  ALERT ${a.ip.padEnd(15)} ${clock(a.start)}-${clock(a.end)} ${String(a.distinctQueries).padStart(3)} distinct query strings ` +
        `in ${a.requests} requests, ${a.serverErrors} x 5xx, agent ${a.agent}`
    )
    for (const sample of a.samples) console.log(`        ?${sample}`)
  }
  const busiest = windows.reduce((top, w) => (w.value.requests > top.value.requests ? w : top))
  console.log(
    `not flagged: the busiest client, ${busiest.key} at ${clock(busiest.start)}, ${busiest.value.requests} requests ` +
      `with ${busiest.value.distinctQueries} distinct query strings (${busiest.value.agent[0]?.value})`
  )
  const quiet = windows.filter((w) => !attackers.includes(w.key as (typeof attackers)[number]))
  const closest = quiet.reduce((top, w) => (w.value.distinctQueries > top.value.distinctQueries ? w : top))
  console.log(
    `not flagged: the most distinct query strings of anyone else, ${closest.key} at ${clock(closest.start)}, ` +
      `${closest.value.distinctQueries} in ${closest.value.requests} requests`
  )
  console.log(`dead letters (malformed lines): ${deadLetters.length}`)
  for (const letter of deadLetters) {
    console.log(`  ${letter.shardId} ${letter.format}: ${letter.reason}`)
  }
  console.log(`late lines (to the late sink): ${late.map((r) => `${r.ip} ${new Date(r.time).toISOString()} ${r.path}`).join(", ")}`)
})

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  Effect.runPromise(main).catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
}
