import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { parseKeyValue } from "../../src/internal/syntax/keyValue.js"
import { SyntaxFailure } from "../../src/internal/syntax/SyntaxFailure.js"
import { expectFailure, succeeded } from "./expectations.js"

const pairsOf = (text: string): ReadonlyArray<readonly [string, string]> => succeeded(parseKeyValue(text))


const isPairs = (result: unknown): boolean =>
  Array.isArray(result) && result.length > 0 &&
  result.every((pair) =>
    Array.isArray(pair) && pair.length === 2 && typeof pair[0] === "string" && pair[0] !== "" &&
    typeof pair[1] === "string"
  )

describe("parseKeyValue", () => {
  describe("valid input", () => {
    it("parses ':' and '=' lines, trimming keys and values", () => {
      expect(pairsOf("Customer id: abc123\nUnix date (ms): 1416603010000\nActivity = buy")).toEqual([
        ["Customer id", "abc123"],
        ["Unix date (ms)", "1416603010000"],
        ["Activity", "buy"]
      ])
      expect(pairsOf("  \tkey\t :   spaced value  ")).toEqual([["key", "spaced value"]])
    })

    it("splits at the first ':' or '=' so values may contain either", () => {
      expect(pairsOf("Time: 12:30:00\nUrl: https://example.com:8080/a?b=c\nexpr = a=b:c\nk:v=w")).toEqual([
        ["Time", "12:30:00"],
        ["Url", "https://example.com:8080/a?b=c"],
        ["expr", "a=b:c"],
        ["k", "v=w"]
      ])
    })

    it("accepts CRLF, skips blank and whitespace-only lines, and ignores a trailing line break", () => {
      expect(pairsOf("\r\n  \r\na: 1\r\n\r\n\t\nb = 2\r\n")).toEqual([["a", "1"], ["b", "2"]])
    })

    it("allows empty values and keeps duplicate keys in order", () => {
      expect(pairsOf("a:\nb =   \na: again")).toEqual([["a", ""], ["b", ""], ["a", "again"]])
    })

    it("passes non-ASCII text, NUL and lone surrogates through", () => {
      expect(pairsOf("Prénom: Zoë 😀\n\u0000k: \ud800")).toEqual([["Prénom", "Zoë 😀"], ["\u0000k", "\ud800"]])
    })
  })

  describe("malformed input", () => {
    it("points at a non-blank line without a separator", () => {
      expectFailure(parseKeyValue("a: 1\n  just text\nb: 2"), {
        message: "expected ':' or '=' between key and value",
        offset: 7,
        line: 2,
        column: 3
      })
      expectFailure(parseKeyValue("lonely"), { message: "expected ':' or '='", offset: 0, line: 1, column: 1 })
      expectFailure(parseKeyValue("a=1\r\nb\r\n"), { message: "expected ':' or '='", offset: 5, line: 2, column: 1 })
    })

    it("points at the separator of a line with an empty key", () => {
      expectFailure(parseKeyValue("a: 1\n   : value"), { message: "empty key before ':'", offset: 8, line: 2, column: 4 })
      expectFailure(parseKeyValue("=x"), { message: "empty key before '='", offset: 0, line: 1, column: 1 })
    })

    it("fails when there are no key-value lines at all", () => {
      expectFailure(parseKeyValue(""), { message: "no key-value lines", offset: 0, line: 1, column: 1 })
      expectFailure(parseKeyValue(" \n\r\n\t"), { message: "no key-value lines", offset: 0, line: 1, column: 1 })
    })
  })

  describe("properties", () => {
    const kvChar = fc.oneof(
      fc.constantFrom(":", "=", "\n", "\r", " ", "\t", "a", "\u0000", "\ud800"),
      fc.string({ unit: "binary", minLength: 1, maxLength: 1 })
    )

    it("never throws and returns non-empty pairs or a SyntaxFailure", () => {
      fc.assert(
        fc.property(fc.oneof(fc.string({ unit: kvChar, maxLength: 60 }), fc.string({ unit: "binary" }), fc.string()), (text) => {
          const result = parseKeyValue(text)
          expect(result instanceof SyntaxFailure || isPairs(result)).toBe(true)
        }),
        { numRuns: 2000 }
      )
    })

    it("never throws on arbitrary bytes decoded as UTF-8", () => {
      const decoder = new TextDecoder()
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
          const result = parseKeyValue(decoder.decode(bytes))
          expect(result instanceof SyntaxFailure || isPairs(result)).toBe(true)
        }),
        { numRuns: 2000 }
      )
    })

    const noLineBreak = (s: string) => !s.includes("\n")
    const key = fc.string({ minLength: 1, maxLength: 12 })
      .map((s) => s.trim())
      .filter((s) => s !== "" && noLineBreak(s) && !s.includes(":") && !s.includes("="))
    const value = fc.string({ unit: fc.oneof(fc.constantFrom(":", "=", " "), fc.string({ unit: "binary", minLength: 1, maxLength: 1 })), maxLength: 20 })
      .map((s) => s.trim())
      .filter(noLineBreak)

    it("round-trips written pairs", () => {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(key, value), { minLength: 1, maxLength: 8 }),
          fc.constantFrom(": ", " = ", ":", "="),
          fc.constantFrom("\n", "\r\n", "\n\n"),
          (pairs, separator, eol) => {
            const text = pairs.map(([k, v]) => `${k}${separator}${v}`).join(eol)
            expect(parseKeyValue(text)).toEqual(pairs)
          }
        ),
        { numRuns: 2000 }
      )
    })
  })

  describe("pathological input", () => {
    const megabyte = 1_000_000

    it("finishes on a megabyte of separators, line breaks and text", () => {
      expectFailure(parseKeyValue(":".repeat(megabyte)), { message: "empty key", offset: 0, line: 1, column: 1 })
      expectFailure(parseKeyValue("a".repeat(megabyte)), { message: "expected ':' or '='", offset: 0, line: 1, column: 1 })
      expectFailure(parseKeyValue("\n".repeat(megabyte)), { message: "no key-value lines", offset: 0, line: 1, column: 1 })
      expectFailure(parseKeyValue(" ".repeat(megabyte)), { message: "no key-value lines", offset: 0, line: 1, column: 1 })
      expect(pairsOf("k:\n".repeat(megabyte / 3)).length).toBe(megabyte / 3 | 0)
      expect(pairsOf(`k${"=".repeat(megabyte)}`)[0][1].length).toBe(megabyte - 1)
    })
  })
})
