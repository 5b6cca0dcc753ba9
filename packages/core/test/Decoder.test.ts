import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as fc from "fast-check"
import * as Decoder from "../src/Decoder.js"
import * as PageText from "../src/internal/pageText.js"
import { locateJsonError } from "../src/internal/syntax/jsonError.js"
import type { SourceRecord } from "../src/SourceRecord.js"
import { DecodeFailure } from "../src/TributaryError.js"
import {
  Activity,
  aliases,
  recordOf,
  seed,
  seedAsCsv,
  seedAsJson,
  seedAsKeyValue,
  seedAsXml
} from "./fixtures/activity.js"

const decodeText = <A>(decoder: Decoder.Decoder<A>, text: string | Uint8Array) => decoder.decode(recordOf(text))

const failureOf = <A>(decoder: Decoder.Decoder<A>, text: string | Uint8Array): DecodeFailure => {
  const result = decodeText(decoder, text)
  if (Either.isRight(result)) throw new Error(`expected a failure, got ${JSON.stringify(result.right)}`)
  return result.left
}

describe("Decoder", () => {
  describe("the seed message in four formats", () => {
    it("decodes to the same value with the format's own decoder", () => {
      expect(decodeText(Decoder.json(Activity), seedAsJson)).toStrictEqual(Either.right(seed))
      expect(decodeText(Decoder.csv(Activity), seedAsCsv)).toStrictEqual(Either.right(seed))
      expect(decodeText(Decoder.keyValue(Activity, { aliases }), seedAsKeyValue)).toStrictEqual(Either.right(seed))
      expect(decodeText(Decoder.xml(Activity), seedAsXml)).toStrictEqual(Either.right(seed))
    })

    it("decodes to the same value with auto", () => {
      const decoder = Decoder.auto(Activity, { aliases })
      for (const text of [seedAsJson, seedAsCsv, seedAsKeyValue, seedAsXml, "abc123,1416603010000,buy,43253"]) {
        expect(decodeText(decoder, text)).toStrictEqual(Either.right(seed))
      }
    })
  })

  describe("a Schema with a string index signature keeps every field", () => {
    const Anything = Schema.Record({ key: Schema.String, value: Schema.Unknown })

    it("text formats keep the names as written, the values as text", () => {
      const decoder = Decoder.auto(Anything)
      expect(decodeText(decoder, "CustomerId,Unix date (ms)\nabc123,1416603010000")).toStrictEqual(
        Either.right({ CustomerId: "abc123", "Unix date (ms)": "1416603010000" })
      )
      expect(decodeText(decoder, "customer=abc123\nts=1416603010000")).toStrictEqual(
        Either.right({ customer: "abc123", ts: "1416603010000" })
      )
      expect(decodeText(decoder, `<a id="7"><CustomerId>abc123</CustomerId></a>`)).toStrictEqual(
        Either.right({ id: "7", CustomerId: "abc123" })
      )
      // a lone row has no header: its columns are numbered
      expect(decodeText(decoder, "abc123,buy")).toStrictEqual(Either.right({ column1: "abc123", column2: "buy" }))
      expect(decodeText(decoder, `{"n":1}`)).toStrictEqual(Either.right({ n: 1 }))
    })

    it("declared fields are still mapped and converted; the others are kept as text", () => {
      const Order = Schema.Struct({ id: Schema.Number }, Schema.Record({ key: Schema.String, value: Schema.Unknown }))
      expect(decodeText(Decoder.keyValue(Order), "ID: 7\nnote: rush")).toStrictEqual(Either.right({ id: 7, note: "rush" }))
      // a Schema without one drops the names it does not know, as before
      expect(decodeText(Decoder.keyValue(Schema.Struct({ id: Schema.Number })), "ID: 7\nnote: rush")).toStrictEqual(
        Either.right({ id: 7 })
      )
    })
  })

  describe("json", () => {
    const decoder = Decoder.json(Activity)

    it("drops excess properties like Schema does", () => {
      expect(decodeText(decoder, `{"extra":1,${seedAsJson.slice(1)}`)).toStrictEqual(Either.right(seed))
    })

    it("explains a wrong shape with the Schema's issues", () => {
      const failure = failureOf(decoder, `{"CustomerId":"abc123","DateUnixMs":"yesterday","Activity":"buy"}`)
      expect(failure.format).toBe("json")
      expect(failure.reason).toContain(`DateUnixMs: Expected number, actual "yesterday"`)
      expect(failure.reason).toContain("DurationMs: is missing")
      expect(failure.position).toBeUndefined()
    })

    it("gives the position of a syntax error", () => {
      const failure = failureOf(decoder, `{"CustomerId":"abc123",\n "DateUnixMs": }`)
      expect(failure.reason).toBe("invalid JSON: unexpected '}', expected a value")
      expect(failure.position).toStrictEqual({ offset: 39, line: 2, column: 16 })
    })

    it("locates every syntax error JSON.parse finds, and only those", () => {
      const jsonish = fc.oneof(
        fc.json(),
        fc.json().chain((text) =>
          fc.tuple(fc.nat(text.length), fc.constantFrom("", ",", "}", "]", "\"", ":", "tru", "-", "1e", "\\u12"))
            .map(([at, insert]) => text.slice(0, at) + insert + text.slice(at + 1))
        )
      )
      fc.assert(
        fc.property(jsonish, (text) => {
          let valid = true
          try {
            JSON.parse(text)
          } catch {
            valid = false
          }
          const located = locateJsonError(text)
          return valid ? located === undefined : located !== undefined && located.offset <= text.length
        }),
        { numRuns: 3000 }
      )
    })

    it("reports truncated input at its end", () => {
      const truncated = seedAsJson.slice(0, 30)
      const failure = failureOf(decoder, truncated)
      expect(failure.reason).toContain("invalid JSON")
      expect(failure.position?.offset).toBe(30)
    })

    it("reports invalid UTF-8 and keeps the record", () => {
      const record = recordOf(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]))
      const result = decoder.decode(record)
      expect(Either.isLeft(result) && result.left.reason).toBe("payload is not valid UTF-8")
      expect(Either.isLeft(result) && result.left.record).toBe(record)
    })

    it("uses the Schema where the compiled check cannot (transformations)", () => {
      const WithDate = Schema.Struct({ at: Schema.DateFromNumber, n: Schema.NumberFromString })
      const result = decodeText(Decoder.json(WithDate), `{"at":0,"n":"12"}`)
      expect(result).toStrictEqual(Either.right({ at: new Date(0), n: 12 }))
    })

    it("reads only the payload's own properties, never inherited ones", () => {
      const Odd = Schema.Struct({ toString: Schema.optional(Schema.Unknown), constructor: Schema.optional(Schema.String) })
      expect(decodeText(Decoder.json(Odd), `{"a":"b"}`)).toStrictEqual(Either.right({}))
      expect(decodeText(Decoder.json(Odd), `{"constructor":"x"}`)).toStrictEqual(Either.right({ constructor: "x" }))
      const Proto = Schema.Struct({ __proto__: Schema.String })
      const result = decodeText(Decoder.json(Proto), `{"__proto__":"p"}`)
      expect(Either.isRight(result) && Object.getPrototypeOf(result.right)).toBe(Object.prototype)
    })

    it("keeps unknown properties with onExcessProperty: preserve, without copying", () => {
      const decoder = Decoder.json(Activity, { onExcessProperty: "preserve" })
      const result = decodeText(decoder, `{"extra":1,${seedAsJson.slice(1)}`)
      expect(result).toStrictEqual(Either.right({ extra: 1, ...seed }))
      expect(failureOf(decoder, `{"extra":1}`).reason).toContain("CustomerId: is missing")
    })

    it("applies refinements and literal unions", () => {
      const Strict = Schema.Struct({
        kind: Schema.Literal("buy", "sell"),
        amount: Schema.Number.pipe(Schema.int(), Schema.positive()),
        note: Schema.optional(Schema.String)
      })
      const strict = Decoder.json(Strict)
      expect(decodeText(strict, `{"kind":"buy","amount":3}`)).toStrictEqual(Either.right({ kind: "buy", amount: 3 }))
      expect(failureOf(strict, `{"kind":"rent","amount":3}`).reason).toContain("kind")
      expect(failureOf(strict, `{"kind":"buy","amount":-3}`).reason).toContain("Expected a positive number")
      expect(failureOf(strict, `{"kind":"buy","amount":1.5}`).reason).toContain("Expected an integer")
    })
  })

  describe("csv", () => {
    it("uses the Schema's property order when there is no header", () => {
      expect(decodeText(Decoder.csv(Activity), "abc123,1416603010000,buy,43253")).toStrictEqual(Either.right(seed))
    })

    it("follows a header row in any column order, with aliases", () => {
      const text = "Duration (ms);Activity;Unix date (ms);Customer id\r\n43253;buy;1416603010000;abc123\r\n"
      const decoder = Decoder.csv(Activity, { delimiter: ";", aliases })
      expect(decodeText(decoder, text)).toStrictEqual(Either.right(seed))
    })

    it("uses configured columns", () => {
      const decoder = Decoder.csv(Activity, { columns: ["Activity", "CustomerId", "DurationMs", "DateUnixMs"] })
      expect(decodeText(decoder, "buy,abc123,43253,1416603010000")).toStrictEqual(Either.right(seed))
    })

    it("honours RFC 4180 quoting", () => {
      const decoder = Decoder.csv(Activity)
      const result = decodeText(decoder, `"abc,""123""",1416603010000,"buy\nnow",43253`)
      expect(result).toStrictEqual(Either.right({ ...seed, CustomerId: `abc,"123"`, Activity: "buy\nnow" }))
    })

    it("names the field count when a row is short", () => {
      const failure = failureOf(Decoder.csv(Activity), "abc123,1416603010000,buy")
      expect(failure.reason).toBe("row has 3 fields, expected 4 (CustomerId, DateUnixMs, Activity, DurationMs)")
    })

    it("reports an unterminated quote with its position", () => {
      const failure = failureOf(Decoder.csv(Activity), `abc123,"1416603010000,buy,43253`)
      expect(failure.reason).toContain("unterminated")
      expect(failure.position?.column).toBe(8)
    })

    it("reports a number that is not one", () => {
      const failure = failureOf(Decoder.csv(Activity), "abc123,14166O3010000,buy,43253")
      expect(failure.reason).toBe(`DateUnixMs: Expected number, actual "14166O3010000"`)
    })
  })

  describe("keyValue", () => {
    const decoder = Decoder.keyValue(Activity, { aliases })

    it("matches names ignoring case and punctuation, values may contain separators", () => {
      const Event = Schema.Struct({ customerId: Schema.String, url: Schema.String })
      const text = "CUSTOMER_ID = x1\nURL: http://example.com:8080/a=b\n"
      expect(decodeText(Decoder.keyValue(Event), text)).toStrictEqual(
        Either.right({ customerId: "x1", url: "http://example.com:8080/a=b" })
      )
    })

    it("names a missing field", () => {
      const failure = failureOf(decoder, "Customer id: abc123\nActivity: buy\nDuration (ms): 43253")
      expect(failure.reason).toBe("DateUnixMs: is missing")
    })

    it("points at a line without a separator", () => {
      const failure = failureOf(decoder, "Customer id: abc123\nUnix date (ms) 1416603010000\n")
      expect(failure.position?.line).toBe(2)
    })
  })

  describe("xml", () => {
    const decoder = Decoder.xml(Activity)

    it("reads fields from attributes too", () => {
      const text = `<Activity CustomerId="abc123" DateUnixMs="1416603010000" Activity="buy"><DurationMs>43253</DurationMs></Activity>`
      expect(decodeText(decoder, text)).toStrictEqual(Either.right(seed))
    })

    it("decodes entities", () => {
      const text = `<a><CustomerId>a&amp;b&#x41;</CustomerId><DateUnixMs>1</DateUnixMs><Activity>&lt;x&gt;</Activity><DurationMs>2</DurationMs></a>`
      expect(decodeText(decoder, text)).toStrictEqual(
        Either.right({ CustomerId: "a&bA", DateUnixMs: 1, Activity: "<x>", DurationMs: 2 })
      )
    })

    it("reports a mismatched closing tag with its position", () => {
      const failure = failureOf(decoder, "<Activity>\n  <CustomerId>abc123</Customer>\n</Activity>")
      expect(failure.format).toBe("xml")
      expect(failure.position?.line).toBe(2)
    })

    it("reports truncated documents", () => {
      expect(failureOf(decoder, seedAsXml.slice(0, seedAsXml.length - 5)).position).toBeDefined()
    })

    it("refuses DOCTYPE declarations", () => {
      expect(failureOf(decoder, `<!DOCTYPE a [<!ENTITY x "y">]><a/>`).reason).toContain("DOCTYPE")
    })
  })

  describe("apacheLog", () => {
    const combined =
      `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"`

    it("decodes the Combined Log Format with its time zone", () => {
      expect(decodeText(Decoder.apacheLog(), combined)).toStrictEqual(Either.right({
        host: "127.0.0.1",
        ident: null,
        user: "frank",
        time: Date.UTC(2000, 9, 10, 20, 55, 36),
        timeZone: "-0700",
        request: "GET /apache_pb.gif HTTP/1.0",
        method: "GET",
        path: "/apache_pb.gif",
        protocol: "HTTP/1.0",
        status: 200,
        bytes: 2326,
        referer: "http://www.example.com/start.html",
        userAgent: "Mozilla/4.08 [en] (Win98; I ;Nav)"
      }))
    })

    it("decodes the Common Log Format into a user Schema through aliases", () => {
      const Hit = Schema.Struct({ ip: Schema.String, status: Schema.Number, size: Schema.NullOr(Schema.Number) })
      const decoder = Decoder.apacheLog(Hit, { aliases: { ip: "host", size: "bytes" } })
      const line = `10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "POST /api HTTP/1.1" 503 -`
      expect(decodeText(decoder, line)).toStrictEqual(Either.right({ ip: "10.0.0.1", status: 503, size: null }))
    })

    it("reports a bad timestamp", () => {
      const failure = failureOf(Decoder.apacheLog(), `1.2.3.4 - - [10/Foo/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1`)
      expect(failure.format).toBe("apacheLog")
      expect(failure.position?.offset).toBeGreaterThan(0)
    })

    it("is sniffed by auto", () => {
      const Hit = Schema.Struct({ host: Schema.String, status: Schema.Number })
      expect(decodeText(Decoder.auto(Hit), combined)).toStrictEqual(Either.right({ host: "127.0.0.1", status: 200 }))
    })
  })

  describe("auto", () => {
    const decoder = Decoder.auto(Activity, { aliases })

    it("names the format it sniffed in a failure", () => {
      expect(failureOf(decoder, `{"CustomerId":1}`).format).toBe("json")
      expect(failureOf(decoder, `<a><b></a>`).format).toBe("xml")
      expect(failureOf(decoder, "Customer id: abc123").format).toBe("keyValue")
      expect(failureOf(decoder, "abc123,1").format).toBe("csv")
    })
  })

  describe("decodeAll", () => {
    it("keeps the record index of every value and failure", () => {
      const records = [seedAsJson, "{", seedAsCsv, "nope"].map((text) => recordOf(text))
      const batch = Decoder.decodeAll(Decoder.auto(Activity), records)
      expect(batch.values).toStrictEqual([seed, seed])
      expect(Decoder.valueOrigins(batch)).toStrictEqual([0, 2])
      expect(batch.failureOrigins).toStrictEqual([1, 3])
      expect(batch.failures.every((failure) => failure instanceof DecodeFailure)).toBe(true)
      expect(batch.failures[0].record).toBe(records[1])
    })

    it("decodes a page as each of its records alone, whatever the payloads' bytes", () => {
      // JSON pages are turned into text in runs of ASCII payloads (internal/pageText): runs broken by
      // non-ASCII text, invalid UTF-8, a byte order mark, or a payload larger than a run (16 KiB)
      const encode = (text: string) => new TextEncoder().encode(text)
      const payload = fc.oneof(
        { weight: 6, arbitrary: fc.oneof(fc.json(), fc.unicodeJson()).map(encode) },
        { weight: 1, arbitrary: fc.json().map((text) => encode(`\uFEFF${text}`)) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }) },
        { weight: 1, arbitrary: fc.nat(20_000).map((n) => encode(JSON.stringify("x".repeat(n)))) }
      )
      const runs = PageText.make(true)
      const texts = (records: ReadonlyArray<SourceRecord>) => {
        const all: Array<string | undefined> = []
        for (let from = 0; from < records.length;) {
          const to = runs.next(records, from)
          all.push(...runs.texts.slice(0, to - from))
          from = to
        }
        return all
      }
      const decoder = Decoder.json(Schema.Unknown)
      fc.assert(
        fc.property(fc.array(payload, { maxLength: 60 }), (payloads) => {
          const records = payloads.map((bytes) => recordOf(bytes))
          expect(texts(records)).toStrictEqual(records.map((record) => PageText.textOf(record.data)))
          const batch = Decoder.decodeAll(decoder, records)
          const alone = records.map((record) => decoder.decode(record))
          expect(batch.values).toStrictEqual(alone.filter(Either.isRight).map((result) => result.right))
          expect(batch.failures.map((failure) => failure.reason)).toStrictEqual(
            alone.filter(Either.isLeft).map((result) => result.left.reason)
          )
          expect(batch.failureOrigins).toStrictEqual(alone.flatMap((result, i) => Either.isLeft(result) ? [i] : []))
        }),
        { numRuns: 300 }
      )
    })
  })

  describe("never throws", () => {
    const decoders = [
      Decoder.json(Activity),
      Decoder.csv(Activity),
      Decoder.keyValue(Activity, { aliases }),
      Decoder.xml(Activity),
      Decoder.apacheLog(),
      Decoder.auto(Activity, { aliases })
    ] as const
    const isOutcome = (result: Either.Either<unknown, DecodeFailure>) =>
      Either.isRight(result) || (result.left instanceof DecodeFailure && result.left.reason.length > 0)

    it("on arbitrary bytes", () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) =>
          decoders.every((decoder) => isOutcome(decoder.decode(recordOf(bytes))))),
        { numRuns: 1500 }
      )
    })

    it("on arbitrary strings, including near-misses of every format", () => {
      const nearMiss = fc.constantFrom(seedAsJson, seedAsCsv, seedAsKeyValue, seedAsXml).chain((text) =>
        fc.tuple(fc.nat(text.length), fc.nat(text.length), fc.fullUnicodeString({ maxLength: 5 })).map(
          ([from, to, insert]) => text.slice(0, Math.min(from, to)) + insert + text.slice(Math.max(from, to))
        )
      )
      fc.assert(
        fc.property(fc.oneof(fc.fullUnicodeString({ maxLength: 300 }), nearMiss), (text) =>
          decoders.every((decoder) => isOutcome(decoder.decode(recordOf(text))))),
        { numRuns: 1500 }
      )
    })
  })
})
