/**
 * Adversarial payloads for fuzzing the record path, by class, from a seeded generator (the same seed gives
 * the same payloads): random bytes, truncations of valid messages in every format, nesting up to 100,000
 * levels, huge numbers, `NaN`/`Infinity` text, empty and BOM-only payloads, `__proto__`/`constructor`
 * keys, huge issue lists, invalid UTF-8, 1 MiB payloads, and valid messages in every format among them.
 *
 * Valid messages decode with `Decoder.auto(Event, { aliases })` (or `OpenEvent`, which also keeps every
 * other field); `at` grows with the payload's index, so windows make progress. `pipeline` is what the fuzz
 * runs them through.
 *
 * ```ts
 * import * as Poison from "@tributary/core/test-utils/Poison"
 *
 * const payloads = Poison.generator({ seed: 42 })
 * const { kind, data } = payloads.next()
 * ```
 *
 * @since 0.1.0
 */
import * as Aggregate from "@tributary/core/Aggregate"
import * as Decoder from "@tributary/core/Decoder"
import * as Pipeline from "@tributary/core/Pipeline"
import type { RecordSink } from "@tributary/core/RecordSink"
import * as Window from "@tributary/core/Window"
import * as Schema from "effect/Schema"

/**
 * The Schema valid messages follow.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Event = Schema.Struct({
  key: Schema.String,
  at: Schema.Number,
  n: Schema.Number,
  /** Where a payload can put as many wrong values as it likes: a huge issue list. */
  tags: Schema.optional(Schema.Array(Schema.String))
})

/**
 * @since 0.1.0
 * @category schemas
 */
export type Event = typeof Event.Type

/**
 * `Event` with a string index signature, as `tributary tail` decodes: every other field is kept.
 *
 * @since 0.1.0
 * @category schemas
 */
export const OpenEvent = Schema.Struct(Event.fields, Schema.Record({ key: Schema.String, value: Schema.Unknown }))

/**
 * Names of the fields in the text formats (an Apache log line's host, time and status).
 *
 * @since 0.1.0
 * @category constants
 */
export const aliases = { key: ["host", "customer"], at: ["time", "unix ms"], n: ["status", "count"] } as const

/**
 * @since 0.1.0
 * @category models
 */
export type Kind =
  | "valid"
  | "randomBytes"
  | "truncated"
  | "deepNesting"
  | "hugeNumber"
  | "nonFinite"
  | "empty"
  | "protoKeys"
  | "hugeIssueList"
  | "invalidUtf8"
  | "huge"

/**
 * Every kind, and how often each comes (out of the sum): valid messages are the most common; the costly
 * kinds (deep nesting, huge issue lists, 1 MiB payloads) rare.
 *
 * @since 0.1.0
 * @category constants
 */
export const weights: Readonly<Record<Kind, number>> = {
  valid: 400,
  randomBytes: 80,
  truncated: 150,
  deepNesting: 20,
  hugeNumber: 80,
  nonFinite: 80,
  empty: 30,
  protoKeys: 80,
  hugeIssueList: 4,
  invalidUtf8: 60,
  huge: 1
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Payload {
  readonly kind: Kind
  readonly data: Uint8Array
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Generator {
  /** The next payload, of a kind drawn by `weights`. */
  readonly next: () => Payload
  /** The next payload of a given kind. */
  readonly of: (kind: Kind) => Payload
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly seed: number
  /** Event time of the first valid message, epoch ms. Default 1,700,000,000,000. */
  readonly start?: number
  /** Deepest nesting generated. Default 100,000. */
  readonly maxDepth?: number
  /** Largest payload generated, in bytes. Default 1 MiB. */
  readonly maxBytes?: number
  /** How often each kind comes. Default `weights`. */
  readonly weights?: Readonly<Record<Kind, number>>
}

const encoder = new TextEncoder()
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

/**
 * A seeded generator of payloads.
 *
 * @since 0.1.0
 * @category constructors
 */
export const generator = (options: Options): Generator => {
  const maxDepth = options.maxDepth ?? 100_000
  const maxBytes = options.maxBytes ?? 1024 * 1024
  // mulberry32: small, fast, and good enough to spread payloads over the kinds
  let state = options.seed >>> 0
  const random = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (below: number) => Math.floor(random() * below)
  const pick = <A>(values: ReadonlyArray<A>): A => values[int(values.length)]
  let index = 0
  let time = options.start ?? 1_700_000_000_000

  const validText = (): string => {
    index++
    time += int(50)
    const key = `c${int(20)}`
    const n = int(1000)
    switch (int(5)) {
      case 0:
        return JSON.stringify({ key, at: time, n })
      case 1:
        return `key,at,n\n${key},${time},${n}\n`
      case 2:
        return `Customer: ${key}\nUnix ms: ${time}\nCount: ${n}\n`
      case 3:
        return `<event key="${key}"><at>${time}</at><n>${n}</n></event>`
      default: {
        const d = new Date(time)
        const pad = (v: number) => String(v).padStart(2, "0")
        const stamp = `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
          `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`
        return `${key} - - [${stamp}] "GET /item/${n} HTTP/1.1" ${200 + int(4) * 100} ${n}`
      }
    }
  }

  const nested = (depth: number): string => {
    const open = pick(["[", `{"a":`, `{"key":"k","at":1,"n":`])
    const close = open === "[" ? "]" : "}"
    const inner = pick(["1", "\"x\"", "[]", "{}"])
    switch (int(4)) {
      case 0: // balanced
        return open.repeat(depth) + inner + close.repeat(depth)
      case 1: // unclosed
        return open.repeat(depth)
      case 2: // one closer short, or one too many
        return open.repeat(depth) + inner + close.repeat(depth + (random() < 0.5 ? -1 : 1))
      default: // as XML
        return "<a>".repeat(depth) + "x" + "</a>".repeat(depth)
    }
  }

  const text = (kind: Kind): string | Uint8Array => {
    switch (kind) {
      case "valid":
        return validText()
      case "randomBytes": {
        const bytes = new Uint8Array(int(200))
        for (let i = 0; i < bytes.length; i++) bytes[i] = int(256)
        return bytes
      }
      case "truncated": {
        const whole = validText()
        return whole.slice(0, int(whole.length))
      }
      case "deepNesting":
        // most below or near the limit, some far beyond it
        return nested(pick([10, 999, 1000, 1001, 2200, 6250, Math.min(maxDepth, 20_000), maxDepth]))
      case "hugeNumber": {
        const digits = "9".repeat(1 + int(Math.min(100_000, maxBytes / 4)))
        const number = pick(["1e999", "-1e999", "1e16", "-1e16", "8640000000000001", digits, `${digits}x`, "1e-999"])
        return pick([
          `{"key":"k","at":${/x$/.test(number) ? `"${number}"` : number},"n":1}`,
          `key,at,n\nk,${number},1`,
          `Customer: k\nUnix ms: ${number}\nCount: 1`,
          `<e key="k" at="${number}" n="1"/>`,
          `{"key":"k","at":1,"n":${/x$/.test(number) ? 1 : number}}`
        ])
      }
      case "nonFinite": {
        const word = pick(["NaN", "Infinity", "-Infinity", "nan", "inf", "1e309", "-0"])
        return pick([
          `{"key":"k","at":${word},"n":1}`,
          `key,at,n\nk,${word},1`,
          `Customer: k\nUnix ms: ${word}\nCount: ${word}`,
          `<e key="k"><at>${word}</at><n>1</n></e>`
        ])
      }
      case "empty":
        return pick(["", "\ufeff", " ", "\n", "\r\n", "\ufeff\ufeff", "\t"])
      case "protoKeys": {
        const name = pick(["__proto__", "constructor", "prototype", "\\u005f_proto__"])
        return pick([
          `{"key":"k","at":${time},"n":1,"${name}":{"polluted":true}}`,
          `{"${name}":{"key":"k"},"at":${time}}`,
          `key,at,n,${name}\nk,${time},1,x`,
          `Customer: k\nUnix ms: ${time}\nCount: 1\n${name}: x`,
          `<e key="k" ${name.replace("\\u005f", "_")}="x"><at>${time}</at><n>1</n></e>`
        ])
      }
      case "hugeIssueList": {
        // a 400 KB payload whose every tag is wrong: an issue per tag
        const count = Math.max(1, Math.floor(Math.min(maxBytes, 400_000) / 10))
        return pick([
          `{"key":"k","at":${time},"n":1,"tags":[${Array.from({ length: count * 5 }, () => "1").join(",")}]}`,
          `{"key":"k","at":${time},"n":1,"tags":[${Array.from({ length: count }, () => `{"n":"x"}`).join(",")}]}`,
          `{"key":["k"],"at":"x","n":"y","tags":[${Array.from({ length: count * 2 }, () => "null").join(",")}]}`
        ])
      }
      case "invalidUtf8": {
        const valid = encoder.encode(validText())
        const bad = pick([[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80]])
        const at = int(valid.length + 1)
        const out = new Uint8Array(valid.length + bad.length)
        out.set(valid.subarray(0, at), 0)
        out.set(bad, at)
        out.set(valid.subarray(at), at + bad.length)
        return out
      }
      case "huge": {
        const size = maxBytes - int(64)
        return pick([
          `{"key":"${"k".repeat(size - 40)}","at":${time},"n":1}`,
          `key,at,n\nk,${time},${"1".repeat(size - 30)}`,
          `<e key="k" at="${time}"><n>${"x".repeat(size - 40)}</n></e>`,
          JSON.stringify({ key: "k", at: time, n: 1, pad: Array.from({ length: Math.floor(size / 12) }, (_, i) => i) })
        ])
      }
    }
  }

  const weighted = options.weights ?? weights
  const kinds = Object.keys(weighted) as Array<Kind>
  const total = kinds.reduce((sum, kind) => sum + weighted[kind], 0)
  const drawKind = (): Kind => {
    let at = random() * total
    for (const kind of kinds) {
      at -= weighted[kind]
      if (at < 0) return kind
    }
    return "valid"
  }

  const of = (kind: Kind): Payload => {
    const value = text(kind)
    const data = typeof value === "string" ? encoder.encode(value) : value
    return { kind, data: data.length > maxBytes ? data.subarray(0, maxBytes) : data }
  }
  return { next: () => of(drawKind()), of }
}

/**
 * What the fuzz runs payloads through: every kind of stage a record can fail in. `Decoder.auto(OpenEvent)`
 * (declared fields and an index signature), a `map` that throws for `n % 97 === 13` and reports a decoded
 * value whose prototype is not `Object.prototype`, a `filter` dropping `n === 7`, one-minute tumbling
 * windows per `key` over `at` (5 s out of order) that count their records with an aggregate that cannot take
 * `n % 89 === 11` (after the field that counts), and `results`: each result's `value` must equal its `count`.
 *
 * @since 0.1.0
 * @category pipelines
 */
export const pipeline = (
  results: RecordSink<Window.WindowResult<string, number>>,
  onOtherPrototype: (value: unknown) => void
): Pipeline.Pipeline<Window.WindowResult<string, number>> =>
  Pipeline.make("fuzz").pipe(
    Pipeline.decode(Decoder.auto(OpenEvent, { aliases })),
    Pipeline.map((event) => {
      if (Object.getPrototypeOf(event) !== Object.prototype) onOtherPrototype(event)
      if (event.n % 97 === 13) throw new RangeError(`${event.n} is unlucky`)
      return event
    }),
    Pipeline.filter((event) => event.n !== 7),
    Pipeline.window({
      window: Window.tumbling("1 minute"),
      key: (event) => event.key,
      eventTime: (event) => event.at,
      maxOutOfOrderness: "5 seconds",
      // `sum` cannot take a string: such a record is a dead letter, and `count`, before it, must not count it
      aggregate: Aggregate.struct({
        count: Aggregate.count,
        total: Aggregate.sum.pipe(
          Aggregate.mapInput((event: typeof OpenEvent.Type) => event.n % 89 === 11 ? (String(event.n) as unknown as number) : event.n)
        )
      }).pipe(Aggregate.map((totals) => totals.count))
    }),
    Pipeline.to(results)
  )
