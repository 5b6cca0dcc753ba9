/**
 * Kinesis sequence numbers are decimal strings (56 digits today, up to 128 by the API) that grow within a
 * shard. They must be compared as integers: as strings, "10" sorts before "9".
 *
 * @since 0.1.0
 */
import type * as Ord from "effect/Order"

/**
 * A record's position in its shard as Kinesis writes it: a decimal string, compared with `compare`, never
 * as a string or a number.
 *
 * @since 0.1.0
 * @category models
 */
export type SequenceNumber = string

/**
 * Compares two sequence numbers as unsigned integers without allocating a BigInt: canonical decimals
 * (no leading zeros) order by length first, then lexicographically.
 *
 * @since 0.1.0
 * @category ordering
 */
export const compare = (self: SequenceNumber, that: SequenceNumber): -1 | 0 | 1 => {
  const a = stripLeadingZeros(self)
  const b = stripLeadingZeros(that)
  if (a.length !== b.length) return a.length < b.length ? -1 : 1
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * `compare` as an Effect `Order`, for `Array.sort`, `Order.max` and the like.
 *
 * @since 0.1.0
 * @category ordering
 */
export const Order: Ord.Order<SequenceNumber> = compare

/**
 * The later of two sequence numbers (`self` when they are equal).
 *
 * @since 0.1.0
 * @category ordering
 */
export const max = (self: SequenceNumber, that: SequenceNumber): SequenceNumber =>
  compare(self, that) >= 0 ? self : that

/**
 * The earlier of two sequence numbers (`self` when they are equal).
 *
 * @since 0.1.0
 * @category ordering
 */
export const min = (self: SequenceNumber, that: SequenceNumber): SequenceNumber =>
  compare(self, that) <= 0 ? self : that

/**
 * True for a non-empty string of decimal digits, the only shape Kinesis hands out.
 *
 * @since 0.1.0
 * @category guards
 */
export const isSequenceNumber = (u: unknown): u is SequenceNumber =>
  typeof u === "string" && u.length > 0 && u.length <= 128 && /^[0-9]+$/.test(u)

const stripLeadingZeros = (s: string): string => {
  let i = 0
  while (i < s.length - 1 && s.charCodeAt(i) === 48) i++
  return i === 0 ? s : s.slice(i)
}
