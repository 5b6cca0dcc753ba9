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
import { dual } from "effect/Function"
import * as Effect from "effect/Effect"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as Schema from "effect/Schema"
import * as Stages from "./internal/aggregateStages.js"
import * as DDSketch from "./internal/ddSketch.js"
import * as HyperLogLogSketch from "./internal/hyperLogLog.js"
import * as SpaceSavingSummary from "./internal/spaceSaving.js"
import { Count, JsonNumber } from "./internal/stateSchemas.js"
import type { InvalidOptions } from "./TributaryError.js"
import { checkOptions } from "./TributaryError.js"
import { outOfRange } from "./internal/options.js"

// -----------------------------------------------------------------------------
// Model
// -----------------------------------------------------------------------------

/**
 * The key every aggregate carries, which `isAggregate` looks for.
 *
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: unique symbol = Symbol.for("@tributary/core/Aggregate")

/**
 * The type of `TypeId`.
 *
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
  /**
   * Set when the aggregate was made with options that cannot work (a quantile above 1, a precision out of
   * range): whatever runs it (a pipeline's window, a Lambda tumbling window, a results query) fails with
   * this error before processing anything. Until then it computes as with the default options.
   */
  readonly invalid: InvalidOptions | undefined
}

/**
 * Types that take an aggregate apart: its input, state and output types.
 *
 * @since 0.1.0
 */
export declare namespace Aggregate {
  /** Any aggregate, whatever its types. @since 0.1.0 */
  export type Any = Aggregate<any, any, any>
  /** The input type of an aggregate: what `add` takes. @since 0.1.0 */
  export type Input<A extends Any> = A extends Aggregate<infer I, any, any> ? I : never
  /** The state type of an aggregate: what `add` folds into and `merge` combines. @since 0.1.0 */
  export type State<A extends Any> = A extends Aggregate<any, infer S, any> ? S : never
  /** The output type of an aggregate: what `result` reads. @since 0.1.0 */
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
  /** Why the options it was made with cannot work (see `Aggregate.invalid`). */
  readonly invalid?: InvalidOptions | undefined
}): Aggregate<I, S, O> => {
  const self = Object.create(Proto)
  // Same property order for every aggregate: one hidden class, monomorphic `agg.add` loads in window operators
  self.empty = options.empty
  self.add = options.add
  self.merge = options.merge
  self.result = options.result
  // Widening the encoded side is safe: decoding validates its input whatever its static type
  self.state = options.state as unknown as Schema.Schema<S, Json>
  self.invalid = options.invalid
  self[Stages.StagesId] = undefined
  return self
}

/**
 * The aggregate, or its `invalid` error: what runs an aggregate checks it first.
 *
 * @since 0.1.0
 * @category guards
 */
export const validate = <I, S, O>(self: Aggregate<I, S, O>): Effect.Effect<Aggregate<I, S, O>, InvalidOptions> =>
  self.invalid === undefined ? Effect.succeed(self) : Effect.fail(self.invalid)

/** A built-in aggregate of numbers: its `add` checks that the input is a number, then applies it. */
const numeric = <S, O, E extends Json>(name: string, options: {
  readonly empty: () => S
  readonly apply: (state: S, x: number) => S
  readonly merge: (self: S, that: S) => S
  readonly result: (state: S) => O
  readonly state: Schema.Schema<S, E>
  readonly invalid?: InvalidOptions | undefined
}): Aggregate<number, S, O> => {
  const { add, stages } = Stages.numericAdd(name, options.apply)
  return Stages.withStages(make({ ...options, add }), stages)
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
export const count: Aggregate<unknown, number, number> = Stages.withStages(
  make({
    empty: () => 0,
    add: (n: number, _: unknown) => n + 1,
    merge: (a, b) => a + b,
    result: (n) => n,
    state: Count
  }),
  { prepare: Stages.identityInput, apply: (n) => (n as number) + 1, safe: true }
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
  /** Inputs added so far. */
  count: number
  /** Their floating-point sum. */
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
  /** Inputs added so far. */
  count: number
  /** Their floating-point sum. */
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
  /** The number of inputs. */
  readonly count: number
  /** The floating-point sum of the inputs (0 for no input). */
  readonly sum: number
  /** The smallest input; undefined for no input. */
  readonly min: number | undefined
  /** The largest input; undefined for no input. */
  readonly max: number | undefined
  /** `sum / count`; undefined for no input. */
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

/**
 * A DDSketch (Masson, Rim, Lee: "DDSketch: a fast and fully-mergeable quantile sketch with relative-error
 * guarantees", VLDB 2019): the state of `quantile` and `quantiles`, mutated in place.
 *
 * @since 0.1.0
 * @category models
 */
export type Sketch = DDSketch.Sketch

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

/** A DDSketch aggregate; with options that cannot work, one of the default accuracy marked invalid. */
const sketchAggregate = <O>(
  of: string,
  options: SketchOptions | undefined,
  checks: ReadonlyArray<readonly [string, string | undefined]>,
  read: (sketch: DDSketch.SketchImpl, valueAt: (rank: number) => number) => O
): Aggregate<number, Sketch, O> => {
  const a = options?.relativeAccuracy ?? 0.01
  const maxBuckets = options?.maxBuckets ?? 2048
  const invalid = checkOptions(of, [
    ...checks,
    ["relativeAccuracy", outOfRange(a, Number.MIN_VALUE, 0.5, false)],
    ["maxBuckets", outOfRange(maxBuckets, 1, 2 ** 20, true)]
  ])
  const { add: apply, ...parts } = invalid === undefined ? DDSketch.parts(a, maxBuckets, read) : DDSketch.parts(0.01, 2048, read)
  return numeric("quantile", { ...parts, apply, invalid })
}

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
export const quantile = (q: number, options?: SketchOptions): Aggregate<number, Sketch, number | undefined> =>
  sketchAggregate(
    "Aggregate.quantile",
    options,
    [["q", outOfRange(q, 0, 1, false)]],
    (s, valueAt) => (s.count === 0 ? undefined : valueAt(DDSketch.quantileRank(q, s.count)))
  )

/**
 * Several quantiles from one DDSketch; same guarantee as `quantile`.
 *
 * @since 0.1.0
 * @category aggregates
 */
export const quantiles = (
  qs: ReadonlyArray<number>,
  options?: SketchOptions
): Aggregate<number, Sketch, ReadonlyArray<number | undefined>> =>
  sketchAggregate(
    "Aggregate.quantiles",
    options,
    qs.map((q, i) => [`qs[${i}]`, outOfRange(q, 0, 1, false)] as const),
    (s, valueAt) => qs.map((q) => (s.count === 0 ? undefined : valueAt(DDSketch.quantileRank(q, s.count))))
  )

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
export type HyperLogLog = HyperLogLogSketch.HyperLogLog

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
 * register and rank, so it folds into exactly the registers a dense pass would have set. The state encodes
 * compactly (sparse: the keys; dense: base64 registers), and states written before the sparse mode existed
 * still decode.
 *
 * @since 0.1.0
 * @category aggregates
 */
export const distinctCount = (options?: {
  /** log2 of the number of registers, in [4, 16]; default 12 */
  readonly precision?: number
}): Aggregate<string | number, HyperLogLog, number> => {
  const p = options?.precision ?? 12
  const invalid = checkOptions("Aggregate.distinctCount", [["precision", outOfRange(p, 4, 16, true)]])
  const { add: apply, ...parts } = HyperLogLogSketch.parts(invalid === undefined ? p : 12)
  const { add, stages } = Stages.checkedAdd(apply, Stages.stringOrNumber("distinctCount"))
  return Stages.withStages(make({ ...parts, add, invalid }), stages)
}

// -----------------------------------------------------------------------------
// Top k: Space-Saving
// -----------------------------------------------------------------------------

/**
 * A Space-Saving summary (Metwally, Agrawal, El Abbadi 2005) with at most `capacity` counters: the state of
 * `topK`, mutated in place.
 *
 * @since 0.1.0
 * @category models
 */
export type SpaceSaving = SpaceSavingSummary.SpaceSaving

/**
 * A counted value in the result of `topK`.
 *
 * @since 0.1.0
 * @category models
 */
export type TopKEntry = SpaceSavingSummary.Entry

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
  const capacity = options?.capacity ?? Math.max(10 * k, 100)
  const invalid = checkOptions("Aggregate.topK", [
    ["k", outOfRange(k, 1, 2 ** 24, true)],
    ["capacity", outOfRange(capacity, Number.isInteger(k) && k >= 1 ? k : 1, 2 ** 24, true)]
  ])
  const { add: apply, ...parts } = invalid === undefined ? SpaceSavingSummary.parts(k, capacity) : SpaceSavingSummary.parts(10, 100)
  const { add, stages } = Stages.checkedAdd(apply, Stages.string("topK"))
  return Stages.withStages(make({ ...parts, add, invalid }), stages)
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
  const schemas: Record<string, Schema.Schema<unknown, Json>> = {}
  for (let i = 0; i < keys.length; i++) schemas[keys[i]] = aggregates[i].state
  // Every field's input is prepared (mapped, checked) before any field changes (see `structParts`)
  const { stages, ...parts } = Stages.structParts(keys, aggregates)
  const aggregate: Aggregate<unknown, State, State> = Stages.withStages(
    make({
      ...parts,
      // The struct's decoded object is fresh and mutable, so it can be updated in place like `empty()`'s
      state: Schema.mutable(Schema.Struct(schemas)) as Schema.Schema<State, { readonly [key: string]: Json }>,
      invalid: aggregates.find((field) => field.invalid !== undefined)?.invalid
    }),
    stages
  )
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
  return Stages.withStages(
    make({
      empty: self.empty,
      add: (s: S, a: A) => add(s, f(a)),
      merge: self.merge,
      result: self.result,
      state: self.state,
      invalid: self.invalid
    }),
    Stages.mapInputStages(self, f as (input: unknown) => unknown)
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
  return Stages.withStages(
    make({
      empty: self.empty,
      add: self.add,
      merge: self.merge,
      result: (s: S) => f(result(s)),
      state: self.state,
      invalid: self.invalid
    }),
    Stages.stagesOf(self)
  )
})
