import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as fc from "fast-check"
import * as Aggregate from "../src/Aggregate.js"

// -----------------------------------------------------------------------------
// Helpers
// -----------------------------------------------------------------------------

const fold = <I, S>(agg: Aggregate.Aggregate<I, S, unknown>, inputs: Iterable<I>, state: S = agg.empty()): S => {
  for (const input of inputs) state = agg.add(state, input)
  return state
}

const run = <I, O>(agg: Aggregate.Aggregate<I, any, O>, inputs: Iterable<I>): O => agg.result(fold(agg, inputs))

const encode = <S>(agg: Aggregate.Aggregate<never, S, unknown>, state: S): Aggregate.Json =>
  Schema.encodeSync(agg.state)(state)

/** encode -> JSON.stringify -> JSON.parse -> decode */
const roundTrip = <S>(agg: Aggregate.Aggregate<never, S, unknown>, state: S): S =>
  Schema.decodeUnknownSync(agg.state)(JSON.parse(JSON.stringify(encode(agg, state))))

const mergeAll = <S>(agg: Aggregate.Aggregate<never, S, unknown>, states: ReadonlyArray<S>): S =>
  states.reduce((acc, s) => agg.merge(acc, s), agg.empty())

/** Deterministic PRNG (mulberry32) for the large generated streams */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** An array split at random points into parts (possibly empty) */
const splitArbitrary = <A>(arb: fc.Arbitrary<A>, maxLength = 200) =>
  fc
    .tuple(fc.array(arb, { maxLength }), fc.array(fc.nat({ max: maxLength }), { maxLength: 6 }))
    .map(([all, cuts]) => {
      const points = cuts.map((c) => c % (all.length + 1)).sort((a, b) => a - b)
      const parts: Array<Array<A>> = []
      let start = 0
      for (const p of points) {
        parts.push(all.slice(start, p))
        start = p
      }
      parts.push(all.slice(start))
      return { all, parts }
    })

/**
 * The mergeable-aggregate laws, checked with `check(actual, expected, inputs)`:
 * merge of the parts' states = one pass, also through JSON; merge with empty is an identity on both sides;
 * a state read back from JSON goes on adding like the original; merge does not change `that`.
 */
const laws = <I, S, O>(
  agg: Aggregate.Aggregate<I, S, O>,
  arb: fc.Arbitrary<I>,
  check: (actual: O, expected: O, inputs: ReadonlyArray<I>) => void,
  numRuns = 200
) =>
  fc.assert(
    fc.property(splitArbitrary(arb), ({ all, parts }) => {
      const expected = run(agg, all)
      check(agg.result(mergeAll(agg, parts.map((p) => fold(agg, p)))), expected, all)
      check(agg.result(mergeAll(agg, parts.map((p) => roundTrip(agg, fold(agg, p))))), expected, all)
      check(agg.result(agg.merge(fold(agg, all), agg.empty())), expected, all)
      check(agg.result(agg.merge(agg.empty(), fold(agg, all))), expected, all)
      // read back from JSON, then go on adding
      const head = parts[0]
      const rest = all.slice(head.length)
      check(agg.result(fold(agg, rest, roundTrip(agg, fold(agg, head)))), expected, all)
      // `that` is left untouched, and the merged state shares nothing mutable with it
      if (parts.length >= 2) {
        const that = fold(agg, parts[1])
        const before = JSON.stringify(encode(agg, that))
        const merged = agg.merge(fold(agg, parts[0]), that)
        fold(agg, all, merged)
        expect(JSON.stringify(encode(agg, that))).toBe(before)
      }
    }),
    { numRuns }
  )

const exactly = <O>(actual: O, expected: O) => expect(actual).toStrictEqual(expected)

/** Integers keep floating-point sums exact, so merged sums must equal one pass to the bit */
const exactNumber = fc.oneof(
  { weight: 20, arbitrary: fc.integer({ min: -1_000_000, max: 1_000_000 }) },
  { weight: 1, arbitrary: fc.constantFrom(-0, Infinity, -Infinity, NaN) }
)

// -----------------------------------------------------------------------------
// Numbers
// -----------------------------------------------------------------------------

describe("count, sum, min, max, mean, stats", () => {
  const xs = [3, -1, 4, 1, 5, -9, 2, 6]

  it("exact values on a fixed input", () => {
    expect(run(Aggregate.count, xs)).toBe(8)
    expect(run(Aggregate.sum, xs)).toBe(11)
    expect(run(Aggregate.min, xs)).toBe(-9)
    expect(run(Aggregate.max, xs)).toBe(6)
    expect(run(Aggregate.mean, xs)).toBe(1.375)
    expect(run(Aggregate.stats, xs)).toStrictEqual({ count: 8, sum: 11, min: -9, max: 6, mean: 1.375 })
    expect(run(Aggregate.count, ["a", null, { b: 1 }])).toBe(3)
  })

  it("exact values on empty input", () => {
    expect(run(Aggregate.count, [])).toBe(0)
    expect(run(Aggregate.sum, [])).toBe(0)
    expect(run(Aggregate.min, [])).toBeUndefined()
    expect(run(Aggregate.max, [])).toBeUndefined()
    expect(run(Aggregate.mean, [])).toBeUndefined()
    expect(run(Aggregate.stats, [])).toStrictEqual({
      count: 0,
      sum: 0,
      min: undefined,
      max: undefined,
      mean: undefined
    })
  })

  it("non-finite values survive JSON", () => {
    expect(encode(Aggregate.min, Aggregate.min.empty())).toBe("Infinity")
    expect(encode(Aggregate.max, Aggregate.max.empty())).toBe("-Infinity")
    expect(encode(Aggregate.stats, Aggregate.stats.empty())).toStrictEqual({
      count: 0,
      sum: 0,
      min: "Infinity",
      max: "-Infinity"
    })
    expect(roundTrip(Aggregate.sum, NaN)).toBeNaN()
    expect(roundTrip(Aggregate.min, Aggregate.min.empty())).toBe(Infinity)
    // JSON writes -0 as 0, but Math.min tells them apart
    expect(encode(Aggregate.min, -0)).toBe("-0")
    expect(roundTrip(Aggregate.min, -0)).toBe(-0)
    expect(run(Aggregate.stats, [Infinity, -Infinity])).toStrictEqual({
      count: 2,
      sum: NaN,
      min: -Infinity,
      max: Infinity,
      mean: NaN
    })
    // `stats` tells "only +Infinity" apart from "no input"; `min` documents that it cannot
    expect(run(Aggregate.stats, [Infinity]).min).toBe(Infinity)
    expect(run(Aggregate.min, [Infinity])).toBeUndefined()
    expect(() => Schema.decodeUnknownSync(Aggregate.sum.state)(null)).toThrow()
    expect(() => Schema.decodeUnknownSync(Aggregate.count.state)(-1)).toThrow()
  })

  it("mutable states are updated in place, number states are returned", () => {
    const s = Aggregate.stats.empty()
    expect(Aggregate.stats.add(s, 1)).toBe(s)
    const m = Aggregate.mean.empty()
    expect(Aggregate.mean.add(m, 1)).toBe(m)
    expect(Aggregate.stats.empty()).not.toBe(Aggregate.stats.empty())
    expect(Aggregate.sum.add(1, 2)).toBe(3)
  })

  it("count: merge laws", () => laws(Aggregate.count, fc.anything(), exactly))
  it("sum: merge laws", () => laws(Aggregate.sum, exactNumber, exactly))
  it("mean: merge laws", () => laws(Aggregate.mean, exactNumber, exactly))
  it("stats: merge laws", () => laws(Aggregate.stats, exactNumber, exactly))
  // min and max do not add, so any double (NaN, ±Infinity, -0) merges exactly
  it("min: merge laws", () => laws(Aggregate.min, fc.double(), exactly))
  it("max: merge laws", () => laws(Aggregate.max, fc.double(), exactly))
  it("stats.min/max match min/max on any double", () =>
    fc.assert(
      fc.property(fc.array(fc.double(), { minLength: 1 }), (xs) => {
        const st = run(Aggregate.stats, xs)
        expect(st.min).toBe(xs.reduce((a, b) => Math.min(a, b)))
        expect(st.max).toBe(xs.reduce((a, b) => Math.max(a, b)))
      })
    ))
})

// -----------------------------------------------------------------------------
// Quantiles
// -----------------------------------------------------------------------------

/** The value at rank floor(q * (n - 1)) of the sorted inputs */
const trueQuantile = (sorted: ReadonlyArray<number>, q: number) => sorted[Math.floor(q * (sorted.length - 1))]

const withinRelative = (estimate: number | undefined, exact: number, accuracy: number) => {
  expect(estimate).toBeDefined()
  // The tolerance above `accuracy` only absorbs rounding in log/exp (about 1e-13 relative)
  const ok = Math.abs(estimate! - exact) <= accuracy * Math.abs(exact) * (1 + 1e-9)
  if (!ok) expect.fail(`estimate ${estimate} not within ${accuracy} of ${exact}`)
}

const grid = Array.from({ length: 1001 }, (_, i) => i / 1000)

describe("quantile (DDSketch)", () => {
  const distributions: ReadonlyArray<readonly [string, (r: () => number) => number]> = [
    ["uniform [0, 1000)", (r) => r() * 1000],
    ["exponential (mean 100)", (r) => -Math.log(1 - r()) * 100],
    ["normal (0, 50), negatives", (r) => 50 * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r())],
    ["uniform [-100, 100) with 10% zeros", (r) => (r() < 0.1 ? 0 : r() * 200 - 100)],
    [
      "log-normal (sigma 4): 1e-7 .. 1e7",
      (r) => Math.exp(4 * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()))
    ],
    ["few distinct integers", (r) => Math.floor(r() * 10) - 3]
  ]

  for (const [name, sample] of distributions) {
    it(`relative error within 1% over 100k values: ${name}`, () => {
      const r = random(name.length)
      const values = Array.from({ length: 100_000 }, () => sample(r))
      const sorted = Float64Array.from(values).sort()
      const agg = Aggregate.quantiles(grid)
      const single = run(agg, values)
      // Seven shards, each through JSON, then merged
      const shards = Array.from({ length: 7 }, (_, i) => values.filter((_, j) => j % 7 === i))
      const merged = agg.result(mergeAll(agg, shards.map((s) => roundTrip(agg, fold(agg, s)))))
      grid.forEach((q, i) => {
        withinRelative(single[i], sorted[Math.floor(q * (sorted.length - 1))], 0.01)
        withinRelative(merged[i], sorted[Math.floor(q * (sorted.length - 1))], 0.01)
      })
      // No collapse happened, so merging is exact: same buckets as a single pass
      expect(merged).toStrictEqual(single)
      expect(single[0]).toBe(sorted[0])
      expect(single[grid.length - 1]).toBe(sorted[sorted.length - 1])
    })
  }

  it("honours a custom relative accuracy", () => {
    const r = random(7)
    const values = Array.from({ length: 50_000 }, () => -Math.log(1 - r()) * 1000 - 300)
    const sorted = values.slice().sort((a, b) => a - b)
    // At 0.1% a bucket spans 0.087% of a decade: 2048 buckets would cover under two decades, and these
    // magnitudes go from near zero to 1e4, so the finer sketch needs more buckets
    for (const [accuracy, maxBuckets] of [[0.001, 16384], [0.05, 2048]] as const) {
      const result = run(Aggregate.quantiles(grid, { relativeAccuracy: accuracy, maxBuckets }), values)
      grid.forEach((q, i) => withinRelative(result[i], trueQuantile(sorted, q), accuracy))
    }
  })

  // Magnitudes from 1e-3 to 1e6 need about 1000 buckets: no collapse, so the guarantee is exact
  const sketchValue = fc.oneof(
    fc.constant(0),
    fc.double({ min: 1e-3, max: 1e6, noNaN: true }),
    fc.double({ min: -1e6, max: -1e-3, noNaN: true }),
    fc.integer({ min: -5, max: 5 })
  )

  it("merge laws (merging is exact while nothing collapses)", () =>
    laws(Aggregate.quantiles([0, 0.1, 0.5, 0.9, 0.95, 0.99, 1]), sketchValue, exactly))

  it("every quantile is within the relative accuracy of the value at rank floor(q * (n - 1))", () =>
    fc.assert(
      fc.property(
        fc.array(sketchValue, { minLength: 1, maxLength: 300 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (values, q) => {
          const sorted = values.slice().sort((a, b) => a - b)
          withinRelative(run(Aggregate.quantile(q), values), trueQuantile(sorted, q), 0.01)
        }
      ),
      { numRuns: 500 }
    ))

  it("empty, NaN and infinite inputs", () => {
    const q = Aggregate.quantiles([0, 0.5, 1])
    expect(run(q, [])).toStrictEqual([undefined, undefined, undefined])
    expect(run(Aggregate.quantile(0.5), [NaN, Infinity, -Infinity])).toBeUndefined()
    expect(run(q, [NaN, 5, Infinity])).toStrictEqual([5, 5, 5])
    expect(run(q, [-0, 0, -0])).toStrictEqual([0, 0, 0])
    expect(Object.is(run(Aggregate.quantile(0), [-0]), 0)).toBe(true)
  })

  it("collapses the lowest buckets beyond maxBuckets and stays accurate at the top", () => {
    const r = random(11)
    const agg = Aggregate.quantiles(grid, { maxBuckets: 200 })
    // Magnitudes 1e-10 .. 1e10 need ~2300 buckets per sign; 200 buckets span about 1.7 decades, so only the
    // highest values keep the guarantee: the largest positives, and the negatives closest to zero
    const positives = Array.from({ length: 20_000 }, () => Math.pow(10, r() * 20 - 10))
    const negatives = positives.map((x) => -x)
    for (const values of [positives, negatives]) {
      const sorted = values.slice().sort((a, b) => a - b)
      const parts = [values.slice(0, 5000), values.slice(5000)]
      const merged = mergeAll(agg, parts.map((p) => roundTrip(agg, fold(agg, p))))
      for (const state of [fold(agg, values), merged]) {
        const encoded = encode(agg, state) as {
          positive: { counts: Array<number> }
          negative: { counts: Array<number> }
        }
        expect(encoded.positive.counts.length).toBeLessThanOrEqual(200)
        expect(encoded.negative.counts.length).toBeLessThanOrEqual(200)
        expect(state.count).toBe(values.length)
        const result = agg.result(state)
        expect(result[0]).toBe(sorted[0])
        expect(result[1000]).toBe(sorted[sorted.length - 1])
        grid.forEach((q, i) => {
          if (q >= 0.95) withinRelative(result[i], trueQuantile(sorted, q), 0.01)
        })
      }
    }
  })

  it("keeps a bounded window of buckets on drifting streams", () => {
    const agg = Aggregate.quantiles(grid, { maxBuckets: 50 })
    // 5000 values growing (then shrinking) by 1% each: the bucket range slides over ~250 buckets
    const rising = Array.from({ length: 5000 }, (_, i) => 1.001 ** i)
    for (const values of [rising, rising.slice().reverse(), rising.map((x) => -x)]) {
      const sorted = values.slice().sort((a, b) => a - b)
      const state = fold(agg, values)
      expect(state.count).toBe(values.length)
      const encoded = encode(agg, state) as { positive: { counts: Array<number> }; negative: { counts: Array<number> } }
      expect(encoded.positive.counts.length + encoded.negative.counts.length).toBeLessThanOrEqual(50)
      expect(encoded.positive.counts.concat(encoded.negative.counts).reduce((a, b) => a + b, 0)).toBe(values.length)
      const result = agg.result(state)
      // 50 buckets of 2% cover the top ~17% of these values
      grid.forEach((q, i) => {
        if (q >= 0.85) withinRelative(result[i], trueQuantile(sorted, q), 0.01)
      })
    }
  })

  it("state schema checks the accuracy it was written with", () => {
    const coarse = Aggregate.quantile(0.5, { relativeAccuracy: 0.05 })
    const fine = Aggregate.quantile(0.5)
    const encoded = JSON.parse(JSON.stringify(encode(coarse, fold(coarse, [1, 2, 3]))))
    expect(() => Schema.decodeUnknownSync(fine.state)(encoded)).toThrow()
    expect(run(coarse, [1, 2, 3])).toBe(coarse.result(Schema.decodeUnknownSync(coarse.state)(encoded)))
    // quantile and quantiles with the same options share their state
    const qs = Aggregate.quantiles([0.5])
    expect(qs.result(Schema.decodeUnknownSync(qs.state)(encode(fine, fold(fine, [1, 2, 3]))))).toStrictEqual([
      fine.result(fold(fine, [1, 2, 3]))
    ])
  })

  it("marks invalid parameters, for whatever runs the aggregate to fail with", () => {
    const invalid = (aggregate: Aggregate.Aggregate.Any) => aggregate.invalid?.message
    expect(invalid(Aggregate.quantile(1.5))).toBe("Aggregate.quantile: q must be in [0, 1], got 1.5")
    expect(invalid(Aggregate.quantile(NaN))).toBe("Aggregate.quantile: q must be in [0, 1], got NaN")
    expect(invalid(Aggregate.quantiles([0.5, -0.1]))).toBe("Aggregate.quantiles: qs[1] must be in [0, 1], got -0.1")
    expect(invalid(Aggregate.quantile(0.5, { relativeAccuracy: 0 }))).toBe(
      "Aggregate.quantile: relativeAccuracy must be in [5e-324, 0.5], got 0"
    )
    expect(invalid(Aggregate.quantile(0.5, { maxBuckets: 0.5 }))).toBe(
      "Aggregate.quantile: maxBuckets must be an integer in [1, 1048576], got 0.5"
    )
    expect(invalid(Aggregate.quantile(0.5))).toBeUndefined()
    // combinators carry the mark; Aggregate.validate turns it into the error
    const inStruct = Aggregate.struct({ n: Aggregate.count, p: Aggregate.quantile(2) })
    expect(invalid(inStruct)).toBe("Aggregate.quantile: q must be in [0, 1], got 2")
    expect(invalid(Aggregate.quantile(2).pipe(Aggregate.map((x) => x), Aggregate.mapInput((s: string) => s.length)))).toBe(
      "Aggregate.quantile: q must be in [0, 1], got 2"
    )
    const failure = Effect.runSync(Effect.flip(Aggregate.validate(inStruct)))
    expect([failure._tag, failure.of, failure.option]).toStrictEqual(["InvalidOptions", "Aggregate.quantile", "q"])
    // until something checks it, an invalid aggregate computes as with the defaults
    const marked = Aggregate.quantile(2)
    expect(marked.result(fold(marked, [1, 2, 3]))).toBeCloseTo(2, 1)
  })
})

// -----------------------------------------------------------------------------
// Distinct count
// -----------------------------------------------------------------------------

describe("distinctCount (HyperLogLog)", () => {
  const standardError = 1.04 / Math.sqrt(4096)
  /** the most distinct values a default state counts exactly: 2^12 / 8 */
  const threshold = 512
  const values = (n: number, prefix = "v") => Array.from({ length: n }, (_, i) => `${prefix}${i}`)
  const json = <S>(agg: Aggregate.Aggregate<never, S, unknown>, state: S) => JSON.stringify(encode(agg, state))

  it("within 3 standard errors at 1k, 100k and 1M distinct values", () => {
    const agg = Aggregate.distinctCount()
    for (const n of [1_000, 100_000]) {
      let s = agg.empty()
      // every value twice: duplicates must not count
      for (let i = 0; i < n; i++) s = agg.add(agg.add(s, `user-${i}`), `user-${i}`)
      expect(s.mode).toBe("dense")
      expect(Math.abs(agg.result(s) - n) / n).toBeLessThan(3 * standardError)
    }
    let s = agg.empty()
    for (let i = 0; i < 1_000_000; i++) s = agg.add(s, i * 2003 + 13)
    expect(Math.abs(agg.result(s) - 1_000_000) / 1_000_000).toBeLessThan(3 * standardError)
  })

  it("counts exactly while sparse: up to 2^precision / 8 distinct values", () => {
    const agg = Aggregate.distinctCount()
    expect(run(agg, [])).toBe(0)
    expect(run(agg, ["a"])).toBe(1)
    expect(run(agg, ["a", "b", "a", "c", "b"])).toBe(3)
    // 200 requests from 67 addresses (the estimate used to say 68)
    const requests = Array.from({ length: 200 }, (_, i) => `10.0.0.${(i * 7) % 67}`)
    expect(new Set(requests).size).toBe(67)
    expect(run(agg, requests)).toBe(67)
    for (const n of [threshold - 1, threshold]) {
      const s = fold(agg, [...values(n), ...values(n)])
      expect(s.mode).toBe("sparse")
      expect(agg.result(s)).toBe(n)
    }
    // one more: dense, an estimate within 3 standard errors
    const s = fold(agg, values(threshold + 1))
    expect(s.mode).toBe("dense")
    expect(Math.abs(agg.result(s) - (threshold + 1))).toBeLessThan(3 * standardError * (threshold + 1))
  })

  it("switches to dense after 2^precision / 8 distinct values, whatever the precision", () => {
    for (let precision = 4; precision <= 16; precision++) {
      const agg = Aggregate.distinctCount({ precision })
      const limit = 2 ** precision / 8
      const s = fold(agg, values(limit))
      expect(s.mode).toBe("sparse")
      expect(agg.result(s)).toBe(limit)
      // the same values again change nothing
      fold(agg, values(limit), s)
      expect(s.mode).toBe("sparse")
      expect((encode(agg, s) as { hashes: ReadonlyArray<number> }).hashes).toHaveLength(limit)
      agg.add(s, "one more")
      expect(s.mode).toBe("dense")
      expect(encode(agg, s)).not.toHaveProperty("hashes")
    }
  })

  it("keeps each value's register and rank in its sparse key, high ranks included", () => {
    // values found by search whose lane-B rank is at the edge of the flagged keys (rank >= 32 - precision)
    const cases = [
      { precision: 16, value: 61369, flagged: false }, // rank 15
      { precision: 16, value: 137755, flagged: true }, // rank 16
      { precision: 16, value: 91498, flagged: true }, // rank 17
      { precision: 12, value: 3301346, flagged: false }, // rank 19
      { precision: 12, value: 63841, flagged: true } // rank 20
    ]
    for (const { flagged, precision, value } of cases) {
      const agg = Aggregate.distinctCount({ precision })
      const [key] = (encode(agg, fold(agg, [value])) as { hashes: ReadonlyArray<number> }).hashes
      expect(key & 1).toBe(flagged ? 1 : 0)
      expect(agg.result(roundTrip(agg, fold(agg, [value])))).toBe(1)
      // added while sparse then folded into registers, or added to the registers: the same registers
      const others = values(2 ** precision / 8 + 1)
      expect(encode(agg, fold(agg, [value, ...others]))).toStrictEqual(encode(agg, fold(agg, [...others, value])))
      expect(encode(agg, agg.merge(fold(agg, others), fold(agg, [value])))).toStrictEqual(
        encode(agg, fold(agg, [...others, value]))
      )
    }
  })

  it("never counts more than the distinct inputs while sparse", () => {
    const agg = Aggregate.distinctCount()
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.integer({ min: -1000, max: 1000 })), { maxLength: 700 }), (xs) => {
        const distinct = new Set(xs.map(String)).size
        const s = fold(agg, xs)
        if (distinct <= threshold) {
          expect(s.mode).toBe("sparse")
          // below only if two values share a 31-bit key: a probability under distinct^2 / 2^32
          expect(agg.result(s)).toBeLessThanOrEqual(distinct)
          expect(agg.result(s)).toBeGreaterThanOrEqual(distinct - 1)
        } else {
          expect(s.mode).toBe("dense")
        }
      })
    )
  })

  it("identifies a value by its string form", () => {
    const agg = Aggregate.distinctCount()
    expect(run(agg, [1, "1", 1.5, "1.5", -0, "0", -42, "-42", 1e21, "1e+21"])).toBe(5)
    fc.assert(
      fc.property(
        fc.oneof(
          fc.nat(),
          fc.integer(),
          fc.maxSafeInteger(),
          fc.double(),
          fc.constantFrom(0, -0, 9, 10, 99, 100, 999_999_999, 1_000_000_000, 2 ** 31 - 1, 2 ** 31, -1)
        ),
        (x) => {
          expect(encode(agg, agg.add(agg.empty(), x))).toStrictEqual(encode(agg, agg.add(agg.empty(), String(x))))
        }
      ),
      { numRuns: 1000 }
    )
    // the same in dense mode
    const dense = Aggregate.distinctCount({ precision: 4 })
    const base = values(10)
    fc.assert(
      fc.property(fc.oneof(fc.integer(), fc.double()), (x) => {
        expect(encode(dense, fold(dense, [...base, x]))).toStrictEqual(encode(dense, fold(dense, [...base, String(x)])))
      })
    )
  })

  // merged states equal a single pass exactly, sparse or dense
  it("merge laws", () =>
    laws(Aggregate.distinctCount({ precision: 8 }), fc.oneof(fc.string(), fc.integer({ min: -50, max: 50 })), exactly))

  it("merging sparse and dense states gives the state of the union", () => {
    // precision 6: sparse up to 8 distinct values
    const agg = Aggregate.distinctCount({ precision: 6 })
    const seen = new Set<string>()
    const check = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => {
      const left = fold(agg, a)
      const right = fold(agg, b)
      const before = json(agg, right)
      const union = fold(agg, [...a, ...b])
      const kind = `${left.mode}+${right.mode}->${union.mode}`
      seen.add(kind)
      const merged = agg.merge(left, right)
      expect(merged.mode, kind).toBe(union.mode)
      expect(encode(agg, merged), kind).toStrictEqual(encode(agg, union))
      expect(agg.result(merged)).toBe(agg.result(union))
      expect(json(agg, right)).toBe(before)
      // and through JSON, in the other order
      const reversed = agg.merge(roundTrip(agg, fold(agg, b)), roundTrip(agg, fold(agg, a)))
      expect(encode(agg, reversed), kind).toStrictEqual(encode(agg, union))
    }
    const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)
    check(range(0, 3), range(2, 6)) // sparse + sparse -> sparse
    check(range(0, 8), range(0, 8)) // sparse + sparse -> sparse, full
    check(range(0, 5), range(5, 10)) // sparse + sparse -> dense
    check(range(0, 5), range(100, 200)) // sparse + dense
    check(range(100, 200), range(0, 5)) // dense + sparse
    check(range(0, 100), range(50, 300)) // dense + dense
    check([], range(0, 100))
    check(range(0, 100), [])
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 40 }), { maxLength: 30 }),
        fc.array(fc.nat({ max: 40 }), { maxLength: 30 }),
        check
      ),
      { numRuns: 300 }
    )
    expect([...seen].sort()).toEqual(expect.arrayContaining([
      "dense+dense->dense",
      "dense+sparse->dense",
      "sparse+dense->dense",
      "sparse+sparse->dense",
      "sparse+sparse->sparse"
    ]))
  })

  it("merging shards equals a single pass exactly", () => {
    const agg = Aggregate.distinctCount()
    const values = Array.from({ length: 200_000 }, (_, i) => `k${i % 150_000}`)
    const single = fold(agg, values)
    const shards = [0, 1, 2, 3].map((i) => roundTrip(agg, fold(agg, values.filter((_, j) => j % 4 === i))))
    const merged = mergeAll(agg, shards)
    expect(encode(agg, merged)).toStrictEqual(encode(agg, single))
    expect(agg.result(merged)).toBe(agg.result(single))
    // many small shards, each sparse
    const small = Array.from({ length: 40 }, (_, i) => fold(agg, values.slice(i * 20, i * 20 + 30)))
    expect(small.every((s) => s.mode === "sparse")).toBe(true)
    const mergedSmall = mergeAll(agg, small.map((s) => roundTrip(agg, s)))
    expect(encode(agg, mergedSmall)).toStrictEqual(encode(agg, fold(agg, values.slice(0, 810))))
  })

  it("reads back its states, sparse and dense", () => {
    const agg = Aggregate.distinctCount()
    for (const n of [0, 1, 3, threshold - 1, threshold, threshold + 1, 10_000]) {
      const s = fold(agg, values(n))
      const back = roundTrip(agg, s)
      expect(back.mode).toBe(s.mode)
      expect(agg.result(back)).toBe(agg.result(s))
      expect(encode(agg, back)).toStrictEqual(encode(agg, s))
      // and goes on adding like the original
      const more = values(600, "w")
      expect(encode(agg, fold(agg, more, back))).toStrictEqual(encode(agg, fold(agg, more, s)))
    }
  })

  it("encodes a small state in a few bytes: the hashes while sparse, base64 registers when dense", () => {
    const agg = Aggregate.distinctCount()
    expect(encode(agg, agg.empty())).toStrictEqual({ precision: 12, hashes: [] })
    const small = encode(agg, fold(agg, ["a", "b", "c", "a"])) as { precision: number; hashes: Array<number> }
    expect(small.hashes).toHaveLength(3)
    expect(small.hashes).toStrictEqual([...small.hashes].sort((a, b) => a - b))
    expect(JSON.stringify(small).length).toBeLessThanOrEqual(64) // was 4 KB of registers in memory
    // at most 11 bytes of JSON per hash
    expect(json(agg, fold(agg, values(threshold))).length).toBeLessThanOrEqual(30 + 11 * threshold)
    // just past the threshold: few registers are set, 3 bytes each
    const justDense = encode(agg, fold(agg, values(threshold + 1))) as { sparse: string }
    expect(justDense.sparse.length).toBeLessThan(Math.ceil(4096 / 3) * 4)
    const large = encode(agg, fold(agg, Array.from({ length: 10_000 }, (_, i) => i))) as { dense: string }
    expect(large.dense.length).toBe(Math.ceil(4096 / 3) * 4)
  })

  it("reads states written before the sparse mode", () => {
    // written by the version with dense registers only
    const agg = Aggregate.distinctCount()
    const decode = Schema.decodeUnknownSync(agg.state)
    const empty = decode({ precision: 12, sparse: "" })
    expect(empty.mode).toBe("sparse")
    expect(agg.result(empty)).toBe(0)
    const abc = decode({ precision: 12, sparse: "BcwBBvQBD5kB" }) // a, b, c
    expect(abc.mode).toBe("dense")
    expect(agg.result(abc)).toBe(3)
    // merged with a state of this version, it is the state of the union, as the older version had it
    const abcd = agg.merge(abc, fold(agg, ["c", "d"]))
    expect(encode(agg, abcd)).toStrictEqual({ precision: 12, sparse: "BcwBBvQBB/oCD5kB" })
    expect(agg.result(abcd)).toBe(4)
    expect(agg.result(agg.merge(fold(agg, ["c", "d"]), decode({ precision: 12, sparse: "BcwBBvQBD5kB" })))).toBe(4)
    // dense registers: the same registers, the same estimate
    const old6 = {
      precision: 6,
      dense: "BQQHBAUCAwgKCAQEBAYEBQcIBgQFBAQEBwoJBQUEBgkGBggEBQQIBAUGCAQFBAYEBQkEBAQHBgUECAYFBAoEBg=="
    }
    const p6 = Aggregate.distinctCount({ precision: 6 })
    const users = values(1000, "user-")
    expect(p6.result(Schema.decodeUnknownSync(p6.state)(old6))).toBe(1225)
    expect(encode(p6, fold(p6, users))).toStrictEqual(old6)
    const p4 = Aggregate.distinctCount({ precision: 4 })
    expect(encode(p4, fold(p4, users))).toStrictEqual({ precision: 4, dense: "BwgKBggFCgkICAgGCQcICg==" })
    expect(p4.result(fold(p4, users))).toBe(1704)
    expect(run(agg, Array.from({ length: 10_000 }, (_, i) => i))).toBe(9894)
    expect(run(agg, users)).toBe(1001)
  })

  it("rejects states it cannot read", () => {
    const agg = Aggregate.distinctCount()
    const decode = Schema.decodeUnknownSync(agg.state)
    expect(() => decode({ precision: 14, sparse: "" })).toThrow()
    expect(() => decode({ precision: 14, hashes: [] })).toThrow()
    expect(() => decode({ precision: 12, dense: "AAAA" })).toThrow()
    expect(() => decode({ precision: 12, sparse: "AAA" })).toThrow()
    expect(() => decode({ precision: 12, sparse: "//8B" })).toThrow() // register 65535 does not exist
    expect(() => decode({ precision: 12, sparse: "AAAi" })).toThrow() // rank 34 is impossible
    expect(() => decode({ precision: 12, hashes: ["1"] })).toThrow()
    expect(() => decode({ precision: 12, hashes: [0] })).toThrow() // never a hash
    expect(() => decode({ precision: 12, hashes: [1.5] })).toThrow()
    expect(() => decode({ precision: 12, hashes: [-2] })).toThrow()
    expect(() => decode({ precision: 12, hashes: [2 ** 32] })).toThrow()
    expect(() => decode({ precision: 12, hashes: [2 ** 20] })).toThrow() // no bit of lane B, no rank flag
    expect(() => decode({ precision: 12, hashes: [(19 << 1) | 1] })).toThrow() // rank 19 is never flagged
    expect(() => decode({ precision: 12, hashes: [(34 << 1) | 1] })).toThrow() // rank 34 is impossible
    expect(decode({ precision: 12, hashes: [(33 << 1) | 1, 2, 2] }).mode).toBe("sparse")
    expect(agg.result(decode({ precision: 12, hashes: [(33 << 1) | 1, 2, 2] }))).toBe(2)
    expect(Aggregate.distinctCount({ precision: 3 }).invalid?.message).toBe(
      "Aggregate.distinctCount: precision must be an integer in [4, 16], got 3"
    )
    expect(Aggregate.distinctCount({ precision: 17 }).invalid?.option).toBe("precision")
  })
})

// -----------------------------------------------------------------------------
// Top k
// -----------------------------------------------------------------------------

const trueCounts = (values: Iterable<string>) => {
  const counts = new Map<string, number>()
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1)
  return counts
}

const exactTop = (values: Iterable<string>, k: number) =>
  [...trueCounts(values)]
    .map(([value, count]) => ({ value, count }))
    .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0))
    .slice(0, k)

/** Zipf(s) over `n` ranks, by inverse CDF */
const zipf = (r: () => number, n: number, s: number) => {
  const cdf = new Float64Array(n)
  let total = 0
  for (let i = 0; i < n; i++) cdf[i] = total += 1 / Math.pow(i + 1, s)
  const names = Array.from({ length: n }, (_, i) => `item-${i}`)
  return () => {
    const u = r() * total
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cdf[mid] < u) lo = mid + 1
      else hi = mid
    }
    return names[lo]
  }
}

describe("topK (Space-Saving)", () => {
  it("exact on a small input, ties by value ascending", () => {
    expect(run(Aggregate.topK(3), "abracadabra".split(""))).toStrictEqual([
      { value: "a", count: 5, error: 0 },
      { value: "b", count: 2, error: 0 },
      { value: "r", count: 2, error: 0 }
    ])
    expect(run(Aggregate.topK(2), ["c", "b", "a", "c", "b", "a"]).map((e) => e.value)).toStrictEqual(["a", "b"])
    expect(run(Aggregate.topK(2), [])).toStrictEqual([])
  })

  it("merge laws within capacity (exact)", () =>
    laws(Aggregate.topK(5, { capacity: 50 }), fc.integer({ min: 0, max: 49 }).map(String), (actual, expected, all) => {
      expect(actual).toStrictEqual(expected)
      expect(actual.map(({ count, value }) => ({ count, value }))).toStrictEqual(exactTop(all, 5))
    }))

  it("beyond capacity, merged or not: counts bound the truth and every value above floor is kept", () => {
    const capacity = 8
    const agg = Aggregate.topK(capacity, { capacity })
    fc.assert(
      // 31 draws onto 31 values, skewed towards the small ones
      fc.property(splitArbitrary(fc.integer({ min: 0, max: 30 }).map((i) => String(Math.floor((i * i) / 30))), 400), ({
        all,
        parts
      }) => {
        const truth = trueCounts(all)
        for (const state of [fold(agg, all), mergeAll(agg, parts.map((p) => roundTrip(agg, fold(agg, p))))]) {
          const result = agg.result(state)
          for (const e of result) {
            const t = truth.get(e.value) ?? 0
            expect(t).toBeLessThanOrEqual(e.count)
            expect(t).toBeGreaterThanOrEqual(e.count - e.error)
          }
          expect(state.floor).toBeLessThanOrEqual(all.length / capacity)
          for (const [value, count] of truth) {
            if (count > state.floor) expect(result.map((e) => e.value)).toContain(value)
          }
        }
      }),
      { numRuns: 300 }
    )
  })

  it("returns the true top k of a skewed stream", () => {
    const next = zipf(random(3), 100_000, 1.1)
    const values = Array.from({ length: 1_000_000 }, next)
    const expected = exactTop(values, 10)
    const agg = Aggregate.topK(10) // capacity 100
    const single = run(agg, values)
    expect(single.map((e) => e.value)).toStrictEqual(expected.map((e) => e.value))
    const truth = trueCounts(values)
    for (const e of single) {
      expect(truth.get(e.value)!).toBeLessThanOrEqual(e.count)
      expect(truth.get(e.value)!).toBeGreaterThanOrEqual(e.count - e.error)
    }
    // eight shards, through JSON, merged
    const shards = Array.from({ length: 8 }, (_, i) => values.slice(i * 125_000, (i + 1) * 125_000))
    const merged = agg.result(mergeAll(agg, shards.map((s) => roundTrip(agg, fold(agg, s)))))
    expect(merged.map((e) => e.value)).toStrictEqual(expected.map((e) => e.value))
  })

  it("reads a state written with a larger capacity", () => {
    const wide = Aggregate.topK(3, { capacity: 100 })
    const narrow = Aggregate.topK(3, { capacity: 10 })
    const values = Array.from({ length: 1000 }, (_, i) => String(i % 37 < 3 ? 0 : i % 50))
    const state = Schema.decodeUnknownSync(narrow.state)(encode(wide, fold(wide, values)))
    expect((encode(narrow, state) as { counters: Array<unknown> }).counters.length).toBe(10)
    expect(state.floor).toBeGreaterThan(0)
    expect(narrow.result(state)).toStrictEqual(wide.result(fold(wide, values)))
    expect(() =>
      Schema.decodeUnknownSync(narrow.state)({ floor: 0, counters: [["a", 1, 2]] })
    ).toThrow()
    expect(Aggregate.topK(5, { capacity: 4 }).invalid?.message).toBe(
      "Aggregate.topK: capacity must be an integer in [5, 16777216], got 4"
    )
  })
})

// -----------------------------------------------------------------------------
// Combinators and custom aggregates
// -----------------------------------------------------------------------------

interface Reading {
  readonly sensor: string
  readonly celsius: number
  readonly at: number
}

const readings: ReadonlyArray<Reading> = [
  { sensor: "a", celsius: 20, at: 1 },
  { sensor: "b", celsius: 25, at: 2 },
  { sensor: "a", celsius: 22, at: 3 },
  { sensor: "c", celsius: 19, at: 4 }
]

describe("struct, mapInput, map", () => {
  it("combines fields over the same input", () => {
    const agg = Aggregate.struct({ n: Aggregate.count, p95: Aggregate.quantile(0.95), avg: Aggregate.mean })
    const values = Array.from({ length: 100 }, (_, i) => i + 1)
    const s = fold(agg, values)
    expect(agg.add(s, 1)).toBe(s) // updated in place
    expect(agg.result(fold(agg, values))).toStrictEqual({
      n: 100,
      p95: run(Aggregate.quantile(0.95), values),
      avg: 50.5
    })
    expect(agg.result(roundTrip(agg, fold(agg, values)))).toStrictEqual(agg.result(fold(agg, values)))
    // The encoded state nests the fields' encodings
    expect(Object.keys(encode(agg, agg.empty()) as object)).toStrictEqual(["n", "p95", "avg"])

    // Type-level: these assignments only compile if inference is right
    const typed: Aggregate.Aggregate<
      number,
      { n: number; p95: Aggregate.Sketch; avg: Aggregate.MeanState },
      { readonly n: number; readonly p95: number | undefined; readonly avg: number | undefined }
    > = agg
    const out: { readonly n: number; readonly p95: number | undefined } = typed.result(typed.empty())
    expect(out.n).toBe(0)
    // @ts-expect-error the input is a number (and at run time, a TypeError that changes nothing)
    expect(() => agg.add(agg.empty(), "x")).toThrow("Aggregate.quantile takes numbers, got string")
    // @ts-expect-error avg may be undefined
    const wrong: { readonly avg: number } = agg.result(agg.empty())
    expect(wrong.avg).toBeUndefined()
  })

  it("adapts inputs with mapInput (data-last and data-first) and results with map", () => {
    const agg = Aggregate.struct({
      n: Aggregate.count,
      avg: Aggregate.mean.pipe(Aggregate.mapInput((r: Reading) => r.celsius)),
      hottest: Aggregate.mapInput(Aggregate.max, (r: Reading) => r.celsius),
      sensors: Aggregate.distinctCount().pipe(Aggregate.contramap((r: Reading) => r.sensor)),
      top: Aggregate.topK(1).pipe(
        Aggregate.mapInput((r: Reading) => r.sensor),
        Aggregate.map((entries) => entries[0]?.value)
      ),
      spread: Aggregate.map(Aggregate.stats.pipe(Aggregate.mapInput((r: Reading) => r.celsius)), (s) =>
        s.count === 0 ? 0 : s.max! - s.min!)
    })
    const result: {
      readonly n: number
      readonly avg: number | undefined
      readonly hottest: number | undefined
      readonly sensors: number
      readonly top: string | undefined
      readonly spread: number
    } = run(agg, readings)
    expect(result).toStrictEqual({ n: 4, avg: 21.5, hottest: 25, sensors: 3, top: "a", spread: 6 })
    // @ts-expect-error the input is a Reading
    expect(() => agg.add(agg.empty(), 20)).toThrow(TypeError)
    // `count` accepts anything, so a struct of it accepts anything too
    const input: Aggregate.Aggregate<unknown, Aggregate.StructState<{ n: typeof Aggregate.count }>, unknown> =
      Aggregate.struct({ n: Aggregate.count })
    expect(input.result(input.empty())).toStrictEqual({ n: 0 })
    const conflicting = Aggregate.struct({ s: Aggregate.sum, t: Aggregate.topK(3) })
    // @ts-expect-error a number and a string input have no common value
    expect(() => conflicting.add(conflicting.empty(), 1)).toThrow("Aggregate.topK takes strings, got number")
  })

  it("merge laws of a struct", () =>
    laws(
      Aggregate.struct({
        n: Aggregate.count,
        stats: Aggregate.stats,
        q: Aggregate.quantiles([0, 0.5, 0.99]),
        distinct: Aggregate.distinctCount({ precision: 6 }),
        top: Aggregate.topK(3).pipe(Aggregate.mapInput((x: number) => String(x % 7)))
      }),
      fc.integer({ min: -1000, max: 1000 }),
      exactly,
      100
    ))
})

describe("make", () => {
  // The latest reading by event time; ties keep the larger temperature so that merge is commutative
  const latest = Aggregate.make({
    empty: (): Reading | null => null,
    add: (s: Reading | null, r: Reading) =>
      s === null || r.at > s.at || (r.at === s.at && r.celsius > s.celsius) ? r : s,
    merge: (a, b) =>
      a === null ? b : b === null ? a : b.at > a.at || (b.at === a.at && b.celsius > a.celsius) ? b : a,
    result: (s) => s?.celsius,
    state: Schema.NullOr(Schema.Struct({ sensor: Schema.String, celsius: Schema.Number, at: Schema.Number }))
  })

  // Exact distinct values, with a mutable Set as state
  const distinctExact = Aggregate.make({
    empty: () => new Set<string>(),
    add: (s: Set<string>, x: string) => s.add(x),
    merge: (self, that) => {
      for (const x of that) self.add(x)
      return self
    },
    result: (s): ReadonlyArray<string> => [...s].sort(),
    state: Schema.Set(Schema.String)
  })

  it("custom aggregates work alone and inside struct", () => {
    expect(run(latest, readings)).toBe(19)
    expect(run(latest, [])).toBeUndefined()
    const agg = Aggregate.struct({
      latest,
      sensors: distinctExact.pipe(Aggregate.mapInput((r: Reading) => r.sensor)),
      hll: Aggregate.distinctCount().pipe(Aggregate.mapInput((r: Reading) => r.sensor))
    })
    const r: { readonly latest: number | undefined; readonly sensors: ReadonlyArray<string>; readonly hll: number } =
      run(agg, readings)
    expect(r).toStrictEqual({ latest: 19, sensors: ["a", "b", "c"], hll: 3 })
    expect(encode(agg, fold(agg, readings.slice(0, 1)))).toStrictEqual({
      latest: { sensor: "a", celsius: 20, at: 1 },
      sensors: ["a"],
      hll: { precision: 12, hashes: [expect.any(Number)] }
    })
    expect(Aggregate.isAggregate(agg)).toBe(true)
    expect(Aggregate.isAggregate({ add: () => 0 })).toBe(false)
  })

  const readingArbitrary = fc.record({
    sensor: fc.constantFrom("a", "b", "c", "d"),
    celsius: fc.integer({ min: -40, max: 50 }),
    at: fc.integer({ min: 0, max: 100 })
  })

  it("merge laws of custom aggregates", () => {
    laws(latest, readingArbitrary, exactly)
    laws(distinctExact, fc.string({ maxLength: 3 }), exactly)
  })
})
