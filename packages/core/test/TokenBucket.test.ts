import { describe, expect, it } from "@effect/vitest"
import * as TokenBucket from "../src/TokenBucket.js"

const rate = { perSecond: 10, burst: 5 }

describe("TokenBucket", () => {
  it("tryTake: a full bucket to start, refilled at the rate up to the burst; refused with the wait", () => {
    const buckets = TokenBucket.make()
    expect(Array.from({ length: 5 }, () => buckets.tryTake("k", rate, 0))).toStrictEqual([0, 0, 0, 0, 0])
    // empty: the next token in 100 ms, and nothing was taken by the refusal
    expect(buckets.tryTake("k", rate, 0)).toBe(100)
    expect(buckets.tryTake("k", rate, 50)).toBe(50)
    expect(buckets.tryTake("k", rate, 100)).toBe(0)
    // a cost of 3 after 10 s: the bucket holds its burst, not 100 tokens
    expect(buckets.tryTake("k", rate, 10_100, 3)).toBe(0)
    expect(buckets.tryTake("k", rate, 10_100, 3)).toBe(100)
    // keys have buckets of their own
    expect(buckets.tryTake("other", rate, 10_100, 5)).toBe(0)
    // a bucket without refill never has the tokens
    expect(buckets.tryTake("frozen", { perSecond: 0, burst: 1 }, 0, 2)).toBe(Number.POSITIVE_INFINITY)
  })

  it("reserve: takes what is asked, going into debt, and answers when the debt is repaid", () => {
    const buckets = TokenBucket.make()
    const second = { perSecond: 1_000, burst: 1_000 }
    expect(buckets.reserve("shard", second, 0, 600)).toBe(0)
    // 200 tokens short: 200 ms
    expect(buckets.reserve("shard", second, 0, 600)).toBe(200)
    // more than the burst still goes through, at the rate
    expect(buckets.reserve("shard", second, 0, 2_500)).toBe(2_700)
    expect(buckets.reserve("shard", second, 2_700, 1)).toBe(1)
    // a clock that goes back does not refill
    expect(buckets.reserve("back", second, 1_000, 1_000)).toBe(0)
    expect(buckets.reserve("back", second, 0, 1)).toBe(1)
  })
})
