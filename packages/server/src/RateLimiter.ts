/**
 * Rate limits per API key, on the token buckets of @tributary/core: each key holds up to `burst` tokens,
 * refilled at `perSecond`; a request takes one. A request without a token is refused with the seconds
 * until one is available.
 *
 * @since 0.1.0
 */
import * as TokenBucket from "@tributary/core/TokenBucket"

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
  const buckets = TokenBucket.make()
  return {
    take: (key, limit, now, cost = 1) => {
      const wait = buckets.tryTake(key, limit, now, cost)
      if (wait === 0) return 0
      // a key without refill waits an hour (a Retry-After clients can act on)
      return Number.isFinite(wait) ? Math.max(1, Math.ceil(wait / 1000)) : 3600
    }
  }
}
