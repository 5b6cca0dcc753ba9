/**
 * Schemas the aggregate states share.
 */
import * as Schema from "effect/Schema"

type SpecialNumber = "NaN" | "Infinity" | "-Infinity" | "-0"

const encodeSpecial = (n: number): SpecialNumber =>
  n > 0 ? "Infinity" : n < 0 ? "-Infinity" : n === 0 ? "-0" : "NaN"

/**
 * A number that JSON can carry exactly: the values JSON loses become strings ("NaN", "Infinity",
 * "-Infinity", and "-0", which `JSON.stringify` would write as 0 although `Math.min` tells them apart).
 */
export const JsonNumber: Schema.Schema<number, number | SpecialNumber> = Schema.transform(
  Schema.Union(Schema.Number, Schema.Literal("NaN", "Infinity", "-Infinity", "-0")),
  Schema.Number,
  {
    strict: true,
    decode: (x) => (typeof x === "number" ? x : Number(x)),
    encode: (n) => (Number.isFinite(n) && !Object.is(n, -0) ? n : encodeSpecial(n))
  }
)

export const Count = Schema.NonNegativeInt
