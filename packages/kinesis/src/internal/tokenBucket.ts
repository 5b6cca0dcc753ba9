/**
 * Per-shard token buckets like the KPL's: tokens refill continuously at `rate` per second up to one
 * second's worth. A batch reserves its tokens at once, going into debt if needed, and is told how long to
 * wait for the debt to be repaid, so concurrent senders queue fairly and a batch larger than the bucket
 * still goes through (at the rate).
 */
export class TokenBuckets {
  private readonly records = new Map<string, { tokens: number; at: number }>()
  private readonly bytes = new Map<string, { tokens: number; at: number }>()

  constructor(readonly recordsPerSecond: number, readonly bytesPerSecond: number) {}

  /** Reserves the batch's records and bytes per shard at time `now` (ms); answers the wait in ms. */
  reserve(now: number, demand: ReadonlyMap<string, { readonly records: number; readonly bytes: number }>): number {
    let wait = 0
    for (const [shard, need] of demand) {
      wait = Math.max(wait, take(this.records, shard, now, this.recordsPerSecond, need.records))
      wait = Math.max(wait, take(this.bytes, shard, now, this.bytesPerSecond, need.bytes))
    }
    return wait
  }
}

const take = (buckets: Map<string, { tokens: number; at: number }>, shard: string, now: number, rate: number, need: number): number => {
  let bucket = buckets.get(shard)
  if (bucket === undefined) buckets.set(shard, bucket = { tokens: rate, at: now })
  bucket.tokens = Math.min(rate, bucket.tokens + ((now - bucket.at) / 1000) * rate)
  bucket.at = now
  bucket.tokens -= need
  return bucket.tokens >= 0 ? 0 : Math.ceil((-bucket.tokens / rate) * 1000)
}
