/**
 * Token buckets per API key: each key holds up to `burst` tokens, refilled at `perSecond`; a request
 * takes one. A request without a token is refused with the seconds until one is available.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 * @category models
 */
export interface RateLimit {
  readonly perSecond: number
  readonly burst: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RateLimiter {
  /** Takes `cost` tokens of the key's bucket at time `now` (ms): 0 when allowed, else seconds to wait (at least 1). */
  readonly take: (key: string, limit: RateLimit, now: number, cost?: number) => number
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (): RateLimiter => {
  const buckets = new Map<string, { tokens: number; at: number }>()
  return {
    take: (key, limit, now, cost = 1) => {
      let bucket = buckets.get(key)
      if (bucket === undefined) buckets.set(key, bucket = { tokens: limit.burst, at: now })
      const elapsed = Math.max(0, now - bucket.at) / 1000
      bucket.tokens = Math.min(limit.burst, bucket.tokens + elapsed * limit.perSecond)
      bucket.at = now
      if (bucket.tokens >= cost) {
        bucket.tokens -= cost
        return 0
      }
      if (limit.perSecond <= 0) return 3600
      return Math.max(1, Math.ceil((cost - bucket.tokens) / limit.perSecond))
    }
  }
}
