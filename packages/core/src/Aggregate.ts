/**
 * Mergeable aggregates for event-time windows (Flink's `AggregateFunction`).
 *
 * An `Aggregate<I, S, O>` folds inputs `I` into a state `S` and reads a result `O` out of it:
 *
 * - `empty()` returns a fresh state (never shared: mutable states are allocated on each call);
 * - `add(state, input)` is called once per record in the window operator's hot loop. It is a plain
 *   function (no Effect) and returns the next state: number states (`count`, `sum`, `min`, `max`) return a
 *   new number, every other built-in state is a mutable object that `add` updates in place and returns, so
 *   the hot loop allocates nothing per record. An input it cannot take makes it throw **before it changes
 *   anything** (the built-in aggregates throw a `TypeError` for an input of the wrong type): the window
 *   operator then dead-letters that record and the window goes on as if it had never come. A custom `add`
 *   must keep that rule too (check first, then change);
 * - `merge(self, that)` combines the states of two shards or panes. It may update `self` in place and
 *   return it, never changes `that`, and never lets the returned state share mutable parts with `that`.
 *   `self` and `that` must be different states;
 * - `result(state)` reads the output and never changes the state, so adding may go on afterwards;
 * - `state` is a `Schema` from the state to JSON-compatible data (a DynamoDB item, Lambda's window state).
 *   For every built-in aggregate `decode(JSON.parse(JSON.stringify(encode(s))))` behaves like `s` under
 *   `add`, `merge` and `result`. Numbers that JSON cannot carry are written as the strings `"Infinity"`,
 *   `"-Infinity"`, `"NaN"` and `"-0"`.
 *
 * Which states are mutated in place: `mean`, `stats`, `quantile`, `quantiles`, `distinctCount`, `topK` and
 * `struct` (whose own object is updated field by field); `count`, `sum`, `min`, `max` are numbers.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import { dual } from "effect/Function"
import * as ParseResult from "effect/ParseResult"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as Schema from "effect/Schema"
import * as HyperLogLogSketch from "./internal/hyperLogLog.js"

// -----------------------------------------------------------------------------
// Model
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: unique symbol = Symbol.for("@tributary/core/Aggregate")

/**
 * @since 0.1.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * Data that survives `JSON.stringify` / `JSON.parse` (numbers must be finite). Every state schema encodes
 * to it.
 *
 * @since 0.1.0
 * @category models
 */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

/**
 * A mergeable aggregate from inputs `I` through a state `S` to a result `O`. See the module documentation
 * for the contract of each member.
 *
 * @since 0.1.0
 * @category models
 */
export interface Aggregate<in I, in out S, out O> extends Pipeable {
  readonly [TypeId]: TypeId
  /** A fresh state. */
  readonly empty: () => S
  /** Folds one input; may mutate and return `state`. */
  readonly add: (state: S, input: I) => S
  /** Combines two states; may mutate and return `self`, never mutates `that`. */
  readonly merge: (self: S, that: S) => S
  /** Reads the result without changing the state. */
  readonly result: (state: S) => O
  /** How a state is written as JSON-compatible data and read back. */
  readonly state: Schema.Schema<S, Json>
}

/**
 * @since 0.1.0
 */
export declare namespace Aggregate {
  /**
   * @since 0.1.0
   */
  export type Any = Aggregate<any, any, any>
  /**
   * @since 0.1.0
   */
  export type Input<A extends Any> = A extends Aggregate<infer I, any, any> ? I : never
  /**
   * @since 0.1.0
   */
  export type State<A extends Any> = A extends Aggregate<any, infer S, any> ? S : never
  /**
   * @since 0.1.0
   */
  export type Output<A extends Any> = A extends Aggregate<any, any, infer O> ? O : never
}

const Proto = {
  [TypeId]: TypeId,
  pipe() {
    return pipeArguments(this, arguments)
  }
}

/**
 * Tests whether a value is an `Aggregate`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isAggregate = (u: unknown): u is Aggregate<never, unknown, unknown> =>
  typeof u === "object" && u !== null && TypeId in u

/**
 * Makes a custom aggregate. Custom aggregates are first-class: they compose with `struct`, `mapInput` and
 * `map` like the built-in ones. The state schema must encode to JSON-compatible data.
 *
 * @example
 * ```ts
 * import * as Aggregate from "@tributary/core/Aggregate"
 * import * as Schema from "effect/Schema"
 *
 * // The longest string seen
 * const longest = Aggregate.make({
 *   empty: () => "",
 *   add: (s, x: string) => (x.length > s.length ? x : s),
 *   merge: (a, b) => (b.length > a.length ? b : a),
 *   result: (s) => s,
 *   state: Schema.String
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <I, S, O, E extends Json>(options: {
  readonly empty: () => S
  readonly add: (state: S, input: I) => S
  readonly merge: (self: S, that: S) => S
  readonly result: (state: S) => O
  readonly state: Schema.Schema<S, E>
}): Aggregate<I, S, O> => {
  const self = Object.create(Proto)
  // Same property order for every aggregate: one hidden class, monomorphic `agg.add` loads in window operators
  self.empty = options.empty
  self.add = options.add
  self.merge = options.merge
  self.result = options.result
  // Widening the encoded side is safe: decoding validates its input whatever its static type
  self.state = options.state as unknown as Schema.Schema<S, Json>
  self[StagesId] = undefined
  return self
}

/**
 * `add` in two steps, for `struct`: `prepare` reads and checks the input (a `mapInput` function, a type
 * check) and may throw; `apply` changes the state and, when `safe`, never throws. A struct prepares the input
 * of every field before it applies any, so a throw leaves every field as it was.
 */
interface Stages {
  readonly prepare: (input: unknown) => unknown
  readonly apply: (state: unknown, prepared: unknown) => unknown
  readonly safe: boolean
}

const StagesId: unique symbol = Symbol.for("@tributary/core/Aggregate/Stages")

const identityInput = (input: unknown): unknown => input

/** A custom aggregate's: its `add` as one step, which may throw (before changing its state, by contract). */
const stagesOf = (aggregate: Aggregate.Any): Stages =>
  (aggregate as unknown as { [StagesId]: Stages | undefined })[StagesId] ??
    { prepare: identityInput, apply: aggregate.add, safe: false }

const withStages = <A extends Aggregate.Any>(aggregate: A, stages: Stages): A => {
  ;(aggregate as unknown as { [StagesId]: Stages })[StagesId] = stages
  return aggregate
}

const describeType = (u: unknown): string => u === null ? "null" : Array.isArray(u) ? "an array" : typeof u

const wrongInput = (name: string, expected: string, input: unknown): never => {
  throw new TypeError(`Aggregate.${name} takes ${expected}, got ${describeType(input)}`)
}

/** A built-in aggregate of numbers: its `add` checks that the input is a number, then applies it. */
const numeric = <S, O, E extends Json>(name: string, options: {
  readonly empty: () => S
  readonly apply: (state: S, x: number) => S
  readonly merge: (self: S, that: S) => S
  readonly result: (state: S) => O
  readonly state: Schema.Schema<S, E>
}): Aggregate<number, S, O> => {
  const { apply } = options
  return withStages(
    make({
      empty: options.empty,
      add: (state: S, x: number): S => typeof x === "number" ? apply(state, x) : wrongInput(name, "numbers", x),
      merge: options.merge,
      result: options.result,
      state: options.state
    }),
    {
      prepare: (x) => typeof x === "number" ? x : wrongInput(name, "numbers", x),
      apply: apply as Stages["apply"],
      safe: true
    }
  )
}

// -----------------------------------------------------------------------------
// Schemas
// -----------------------------------------------------------------------------

type SpecialNumber = "NaN" | "Infinity" | "-Infinity" | "-0"

const encodeSpecial = (n: number): SpecialNumber =>
  n > 0 ? "Infinity" : n < 0 ? "-Infinity" : n === 0 ? "-0" : "NaN"

/**
 * A number that JSON can carry exactly: the values JSON loses become strings ("NaN", "Infinity",
 * "-Infinity", and "-0", which `JSON.stringify` would write as 0 although `Math.min` tells them apart).
 */
const JsonNumber: Schema.Schema<number, number | SpecialNumber> = Schema.transform(
  Schema.Union(Schema.Number, Schema.Literal("NaN", "Infinity", "-Infinity", "-0")),
  Schema.Number,
  {
    strict: true,
    decode: (x) => (typeof x === "number" ? x : Number(x)),
    encode: (n) => (Number.isFinite(n) && !Object.is(n, -0) ? n : encodeSpecial(n))
  }
)

const Count = Schema.NonNegativeInt

const checkRange = (name: string, value: number, min: number, max: number, integer: boolean): number => {
  if (!(value >= min && value <= max) || (integer && !Number.isInteger(value))) {
    throw new RangeError(`Aggregate: ${name} must be ${integer ? "an integer " : ""}in [${min}, ${max}], got ${value}`)
  }
  return value
}

// -----------------------------------------------------------------------------
// Numbers
// -----------------------------------------------------------------------------

/**
 * The number of inputs.
 *
 * @since 0.1.0
 * @category aggregates
 */
export const count: Aggregate<unknown, number, number> = withStages(
  make({
    empty: () => 0,
    add: (n: number, _: unknown) => n + 1,
    merge: (a, b) => a + b,
    result: (n) => n,
    state: Count
  }),
  { prepare: identityInput, apply: (n) => (n as number) + 1, safe: true }
)

const identity = (n: number): number => n

/**
 * The floating-point sum of the inputs (0 for no input). Merging partial sums is exact whenever every
 * partial sum is exactly representable (e.g. integers below 2^53); otherwise it may differ from a single
 * pass by rounding, as any reordering of a floating-point sum does.
 *
 * @since 0.1.0
 * @category aggregates
 */
export const sum: Aggregate<number, number, number> = numeric("sum", {
  empty: () => 0,
  apply: (s, x) => s + x,
  merge: (a, b) => a + b,
  result: identity,
  state: JsonNumber
})

/**
 * The smallest input, `undefined` for no input. The state is a number starting at `+Infinity` (encoded as
 * `"Infinity"`), so inputs that are all `+Infinity` also read as `undefined`; use `stats` when that
 * matters. A `NaN` input makes the result `NaN` (`Math.min` semantics, which also orders `-0` before `0`).
 *
 * @since 0.1.0
 * @category aggregates
 */
export const min: Aggregate<number, number, number | undefined> = numeric("min", {
  empty: () => Infinity,
  apply: (s, x) => Math.min(s, x),
  merge: (a, b) => Math.min(a, b),
  result: (s) => (s === Infinity ? undefined : s),
  state: JsonNumber
})

/**
 * The largest input, `undefined` for no input. The state starts at `-Infinity` (encoded as
 * `"-Infinity"`), so inputs that are all `-Infinity` also read as `undefined`; use `stats` when that
 * matters. A `NaN` input makes the result `NaN` (`Math.max` semantics).
 *
 * @since 0.1.0
 * @category aggregates
 */
export const max: Aggregate<number, number, number | undefined> = numeric("max", {
  empty: () => -Infinity,
  apply: (s, x) => Math.max(s, x),
  merge: (a, b) => Math.max(a, b),
  result: (s) => (s === -Infinity ? undefined : s),
  state: JsonNumber
})

/**
 * The mutable state of `mean`.
 *
 * @since 0.1.0
 * @category models
 */
export interface MeanState {
  count: number
  sum: number
}

/**
 * The arithmetic mean, `undefined` for no input. The state is mutated in place.
 *
 * @since 0.1.0
 * @category aggregates
 */
export const mean: Aggregate<number, MeanState, number | undefined> = numeric("mean", {
  empty: (): MeanState => ({ count: 0, sum: 0 }),
  apply: (s, x) => {
    s.count++
    s.sum += x
    return s
  },
  merge: (self, that) => {
    self.count += that.count
    self.sum += that.sum
    return self
  },
  result: (s) => (s.count === 0 ? undefined : s.sum / s.count),
  state: Schema.mutable(Schema.Struct({ count: Count, sum: JsonNumber }))
})

/**
 * The mutable state of `stats`.
 *
 * @since 0.1.0
 * @category models
 */
export interface StatsState {
  count: number
  sum: number
  /** `+Infinity` while `count` is 0 */
  min: number
  /** `-Infinity` while `count` is 0 */
  max: number
}

/**
 * The result of `stats`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly count: number
  readonly sum: number
  readonly min: number | undefined
  readonly max: number | undefined
  readonly mean: number | undefined
}

/**
 * Count, sum, min, max and mean in one state, mutated in place. Unlike `min` and `max`, `min` and `max`
 * here are `undefined` exactly when there was no input.
 *
 * @since 0.1.0
 * @category aggregates
 */
export const stats: Aggregate<number, StatsState, Stats> = numeric("stats", {
  empty: (): StatsState => ({ count: 0, sum: 0, min: Infinity, max: -Infinity }),
  apply: (s, x) => {
    s.count++
    s.sum += x
    s.min = Math.min(s.min, x)
    s.max = Math.max(s.max, x)
    return s
  },
  merge: (self, that) => {
    self.count += that.count
    self.sum += that.sum
    self.min = Math.min(self.min, that.min)
    self.max = Math.max(self.max, that.max)
    return self
  },
  result: (s): Stats =>
    s.count === 0
      ? { count: 0, sum: s.sum, min: undefined, max: undefined, mean: undefined }
      : { count: s.count, sum: s.sum, min: s.min, max: s.max, mean: s.sum / s.count },
  state: Schema.mutable(Schema.Struct({ count: Count, sum: JsonNumber, min: JsonNumber, max: JsonNumber }))
})

// -----------------------------------------------------------------------------
// Quantiles: DDSketch
// -----------------------------------------------------------------------------

const SketchTypeId: unique symbol = Symbol.for("@tributary/core/Aggregate/Sketch")

/**
 * A DDSketch (Masson, Rim, Lee: "DDSketch: a fast and fully-mergeable quantile sketch with relative-error
 * guarantees", VLDB 2019): the state of `quantile` and `quantiles`, mutated in place.
 *
 * @since 0.1.0
 * @category models
 */
export interface Sketch {
  readonly [SketchTypeId]: typeof SketchTypeId
  readonly relativeAccuracy: number
  /** Number of values added (`NaN` and infinite inputs are not counted). */
  readonly count: number
  /** Smallest value added, `+Infinity` when empty. */
  readonly min: number
  /** Largest value added, `-Infinity` when empty. */
  readonly max: number
}

const EMPTY_COUNTS = new Float64Array(0)

/**
 * Bucket counts for a contiguous range of keys, kept in a dense array. When the range would exceed
 * `maxBuckets`, the lowest buckets are folded into the lowest kept one (DDSketch's collapsing-lowest store).
 * Entries of `counts` outside [minKey, maxKey] are always 0.
 */
class Store {
  counts: Float64Array = EMPTY_COUNTS
  /** key of counts[0] */
  offset = 0
  minKey = 0
  /** maxKey < minKey: empty */
  maxKey = -1
  total = 0
  constructor(readonly maxBuckets: number) {}

  add(key: number, weight: number): void {
    if (key < this.minKey || key > this.maxKey) key = this.extend(key)
    this.counts[key - this.offset] += weight
    this.total += weight
  }

  /** Widens [minKey, maxKey] to `key`, collapsing if needed; returns the bucket where `key` now goes. */
  private extend(key: number): number {
    const empty = this.maxKey < this.minKey
    const oldMin = this.minKey
    const oldMax = this.maxKey
    const newMax = empty ? key : Math.max(key, oldMax)
    let newMin = empty ? key : Math.min(key, oldMin)
    if (newMax - newMin >= this.maxBuckets) newMin = newMax - this.maxBuckets + 1
    let counts = this.counts
    let collapsed = 0
    if (!empty && oldMin < newMin) {
      const end = Math.min(newMin - 1, oldMax)
      for (let k = oldMin; k <= end; k++) {
        collapsed += counts[k - this.offset]
        counts[k - this.offset] = 0
      }
    }
    if (newMin < this.offset || newMax >= this.offset + counts.length) {
      const needed = newMax - newMin + 1
      const length = counts.length
      // Grow geometrically up to maxBuckets; if the range only moved, shift in place (no allocation)
      const size = needed <= length ? length : Math.min(this.maxBuckets, Math.max(needed, 2 * length, 32))
      const newOffset = newMin - ((size - needed) >> 1)
      const from = empty ? 0 : Math.max(oldMin, newMin)
      const live = !empty && from <= oldMax
      if (size === length) {
        if (live) counts.copyWithin(from - newOffset, from - this.offset, oldMax - this.offset + 1)
        const start = live ? from - newOffset : 0
        const end = live ? oldMax - newOffset + 1 : 0
        counts.fill(0, 0, start)
        counts.fill(0, end)
      } else {
        const grown = new Float64Array(size)
        if (live) grown.set(counts.subarray(from - this.offset, oldMax - this.offset + 1), from - newOffset)
        counts = grown
        this.counts = grown
      }
      this.offset = newOffset
    }
    counts[newMin - this.offset] += collapsed
    this.minKey = newMin
    this.maxKey = newMax
    return key < newMin ? newMin : key
  }

  /** The key of the bucket holding the element of 0-based rank `rank` (rank < total). */
  keyAtRank(rank: number): number {
    let running = 0
    for (let k = this.minKey; k <= this.maxKey; k++) {
      running += this.counts[k - this.offset]
      if (running > rank) return k
    }
    return this.maxKey
  }

  mergeFrom(that: Store): void {
    // From the top down, so collapsing (which keeps the highest keys) happens once, at the first overflow
    for (let k = that.maxKey; k >= that.minKey; k--) {
      const c = that.counts[k - that.offset]
      if (c > 0) this.add(k, c)
    }
  }

  encode(): { readonly offset: number; readonly counts: ReadonlyArray<number> } {
    if (this.maxKey < this.minKey) return { offset: 0, counts: [] }
    return {
      offset: this.minKey,
      counts: Array.from(this.counts.subarray(this.minKey - this.offset, this.maxKey - this.offset + 1))
    }
  }
}

class SketchImpl implements Sketch {
  readonly [SketchTypeId]: typeof SketchTypeId = SketchTypeId
  /** keys are -index(|x|): ascending keys are ascending values, and collapsing drops the most negative */
  readonly negative: Store
  readonly positive: Store
  zeroCount = 0
  count = 0
  min = Infinity
  max = -Infinity
  constructor(readonly relativeAccuracy: number, maxBuckets: number) {
    this.negative = new Store(maxBuckets)
    this.positive = new Store(maxBuckets)
  }
}

/**
 * Options of `quantile` and `quantiles`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SketchOptions {
  /** Relative accuracy `a` in (0, 0.5]; default 0.01 */
  readonly relativeAccuracy?: number
  /** Maximum number of buckets per sign before the lowest ones collapse; default 2048 */
  readonly maxBuckets?: number
}

const StoreEncoded = Schema.Struct({ offset: Schema.Int, counts: Schema.Array(Count) })

const sketchAggregate = <O>(
  options: SketchOptions | undefined,
  read: (sketch: SketchImpl, valueAt: (rank: number) => number) => O
): Aggregate<number, Sketch, O> => {
  const a = checkRange("relativeAccuracy", options?.relativeAccuracy ?? 0.01, Number.MIN_VALUE, 0.5, false)
  const maxBuckets = checkRange("maxBuckets", options?.maxBuckets ?? 2048, 1, 2 ** 20, true)
  const gamma = (1 + a) / (1 - a)
  const logGamma = Math.log(gamma)
  const multiplier = 1 / logGamma
  // Bucket i holds (gamma^(i-1), gamma^i]; its midpoint in relative terms is within `a` of both ends
  const valueOf = (index: number): number => (2 * Math.exp(index * logGamma)) / (1 + gamma)

  const apply = (state: Sketch, x: number): Sketch => {
    const s = state as SketchImpl
    if (x > 0) {
      if (x === Infinity) return state
      s.positive.add(Math.ceil(Math.log(x) * multiplier), 1)
    } else if (x < 0) {
      if (x === -Infinity) return state
      s.negative.add(-Math.ceil(Math.log(-x) * multiplier), 1)
    } else if (x === 0) {
      s.zeroCount++
      x = 0 // -0 and 0 are one value here, so that min/max do not depend on the order of inputs
    } else {
      return state // NaN
    }
    s.count++
    if (x < s.min) s.min = x
    if (x > s.max) s.max = x
    return state
  }

  const merge = (self: Sketch, that: Sketch): Sketch => {
    const s = self as SketchImpl
    const t = that as SketchImpl
    if (t.count === 0) return self
    s.negative.mergeFrom(t.negative)
    s.positive.mergeFrom(t.positive)
    s.zeroCount += t.zeroCount
    s.count += t.count
    if (t.min < s.min) s.min = t.min
    if (t.max > s.max) s.max = t.max
    return self
  }

  const result = (state: Sketch): O => {
    const s = state as SketchImpl
    const last = s.count - 1
    return read(s, (rank) => {
      if (rank <= 0) return s.min
      if (rank >= last) return s.max
      let r = rank
      let v: number
      if (r < s.negative.total) {
        v = -valueOf(-s.negative.keyAtRank(r))
      } else {
        r -= s.negative.total
        if (r < s.zeroCount) return 0
        v = valueOf(s.positive.keyAtRank(r - s.zeroCount))
      }
      // Clamping to the exact extremes only moves an estimate closer to the true value
      return v < s.min ? s.min : v > s.max ? s.max : v
    })
  }

  const Encoded = Schema.Struct({
    relativeAccuracy: Schema.Literal(a),
    zeroCount: Count,
    min: JsonNumber,
    max: JsonNumber,
    negative: StoreEncoded,
    positive: StoreEncoded
  })
  const state = Schema.transform(
    Encoded,
    Schema.declare((u: unknown): u is Sketch => u instanceof SketchImpl && u.relativeAccuracy === a, {
      identifier: "Sketch"
    }),
    {
      strict: true,
      decode: (e) => {
        const s = new SketchImpl(a, maxBuckets)
        for (let i = e.negative.counts.length - 1; i >= 0; i--) {
          if (e.negative.counts[i] > 0) s.negative.add(e.negative.offset + i, e.negative.counts[i])
        }
        for (let i = e.positive.counts.length - 1; i >= 0; i--) {
          if (e.positive.counts[i] > 0) s.positive.add(e.positive.offset + i, e.positive.counts[i])
        }
        s.zeroCount = e.zeroCount
        s.count = s.negative.total + s.zeroCount + s.positive.total
        s.min = e.min
        s.max = e.max
        return s
      },
      encode: (sketch) => {
        const s = sketch as SketchImpl
        return {
          relativeAccuracy: a,
          zeroCount: s.zeroCount,
          min: s.min,
          max: s.max,
          negative: s.negative.encode(),
          positive: s.positive.encode()
        }
      }
    }
  )

  return numeric("quantile", { empty: (): Sketch => new SketchImpl(a, maxBuckets), apply, merge, result, state })
}

const checkQuantile = (q: number): number => checkRange("quantile", q, 0, 1, false)

/**
 * The `q`-quantile of the inputs, `undefined` for no input, from a DDSketch mutated in place.
 *
 * Guarantee: with `n` values added, the result is within `relativeAccuracy` (default 1%) of the true value
 * `x` at 0-based rank `floor(q * (n - 1))` of the sorted inputs: `|result - x| <= relativeAccuracy * |x|`;
 * `q = 0` and `q = 1` give the exact minimum and maximum. The guarantee survives `merge` in any order.
 * It only fails for values folded by collapsing: each sign keeps at most `maxBuckets` (default 2048)
 * buckets, spanning magnitudes from `m` to `m * ((1 + a) / (1 - a)) ^ maxBuckets`, about
 * `0.87 * a * maxBuckets` decades (17.8 decades for the defaults, but under 2 for `a = 0.001`: raise
 * `maxBuckets` with the accuracy). Beyond that span the lowest values lose accuracy first: the smallest
 * positive ones and the most negative ones; the highest quantiles keep the guarantee.
 *
 * `NaN` and infinite inputs are ignored. Memory: at most `2 * maxBuckets` counters (16 KB each sign).
 *
 * @since 0.1.0
 * @category aggregates
 */
export const quantile = (q: number, options?: SketchOptions): Aggregate<number, Sketch, number | undefined> => {
  checkQuantile(q)
  return sketchAggregate(options, (s, valueAt) => (s.count === 0 ? undefined : valueAt(Math.floor(q * (s.count - 1)))))
}

/**
 * Several quantiles from one DDSketch; same guarantee as `quantile`.
 *
 * @since 0.1.0
 * @category aggregates
 */
export const quantiles = (
  qs: ReadonlyArray<number>,
  options?: SketchOptions
): Aggregate<number, Sketch, ReadonlyArray<number | undefined>> => {
  const checked = qs.map(checkQuantile)
  return sketchAggregate(options, (s, valueAt) =>
    checked.map((q) => (s.count === 0 ? undefined : valueAt(Math.floor(q * (s.count - 1))))))
}

// -----------------------------------------------------------------------------
// Distinct count: HyperLogLog
// -----------------------------------------------------------------------------

/**
 * The state of `distinctCount`, mutated in place: sparse (the distinct hashed values, kept exactly) while at
 * most `2^precision / 8` of them were seen, then dense (a HyperLogLog sketch with `2^precision` one-byte
 * registers) for good.
 *
 * @since 0.1.0
 * @category models
 */
export interface HyperLogLog {
  readonly [HyperLogLogSketch.TypeId]: typeof HyperLogLogSketch.TypeId
  readonly precision: number
  /** `"sparse"` while the state counts exactly, `"dense"` once it estimates */
  readonly mode: "sparse" | "dense"
}

type HyperLogLogImpl = HyperLogLogSketch.HyperLogLogImpl

// Checked in one pass, each number then by `decode`: `Schema.Array(Schema.Number)` takes 3 to 4 times longer
const Hashes = Schema.declare(
  (u: unknown): u is ReadonlyArray<number> => Array.isArray(u) && u.every((x) => typeof x === "number"),
  { identifier: "Hashes" }
)

const HllEncoded = <P extends number>(precision: P) =>
  Schema.Union(
    Schema.Struct({ precision: Schema.Literal(precision), hashes: Hashes }),
    Schema.Struct({ precision: Schema.Literal(precision), dense: Schema.String }),
    Schema.Struct({ precision: Schema.Literal(precision), sparse: Schema.String })
  )

/**
 * The number of distinct inputs: exact while small, then estimated by HyperLogLog with `2^precision`
 * registers (`precision` in [4, 16], default 12). Values are identified by their string form (`1` and `"1"`
 * are the same value), hashed with two 32-bit MurmurHash3 lanes over UTF-16 code units; integers in
 * [0, 2^31) are hashed from their digits without building a string.
 *
 * A state starts sparse, as in HyperLogLog++: it keeps one 32-bit key per distinct hash, at most
 * `2^precision / 8` of them (512 for the default), in a hash table between a quarter and half full: 8 to 16
 * bytes per distinct value, never more than the dense registers (a state that saw 3 distinct values takes
 * about 330 bytes of heap, its typed array included, against 4.3 KB for registers). The result is then the number of distinct keys: never above the number of distinct
 * inputs, and below it only when two inputs share a key (31 bits of hash: for n values, a probability under
 * `n^2 / 2^32`, 1 in 16,000 at 512).
 *
 * The next new key switches the state to the dense registers (`2^precision` bytes: 4 KB by default), and the
 * result becomes an estimate, with a relative standard error about `1.04 / sqrt(2^precision)` (1.6% for the
 * default) from there to billions of distinct values (Ertl's estimator: no bias tables, no separate linear
 * counting).
 *
 * `merge` is exact: merged states equal the state of a single pass over all the inputs. Two sparse states
 * merge into a sparse one while their union fits, into a dense one otherwise; a sparse key carries its
 * register and rank, so it folds into exactly the registers a dense pass would have set.
 *
 * The state encodes as `{ precision, hashes }` while sparse: the keys ascending, as JSON numbers (at most 11
 * bytes each: 60 bytes of JSON for 3 values). Dense, it encodes as base64: `{ precision, sparse }` (3 bytes
 * per non-zero register) while that is smaller than `{ precision, dense }` (one byte per register). Those
 * two are also what states written before the sparse mode existed look like: they decode as dense states
 * (an empty one as an empty sparse state).
 *
 * @since 0.1.0
 * @category aggregates
 */
export const distinctCount = (options?: {
  /** log2 of the number of registers, in [4, 16]; default 12 */
  readonly precision?: number
}): Aggregate<string | number, HyperLogLog, number> => {
  const p = checkRange("precision", options?.precision ?? 12, 4, 16, true)
  const m = 1 << p
  const Encoded = HllEncoded(p)
  const state = Schema.transformOrFail(
    Encoded,
    Schema.declare(
      (u: unknown): u is HyperLogLog => u instanceof HyperLogLogSketch.HyperLogLogImpl && u.precision === p,
      { identifier: "HyperLogLog" }
    ),
    {
      strict: true,
      decode: (e, _, ast) => {
        if ("hashes" in e) {
          const s = new HyperLogLogSketch.HyperLogLogImpl(p)
          for (const key of e.hashes) {
            if (!HyperLogLogSketch.isSparseKey(key, p)) {
              return ParseResult.fail(new ParseResult.Type(ast, e, `invalid hash ${key}`))
            }
            // a list longer than the threshold (e.g. written with another one) is read as dense
            HyperLogLogSketch.addKey(s, key)
          }
          return ParseResult.succeed(s)
        }
        const sparse = "sparse" in e
        const bytes = Encoding.decodeBase64(sparse ? e.sparse : e.dense)
        if (Either.isLeft(bytes)) return ParseResult.fail(new ParseResult.Type(ast, e, "invalid base64"))
        const b = bytes.right
        let registers: Uint8Array
        if (sparse) {
          if (b.length % 3 !== 0) return ParseResult.fail(new ParseResult.Type(ast, e, "invalid sparse registers"))
          registers = new Uint8Array(m)
          for (let i = 0; i < b.length; i += 3) {
            const index = (b[i] << 8) | b[i + 1]
            if (index >= m) return ParseResult.fail(new ParseResult.Type(ast, e, "register index out of range"))
            registers[index] = b[i + 2]
          }
        } else {
          if (b.length !== m) return ParseResult.fail(new ParseResult.Type(ast, e, `expected ${m} registers`))
          registers = b
        }
        for (let i = 0; i < m; i++) {
          if (registers[i] > HyperLogLogSketch.RANK_BITS + 1) {
            return ParseResult.fail(new ParseResult.Type(ast, e, "register value out of range"))
          }
        }
        return ParseResult.succeed(HyperLogLogSketch.fromRegisters(p, registers))
      },
      encode: (hll) => {
        const s = hll as HyperLogLogImpl
        const registers = s.registers
        if (registers === null) return ParseResult.succeed({ precision: p, hashes: HyperLogLogSketch.sparseKeys(s) })
        let nonZero = 0
        for (let i = 0; i < m; i++) if (registers[i] !== 0) nonZero++
        if (3 * nonZero >= m) return ParseResult.succeed({ precision: p, dense: Encoding.encodeBase64(registers) })
        const b = new Uint8Array(3 * nonZero)
        let j = 0
        for (let i = 0; i < m; i++) {
          if (registers[i] !== 0) {
            b[j++] = i >>> 8
            b[j++] = i & 0xff
            b[j++] = registers[i]
          }
        }
        return ParseResult.succeed({ precision: p, sparse: Encoding.encodeBase64(b) })
      }
    }
  )
  // Read once: under a CommonJS transform, a namespace member can be a getter
  const addValue = HyperLogLogSketch.add
  const prepare = (value: unknown): string | number =>
    typeof value === "string" || typeof value === "number" ? value : wrongInput("distinctCount", "strings and numbers", value)
  const apply = (state: HyperLogLog, value: string | number) => {
    addValue(state as HyperLogLogImpl, value)
    return state
  }
  return withStages(make({
    empty: (): HyperLogLog => new HyperLogLogSketch.HyperLogLogImpl(p),
    add: (state: HyperLogLog, value: string | number) => apply(state, prepare(value)),
    merge: (self, that) => {
      HyperLogLogSketch.merge(self as HyperLogLogImpl, that as HyperLogLogImpl)
      return self
    },
    result: (state) => HyperLogLogSketch.estimate(state as HyperLogLogImpl),
    state
  }), { prepare, apply: apply as Stages["apply"], safe: true })
}

// -----------------------------------------------------------------------------
// Top k: Space-Saving
// -----------------------------------------------------------------------------

const SpaceSavingTypeId: unique symbol = Symbol.for("@tributary/core/Aggregate/SpaceSaving")

/**
 * A Space-Saving summary (Metwally, Agrawal, El Abbadi 2005) with at most `capacity` counters: the state of
 * `topK`, mutated in place.
 *
 * @since 0.1.0
 * @category models
 */
export interface SpaceSaving {
  readonly [SpaceSavingTypeId]: typeof SpaceSavingTypeId
  readonly capacity: number
  /**
   * An upper bound of the count of any value without a counter; 0 while no counter was ever evicted or
   * dropped, i.e. while every count is exact.
   */
  readonly floor: number
}

class Counter {
  constructor(public value: string, public count: number, public error: number, public position: number) {}
}

class SpaceSavingImpl implements SpaceSaving {
  readonly [SpaceSavingTypeId]: typeof SpaceSavingTypeId = SpaceSavingTypeId
  readonly index = new Map<string, Counter>()
  /** min-heap on count */
  readonly heap: Array<Counter> = []
  floor = 0
  constructor(readonly capacity: number) {}
}

const siftDown = (heap: Array<Counter>, position: number): void => {
  const n = heap.length
  const c = heap[position]
  for (;;) {
    let child = 2 * position + 1
    if (child >= n) break
    if (child + 1 < n && heap[child + 1].count < heap[child].count) child++
    if (heap[child].count >= c.count) break
    heap[position] = heap[child]
    heap[position].position = position
    position = child
  }
  heap[position] = c
  c.position = position
}

const siftUp = (heap: Array<Counter>, position: number): void => {
  const c = heap[position]
  while (position > 0) {
    const parent = (position - 1) >> 1
    if (heap[parent].count <= c.count) break
    heap[position] = heap[parent]
    heap[position].position = position
    position = parent
  }
  heap[position] = c
  c.position = position
}

const heapify = (heap: Array<Counter>): void => {
  for (let i = 0; i < heap.length; i++) heap[i].position = i
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftDown(heap, i)
}

/** count descending, then value ascending (UTF-16 order): the deterministic order of results */
const byRank = (a: Counter, b: Counter): number =>
  b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0)

/** Keeps the `capacity` best counters; the count of a dropped one bounds every unmonitored value. */
const truncate = (s: SpaceSavingImpl): void => {
  if (s.heap.length <= s.capacity) return
  s.heap.sort(byRank)
  for (let i = s.capacity; i < s.heap.length; i++) {
    const dropped = s.heap[i]
    s.index.delete(dropped.value)
    if (dropped.count > s.floor) s.floor = dropped.count
  }
  s.heap.length = s.capacity
}

/**
 * A counted value in the result of `topK`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TopKEntry {
  readonly value: string
  /** Estimated count, never below the true count */
  readonly count: number
  /** Maximum over-estimation: the true count is in [count - error, count] */
  readonly error: number
}

const SpaceSavingEncoded = Schema.Struct({
  floor: Count,
  counters: Schema.Array(Schema.Tuple(Schema.String, Count, Count))
})

/**
 * The `k` most frequent inputs, by count descending then value ascending, from a Space-Saving summary with
 * `capacity` counters (default `max(10 * k, 100)`), mutated in place.
 *
 * Guarantees: counts are never under-estimated, and `count - error` is never above the true count. While
 * the number of distinct values stays within `capacity` (in one pass, and in every merged part), counts are
 * exact (`error` 0, `floor` 0). Beyond it, every value whose true count exceeds `floor <= n / capacity`
 * (n: the number of inputs) has a counter, so a value that dominates by more than that margin is reported.
 *
 * `merge` is approximate beyond capacity (Cafaro, Pulimeno, Tempesta 2016): a value missing from one
 * summary is credited with that summary's `floor` (the most it can have had there) in both count and error,
 * then the lowest counters are dropped to fit `capacity`, the largest dropped count becoming the new
 * `floor`. The guarantees above still hold for the merged stream, but the summary can differ from a single
 * pass over the same inputs.
 *
 * `add` creates an object only when a value gets a counter while the summary is not full yet; once full,
 * the evicted counter is reused for the new value.
 *
 * @since 0.1.0
 * @category aggregates
 */
export const topK = (
  k: number,
  options?: {
    /** Number of counters, at least `k`; default `max(10 * k, 100)` */
    readonly capacity?: number
  }
): Aggregate<string, SpaceSaving, ReadonlyArray<TopKEntry>> => {
  checkRange("k", k, 1, 2 ** 24, true)
  const capacity = checkRange("capacity", options?.capacity ?? Math.max(10 * k, 100), k, 2 ** 24, true)
  const state = Schema.transformOrFail(
    SpaceSavingEncoded,
    Schema.declare((u: unknown): u is SpaceSaving => u instanceof SpaceSavingImpl && u.capacity === capacity, {
      identifier: "SpaceSaving"
    }),
    {
      strict: true,
      decode: (e, _, ast) => {
        const s = new SpaceSavingImpl(capacity)
        s.floor = e.floor
        for (const [value, count, error] of e.counters) {
          if (count < 1 || error > count || s.index.has(value)) {
            return ParseResult.fail(new ParseResult.Type(ast, e, `invalid counter for ${JSON.stringify(value)}`))
          }
          const c = new Counter(value, count, error, s.heap.length)
          s.heap.push(c)
          s.index.set(value, c)
        }
        // A state written with a larger capacity is cut down the way merge does it
        truncate(s)
        heapify(s.heap)
        return ParseResult.succeed(s)
      },
      encode: (summary) => {
        const s = summary as SpaceSavingImpl
        const sorted = s.heap.slice().sort(byRank)
        return ParseResult.succeed({
          floor: s.floor,
          counters: sorted.map((c) => [c.value, c.count, c.error] as const)
        })
      }
    }
  )

  const apply = (summary: SpaceSaving, value: string) => {
    const s = summary as SpaceSavingImpl
    const existing = s.index.get(value)
    if (existing !== undefined) {
      existing.count++
      siftDown(s.heap, existing.position)
    } else if (s.heap.length < capacity) {
      const c = new Counter(value, 1, 0, s.heap.length)
      s.heap.push(c)
      s.index.set(value, c)
      siftUp(s.heap, c.position)
    } else {
      // Evict the smallest counter and reuse it for the new value
      const c = s.heap[0]
      s.index.delete(c.value)
      // The evicted value had at most c.count (a state read with a larger capacity may have a higher floor)
      if (c.count > s.floor) s.floor = c.count
      c.value = value
      c.error = c.count
      c.count++
      s.index.set(value, c)
      siftDown(s.heap, 0)
    }
    return summary
  }
  const prepare = (value: unknown): string => typeof value === "string" ? value : wrongInput("topK", "strings", value)

  return withStages(make({
    empty: (): SpaceSaving => new SpaceSavingImpl(capacity),
    add: (summary: SpaceSaving, value: string) => apply(summary, prepare(value)),
    merge: (self, that) => {
      const s = self as SpaceSavingImpl
      const t = that as SpaceSavingImpl
      if (t.heap.length === 0) return self
      const selfFloor = s.floor
      for (const c of s.heap) {
        const o = t.index.get(c.value)
        if (o !== undefined) {
          c.count += o.count
          c.error += o.error
        } else {
          c.count += t.floor
          c.error += t.floor
        }
      }
      for (const o of t.heap) {
        if (!s.index.has(o.value)) {
          const c = new Counter(o.value, o.count + selfFloor, o.error + selfFloor, s.heap.length)
          s.heap.push(c)
          s.index.set(o.value, c)
        }
      }
      // A value in neither summary had at most selfFloor + t.floor; truncate raises it to the largest drop
      s.floor = selfFloor + t.floor
      truncate(s)
      heapify(s.heap)
      return self
    },
    result: (summary): ReadonlyArray<TopKEntry> => {
      const s = summary as SpaceSavingImpl
      const sorted = s.heap.slice().sort(byRank)
      const n = Math.min(k, sorted.length)
      const out = new Array<TopKEntry>(n)
      for (let i = 0; i < n; i++) out[i] = { value: sorted[i].value, count: sorted[i].count, error: sorted[i].error }
      return out
    },
    state
  }), { prepare, apply: apply as Stages["apply"], safe: true })
}

// -----------------------------------------------------------------------------
// Combinators
// -----------------------------------------------------------------------------

/**
 * The input of a `struct`: the intersection of its fields' inputs (`unknown` for no field).
 *
 * @since 0.1.0
 * @category models
 */
export type StructInput<Fields extends Record<string, Aggregate.Any>> = {
  readonly [K in keyof Fields]: (input: Aggregate.Input<Fields[K]>) => void
}[keyof Fields] extends (input: infer I) => void ? I : never

/**
 * The state of a `struct`: one mutable field per aggregate.
 *
 * @since 0.1.0
 * @category models
 */
export type StructState<Fields extends Record<string, Aggregate.Any>> = {
  -readonly [K in keyof Fields]: Aggregate.State<Fields[K]>
}

/**
 * The result of a `struct`.
 *
 * @since 0.1.0
 * @category models
 */
export type StructOutput<Fields extends Record<string, Aggregate.Any>> = {
  readonly [K in keyof Fields]: Aggregate.Output<Fields[K]>
}

/**
 * Runs several aggregates over the same inputs. The state is an object with one state per field, updated
 * in place (each field's state is replaced by what its `add` returns); the result has one result per field.
 * The input is the intersection of the fields' inputs: adapt fields with `mapInput`.
 *
 * @example
 * ```ts
 * import * as Aggregate from "@tributary/core/Aggregate"
 *
 * const latency = Aggregate.struct({
 *   n: Aggregate.count,
 *   p95: Aggregate.quantile(0.95),
 *   avg: Aggregate.mean
 * })
 * // Aggregate<
 * //   number,
 * //   { n: number; p95: Sketch; avg: MeanState },
 * //   { readonly n: number; readonly p95: number | undefined; readonly avg: number | undefined }
 * // >
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const struct = <Fields extends Record<string, Aggregate.Any>>(
  fields: Fields
): Aggregate<StructInput<Fields>, StructState<Fields>, StructOutput<Fields>> => {
  type State = Record<string, unknown>
  const keys = Object.keys(fields)
  const aggregates: ReadonlyArray<Aggregate<unknown, unknown, unknown>> = keys.map((key) => fields[key])
  const n = keys.length
  const schemas: Record<string, Schema.Schema<unknown, Json>> = {}
  for (let i = 0; i < n; i++) schemas[keys[i]] = aggregates[i].state
  // Every field's input is prepared (mapped, checked) before any field changes, so an input one field
  // cannot take leaves all of them as they were. Custom aggregates apply in one step that may throw: they
  // go first, so one of them throwing still changes nothing.
  const stages = aggregates.map(stagesOf)
  const order = [...stages.keys()].sort((a, b) => Number(stages[a].safe) - Number(stages[b].safe))
  const prepareAll = (input: unknown, into: Array<unknown>): Array<unknown> => {
    for (let i = 0; i < n; i++) into[i] = stages[i].prepare(input)
    return into
  }
  const applyAll = (s: State, prepared: ReadonlyArray<unknown>): State => {
    for (let j = 0; j < n; j++) {
      const i = order[j]
      s[keys[i]] = stages[i].apply(s[keys[i]], prepared[i])
    }
    return s
  }
  // `add` is not re-entered while it runs, so it reuses one array; `prepare` (a struct in a struct) cannot
  const scratch = new Array<unknown>(n)
  const aggregate: Aggregate<unknown, State, State> = make({
    empty: () => {
      const s: State = {}
      for (let i = 0; i < n; i++) s[keys[i]] = aggregates[i].empty()
      return s
    },
    add: (s: State, input: unknown) => applyAll(s, prepareAll(input, scratch)),
    merge: (self, that) => {
      for (let i = 0; i < n; i++) {
        const key = keys[i]
        self[key] = aggregates[i].merge(self[key], that[key])
      }
      return self
    },
    result: (s) => {
      const out: State = {}
      for (let i = 0; i < n; i++) out[keys[i]] = aggregates[i].result(s[keys[i]])
      return out
    },
    // The struct's decoded object is fresh and mutable, so it can be updated in place like `empty()`'s
    state: Schema.mutable(Schema.Struct(schemas)) as Schema.Schema<State, { readonly [key: string]: Json }>
  })
  withStages(aggregate, {
    prepare: (input) => prepareAll(input, new Array<unknown>(n)),
    apply: (s, prepared) => applyAll(s as State, prepared as ReadonlyArray<unknown>),
    safe: stages.every((stage) => stage.safe)
  })
  return aggregate as unknown as Aggregate<StructInput<Fields>, StructState<Fields>, StructOutput<Fields>>
}

/**
 * Adapts the input of an aggregate: `Aggregate.sum.pipe(Aggregate.mapInput((r: Reading) => r.celsius))`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const mapInput: {
  <A, I>(f: (a: A) => I): <S, O>(self: Aggregate<I, S, O>) => Aggregate<A, S, O>
  <I, S, O, A>(self: Aggregate<I, S, O>, f: (a: A) => I): Aggregate<A, S, O>
} = dual(2, <I, S, O, A>(self: Aggregate<I, S, O>, f: (a: A) => I): Aggregate<A, S, O> => {
  const add = self.add
  const stages = stagesOf(self)
  return withStages(
    make({
      empty: self.empty,
      add: (s: S, a: A) => add(s, f(a)),
      merge: self.merge,
      result: self.result,
      state: self.state
    }),
    { prepare: (a) => stages.prepare(f(a as A)), apply: stages.apply, safe: stages.safe }
  )
})

/**
 * Alias of `mapInput`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const contramap: {
  <A, I>(f: (a: A) => I): <S, O>(self: Aggregate<I, S, O>) => Aggregate<A, S, O>
  <I, S, O, A>(self: Aggregate<I, S, O>, f: (a: A) => I): Aggregate<A, S, O>
} = mapInput

/**
 * Transforms the result of an aggregate (the state and its encoding are unchanged).
 *
 * @since 0.1.0
 * @category combinators
 */
export const map: {
  <O, O2>(f: (o: O) => O2): <I, S>(self: Aggregate<I, S, O>) => Aggregate<I, S, O2>
  <I, S, O, O2>(self: Aggregate<I, S, O>, f: (o: O) => O2): Aggregate<I, S, O2>
} = dual(2, <I, S, O, O2>(self: Aggregate<I, S, O>, f: (o: O) => O2): Aggregate<I, S, O2> => {
  const result = self.result
  return withStages(
    make({
      empty: self.empty,
      add: self.add,
      merge: self.merge,
      result: (s: S) => f(result(s)),
      state: self.state
    }),
    stagesOf(self)
  )
})
