import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { readdirSync, readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { basename, dirname, join } from "node:path"
import { type CsvOptions, defaultCsvOptions, parseCsv } from "../../src/internal/syntax/csv.js"
import { SyntaxFailure } from "../../src/internal/syntax/SyntaxFailure.js"
import { expectFailure, succeeded } from "./expectations.js"

const comma: CsvOptions = { delimiter: ",", quote: "\"" }

const rowsOf = (text: string, options: CsvOptions = comma): ReadonlyArray<ReadonlyArray<string>> => succeeded(parseCsv(text, options))


const isRows = (result: unknown): boolean =>
  Array.isArray(result) &&
  result.every((row) => Array.isArray(row) && row.length > 0 && row.every((field) => typeof field === "string"))

/** RFC 4180 writer used as the round-trip oracle: quotes whenever a field needs it, and always for "". */
const serialize = (rows: ReadonlyArray<ReadonlyArray<string>>, options: CsvOptions, eol: string): string =>
  rows
    .map((row) =>
      row
        .map((field) =>
          field === "" || field.includes(options.delimiter) || field.includes(options.quote) ||
            field.includes("\n") || field.includes("\r")
            ? options.quote + field.split(options.quote).join(options.quote + options.quote) + options.quote
            : field
        )
        .join(options.delimiter)
    )
    .join(eol)

describe("parseCsv", () => {
  describe("valid input", () => {
    it("parses LF, CRLF and lone CR record separators", () => {
      expect(rowsOf("a,b\n1,2")).toEqual([["a", "b"], ["1", "2"]])
      expect(rowsOf("a,b\r\n1,2")).toEqual([["a", "b"], ["1", "2"]])
      expect(rowsOf("a,b\r1,2")).toEqual([["a", "b"], ["1", "2"]])
      expect(rowsOf("a\r\nb\nc\rd")).toEqual([["a"], ["b"], ["c"], ["d"]])
    })

    it("does not create a record for a trailing line break", () => {
      expect(rowsOf("a,b\n")).toEqual([["a", "b"]])
      expect(rowsOf("a,b\r\n")).toEqual([["a", "b"]])
      expect(rowsOf("a,b\r")).toEqual([["a", "b"]])
      expect(rowsOf("a\n\n")).toEqual([["a"], [""]])
    })

    it("returns [] for an empty text and [[\"\"]] for a lone line break", () => {
      expect(rowsOf("")).toEqual([])
      expect(rowsOf("\n")).toEqual([[""]])
      expect(rowsOf("\r\n")).toEqual([[""]])
    })

    it("keeps an empty line in the middle as a record with one empty field", () => {
      expect(rowsOf("a\n\nb")).toEqual([["a"], [""], ["b"]])
      expect(rowsOf("a\r\n\r\nb\r\n")).toEqual([["a"], [""], ["b"]])
    })

    it("keeps empty fields, including leading and trailing ones", () => {
      expect(rowsOf("a,,b")).toEqual([["a", "", "b"]])
      expect(rowsOf(",a,")).toEqual([["", "a", ""]])
      expect(rowsOf(",")).toEqual([["", ""]])
      expect(rowsOf("a,\n,b")).toEqual([["a", ""], ["", "b"]])
    })

    it("treats whitespace as data", () => {
      expect(rowsOf(" a , b \t\n  ")).toEqual([[" a ", " b \t"], ["  "]])
      expect(rowsOf("\" a \", b")).toEqual([[" a ", " b"]])
    })

    it("parses quoted fields containing delimiters, line breaks and doubled quotes", () => {
      expect(rowsOf("\"a,b\",c")).toEqual([["a,b", "c"]])
      expect(rowsOf("\"line1\r\nline2\nline3\rx\",y")).toEqual([["line1\r\nline2\nline3\rx", "y"]])
      expect(rowsOf("\"say \"\"hi\"\"\",\"\"\"\"")).toEqual([["say \"hi\"", "\""]])
      expect(rowsOf("\"\",\"\"")).toEqual([["", ""]])
      expect(rowsOf("\"\"")).toEqual([[""]])
      expect(rowsOf("\"a\"\n\"b\"\n")).toEqual([["a"], ["b"]])
    })

    it("treats a quote inside an unquoted field as data (csv-spectrum location_coordinates)", () => {
      expect(rowsOf("37°36'37.8\"N,x")).toEqual([["37°36'37.8\"N", "x"]])
      expect(rowsOf("a\"\"b")).toEqual([["a\"\"b"]])
    })

    it("allows rows with different numbers of fields", () => {
      expect(rowsOf("a,b,c\n1\n2,3")).toEqual([["a", "b", "c"], ["1"], ["2", "3"]])
    })

    it("honours a custom delimiter and quote", () => {
      const options: CsvOptions = { delimiter: ";", quote: "'" }
      expect(rowsOf("a;'b;c';'it''s'\n1,2;\"x\"", options)).toEqual([["a", "b;c", "it's"], ["1,2", "\"x\""]])
      expect(rowsOf("a\tb\t\"c\td\"", { delimiter: "\t", quote: "\"" })).toEqual([["a", "b", "c\td"]])
    })

    it("uses ',' and '\"' by default", () => {
      expect(defaultCsvOptions).toEqual({ delimiter: ",", quote: "\"" })
      expect(parseCsv("\"a,b\",c")).toEqual([["a,b", "c"]])
    })

    it("passes non-ASCII, NUL and lone surrogates through untouched", () => {
      expect(rowsOf("ʤ,😀,\u0000,\ud800\n\"\udc00\",é")).toEqual([["ʤ", "😀", "\u0000", "\ud800"], ["\udc00", "é"]])
    })
  })

  describe("malformed input", () => {
    it("reports an unterminated quoted field at its opening quote", () => {
      expectFailure(parseCsv("\"abc", comma), {
        message: "unterminated quoted field starting",
        offset: 0,
        line: 1,
        column: 1
      })
      expectFailure(parseCsv("a,b\n1,\"abc\n2,3", comma), {
        message: "unterminated quoted field starting",
        offset: 6,
        line: 2,
        column: 3
      })
      // A doubled quote at the very end is an escaped quote, not a closing one.
      expectFailure(parseCsv("x,\"a\"\"", comma), {
        message: "unterminated quoted field starting",
        offset: 2,
        line: 1,
        column: 3
      })
      expectFailure(parseCsv("\"", comma), { message: "unterminated quoted field", offset: 0, line: 1, column: 1 })
    })

    it("reports text after a closing quote at the offending character", () => {
      expectFailure(parseCsv("\"a\"b,c", comma), {
        message: "unexpected 'b' after closing quote; expected ',' or a line break",
        offset: 3,
        line: 1,
        column: 4
      })
      expectFailure(parseCsv("a\r\n\"x\" ,y", comma), {
        message: "after closing quote",
        offset: 6,
        line: 2,
        column: 4
      })
      expectFailure(parseCsv("'a'\u0000", { delimiter: ";", quote: "'" }), {
        message: "unexpected U+0000 after closing quote; expected ';'",
        offset: 3,
        line: 1,
        column: 4
      })
    })

    it("rejects unusable options instead of throwing", () => {
      expectFailure(parseCsv("a", { delimiter: "", quote: "\"" }), {
        message: "delimiter must be one character",
        offset: 0,
        line: 1,
        column: 1
      })
      expectFailure(parseCsv("a", { delimiter: ",,", quote: "\"" }), {
        message: "delimiter must be one character",
        offset: 0,
        line: 1,
        column: 1
      })
      expectFailure(parseCsv("a", { delimiter: ",", quote: "" }), {
        message: "quote must be one character",
        offset: 0,
        line: 1,
        column: 1
      })
      expectFailure(parseCsv("a", { delimiter: ",", quote: "," }), {
        message: "delimiter and quote must differ",
        offset: 0,
        line: 1,
        column: 1
      })
      expectFailure(parseCsv("a", { delimiter: "\n", quote: "\"" }), {
        message: "cannot be line breaks",
        offset: 0,
        line: 1,
        column: 1
      })
    })
  })

  describe("csv-spectrum", () => {
    const root = dirname(createRequire(import.meta.url).resolve("csv-spectrum/package.json"))
    const names = readdirSync(join(root, "csvs"))
      .filter((file) => file.endsWith(".csv"))
      .map((file) => basename(file, ".csv"))

    it("has its 12 cases", () => {
      expect(names.length).toBe(12)
    })

    /**
     * Fixture defects in csv-spectrum 2.0.0 itself, not parser behaviour: location_coordinates.csv has the phone
     * number 2095257564 but its JSON says 1234567890 (max-mapper/csv-spectrum#20, #22, fix proposed in #23).
     * The override only applies while the CSV still contains the mismatching value, so a fixed fixture is used as is.
     */
    const fixtureErrata: Readonly<Record<string, { readonly csvContains: string; readonly patch: Record<string, string> }>> = {
      location_coordinates: { csvContains: "2095257564,", patch: { "Contact Phone Number": "2095257564" } }
    }

    for (const name of names) {
      it(name, () => {
        const csv = readFileSync(join(root, "csvs", `${name}.csv`), "utf8")
        const [header, ...records] = rowsOf(csv)
        const objects = records.map((record) => Object.fromEntries(header.map((key, i) => [key, record[i]])))
        const json: unknown = JSON.parse(readFileSync(join(root, "json", `${name}.json`), "utf8"))
        // location_coordinates.json holds a bare object rather than a one-element array.
        let expected = (Array.isArray(json) ? json : [json]) as Array<Record<string, string>>
        const errata = fixtureErrata[name]
        if (errata !== undefined && csv.includes(errata.csvContains)) {
          expected = expected.map((object) => ({ ...object, ...errata.patch }))
        }
        expect(objects).toEqual(expected)
      })
    }
  })

  describe("properties", () => {
    const csvChar = fc.oneof(
      fc.constantFrom(",", ";", "\"", "'", "\r", "\n", " ", "a", "\u0000", "\ud800"),
      fc.string({ unit: "binary", minLength: 1, maxLength: 1 })
    )
    const optionsArb = fc.constantFrom<CsvOptions>(
      comma,
      { delimiter: ";", quote: "\"" },
      { delimiter: "\t", quote: "'" },
      { delimiter: "|", quote: "\"" }
    )

    it("never throws and returns rows of strings or a SyntaxFailure", () => {
      fc.assert(
        fc.property(
          fc.oneof(fc.string({ unit: csvChar, maxLength: 60 }), fc.string({ unit: "binary" }), fc.string()),
          optionsArb,
          (text, options) => {
            const result = parseCsv(text, options)
            expect(result instanceof SyntaxFailure || isRows(result)).toBe(true)
          }
        ),
        { numRuns: 2000 }
      )
    })

    it("never throws on arbitrary bytes decoded as UTF-8", () => {
      const decoder = new TextDecoder()
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
          const result = parseCsv(decoder.decode(bytes), comma)
          expect(result instanceof SyntaxFailure || isRows(result)).toBe(true)
        }),
        { numRuns: 2000 }
      )
    })

    it("splits quote-free text exactly like a naive line/field split", () => {
      fc.assert(
        fc.property(fc.string({ unit: fc.constantFrom("a", "b", ",", "\r", "\n", " "), maxLength: 40 }), (text) => {
          const expected = text === ""
            ? []
            : text.replace(/(?:\r\n|\r|\n)$/, "").split(/\r\n|\r|\n/).map((line) => line.split(","))
          expect(parseCsv(text, comma)).toEqual(expected)
        }),
        { numRuns: 2000 }
      )
    })

    it("round-trips rows serialized as RFC 4180", () => {
      fc.assert(
        fc.property(
          fc.array(fc.array(fc.string({ unit: csvChar, maxLength: 8 }), { minLength: 1, maxLength: 5 }), {
            minLength: 1,
            maxLength: 8
          }),
          optionsArb,
          fc.constantFrom("\n", "\r\n", "\r"),
          fc.boolean(),
          (rows, options, eol, trailingBreak) => {
            const text = serialize(rows, options, eol) + (trailingBreak ? eol : "")
            expect(parseCsv(text, options)).toEqual(rows)
          }
        ),
        { numRuns: 2000 }
      )
    })
  })

  describe("pathological input", () => {
    const megabyte = 1_000_000

    it("finishes on a megabyte of quotes, delimiters and line breaks", () => {
      expect(parseCsv("\"".repeat(megabyte), comma)).toEqual([["\"".repeat(megabyte / 2 - 1)]])
      expectFailure(parseCsv("\"".repeat(megabyte + 1), comma), {
        message: "unterminated quoted field",
        offset: 0,
        line: 1,
        column: 1
      })
      expectFailure(parseCsv(`"${"a".repeat(megabyte)}`, comma), {
        message: "unterminated quoted field",
        offset: 0,
        line: 1,
        column: 1
      })
      expect(rowsOf(",".repeat(megabyte))[0].length).toBe(megabyte + 1)
      expect(rowsOf("\n".repeat(megabyte)).length).toBe(megabyte)
      expect(rowsOf("a\"".repeat(megabyte / 2)).length).toBe(1)
      expect(rowsOf(`"${"\"\"\n".repeat(megabyte / 3)}"`)[0][0].length).toBe((megabyte / 3 | 0) * 2)
    })
  })
})
