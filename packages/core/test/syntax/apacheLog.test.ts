import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { type ApacheLogEntry, parseApacheLog } from "../../src/internal/syntax/apacheLog.js"
import { SyntaxFailure } from "../../src/internal/syntax/SyntaxFailure.js"
import { expectFailure, succeeded } from "./expectations.js"

const entryOf = (text: string): ApacheLogEntry => succeeded(parseApacheLog(text))


const common = "127.0.0.1 user-identifier frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326"
const combined = "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326 " +
  "\"http://www.example.com/start.html\" \"Mozilla/4.08 [en] (Win98; I ;Nav)\""

/** Replaces one field of the Common Log Format example; the failure offset is where that field starts. */
const withTime = (time: string): string => `h - - [${time}] "GET / HTTP/1.1" 200 1`
const timeOffset = 7

const MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"] as const
const pad = (n: number, width = 2): string => String(n).padStart(width, "0")

describe("parseApacheLog", () => {
  describe("valid input", () => {
    it("parses the Common Log Format example", () => {
      expect(entryOf(common)).toEqual({
        host: "127.0.0.1",
        ident: "user-identifier",
        user: "frank",
        time: 971211336000,
        timeZone: "-0700",
        request: "GET /apache_pb.gif HTTP/1.0",
        method: "GET",
        path: "/apache_pb.gif",
        protocol: "HTTP/1.0",
        status: 200,
        bytes: 2326,
        referer: null,
        userAgent: null
      })
      expect(new Date(971211336000).toISOString()).toBe("2000-10-10T20:55:36.000Z")
    })

    it("parses the Combined Log Format example", () => {
      expect(entryOf(combined)).toEqual({
        host: "127.0.0.1",
        ident: null,
        user: "frank",
        time: 971211336000,
        timeZone: "-0700",
        request: "GET /apache_pb.gif HTTP/1.0",
        method: "GET",
        path: "/apache_pb.gif",
        protocol: "HTTP/1.0",
        status: 200,
        bytes: 2326,
        referer: "http://www.example.com/start.html",
        userAgent: "Mozilla/4.08 [en] (Win98; I ;Nav)"
      })
    })

    it("maps '-' to null for ident, user, bytes, referer and user agent", () => {
      const entry = entryOf("::1 - - [01/Jan/2024:00:00:00 +0000] \"HEAD / HTTP/2\" 304 - \"-\" \"-\"")
      expect(entry).toMatchObject({ host: "::1", ident: null, user: null, bytes: null, referer: null, userAgent: null })
      expect(entry.time).toBe(Date.UTC(2024, 0, 1))
      expect(entry.status).toBe(304)
    })

    it("unescapes \\\" and \\\\ in quoted fields and keeps other escapes as written", () => {
      const entry = entryOf(
        "h - - [10/Oct/2000:13:55:36 -0700] \"GET /q?x=\\\"1\\\" HTTP/1.1\" 200 5 \"a\\\\b\" \"UA \\\"quoted\\\" \\x0a\""
      )
      expect(entry.request).toBe("GET /q?x=\"1\" HTTP/1.1")
      expect(entry.path).toBe("/q?x=\"1\"")
      expect(entry.referer).toBe("a\\b")
      expect(entry.userAgent).toBe("UA \"quoted\" \\x0a")
    })

    it("keeps a request that is not three space-separated parts whole", () => {
      for (const request of ["-", "", "GET /", "GET /a b HTTP/1.1", "GET  / HTTP/1.1", " GET / HTTP/1.1", "GET / HTTP/1.1 "]) {
        const entry = entryOf(`h - - [10/Oct/2000:13:55:36 -0700] "${request}" 400 0`)
        expect(entry).toMatchObject({ request, method: null, path: null, protocol: null })
      }
      expect(entryOf(`h - - [10/Oct/2000:13:55:36 -0700] "\\x16\\x03\\x01 x y" 400 0`)).toMatchObject({
        method: "\\x16\\x03\\x01",
        path: "x",
        protocol: "y"
      })
    })

    it("allows a single trailing LF or CRLF", () => {
      expect(entryOf(`${common}\n`)).toEqual(entryOf(common))
      expect(entryOf(`${combined}\r\n`)).toEqual(entryOf(combined))
    })

    it("computes epoch milliseconds from the written zone", () => {
      expect(entryOf(withTime("10/Oct/2000:13:55:36 +0000")).time).toBe(Date.UTC(2000, 9, 10, 13, 55, 36))
      expect(entryOf(withTime("10/Oct/2000:13:55:36 +0530")).time).toBe(Date.UTC(2000, 9, 10, 8, 25, 36))
      expect(entryOf(withTime("01/Jan/2000:00:00:00 +1400")).time).toBe(Date.UTC(1999, 11, 31, 10))
      expect(entryOf(withTime("31/Dec/1999:23:59:59 -1200")).time).toBe(Date.UTC(2000, 0, 1, 11, 59, 59))
      expect(entryOf(withTime("29/Feb/2024:12:00:00 +0100")).time).toBe(Date.UTC(2024, 1, 29, 11))
      expect(entryOf(withTime("01/Jan/1970:00:00:00 +0000")).time).toBe(0)
      expect(entryOf(withTime("01/Jan/1969:00:00:00 +0000")).time).toBe(Date.UTC(1969, 0, 1))
      // Date.UTC would read year 50 as 1950; the parser takes four-digit years literally.
      const year50 = new Date(0)
      year50.setUTCFullYear(50, 5, 15)
      expect(entryOf(withTime("15/Jun/0050:00:00:00 +0000")).time).toBe(year50.getTime())
      expect(entryOf(withTime("10/Oct/2000:13:55:36 -0000")).timeZone).toBe("-0000")
    })

    it("accepts hosts, idents and users of any non-space characters", () => {
      expect(entryOf("2001:db8::1 ident user@example.com [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 0"))
        .toMatchObject({ host: "2001:db8::1", ident: "ident", user: "user@example.com", bytes: 0 })
    })
  })

  describe("malformed input", () => {
    it("reports a missing or misplaced field at its offset", () => {
      expectFailure(parseApacheLog(""), { message: "expected the client host, found end of line", offset: 0, line: 1, column: 1 })
      expectFailure(parseApacheLog(" h - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 1"), {
        message: "expected the client host",
        offset: 0,
        line: 1,
        column: 1
      })
      expectFailure(parseApacheLog("h  - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 1"), {
        message: "expected ident or '-'",
        offset: 2,
        line: 1,
        column: 3
      })
      expectFailure(parseApacheLog("h -"), { message: "expected ' ' after the ident, found end of line", offset: 3, line: 1, column: 4 })
      expectFailure(parseApacheLog("h - "), { message: "expected user or '-', found end of line", offset: 4, line: 1, column: 5 })
      expectFailure(parseApacheLog("h\t- - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 1"), {
        message: "expected ' ' after the host, found U+0009",
        offset: 1,
        line: 1,
        column: 2
      })
      expectFailure(parseApacheLog("h - - 10/Oct/2000:13:55:36 -0700 \"GET / HTTP/1.1\" 200 1"), {
        message: "expected '[' starting the timestamp",
        offset: 6,
        line: 1,
        column: 7
      })
    })

    it("validates every part of the timestamp", () => {
      const cases: ReadonlyArray<readonly [time: string, message: string, at: number]> = [
        ["1/Oct/2000:13:55:36 -0700", "expected a 2-digit day", 0],
        ["10-Oct/2000:13:55:36 -0700", "expected '/' after the day", 2],
        ["10/Foo/2000:13:55:36 -0700", "unknown month 'Foo'; expected Jan..Dec", 3],
        ["10/oct/2000:13:55:36 -0700", "unknown month 'oct'", 3],
        ["10/anF/2000:13:55:36 -0700", "unknown month 'anF'", 3],
        ["10/Oct-2000:13:55:36 -0700", "expected '/' after the month", 6],
        ["10/Oct/200:13:55:36 -0700", "expected a 4-digit year", 7],
        ["00/Oct/2000:13:55:36 -0700", "day 0 is out of range for Oct 2000", 0],
        ["32/Oct/2000:13:55:36 -0700", "day 32 is out of range", 0],
        ["31/Nov/2000:13:55:36 -0700", "day 31 is out of range for Nov 2000", 0],
        ["29/Feb/1900:13:55:36 -0700", "day 29 is out of range for Feb 1900", 0],
        ["10/Oct/2000 13:55:36 -0700", "expected ':' after the year", 11],
        ["10/Oct/2000:24:55:36 -0700", "expected an hour 00-23", 12],
        ["10/Oct/2000:1:55:36 -0700", "expected an hour 00-23", 12],
        ["10/Oct/2000:13.55:36 -0700", "expected ':' after the hour", 14],
        ["10/Oct/2000:13:60:36 -0700", "expected a minute 00-59", 15],
        ["10/Oct/2000:13:55-36 -0700", "expected ':' after the minute", 17],
        ["10/Oct/2000:13:55:60 -0700", "expected a second 00-59", 18],
        ["10/Oct/2000:13:55:36-0700", "expected ' ' before the time zone", 20],
        ["10/Oct/2000:13:55:36 0700", "expected a time zone like -0700", 21],
        ["10/Oct/2000:13:55:36 -07:00", "expected a time zone like -0700", 21],
        ["10/Oct/2000:13:55:36 -070", "expected a time zone like -0700", 21],
        ["10/Oct/2000:13:55:36 -2400", "expected a time zone like -0700", 21],
        ["10/Oct/2000:13:55:36 +0060", "expected a time zone like -0700", 21],
        ["10/Oct/2000:13:55:36 -07000", "expected ']' closing the timestamp", 26]
      ]
      for (const [time, message, at] of cases) {
        const offset = timeOffset + at
        expectFailure(parseApacheLog(withTime(time)), { message, offset, line: 1, column: offset + 1 })
      }
      expectFailure(parseApacheLog("h - - [10/Oct/2000:13:55"), { message: "expected ':' after the minute", offset: 24, line: 1, column: 25 })
    })

    it("reports an unterminated or missing quoted field at its opening quote", () => {
      expectFailure(parseApacheLog("h - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1 200 1"), {
        message: "unterminated quoted request starting",
        offset: 35,
        line: 1,
        column: 36
      })
      expectFailure(parseApacheLog("h - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\\\" 200 1"), {
        message: "unterminated quoted request",
        offset: 35,
        line: 1,
        column: 36
      })
      expectFailure(parseApacheLog("h - - [10/Oct/2000:13:55:36 -0700] GET / HTTP/1.1 200 1"), {
        message: "expected '\"' starting the request, found 'G'",
        offset: 35,
        line: 1,
        column: 36
      })
      expectFailure(parseApacheLog(`${common} "http://r/ "UA"`), {
        message: "expected ' ' after the referer, found 'U'",
        offset: common.length + 13,
        line: 1,
        column: common.length + 14
      })
      expectFailure(parseApacheLog(`${common} "http://r/" "UA`), {
        message: "unterminated quoted user agent starting",
        offset: common.length + 13,
        line: 1,
        column: common.length + 14
      })
    })

    it("requires a 3-digit status and a numeric byte count or '-'", () => {
      const prefix = "h - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" "
      const at = prefix.length
      for (const status of ["20", "2000", "abc", "-", "2x0"]) {
        expectFailure(parseApacheLog(`${prefix}${status} 1`), {
          message: `status must be 3 digits, found '${status}'`,
          offset: at,
          line: 1,
          column: at + 1
        })
      }
      expectFailure(parseApacheLog(`${prefix}200`), { message: "expected ' ' after the status, found end of line", offset: at + 3, line: 1, column: at + 4 })
      for (const bytes of ["12a", "", "--", "12345678901234567", "+1", "1.5", "0x10"]) {
        expectFailure(parseApacheLog(`${prefix}200 ${bytes}`), {
          message: "expected a byte count or '-'",
          offset: at + 4,
          line: 1,
          column: at + 5
        })
      }
      expectFailure(parseApacheLog(`${prefix}200 9007199254740992`), {
        message: "byte count 9007199254740992 is too large",
        offset: at + 4,
        line: 1,
        column: at + 5
      })
      expect(entryOf(`${prefix}200 9007199254740991`).bytes).toBe(Number.MAX_SAFE_INTEGER)
    })

    it("rejects trailing text, missing combined fields and more than one line", () => {
      expectFailure(parseApacheLog(`${common} extra`), {
        message: "expected '\"' starting the referer, found 'e'",
        offset: common.length + 1,
        line: 1,
        column: common.length + 2
      })
      expectFailure(parseApacheLog(`${common} "http://r/"`), {
        message: "expected ' ' after the referer, found end of line",
        offset: common.length + 12,
        line: 1,
        column: common.length + 13
      })
      expectFailure(parseApacheLog(`${combined} x`), {
        message: "unexpected U+0020 after the user agent; expected end of line",
        offset: combined.length,
        line: 1,
        column: combined.length + 1
      })
      expectFailure(parseApacheLog(`${common} `), {
        message: "expected '\"' starting the referer, found end of line",
        offset: common.length + 1,
        line: 1,
        column: common.length + 2
      })
      expectFailure(parseApacheLog(`${common}\n\n`), {
        message: "expected ' ' after the byte count, found U+000A",
        offset: common.length,
        line: 1,
        column: common.length + 1
      })
      expectFailure(parseApacheLog(`${common}\n${common}`), {
        message: "expected ' ' after the byte count, found U+000A",
        offset: common.length,
        line: 1,
        column: common.length + 1
      })
      expectFailure(parseApacheLog(`${common}\r`), {
        message: "expected ' ' after the byte count, found U+000D",
        offset: common.length,
        line: 1,
        column: common.length + 1
      })
    })

    it("reports failures on later lines with the right line and column", () => {
      expectFailure(parseApacheLog("h - - [10/Oct/2000:13:55:36 -0700] \"GET\n/ HTTP/1.1\" 200 1"), {
        message: "unterminated quoted request",
        offset: 35,
        line: 1,
        column: 36
      })
    })
  })

  describe("properties", () => {
    const logChar = fc.oneof(
      fc.constantFrom(" ", "-", "\"", "\\", "[", "]", "/", ":", "+", "0", "1", "9", "J", "a", "n", "\n", "\u0000", "\ud800"),
      fc.string({ unit: "binary", minLength: 1, maxLength: 1 })
    )
    const nearlyValid = fc.tuple(fc.nat({ max: combined.length }), fc.string({ unit: logChar, maxLength: 4 }), fc.nat({ max: 4 }))
      .map(([at, insert, remove]) => combined.slice(0, at) + insert + combined.slice(at + remove))

    const isEntry = (value: unknown): boolean => {
      if (typeof value !== "object" || value === null) return false
      const entry = value as ApacheLogEntry
      const nullableString = (v: unknown) => v === null || typeof v === "string"
      return typeof entry.host === "string" && entry.host !== "" && nullableString(entry.ident) &&
        nullableString(entry.user) && Number.isFinite(entry.time) && /^[+-]\d{4}$/.test(entry.timeZone) &&
        typeof entry.request === "string" && nullableString(entry.method) && nullableString(entry.path) &&
        nullableString(entry.protocol) && Number.isInteger(entry.status) && entry.status >= 0 && entry.status <= 999 &&
        (entry.bytes === null || Number.isSafeInteger(entry.bytes)) && nullableString(entry.referer) &&
        nullableString(entry.userAgent)
    }

    it("never throws and returns an entry or a SyntaxFailure", () => {
      fc.assert(
        fc.property(
          fc.oneof(nearlyValid, fc.string({ unit: logChar, maxLength: 60 }), fc.string({ unit: "binary" }), fc.string()),
          (text) => {
            const result = parseApacheLog(text)
            expect(result instanceof SyntaxFailure || isEntry(result)).toBe(true)
          }
        ),
        { numRuns: 2000 }
      )
    })

    it("never throws on arbitrary bytes decoded as UTF-8", () => {
      const decoder = new TextDecoder()
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
          const result = parseApacheLog(decoder.decode(bytes))
          expect(result instanceof SyntaxFailure || isEntry(result)).toBe(true)
        }),
        { numRuns: 2000 }
      )
    })

    const token = fc.stringMatching(/^[!-~]{1,12}$/)
    const nullableToken = fc.option(token.filter((s) => s !== "-"), { nil: null })
    const quotedContent = fc.string({ unit: fc.oneof(fc.constantFrom("\"", "\\", " "), fc.string({ unit: "binary", minLength: 1, maxLength: 1 })), maxLength: 20 })
      .filter((s) => !s.includes("\n") && !s.includes("\r"))
    const quote = (s: string): string => `"${s.replace(/\\/g, "\\\\").replace(/"/g, "\\\"")}"`
    const datePart = fc.record({
      year: fc.integer({ min: 1000, max: 9999 }),
      month: fc.integer({ min: 1, max: 12 }),
      day: fc.integer({ min: 1, max: 28 }),
      hour: fc.integer({ min: 0, max: 23 }),
      minute: fc.integer({ min: 0, max: 59 }),
      second: fc.integer({ min: 0, max: 59 }),
      zoneSign: fc.constantFrom(1, -1),
      zoneHours: fc.integer({ min: 0, max: 23 }),
      zoneMinutes: fc.integer({ min: 0, max: 59 })
    })

    it("round-trips generated entries and agrees with Date.UTC on the time", () => {
      fc.assert(
        fc.property(
          token,
          nullableToken,
          nullableToken,
          datePart,
          quotedContent,
          fc.integer({ min: 100, max: 999 }),
          fc.option(fc.nat({ max: Number.MAX_SAFE_INTEGER }), { nil: null }),
          fc.option(fc.tuple(fc.option(quotedContent, { nil: null }), fc.option(quotedContent, { nil: null })), { nil: null }),
          (host, ident, user, d, request, status, bytes, combinedPart) => {
            const zone = `${d.zoneSign < 0 ? "-" : "+"}${pad(d.zoneHours)}${pad(d.zoneMinutes)}`
            const time = `${pad(d.day)}/${MONTH_NAMES[d.month - 1]}/${d.year}:${pad(d.hour)}:${pad(d.minute)}:${pad(d.second)} ${zone}`
            const quotedOrDash = (s: string | null) => (s === null ? "\"-\"" : quote(s))
            const text = `${host} ${ident ?? "-"} ${user ?? "-"} [${time}] ${quote(request)} ${status} ${bytes ?? "-"}` +
              (combinedPart === null ? "" : ` ${quotedOrDash(combinedPart[0])} ${quotedOrDash(combinedPart[1])}`)
            const entry = entryOf(text)
            const parts = request.split(" ")
            const threeParts = parts.length === 3 && parts.every((p) => p !== "")
            const nullIfDash = (s: string | null) => (s === "-" ? null : s)
            expect(entry).toEqual({
              host,
              ident,
              user,
              time: Date.UTC(d.year, d.month - 1, d.day, d.hour, d.minute, d.second) -
                d.zoneSign * (d.zoneHours * 60 + d.zoneMinutes) * 60_000,
              timeZone: zone,
              request,
              method: threeParts ? parts[0] : null,
              path: threeParts ? parts[1] : null,
              protocol: threeParts ? parts[2] : null,
              status,
              bytes,
              referer: combinedPart === null ? null : nullIfDash(combinedPart[0]),
              userAgent: combinedPart === null ? null : nullIfDash(combinedPart[1])
            })
          }
        ),
        { numRuns: 2000 }
      )
    })
  })

  describe("pathological input", () => {
    const megabyte = 1_000_000
    const prefix = "h - - [10/Oct/2000:13:55:36 -0700] "

    it("finishes on a megabyte of brackets, quotes, escapes and spaces", () => {
      expectFailure(parseApacheLog("[".repeat(megabyte)), { message: "expected ' ' after the host, found end of line", offset: megabyte, line: 1, column: megabyte + 1 })
      expectFailure(parseApacheLog(" ".repeat(megabyte)), { message: "expected the client host", offset: 0, line: 1, column: 1 })
      expectFailure(parseApacheLog("\"".repeat(megabyte)), { message: "expected ' ' after the host", offset: megabyte, line: 1, column: megabyte + 1 })
      expectFailure(parseApacheLog(prefix + "\"" + "\\\"".repeat(megabyte / 2)), {
        message: "unterminated quoted request",
        offset: prefix.length,
        line: 1,
        column: prefix.length + 1
      })
      expect(entryOf(`${prefix}"${"\\\"".repeat(megabyte / 2)}" 200 1`).request.length).toBe(megabyte / 2)
      expectFailure(parseApacheLog(`${prefix}"x" 200 1 ${"\"\" ".repeat(megabyte / 3)}`), {
        message: "after the user agent",
        offset: prefix.length + 15,
        line: 1,
        column: prefix.length + 16
      })
    })
  })
})
