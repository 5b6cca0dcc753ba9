/**
 * The DDSketch behind `Aggregate.quantile` and `Aggregate.quantiles` (Masson, Rim, Lee: "DDSketch: a fast
 * and fully-mergeable quantile sketch with relative-error guarantees", VLDB 2019): logarithmic buckets per
 * sign in collapsing-lowest stores, adding, merging and reading a value at a rank. `Aggregate.ts` wires it
 * into an aggregate and its state Schema.
 *
 * @internal
 */

import * as Schema from "effect/Schema"
import { Count, JsonNumber } from "./stateSchemas.js"

export const TypeId: unique symbol = Symbol.for("@tributary/core/Aggregate/Sketch")

/** The state of `quantile` and `quantiles` as the public API sees it (see `Aggregate.Sketch`). */
export interface Sketch {
  readonly [TypeId]: typeof TypeId
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
export class Store {
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

export class SketchImpl implements Sketch {
  readonly [TypeId]: typeof TypeId = TypeId
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

/** The bucket indexing of relative accuracy `a`: bucket i holds (gamma^(i-1), gamma^i]. */
export const indexing = (a: number) => {
  const gamma = (1 + a) / (1 - a)
  const logGamma = Math.log(gamma)
  return {
    multiplier: 1 / logGamma,
    // the midpoint of a bucket in relative terms is within `a` of both ends
    valueOf: (index: number): number => (2 * Math.exp(index * logGamma)) / (1 + gamma)
  }
}

export const add = (s: SketchImpl, x: number, multiplier: number): void => {
  if (x > 0) {
    if (x === Infinity) return
    s.positive.add(Math.ceil(Math.log(x) * multiplier), 1)
  } else if (x < 0) {
    if (x === -Infinity) return
    s.negative.add(-Math.ceil(Math.log(-x) * multiplier), 1)
  } else if (x === 0) {
    s.zeroCount++
    x = 0 // -0 and 0 are one value here, so that min/max do not depend on the order of inputs
  } else {
    return // NaN
  }
  s.count++
  if (x < s.min) s.min = x
  if (x > s.max) s.max = x
}

export const merge = (s: SketchImpl, t: SketchImpl): void => {
  if (t.count === 0) return
  s.negative.mergeFrom(t.negative)
  s.positive.mergeFrom(t.positive)
  s.zeroCount += t.zeroCount
  s.count += t.count
  if (t.min < s.min) s.min = t.min
  if (t.max > s.max) s.max = t.max
}

/** The estimate of the value at 0-based `rank`: the exact extremes at both ends, clamped between them. */
export const valueAt = (s: SketchImpl, rank: number, valueOf: (index: number) => number): number => {
  if (rank <= 0) return s.min
  if (rank >= s.count - 1) return s.max
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
}

const StoreEncoded = Schema.Struct({ offset: Schema.Int, counts: Schema.Array(Count) })

/** The state as JSON: the accuracy (a state of another accuracy does not decode), the extremes, the stores. */
export const stateSchema = (a: number, maxBuckets: number) =>
  Schema.transform(
    Schema.Struct({
      relativeAccuracy: Schema.Literal(a),
      zeroCount: Count,
      min: JsonNumber,
      max: JsonNumber,
      negative: StoreEncoded,
      positive: StoreEncoded
    }),
    Schema.declare((u: unknown): u is Sketch => u instanceof SketchImpl && u.relativeAccuracy === a, { identifier: "Sketch" }),
    {
      strict: true,
      decode: (e): Sketch => {
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

/**
 * The members of a quantile aggregate over sketches of accuracy `a`; `read` makes the result from a sketch
 * and its value at a rank.
 */
export const parts = <O>(a: number, maxBuckets: number, read: (sketch: SketchImpl, valueAt: (rank: number) => number) => O) => {
  const { multiplier, valueOf } = indexing(a)
  return {
    empty: (): Sketch => new SketchImpl(a, maxBuckets),
    add: (state: Sketch, x: number): Sketch => {
      add(state as SketchImpl, x, multiplier)
      return state
    },
    merge: (self: Sketch, that: Sketch): Sketch => {
      merge(self as SketchImpl, that as SketchImpl)
      return self
    },
    result: (state: Sketch): O => {
      const s = state as SketchImpl
      return read(s, (rank) => valueAt(s, rank, valueOf))
    },
    state: stateSchema(a, maxBuckets)
  }
}

/** The 0-based rank of the `q`-quantile among `count` values (a `q` outside [0, 1] reads as the median). */
export const quantileRank = (q: number, count: number): number => Math.floor((q >= 0 && q <= 1 ? q : 0.5) * (count - 1))
