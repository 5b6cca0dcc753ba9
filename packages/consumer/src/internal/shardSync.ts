/**
 * Shard sync: a lease for every shard of the stream that has none. A shard below a leased parent starts at
 * TRIM_HORIZON (nothing of a key is skipped across a split or merge), or at AT_TIMESTAMP while a parent has
 * not started either (a parent closed before the timestamp has nothing after it, and neither has its child
 * before it); a root shard at the initial position; a closed shard without a leased ancestor gets no lease
 * with LATEST (nothing in it comes after LATEST).
 */
import type { HashRange, LeaseCheckpoint, LeaseStoreError, LeaseStoreShape } from "@tributary/core/LeaseStore"
import * as Effect from "effect/Effect"

/** A shard as the coordinator needs to know it (see `LeaseCoordinator.ShardInfo`). */
export interface ShardInfo {
  readonly shardId: string
  /** ParentShardId and AdjacentParentShardId, when present. */
  readonly parentShardIds: ReadonlyArray<string>
  readonly hashRange: HashRange
}

/** One sync: lists the shards and creates the missing leases, parents first. */
export const syncShards = <E>(options: {
  readonly store: LeaseStoreShape
  readonly listShards: Effect.Effect<ReadonlyArray<ShardInfo>, E>
  readonly initialPosition: "TRIM_HORIZON" | "LATEST" | { readonly atTimestamp: number }
}): Effect.Effect<void, E | LeaseStoreError> =>
  Effect.gen(function*() {
    const { store } = options
    const shards = yield* options.listShards
    // the checkpoint of every lease, as listed or as created by this sync
    const known = new Map((yield* store.list).map((lease) => [lease.leaseKey, lease.checkpoint]))
    // shards named as parents were closed by a split or merge
    const closed = new Set(shards.flatMap((shard) => shard.parentShardIds))
    const initial: LeaseCheckpoint = typeof options.initialPosition === "string" ? options.initialPosition : "AT_TIMESTAMP"
    for (const shard of parentsFirst(shards)) {
      if (known.has(shard.shardId)) continue
      const parents = shard.parentShardIds.flatMap((parent) => known.has(parent) ? [known.get(parent)!] : [])
      let checkpoint: LeaseCheckpoint
      if (parents.length > 0) {
        checkpoint = parents.includes("AT_TIMESTAMP") ? "AT_TIMESTAMP" : "TRIM_HORIZON"
      } else if (initial !== "LATEST") {
        checkpoint = initial
      } else if (closed.has(shard.shardId)) {
        continue
      } else {
        checkpoint = "LATEST"
      }
      const created = yield* store.createIfAbsent({
        leaseKey: shard.shardId,
        checkpoint,
        parentShardIds: shard.parentShardIds,
        hashRange: shard.hashRange
      })
      if (created) yield* Effect.logDebug("lease created").pipe(Effect.annotateLogs({ leaseKey: shard.shardId, checkpoint }))
      known.set(shard.shardId, checkpoint)
    }
  })

/** Parents before their children (by depth in the listed family tree). */
export const parentsFirst = (shards: ReadonlyArray<ShardInfo>): ReadonlyArray<ShardInfo> => {
  const byId = new Map(shards.map((shard) => [shard.shardId, shard]))
  const depths = new Map<string, number>()
  const depthOf = (shard: ShardInfo, visiting: Set<string>): number => {
    const known = depths.get(shard.shardId)
    if (known !== undefined) return known
    if (visiting.has(shard.shardId)) return 0
    visiting.add(shard.shardId)
    let depth = 0
    for (const parentId of shard.parentShardIds) {
      const parent = byId.get(parentId)
      if (parent !== undefined) depth = Math.max(depth, depthOf(parent, visiting) + 1)
    }
    depths.set(shard.shardId, depth)
    return depth
  }
  return shards.map((shard) => ({ shard, depth: depthOf(shard, new Set()) }))
    .sort((a, b) => a.depth - b.depth)
    .map(({ shard }) => shard)
}
