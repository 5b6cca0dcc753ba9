/**
 * Decoders turn a record's payload into a typed value, or into a `DecodeFailure` that says what is wrong
 * and where. The Schema is the source of truth; the hot path runs a check compiled from it and runs the full
 * Schema decode only to explain (or rescue) a record that fails the check. No payload makes a decoder throw:
 * whatever goes wrong for one record (a parser, a Schema's own code, a stack overflow) is that record's
 * `DecodeFailure`, and the work per record is bounded (JSON nesting, reasons of at most 4 KiB).
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"
import * as compiledCheck from "./internal/compiledCheck.js"
import * as FieldPlan from "./internal/fieldPlan.js"
import { type ApacheLogEntry as ApacheLogFields, parseApacheLog } from "./internal/syntax/apacheLog.js"
import { parseCsv } from "./internal/syntax/csv.js"
import * as Issues from "./internal/issues.js"
import * as PageText from "./internal/pageText.js"
import { thrownReason } from "./internal/reason.js"
import { checkJsonDepth, locateJsonError, maxJsonDepth as maxDepth } from "./internal/syntax/jsonError.js"
import { parseKeyValue } from "./internal/syntax/keyValue.js"
import { SyntaxFailure } from "./internal/syntax/SyntaxFailure.js"
import { parseXml, xmlToObject } from "./internal/syntax/xml.js"
import type { SourceRecord } from "./SourceRecord.js"
import { DecodeFailure } from "./TributaryError.js"

/**
 * The key every decoder carries, which `isDecoder` looks for.
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@tributary/core/Decoder")

/**
 * The type of `TypeId`.
 *
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * The payload formats a decoder reads; a `DecodeFailure`'s `format` names the one it read the payload as
 * ("text" for an `auto` decoder that failed before it found one, e.g. on a payload that is not UTF-8).
 *
 * @since 0.1.0
 * @category models
 */
export type Format = "json" | "csv" | "keyValue" | "xml" | "apacheLog"

/**
 * The deepest nesting of arrays and objects a JSON payload may have; deeper ones fail with
 * `invalid JSON: nesting deeper than 1000 levels` (XML elements nest at most 256 levels).
 *
 * @since 0.1.0
 * @category constants
 */
export const maxJsonDepth: number = maxDepth

/**
 * Where a batch decode puts its results: the values of the records that decoded, in record order, and the
 * failures with the index of their record (`failures[i]` came from `records[failureOrigins[i]]`). The
 * record index of each value is implied: `valueOrigins` spells it out when needed.
 *
 * @since 0.1.0
 * @category models
 */
export interface DecodedBatch<A> {
  /** The decoded values, in record order. */
  readonly values: Array<A>
  /** The records that did not decode, each with what is wrong. */
  readonly failures: Array<DecodeFailure>
  /** For each failure, the index of its record in the decoded array. */
  readonly failureOrigins: Array<number>
}

/**
 * The record index of each decoded value: every index that did not fail, in order.
 *
 * @since 0.1.0
 * @category utils
 */
export const valueOrigins = (batch: DecodedBatch<unknown>): Array<number> => {
  const origins = new Array<number>(batch.values.length)
  let failure = 0
  let record = 0
  for (let i = 0; i < origins.length; i++, record++) {
    while (failure < batch.failureOrigins.length && batch.failureOrigins[failure] === record) {
      failure++
      record++
    }
    origins[i] = record
  }
  return origins
}

/**
 * Turns records into values of `A` that its Schema accepts; made with `json`, `csv`, `keyValue`, `xml`,
 * `apacheLog` or `auto`, and given to a pipeline.
 *
 * @since 0.1.0
 * @category models
 */
export interface Decoder<A> extends Pipeable {
  readonly [TypeId]: TypeId
  /** The configured format ("auto" sniffs each record; failures then name the format it found). */
  readonly format: Format | "auto"
  /** The Schema the decoder was made with: what a valid value is. */
  readonly schema: Schema.Schema<A, unknown>
  /** Decodes one record. */
  readonly decode: (record: SourceRecord) => Either.Either<A, DecodeFailure>
  /** Decodes a batch, appending to `into`: the hot path, one plain loop and no Effect per record. */
  readonly decodeInto: (records: ReadonlyArray<SourceRecord>, into: DecodedBatch<A>) => void
}

/**
 * Field names as written in text formats, for each Schema property: `{ CustomerId: "Customer id",
 * DateUnixMs: ["Unix date (ms)", "date"] }`. Matching ignores case, spaces and punctuation, so
 * "customer_id" already finds `CustomerId` without an alias.
 *
 * @since 0.1.0
 * @category models
 */
export type Aliases<I> = { readonly [K in keyof I]?: string | ReadonlyArray<string> }

/**
 * Options every decoder takes.
 *
 * @since 0.1.0
 * @category models
 */
export interface DecodeOptions {
  /**
   * What happens to properties the Schema does not name (JSON and XML payloads). "ignore" (default, as in
   * Schema): the value is rebuilt with the Schema's properties only. "preserve": a valid payload is kept as
   * parsed, unknown properties included, which saves a copy per record on the hot path.
   */
  readonly onExcessProperty?: "ignore" | "preserve"
}

/**
 * Options of `csv` (and of `auto`'s CSV reading).
 *
 * @since 0.1.0
 * @category models
 */
export interface CsvOptions<I> extends DecodeOptions {
  /** Column names when messages carry no header row. Default: the Schema's properties, in order. */
  readonly columns?: ReadonlyArray<string>
  /**
   * "auto" (default): the first row is a header when every cell names a field; "present": always a header;
   * "absent": never.
   */
  readonly header?: "auto" | "present" | "absent"
  /** The character between cells. Default ",". */
  readonly delimiter?: string
  /** Names the header row or `columns` may use for each Schema property. */
  readonly aliases?: Aliases<I>
}

/**
 * Options of `keyValue`, `xml` and `apacheLog`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TextOptions<I> extends DecodeOptions {
  /** Names the payload may use for each Schema property. */
  readonly aliases?: Aliases<I>
}

/**
 * Options of `auto`.
 *
 * @since 0.1.0
 * @category models
 */
export interface AutoOptions<I> extends DecodeOptions {
  /** Names the text formats (CSV, key-value, XML, Apache log) may use for each Schema property. */
  readonly aliases?: Aliases<I>
  /** How to read the records sniffed as CSV (columns, header, delimiter). */
  readonly csv?: Omit<CsvOptions<I>, "aliases">
}

/**
 * The typed fields of an Apache Common or Combined Log Format line. `time` is epoch milliseconds (UTC) and
 * `timeZone` the offset as written (`-0700`); "-" fields are null.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ApacheLogEntry = Schema.Struct({
  host: Schema.String,
  ident: Schema.NullOr(Schema.String),
  user: Schema.NullOr(Schema.String),
  time: Schema.Number,
  timeZone: Schema.String,
  request: Schema.String,
  method: Schema.NullOr(Schema.String),
  path: Schema.NullOr(Schema.String),
  protocol: Schema.NullOr(Schema.String),
  status: Schema.Int,
  bytes: Schema.NullOr(Schema.Number),
  referer: Schema.NullOr(Schema.String),
  userAgent: Schema.NullOr(Schema.String)
})

/**
 * One parsed Apache log line, as `apacheLog()` decodes it.
 *
 * @since 0.1.0
 * @category schemas
 */
export type ApacheLogEntry = Schema.Schema.Type<typeof ApacheLogEntry>

/**
 * JSON payloads.
 *
 * @since 0.1.0
 * @category constructors
 */
export const json = <A, I>(schema: Schema.Schema<A, I>, options: DecodeOptions = {}): Decoder<A> =>
  make(schema, "json", options, () => ({ parse: parseJson, formatOf: () => "json", copiesStrings: true }))

/**
 * One CSV row per message, optionally preceded by its header row; RFC 4180 quoting.
 *
 * @since 0.1.0
 * @category constructors
 */
export const csv = <A, I>(schema: Schema.Schema<A, I>, options: CsvOptions<I> = {}): Decoder<A> =>
  make(schema, "csv", options, (ast) => {
    const plan = FieldPlan.make(ast, options.aliases as FieldPlan.Aliases)
    return { parse: csvParser(plan, options), formatOf: () => "csv" }
  })

/**
 * Lines of `name: value` (or `name = value`), e.g. `Customer id: abc123`, names mapped to the Schema's
 * properties through aliases.
 *
 * @since 0.1.0
 * @category constructors
 */
export const keyValue = <A, I>(schema: Schema.Schema<A, I>, options: TextOptions<I> = {}): Decoder<A> =>
  make(schema, "keyValue", options, (ast) => {
    const plan = FieldPlan.make(ast, options.aliases as FieldPlan.Aliases)
    return { parse: keyValueParser(plan), formatOf: () => "keyValue" }
  })

/**
 * An XML document whose root element's attributes and child elements are the fields.
 *
 * @since 0.1.0
 * @category constructors
 */
export const xml = <A, I>(schema: Schema.Schema<A, I>, options: TextOptions<I> = {}): Decoder<A> =>
  make(schema, "xml", options, (ast) => {
    const plan = FieldPlan.make(ast, options.aliases as FieldPlan.Aliases)
    return { parse: xmlParser(plan), formatOf: () => "xml" }
  })

/**
 * Apache Common or Combined Log Format lines, into `ApacheLogEntry` or into your own Schema (its fields
 * matched to the entry's by name or alias).
 *
 * @since 0.1.0
 * @category constructors
 */
export const apacheLog: {
  (): Decoder<ApacheLogEntry>
  <A, I>(schema: Schema.Schema<A, I>, options?: TextOptions<I>): Decoder<A>
} = <A, I>(schema?: Schema.Schema<A, I>, options: TextOptions<I> = {}): Decoder<A> =>
  make((schema ?? ApacheLogEntry) as Schema.Schema<A, I>, "apacheLog", options, (ast) => {
    const plan = FieldPlan.make(ast, options.aliases as FieldPlan.Aliases)
    return { parse: apacheLogParser(plan), formatOf: () => "apacheLog" }
  })

/**
 * Sniffs each message and decodes it as JSON (`{`, `[`), XML (`<`), an Apache log line, key-value lines
 * (the first line names a field before `:` or `=`) or else CSV, so one stream may mix them all.
 *
 * @since 0.1.0
 * @category constructors
 */
export const auto = <A, I>(schema: Schema.Schema<A, I>, options: AutoOptions<I> = {}): Decoder<A> =>
  make(schema, "auto", options, (ast) => {
    const plan = FieldPlan.make(ast, options.aliases as FieldPlan.Aliases)
    const parsers: Record<Format, (text: string) => unknown> = {
      json: parseJson,
      csv: csvParser(plan, options.csv ?? {}),
      keyValue: keyValueParser(plan),
      xml: xmlParser(plan),
      apacheLog: apacheLogParser(plan)
    }
    const delimiter = options.csv?.delimiter ?? ","
    return {
      parse: (text) => parsers[sniff(text, plan, delimiter)](text),
      formatOf: (text) => sniff(text, plan, delimiter)
    }
  })

/**
 * Decodes all records of a batch at once.
 *
 * @since 0.1.0
 * @category utils
 */
export const decodeAll = <A>(decoder: Decoder<A>, records: ReadonlyArray<SourceRecord>): DecodedBatch<A> => {
  const batch: DecodedBatch<A> = { values: [], failures: [], failureOrigins: [] }
  decoder.decodeInto(records, batch)
  return batch
}

/**
 * True for a value made by one of this module's constructors.
 *
 * @since 0.1.0
 * @category guards
 */
export const isDecoder = (u: unknown): u is Decoder<unknown> =>
  typeof u === "object" && u !== null && TypeId in u

// ---------------------------------------------------------------------------------------------------------
// internal
// ---------------------------------------------------------------------------------------------------------

/** The syntax layer of one decoder: text to a plain value, or a SyntaxFailure. */
interface Syntax {
  readonly parse: (text: string) => unknown
  /** Which format a text was read as; only asked on the failure path. */
  readonly formatOf: (text: string) => string
  /** Whether the values `parse` returns share no string with the text (see `PageText`). */
  readonly copiesStrings?: boolean
}

const make = <A, I>(
  schema: Schema.Schema<A, I>,
  format: Format | "auto",
  options: DecodeOptions,
  syntaxFor: (ast: Schema.Schema<A, I>["ast"]) => Syntax
): Decoder<A> => {
  const { copiesStrings, formatOf, parse } = syntaxFor(schema.ast)
  const runs = PageText.make(copiesStrings === true)
  const onExcessProperty = options.onExcessProperty ?? "ignore"
  const check = compiledCheck.compile(schema.ast, { onExcessProperty })
  const decodeUnknown = ParseResult.decodeUnknownEither(schema, { errors: "all", onExcessProperty })
  const Invalid = compiledCheck.Invalid
  // Schema's decode writes each key of an index signature into a plain object: a "__proto__" key would set
  // the decoded value's prototype, so such keys are dropped before the decode (see `dropProtoKeys`)
  const assignsAnyKey = assignsInputKeys(schema.ast)
  const failure = (record: SourceRecord, reason: string, at: string = format === "auto" ? "text" : format) =>
    new DecodeFailure({ format: at, reason, record })

  // Returns the value, or a DecodeFailure for the record (the one allocation on the failure path).
  const decodeSlow = (record: SourceRecord): A | DecodeFailure => {
    const text = PageText.textOf(record.data)
    if (text === undefined) return failure(record, "payload is not valid UTF-8")
    let raw = parse(text)
    if (raw instanceof SyntaxFailure) {
      return new DecodeFailure({
        format: formatOf(text),
        reason: raw.message,
        position: { offset: raw.offset, line: raw.line, column: raw.column },
        record
      })
    }
    if (check !== undefined) {
      const value = check(raw)
      if (value !== Invalid) return value as A
    }
    if (assignsAnyKey) raw = dropProtoKeys(raw)
    const decoded = decodeUnknown(raw)
    if (Either.isRight(decoded)) return decoded.right
    return failure(record, Issues.explain(decoded.left), formatOf(text))
  }

  // Whatever throws for one record (a Schema's filter or transformation, a stack overflow) fails that record.
  const decodeOne = (record: SourceRecord): A | DecodeFailure => {
    try {
      return decodeSlow(record)
    } catch (error) {
      return failure(record, `the decoder failed: ${thrownReason(error)}`)
    }
  }

  // The hot path: the value, or Invalid when anything is wrong; `decodeOne` then says what (or rescues it).
  const decodeFast = (text: string | undefined): unknown => {
    if (text === undefined) return Invalid
    const raw = parse(text)
    return raw instanceof SyntaxFailure ? Invalid : check!(raw)
  }

  return {
    [TypeId]: TypeId,
    format,
    schema: schema as Schema.Schema<A, unknown>,
    decode: (record) => {
      const result = decodeOne(record)
      return result instanceof DecodeFailure ? Either.left(result) : Either.right(result)
    },
    decodeInto: (records, into) => {
      const values = into.values
      const texts = runs.texts
      for (let from = 0; from < records.length;) {
        // a run of payloads turned into text, then parsed (without a compiled check every record takes the
        // full decode, once)
        const to = check === undefined ? records.length : runs.next(records, from)
        for (let i = from; i < to; i++) {
          let fast: unknown = Invalid
          if (check !== undefined) {
            try {
              fast = decodeFast(texts[i - from])
            } catch {
              // decodeOne tells what went wrong
            }
          }
          if (fast !== Invalid) {
            values.push(fast as A)
            continue
          }
          const result = decodeOne(records[i])
          if (result instanceof DecodeFailure) {
            into.failures.push(result)
            into.failureOrigins.push(i)
          } else {
            values.push(result)
          }
        }
        from = to
      }
      // the texts are dropped now, not when the next page overwrites them
      texts.fill(undefined, 0, Math.min(texts.length, records.length))
    },
    pipe() {
      return pipeArguments(this, arguments)
    }
  }
}

/**
 * Whether Schema's decode copies keys of the input it does not know in advance into objects it builds: an
 * index signature anywhere (a `Record`, a `Struct` with one), or a recursive Schema, which might have one.
 */
const assignsInputKeys = (ast: AST.AST): boolean => {
  const seen = new Set<AST.AST>()
  const visit = (node: AST.AST): boolean => {
    if (seen.has(node)) return false
    seen.add(node)
    switch (node._tag) {
      case "TypeLiteral":
        return node.indexSignatures.length > 0 || node.propertySignatures.some((p) => visit(p.type))
      case "TupleType":
        return node.elements.some((e) => visit(e.type)) || node.rest.some((r) => visit(r.type))
      case "Union":
        return node.types.some(visit)
      case "Refinement":
        return visit(node.from)
      case "Transformation":
        return visit(node.from) || visit(node.to)
      case "Declaration":
        return node.typeParameters.some(visit)
      case "Suspend":
        return true
      default:
        return false
    }
  }
  return visit(ast)
}

/**
 * Removes every own `__proto__` key from a freshly parsed value, in place (an explicit stack: no input
 * depth can overflow it). Only this name is dropped: it is the one whose assignment changes an object's
 * prototype; `constructor` or `prototype` keys become ordinary own properties.
 */
const dropProtoKeys = (root: unknown): unknown => {
  const stack: Array<unknown> = [root]
  while (stack.length > 0) {
    const value = stack.pop()
    if (typeof value !== "object" || value === null) continue
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) stack.push(value[i])
      continue
    }
    if (Object.prototype.hasOwnProperty.call(value, "__proto__")) Reflect.deleteProperty(value, "__proto__")
    for (const key of Object.keys(value)) stack.push((value as Record<string, unknown>)[key])
  }
  return root
}

const parseJson = (text: string): unknown => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    return locateJsonError(text) ?? SyntaxFailure.at(text, 0, `invalid JSON: ${e instanceof Error ? e.message : e}`)
  }
  return checkJsonDepth(text) ?? value
}

const csvParser = <I>(plan: FieldPlan.FieldPlan, options: Omit<CsvOptions<I>, "aliases">) => {
  const header = options.header ?? "auto"
  const csvOptions = { delimiter: options.delimiter ?? ",", quote: "\"" }
  // a wrong delimiter is the caller's mistake, to be told now, not as a dead letter per record
  if (csvOptions.delimiter.length !== 1 || "\"\r\n".includes(csvOptions.delimiter)) {
    throw new RangeError(`CSV delimiter must be one character other than a quote or a line break, got ${JSON.stringify(csvOptions.delimiter)}`)
  }
  const defaultColumns = options.columns ?? plan.fields.map((field) => field.name)
  const isHeader = (row: ReadonlyArray<string>) => row.every((cell) => plan.lookup(cell) !== undefined)
  return (text: string): unknown => {
    const rows = parseCsv(text, csvOptions)
    if (rows instanceof SyntaxFailure) return rows
    const hasHeader = header === "present" || (header === "auto" && rows.length > 1 && isHeader(rows[0]))
    const dataRows = rows.length - (hasHeader ? 1 : 0)
    if (dataRows !== 1) {
      return SyntaxFailure.at(text, 0, `expected one CSV data row per message, found ${Math.max(0, dataRows)}`)
    }
    const row = rows[rows.length - 1]
    // a headerless row for a Schema without declared fields (a Record): column1, column2, ...
    const columns = hasHeader
      ? rows[0]
      : defaultColumns.length === 0 && plan.open
      ? row.map((_, i) => `column${i + 1}`)
      : defaultColumns
    if (row.length !== columns.length) {
      return SyntaxFailure.at(
        text,
        hasHeader ? text.indexOf("\n") + 1 : 0,
        `row has ${row.length} fields, expected ${columns.length} (${columns.join(", ")})`
      )
    }
    return plan.shape(row.map((cell, i) => [columns[i], cell] as const))
  }
}

const keyValueParser = (plan: FieldPlan.FieldPlan) => (text: string): unknown => {
  const pairs = parseKeyValue(text)
  return pairs instanceof SyntaxFailure ? pairs : plan.shape(pairs)
}

const xmlParser = (plan: FieldPlan.FieldPlan) => (text: string): unknown => {
  const root = parseXml(text)
  return root instanceof SyntaxFailure ? root : plan.shape(Object.entries(xmlToObject(root)))
}

const apacheLogParser = (plan: FieldPlan.FieldPlan) => (text: string): unknown => {
  const entry: ApacheLogFields | SyntaxFailure = parseApacheLog(text)
  return entry instanceof SyntaxFailure ? entry : plan.shape(Object.entries(entry))
}

// host ident user [time] "request" — anchored, no nested quantifiers, only the start of the text is read
const apacheLogStart = /^[^\s"]+ [^\s"]+ [^\s"]+ \[[^\]\n]{1,64}\] "/

const sniff = (text: string, plan: FieldPlan.FieldPlan, delimiter: string): Format => {
  let i = 0
  while (i < text.length && isSpace(text.charCodeAt(i))) i++
  const first = text.charCodeAt(i)
  if (first === 123 /* { */ || first === 91 /* [ */) return "json"
  if (first === 60 /* < */) return "xml"
  const head = text.slice(i, i + 512)
  if (apacheLogStart.test(head)) return "apacheLog"
  const lineEnd = head.search(/[\r\n]/)
  const line = lineEnd === -1 ? head : head.slice(0, lineEnd)
  const separator = line.search(/[:=]/)
  if (separator > 0) {
    if (plan.lookup(line.slice(0, separator).trim()) !== undefined) return "keyValue"
    if (!line.includes(delimiter)) return "keyValue"
  }
  return "csv"
}

const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13 || c === 0xfeff

/**
 * Explains a Schema parse issue the way decode failures do: one entry per wrong field, `path: message`, the
 * alternatives of a union folded into one `Expected "a" | "b", actual "c"`, the work and the length bounded
 * (see `maxReasonLength` in DeadLetter). For decoders of other packages (wrap the issue in a
 * `ParseResult.Pointer` to prefix its paths).
 *
 * @since 0.1.0
 * @category utils
 */
export const explain: (issue: ParseResult.ParseIssue) => string = Issues.explain
