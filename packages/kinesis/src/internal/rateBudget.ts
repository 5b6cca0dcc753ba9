/**
 * The producer's per-shard rate limiting, like the KPL's: a records bucket and a bytes bucket per shard
 * (the token buckets of @tributary/core, each holding one second's worth). A batch reserves its tokens at
 * once, going into debt if needed, and is told how long to wait for the debt to be repaid, so concurrent
 * senders queue fairly and a batch larger than the bucket still goes through (at the rate).
 */
import * as TokenBucket from "@tributary/core/TokenBucket"
import type { Entry } from "./producerEntry.js"
import type { ShardMap } from "./shardMap.js"

export interface RateBudget {
  /** Reserves the entries' records and bytes per predicted shard at `now` (ms); answers the wait in ms. */
  readonly reserve: (entries: ReadonlyArray<Entry>, shardMap: ShardMap, now: number) => number
}

export const make = (recordsPerSecond: number, bytesPerSecond: number): RateBudget => {
  const records = TokenBucket.make()
  const bytes = TokenBucket.make()
  const recordRate: TokenBucket.Rate = { perSecond: recordsPerSecond, burst: recordsPerSecond }
  const byteRate: TokenBucket.Rate = { perSecond: bytesPerSecond, burst: bytesPerSecond }
  return {
    reserve: (entries, shardMap, now) => {
      const demand = new Map<string, { records: number; bytes: number }>()
      for (const entry of entries) {
        const shard = entry.shard >= 0 ? shardMap.shardIds[entry.shard] : "unknown"
        const need = demand.get(shard)
        if (need === undefined) demand.set(shard, { records: 1, bytes: entry.bytes })
        else {
          need.records++
          need.bytes += entry.bytes
        }
      }
      let wait = 0
      for (const [shard, need] of demand) {
        wait = Math.max(wait, records.reserve(shard, recordRate, now, need.records))
        wait = Math.max(wait, bytes.reserve(shard, byteRate, now, need.bytes))
      }
      return wait
    }
  }
}
