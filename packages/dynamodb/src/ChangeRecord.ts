/**
 * Typed change records of a DynamoDB table: what DynamoDB Streams hands a Lambda function (or GetRecords
 * returns), and what Kinesis Data Streams for DynamoDB writes into a Kinesis record, read into one value
 * whose images are decoded into your Schema.
 *
 * A change arrives as a `SourceRecord` whose payload is the change's JSON: the Lambda handler of
 * `@tributary/lambda` turns each DynamoDB stream record into one, and on Kinesis the record's data already
 * is one. `decoder(Item)` is then an ordinary core `Decoder`, so a change pipeline is an ordinary pipeline:
 * `Pipeline.decode(ChangeRecord.decoder(Order))`. A change that cannot be read, or whose image does not fit
 * the Schema, is a `DecodeFailure` naming the attribute at fault, and becomes a dead letter.
 *
 * Images are unmarshalled with `@aws-sdk/util-dynamodb`. Numbers (DynamoDB keeps up to 38 digits) are an
 * explicit choice, `numbers`:
 *
 * - `"number"` (default): a JS number, when it holds the decimal exactly (it reads back as the same
 *   decimal, as `12`, `-0.5` or `1e-7` do); a number it cannot hold (`9007199254740993`, a 20-digit
 *   decimal) fails the change instead of being rounded silently;
 * - `"string"`: the decimal as written; decode it in the Schema (`Schema.NumberFromString`,
 *   `Schema.BigInt`, `Schema.BigDecimal`), attribute by attribute;
 * - `"bigint"`: for tables whose numbers are all integers (counters, epoch microseconds): a `bigint`; a
 *   number with a fraction fails the change.
 *
 * Binary attributes (`B`, `BS`), base64 in the JSON, become `Uint8Array`s; sets become `Set`s; `NULL`
 * becomes `null`.
 *
 * The decoder lives here, beside the DynamoDB SDK packages it needs, so that `@tributary/core` stays free
 * of AWS dependencies and a Lambda function bundles `@aws-sdk/util-dynamodb` only when it decodes changes.
 *
 * @since 0.1.0
 */
import { unmarshall } from "@aws-sdk/util-dynamodb"
import type { Decoder } from "@tributary/core/Decoder"
import { explain, TypeId as DecoderTypeId } from "@tributary/core/Decoder"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import { DecodeFailure } from "@tributary/core/TributaryError"
import * as Either from "effect/Either"
import { pipeArguments } from "effect/Pipeable"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

// ---------------------------------------------------------------------------------------------------------
// the JSON shapes
// ---------------------------------------------------------------------------------------------------------

/**
 * An attribute value as DynamoDB writes it in JSON (binary values in base64).
 *
 * @since 0.1.0
 * @category models
 */
export type AttributeValueJson =
  | { readonly S: string }
  | { readonly N: string }
  | { readonly B: string }
  | { readonly BOOL: boolean }
  | { readonly NULL: boolean }
  | { readonly SS: Array<string> }
  | { readonly NS: Array<string> }
  | { readonly BS: Array<string> }
  | { readonly L: Array<AttributeValueJson> }
  | { readonly M: { readonly [name: string]: AttributeValueJson } }

/**
 * An item (or its keys) in DynamoDB's JSON.
 *
 * @since 0.1.0
 * @category models
 */
export type ItemJson = { readonly [name: string]: AttributeValueJson }

/**
 * What the change did to the item: created it (INSERT), changed it (MODIFY) or deleted it (REMOVE).
 *
 * @since 0.1.0
 * @category models
 */
export type EventName = "INSERT" | "MODIFY" | "REMOVE"

/**
 * What a DynamoDB stream writes of each change (the table's `StreamSpecification`).
 *
 * @since 0.1.0
 * @category models
 */
export type StreamViewType = "KEYS_ONLY" | "NEW_IMAGE" | "OLD_IMAGE" | "NEW_AND_OLD_IMAGES"

/**
 * Who made a change, when it was not a request: items deleted by Time to Live carry
 * `{ type: "Service", principalId: "dynamodb.amazonaws.com" }`.
 *
 * @since 0.1.0
 * @category models
 */
export interface UserIdentity {
  /** "Service" for a deletion by Time to Live. */
  readonly type: string
  /** Who made the change: "dynamodb.amazonaws.com" for a deletion by Time to Live. */
  readonly principalId: string
}

/**
 * A DynamoDB Streams record, as in a Lambda event (`Records[i]`) or a GetRecords answer.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamRecordJson {
  /** The change's unique id, the same when the record is delivered again. */
  readonly eventID: string
  /** What the change did to the item. */
  readonly eventName: EventName
  /** The record format's version, e.g. "1.1". */
  readonly eventVersion: string
  /** Always "aws:dynamodb". */
  readonly eventSource: "aws:dynamodb"
  /** The region of the table. */
  readonly awsRegion: string
  /** `arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>` */
  readonly eventSourceARN: string
  /** The change: keys, images, position and size. */
  readonly dynamodb: {
    /** Epoch seconds. */
    readonly ApproximateCreationDateTime: number
    readonly Keys: ItemJson
    readonly NewImage?: ItemJson
    readonly OldImage?: ItemJson
    /** A decimal string, growing within a shard. */
    readonly SequenceNumber: string
    readonly SizeBytes: number
    readonly StreamViewType: StreamViewType
  }
  /** Present for a deletion by Time to Live only. */
  readonly userIdentity?: UserIdentity
}

/**
 * What Kinesis Data Streams for DynamoDB writes into the data of a Kinesis record: the change without a
 * sequence number or view type (the Kinesis record has its own sequence number, and both images are
 * always there), with the table's name and `recordFormat`.
 *
 * @since 0.1.0
 * @category models
 */
export interface KinesisChangeJson {
  /** The region of the table. */
  readonly awsRegion: string
  /** The change's unique id, the same when the record is delivered again. */
  readonly eventID: string
  /** What the change did to the item. */
  readonly eventName: EventName
  /** Null unless the change is a deletion by Time to Live. */
  readonly userIdentity: UserIdentity | null
  /** The format of the Kinesis record's data, always "application/json". */
  readonly recordFormat: "application/json"
  /** The table the change was made to. */
  readonly tableName: string
  /** The change: keys, size, and every image it has (both for a MODIFY), whatever the table's stream view type. */
  readonly dynamodb: {
    /** Epoch milliseconds (or microseconds, with the table's `ApproximateCreationDateTimePrecision`). */
    readonly ApproximateCreationDateTime: number
    readonly Keys: ItemJson
    readonly NewImage?: ItemJson
    readonly OldImage?: ItemJson
    readonly SizeBytes: number
  }
  /** Always "aws:dynamodb". */
  readonly eventSource: "aws:dynamodb"
}

// ---------------------------------------------------------------------------------------------------------
// the typed value
// ---------------------------------------------------------------------------------------------------------

/**
 * The value of a key attribute (keys are strings, numbers or binary).
 *
 * @since 0.1.0
 * @category models
 */
export type KeyValue = string | number | bigint | Uint8Array

/**
 * One change of one item, its images decoded into `A`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChangeRecord<A> {
  /** What the change did to the item. */
  readonly eventName: EventName
  /** The change's unique id, the same when the record is delivered again: a key to deduplicate by. */
  readonly eventID: string
  /**
   * The table changed: Kinesis' `tableName`, else the table in the stream ARN, else the name of the stream
   * the record was read from.
   */
  readonly tableName: string
  /** The region of the table. */
  readonly awsRegion: string
  /** The item's key attributes (partition key, and sort key if the table has one). */
  readonly keys: { readonly [name: string]: KeyValue }
  /** The item after the change: INSERT and MODIFY, with a NEW_IMAGE or NEW_AND_OLD_IMAGES stream. */
  readonly newImage: A | undefined
  /** The item before the change: MODIFY and REMOVE, with an OLD_IMAGE or NEW_AND_OLD_IMAGES stream. */
  readonly oldImage: A | undefined
  /**
   * The change's position: the DynamoDB stream record's SequenceNumber, or, for a change read from
   * Kinesis, the Kinesis record's sequence number.
   */
  readonly sequenceNumber: string
  /** The stream record's size as DynamoDB counts it (keys and images), in bytes. */
  readonly sizeBytes: number
  /** Undefined for a change read from Kinesis (which always carries both images). */
  readonly streamViewType: StreamViewType | undefined
  /**
   * When the change was made, epoch milliseconds: whole seconds from DynamoDB Streams, milliseconds (or a
   * fraction of them, with microsecond precision) from Kinesis Data Streams for DynamoDB. A change without
   * one (AWS's older sample events) gets its record's arrival time.
   */
  readonly approximateCreationDateTime: number
  /** Set for a deletion by Time to Live (see `isTimeToLiveDelete`). */
  readonly userIdentity: UserIdentity | undefined
  /** "application/json" for a change read from Kinesis; undefined from DynamoDB Streams. */
  readonly recordFormat: "application/json" | undefined
}

/**
 * How numbers are read from images and keys (see the module's documentation).
 *
 * @since 0.1.0
 * @category models
 */
export type Numbers = "number" | "string" | "bigint"

/**
 * How `decoder` reads numbers and attributes an image's Schema does not name.
 *
 * @since 0.1.0
 * @category models
 */
export interface DecoderOptions {
  /** Default "number": exact or refused. */
  readonly numbers?: Numbers
  /** Attributes of an image that the Schema does not name: "ignore" (default) drops them, "preserve" keeps them. */
  readonly onExcessProperty?: "ignore" | "preserve"
}

/**
 * The Schema of a change record whose images are `A` (the type side: what `decoder` produces).
 *
 * @since 0.1.0
 * @category schemas
 */
export const schema = <A, I, R>(item: Schema.Schema<A, I, R>): Schema.Schema<ChangeRecord<A>, ChangeRecord<A>, R> => {
  const image = Schema.UndefinedOr(Schema.typeSchema(item))
  return Schema.Struct({
    eventName: Schema.Literal("INSERT", "MODIFY", "REMOVE"),
    eventID: Schema.String,
    tableName: Schema.String,
    awsRegion: Schema.String,
    keys: Schema.Record({
      key: Schema.String,
      value: Schema.Union(Schema.String, Schema.Number, Schema.BigIntFromSelf, Schema.Uint8ArrayFromSelf)
    }),
    newImage: image,
    oldImage: image,
    sequenceNumber: Schema.String,
    sizeBytes: Schema.Number,
    streamViewType: Schema.UndefinedOr(Schema.Literal("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")),
    approximateCreationDateTime: Schema.Number,
    userIdentity: Schema.UndefinedOr(Schema.Struct({ type: Schema.String, principalId: Schema.String })),
    recordFormat: Schema.UndefinedOr(Schema.Literal("application/json"))
  }) as unknown as Schema.Schema<ChangeRecord<A>, ChangeRecord<A>, R>
}

/**
 * Reads change records (DynamoDB Streams records or Kinesis Data Streams for DynamoDB records, told apart
 * by their shape) and decodes their images into `item`. Use it like any decoder:
 * `Pipeline.decode(ChangeRecord.decoder(Order))`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const decoder = <A, I>(item: Schema.Schema<A, I>, options: DecoderOptions = {}): Decoder<ChangeRecord<A>> => {
  const numbers = options.numbers ?? "number"
  const decodeImage = ParseResult.decodeUnknownEither(item, {
    errors: "all",
    onExcessProperty: options.onExcessProperty ?? "ignore"
  })
  const decodeEnvelope = Schema.decodeUnknownEither(Envelope, { errors: "all" })
  const wrapNumbers = numbers === "number" ? Number : numbers === "bigint" ? BigInt : (text: string) => text

  const image = (name: "newImage" | "oldImage", json: ItemJson | undefined): A | undefined => {
    if (json === undefined) return undefined
    const decoded = decodeImage(toNative(json, name, numbers, wrapNumbers))
    if (Either.isLeft(decoded)) throw new Unreadable(explain(new ParseResult.Pointer(name, json, decoded.left)))
    return decoded.right
  }

  const decodeOne = (record: SourceRecord): ChangeRecord<A> | DecodeFailure => {
    try {
      let raw: unknown
      try {
        raw = JSON.parse(utf8.decode(record.data))
      } catch (error) {
        throw new Unreadable(`not JSON: ${error instanceof Error ? error.message : String(error)}`)
      }
      // the hand-written check is the hot path; the Schema only explains what it refused
      if (!isEnvelope(raw)) {
        const envelope = decodeEnvelope(raw)
        throw new Unreadable(
          `not a DynamoDB change record: ${Either.isLeft(envelope) ? explain(envelope.left.issue) : "unexpected shape"}`
        )
      }
      const change = raw
      const fromKinesis = change.recordFormat !== undefined
      const sequenceNumber = fromKinesis ? record.sequenceNumber : change.dynamodb.SequenceNumber
      if (sequenceNumber === undefined) throw new Unreadable("dynamodb.SequenceNumber is missing")
      return {
        eventName: change.eventName,
        eventID: change.eventID,
        tableName: change.tableName ?? tableNameOf(change.eventSourceARN) ?? record.stream,
        awsRegion: change.awsRegion,
        keys: toNative(change.dynamodb.Keys as ItemJson, "keys", numbers, wrapNumbers) as ChangeRecord<A>["keys"],
        newImage: image("newImage", change.dynamodb.NewImage as ItemJson | undefined),
        oldImage: image("oldImage", change.dynamodb.OldImage as ItemJson | undefined),
        sequenceNumber,
        sizeBytes: change.dynamodb.SizeBytes,
        streamViewType: change.dynamodb.StreamViewType,
        approximateCreationDateTime: creationMillis(
          change.dynamodb.ApproximateCreationDateTime,
          change.dynamodb.ApproximateCreationDateTimePrecision,
          record.arrivalTime
        ),
        userIdentity: change.userIdentity ?? undefined,
        recordFormat: change.recordFormat
      }
    } catch (error) {
      // no change makes the decoder throw: what escaped the checks (a Schema transform that threw) is a failure too
      const reason = error instanceof Unreadable
        ? error.message
        : `decoding threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`
      return new DecodeFailure({ format, reason, record })
    }
  }

  return {
    [DecoderTypeId]: DecoderTypeId,
    format: "json",
    schema: schema(item) as Schema.Schema<ChangeRecord<A>, unknown>,
    decode: (record) => {
      const result = decodeOne(record)
      return result instanceof DecodeFailure ? Either.left(result) : Either.right(result)
    },
    decodeInto: (records, into) => {
      for (let i = 0; i < records.length; i++) {
        const result = decodeOne(records[i])
        if (result instanceof DecodeFailure) {
          into.failures.push(result)
          into.failureOrigins.push(i)
        } else {
          into.values.push(result)
        }
      }
    },
    pipe() {
      return pipeArguments(this, arguments)
    }
  }
}

/**
 * The format a change record's dead letter names.
 *
 * @since 0.1.0
 * @category constants
 */
export const format = "dynamodb-json"

/**
 * True for a deletion made by Time to Live rather than by a request.
 *
 * @since 0.1.0
 * @category guards
 */
export const isTimeToLiveDelete = (change: ChangeRecord<unknown>): boolean =>
  change.eventName === "REMOVE" && change.userIdentity?.type === "Service" &&
  change.userIdentity.principalId === "dynamodb.amazonaws.com"

/**
 * The table of a stream ARN (`arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>`), or
 * undefined when the ARN has no table.
 *
 * @since 0.1.0
 * @category parsing
 */
export const tableNameOf = (arn: string | undefined): string | undefined => {
  const match = arn === undefined ? null : /:table\/([^/]+)/.exec(arn)
  return match === null ? undefined : match[1]
}

/**
 * The Kinesis Data Streams for DynamoDB form of a DynamoDB stream record: the same change as DynamoDB
 * writes it into a Kinesis stream (both images kept whatever the view type, time in milliseconds).
 *
 * @since 0.1.0
 * @category building
 */
export const toKinesisChange = (
  record: StreamRecordJson,
  options: { readonly approximateCreationDateTime?: number } = {}
): KinesisChangeJson => ({
  awsRegion: record.awsRegion,
  eventID: record.eventID,
  eventName: record.eventName,
  userIdentity: record.userIdentity ?? null,
  recordFormat: "application/json",
  tableName: tableNameOf(record.eventSourceARN) ?? record.eventSourceARN,
  dynamodb: {
    ApproximateCreationDateTime: options.approximateCreationDateTime ?? record.dynamodb.ApproximateCreationDateTime * 1000,
    Keys: record.dynamodb.Keys,
    ...(record.dynamodb.NewImage === undefined ? {} : { NewImage: record.dynamodb.NewImage }),
    ...(record.dynamodb.OldImage === undefined ? {} : { OldImage: record.dynamodb.OldImage }),
    SizeBytes: record.dynamodb.SizeBytes
  },
  eventSource: "aws:dynamodb"
})

/**
 * An approximation of DynamoDB's size of a stream record (the sum of its keys' and images' item sizes:
 * attribute names and values in UTF-8, numbers about one byte per two digits).
 *
 * @since 0.1.0
 * @category building
 */
export const sizeBytes = (...items: ReadonlyArray<ItemJson | undefined>): number => {
  let size = 0
  for (const item of items) if (item !== undefined) size += mapSize(item)
  return size
}

// ---------------------------------------------------------------------------------------------------------
// internal
// ---------------------------------------------------------------------------------------------------------

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** A change that cannot be read; its message is the dead letter's reason. */
class Unreadable extends Error {}

const AttributeMap = Schema.Record({ key: Schema.String, value: Schema.Object })

/** The fields a change record must have, in either of its two forms. */
const Envelope = Schema.Struct({
  eventID: Schema.String,
  eventName: Schema.Literal("INSERT", "MODIFY", "REMOVE"),
  awsRegion: Schema.String,
  eventSourceARN: Schema.optional(Schema.String),
  tableName: Schema.optional(Schema.String),
  recordFormat: Schema.optional(Schema.Literal("application/json")),
  userIdentity: Schema.optional(Schema.NullOr(Schema.Struct({ type: Schema.String, principalId: Schema.String }))),
  dynamodb: Schema.Struct({
    ApproximateCreationDateTime: Schema.optional(Schema.Number),
    ApproximateCreationDateTimePrecision: Schema.optional(Schema.Literal("MILLISECOND", "MICROSECOND")),
    Keys: AttributeMap,
    NewImage: Schema.optional(AttributeMap),
    OldImage: Schema.optional(AttributeMap),
    SequenceNumber: Schema.optional(Schema.String),
    SizeBytes: Schema.Number,
    StreamViewType: Schema.optional(Schema.Literal("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"))
  })
})

type Envelope = typeof Envelope.Type

const eventNames = new Set(["INSERT", "MODIFY", "REMOVE"])
const viewTypes = new Set(["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"])

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
const isOptional = (u: unknown, test: (u: unknown) => boolean) => u === undefined || test(u)
const isString = (u: unknown) => typeof u === "string"

/** What `Envelope` accepts, checked by hand (the Schema's decode costs more than the rest of a change). */
const isEnvelope = (u: unknown): u is Envelope => {
  if (!isObject(u)) return false
  const d = u.dynamodb
  const identity = u.userIdentity
  return isString(u.eventID) && eventNames.has(u.eventName as string) && isString(u.awsRegion) &&
    isOptional(u.eventSourceARN, isString) && isOptional(u.tableName, isString) &&
    (u.recordFormat === undefined || u.recordFormat === "application/json") &&
    (identity === undefined || identity === null ||
      (isObject(identity) && isString(identity.type) && isString(identity.principalId))) &&
    isObject(d) && isObject(d.Keys) && isOptional(d.NewImage, isObject) && isOptional(d.OldImage, isObject) &&
    typeof d.SizeBytes === "number" && isOptional(d.ApproximateCreationDateTime, (t) => typeof t === "number") &&
    (d.ApproximateCreationDateTimePrecision === undefined || d.ApproximateCreationDateTimePrecision === "MILLISECOND" ||
      d.ApproximateCreationDateTimePrecision === "MICROSECOND") &&
    isOptional(d.SequenceNumber, isString) && isOptional(d.StreamViewType, (v) => viewTypes.has(v as string))
}

/**
 * Epoch milliseconds from DynamoDB's ApproximateCreationDateTime: seconds in DynamoDB Streams,
 * milliseconds or microseconds from Kinesis. Without a precision field the magnitude tells (any time after
 * 1973 is below 1e11 in seconds, below 1e14 in milliseconds).
 */
const creationMillis = (value: number | undefined, precision: string | undefined, fallback: number): number => {
  if (value === undefined) return fallback
  if (precision === "MICROSECOND") return value / 1000
  if (precision === "MILLISECOND") return value
  return value < 1e11 ? value * 1000 : value < 1e14 ? value : value / 1000
}

/**
 * Checks an item's attribute values (naming the attribute at fault), turns base64 binaries into bytes,
 * and unmarshalls it with the numbers as asked.
 */
const toNative = (
  item: ItemJson,
  name: string,
  numbers: Numbers,
  wrapNumbers: (text: string) => unknown
): Record<string, unknown> => {
  let checked: Record<string, unknown> = item
  for (const attribute in item) {
    const value = checkValue(item[attribute], `${name}.${attribute}`, numbers)
    if (value !== item[attribute]) {
      if (checked === item) checked = { ...item }
      checked[attribute] = value
    }
  }
  return unmarshall(checked as never, { wrapNumbers })
}

/** Checks an attribute value; returns it as is, or a copy with its binaries as bytes. */
const checkValue = (value: unknown, path: string, numbers: Numbers): unknown => {
  if (!isObject(value)) throw new Unreadable(`${path}: not a DynamoDB attribute value: ${preview(value)}`)
  let type: string | undefined
  for (const key in value) {
    if (type !== undefined) throw new Unreadable(`${path}: an attribute value has one type, found ${preview(Object.keys(value))}`)
    type = key
  }
  if (type === undefined) throw new Unreadable(`${path}: an attribute value has one type, found []`)
  const v = value[type]
  switch (type) {
    case "S":
      if (typeof v !== "string") throw mustBe(path, type, "a string", v)
      return value
    case "N":
      if (typeof v !== "string") throw mustBe(path, type, "a decimal string", v)
      checkNumber(v, path, numbers)
      return value
    case "B":
      if (typeof v !== "string") throw mustBe(path, type, "base64", v)
      return { B: fromBase64(v) }
    case "BOOL":
      if (typeof v !== "boolean") throw mustBe(path, type, "a boolean", v)
      return value
    case "NULL":
      if (v !== true) throw mustBe(path, type, "true", v)
      return value
    case "SS":
      if (!isArrayOf(v, "string")) throw mustBe(path, type, "an array of strings", v)
      return value
    case "NS":
      if (!isArrayOf(v, "string")) throw mustBe(path, type, "an array of decimal strings", v)
      for (const n of v) checkNumber(n, path, numbers)
      return value
    case "BS":
      if (!isArrayOf(v, "string")) throw mustBe(path, type, "an array of base64 strings", v)
      return { BS: v.map(fromBase64) }
    case "L": {
      if (!Array.isArray(v)) throw mustBe(path, type, "an array", v)
      let copy: Array<unknown> | undefined
      for (let i = 0; i < v.length; i++) {
        const checked = checkValue(v[i], `${path}[${i}]`, numbers)
        if (checked !== v[i]) (copy ??= v.slice())[i] = checked
      }
      return copy === undefined ? value : { L: copy }
    }
    case "M": {
      if (!isObject(v)) throw mustBe(path, type, "an object", v)
      let copy: Record<string, unknown> | undefined
      for (const key in v) {
        const checked = checkValue(v[key], `${path}.${key}`, numbers)
        if (checked !== v[key]) (copy ??= { ...v })[key] = checked
      }
      return copy === undefined ? value : { M: copy }
    }
    default:
      throw new Unreadable(`${path}: unknown attribute type ${JSON.stringify(type)}`)
  }
}

const mustBe = (path: string, type: string, what: string, value: unknown) =>
  new Unreadable(`${path}: ${type} must be ${what}, got ${preview(value)}`)

const decimal = /^[+-]?(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$|^[+-]?\.(\d+)(?:[eE]([+-]?\d+))?$/

const checkNumber = (text: string, path: string, numbers: Numbers): void => {
  // the common case: a number that reads back as written is a valid decimal, held exactly
  if (numbers === "number") {
    const n = Number(text)
    if (Number.isFinite(n) && String(n) === text) return
  }
  if (!decimal.test(text)) throw new Unreadable(`${path}: ${JSON.stringify(text)} is not a number`)
  if (numbers === "string") return
  if (numbers === "bigint") {
    if (!/^[+-]?\d+$/.test(text)) {
      throw new Unreadable(`${path}: ${text} is not an integer (numbers: "bigint"); read it with numbers: "string"`)
    }
    return
  }
  if (canonical(text) !== canonical(String(Number(text)))) {
    throw new Unreadable(
      `${path}: ${text} cannot be held exactly by a JS number (numbers: "number"); ` +
        `read it with numbers: "string" (or "bigint" for integers)`
    )
  }
}

/** A decimal as sign, significant digits and exponent: equal values give equal strings. */
const canonical = (text: string): string => {
  const match = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text)
  if (match === null) return text
  const [, sign, whole, fraction = "", exponent = "0"] = match
  let digits = whole + fraction
  let scale = Number(exponent) - fraction.length
  const leading = digits.search(/[1-9]/)
  if (leading < 0) return "0"
  digits = digits.slice(leading)
  const trailing = digits.length - digits.replace(/0+$/, "").length
  digits = digits.slice(0, digits.length - trailing)
  scale += trailing
  return `${sign === "-" ? "-" : ""}${digits}e${scale}`
}

const isArrayOf = (v: unknown, type: "string"): v is Array<string> =>
  Array.isArray(v) && v.every((element) => typeof element === type)

const fromBase64 = (text: string): Uint8Array => {
  const buffer = Buffer.from(text, "base64")
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
}

const preview = (value: unknown): string => {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

const valueSize = (value: AttributeValueJson): number => {
  const v = value as Record<string, unknown>
  if (v.S !== undefined) return Buffer.byteLength(v.S as string)
  if (v.N !== undefined) return numberSize(v.N as string)
  if (v.B !== undefined) return Buffer.byteLength(v.B as string, "base64")
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1
  if (v.SS !== undefined) return (v.SS as Array<string>).reduce((n, s) => n + Buffer.byteLength(s), 0)
  if (v.NS !== undefined) return (v.NS as Array<string>).reduce((n, s) => n + numberSize(s), 0)
  if (v.BS !== undefined) return (v.BS as Array<string>).reduce((n, s) => n + Buffer.byteLength(s, "base64"), 0)
  if (v.L !== undefined) return 3 + (v.L as Array<AttributeValueJson>).reduce((n, e) => n + 1 + valueSize(e), 0)
  if (v.M !== undefined) return 3 + mapSize(v.M as ItemJson)
  return 0
}

const mapSize = (item: ItemJson): number => {
  let size = 0
  for (const name of Object.keys(item)) size += Buffer.byteLength(name) + valueSize(item[name])
  return size
}

const numberSize = (text: string): number => Math.ceil(text.replace(/[^0-9]/g, "").replace(/^0+/, "").length / 2) + 1
