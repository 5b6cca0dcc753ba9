/**
 * Rate limits per API key, on the token buckets of @tributary/core: each key holds up to `burst` tokens,
 * refilled at `perSecond`; a request takes one. A request without a token is refused with the seconds
 * until one is available.
 *
 * @since 0.1.0
 */
import * as TokenBucket from "@tributary/core/TokenBucket"

/**
 * A key's token bucket.
 *
 * @since 0.1.0
 * @category models
 */
export interface RateLimit {
  /** Tokens added per second: the sustained request rate. */
  readonly perSecond: number
  /** Tokens the bucket holds at most (and starts with): the requests allowed at once after a quiet spell. */
  readonly burst: number
}

/**
 * The token buckets of every key, each one made on the key's first request.
 *
 * @since 0.1.0
 * @category models
 */
export interface RateLimiter {
  /** Takes `cost` tokens of the key's bucket at time `now` (ms): 0 when allowed, else seconds to wait (at least 1). */
  readonly take: (key: string, limit: RateLimit, now: number, cost?: number) => number
}

/**
 * A rate limiter with no buckets yet. A key whose limit never refills (`perSecond` 0) is told to wait an
 * hour once its burst is spent.
 *
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
