/**
 * Token buckets by key, the one rate limiter of Tributary (the producer's per-shard budgets, the gateway's
 * per-key limits): a bucket holds up to `burst` tokens, refilled continuously at `perSecond`, and starts
 * full. Time is passed in (epoch milliseconds from Effect's `Clock`), so the buckets are plain synchronous
 * state that a `TestClock` drives, cheap enough to consult once per batch on a hot path.
 *
 * Effect's `RateLimiter` does not fit these uses: it only waits (the gateway must refuse with the time to
 * wait), its token bucket refills one token per tick from a background fiber (a byte budget of 1 MiB/s
 * would refill one byte per millisecond), and a cost above its limit waits forever.
 *
 * @since 0.1.0
 */

/**
 * The budget of one bucket: how fast it refills and how much it holds. It is passed on each call, so a
 * key's rate can change between calls.
 *
 * @since 0.1.0
 * @category models
 */
export interface Rate {
  /** Tokens added per second. */
  readonly perSecond: number
  /** The most a bucket holds (and what a new bucket starts with). */
  readonly burst: number
}

/**
 * A set of token buckets, one per key, created full on a key's first use.
 *
 * @since 0.1.0
 * @category models
 */
export interface TokenBuckets {
  /**
   * Takes `cost` tokens (default 1) of the key's bucket at `now` if it has them, answering 0; otherwise
   * takes none and answers the milliseconds until it will have them (Infinity when the rate is 0).
   */
  readonly tryTake: (key: string, rate: Rate, now: number, cost?: number) => number
  /**
   * Takes `cost` tokens of the key's bucket at `now`, going into debt if it has fewer, and answers the
   * milliseconds until the debt is repaid (0 when there is none): the wait before sending. Concurrent
   * takers thus queue fairly, and a cost larger than the burst still goes through, at the rate.
   */
  readonly reserve: (key: string, rate: Rate, now: number, cost: number) => number
}

/**
 * An empty set of buckets. Buckets are never evicted, so keep the keys bounded (shards, configured
 * clients).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (): TokenBuckets => {
  const buckets = new Map<string, { tokens: number; at: number }>()
  const refill = (key: string, rate: Rate, now: number) => {
    let bucket = buckets.get(key)
    if (bucket === undefined) buckets.set(key, bucket = { tokens: rate.burst, at: now })
    bucket.tokens = Math.min(rate.burst, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * rate.perSecond)
    bucket.at = now
    return bucket
  }
  const millisFor = (tokens: number, rate: Rate) =>
    rate.perSecond > 0 ? Math.ceil((tokens / rate.perSecond) * 1000) : Number.POSITIVE_INFINITY
  return {
    tryTake: (key, rate, now, cost = 1) => {
      const bucket = refill(key, rate, now)
      if (bucket.tokens >= cost) {
        bucket.tokens -= cost
        return 0
      }
      return millisFor(cost - bucket.tokens, rate)
    },
    reserve: (key, rate, now, cost) => {
      const bucket = refill(key, rate, now)
      bucket.tokens -= cost
      return bucket.tokens >= 0 ? 0 : millisFor(-bucket.tokens, rate)
    }
  }
}
