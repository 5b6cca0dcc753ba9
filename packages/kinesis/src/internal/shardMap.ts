import { createHash } from "node:crypto"
import type { Shard } from "../StreamAdmin.js"

/** The 128-bit hash key Kinesis derives from a partition key: the MD5 digest as an unsigned integer. */
export const hashKeyOf = (partitionKey: string): bigint => {
  const digest = createHash("md5").update(partitionKey, "utf8").digest()
  return (digest.readBigUInt64BE(0) << 64n) | digest.readBigUInt64BE(8)
}

export const maxHashKey = (1n << 128n) - 1n

/** The open shards by hash range, to predict where a record goes. */
export class ShardMap {
  private readonly starts: Array<bigint>
  private readonly ends: Array<bigint>
  readonly shardIds: Array<string>
  private readonly known: Set<string>

  constructor(shards: ReadonlyArray<Shard>) {
    const open = shards
      .filter((s) => s.endingSequenceNumber === undefined)
      .sort((a, b) => a.hashKeyRange.start < b.hashKeyRange.start ? -1 : 1)
    this.starts = open.map((s) => s.hashKeyRange.start)
    this.ends = open.map((s) => s.hashKeyRange.end)
    this.shardIds = open.map((s) => s.shardId)
    this.known = new Set(this.shardIds)
  }

  get size(): number {
    return this.shardIds.length
  }

  has(shardId: string): boolean {
    return this.known.has(shardId)
  }

  /** Index of the open shard owning the hash key, or -1. */
  indexOf(hashKey: bigint): number {
    let low = 0
    let high = this.starts.length - 1
    while (low <= high) {
      const mid = (low + high) >>> 1
      if (hashKey < this.starts[mid]) high = mid - 1
      else if (hashKey > this.ends[mid]) low = mid + 1
      else return mid
    }
    return -1
  }
}
