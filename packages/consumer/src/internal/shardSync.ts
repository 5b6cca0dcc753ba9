/**
 * Shard sync: a lease for every shard of the stream that has none. A shard below a leased parent starts at
 * TRIM_HORIZON (nothing of a key is skipped across a split or merge), or at AT_TIMESTAMP while a parent has
 * not started either (a parent closed before the timestamp has nothing after it, and neither has its child
 * before it); a root shard at the initial position; a closed shard without a leased ancestor gets no lease
 * with LATEST (nothing in it comes after LATEST).
 *
 * Lease cleanup, like the KCL's: a finished lease (SHARD_END) is deleted once its shard expired (older than
 * the stream's retention, ListShards no longer lists it) and every child has a lease checkpointed past its
 * start (a child neither listed nor leased expired or was cleaned up itself). A shard with a leased
 * descendant never gets a lease again: it was processed (or, with LATEST, skipped) before its children
 * started, so a deleted lease is not created anew while ListShards still lists its shard.
 */
import type { HashRange, Lease, LeaseCheckpoint, LeaseStoreError, LeaseStoreShape } from "@tributary/core/LeaseStore"
import { isShardEnd } from "@tributary/core/LeaseStore"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"

/** A shard as the coordinator needs to know it (see `LeaseCoordinator.ShardInfo`). */
export interface ShardInfo {
  readonly shardId: string
  /** ParentShardId and AdjacentParentShardId, when present. */
  readonly parentShardIds: ReadonlyArray<string>
  readonly hashRange: HashRange
}

/** One sync: lists the shards and creates the missing leases, parents first; then cleans up, if asked to. */
export const syncShards = <E>(options: {
  readonly store: LeaseStoreShape
  readonly listShards: Effect.Effect<ReadonlyArray<ShardInfo>, E>
  readonly initialPosition: "TRIM_HORIZON" | "LATEST" | { readonly atTimestamp: number }
  /** The leases of the table this coordinator shares out. */
  readonly manages: (leaseKey: string) => boolean
  /** Delete finished leases (see the module's documentation), counting each. */
  readonly cleanup: { readonly cleaned: Metric.Metric.Counter<number> } | undefined
}): Effect.Effect<void, E | LeaseStoreError> =>
  Effect.gen(function*() {
    const { store } = options
    const shards = yield* options.listShards
    const leases = (yield* store.list).filter((lease) => options.manages(lease.leaseKey))
    // the checkpoint of every lease, as listed or as created by this sync
    const known = new Map(leases.map((lease) => [lease.leaseKey, lease.checkpoint]))
    const children = childrenOf(shards, leases)
    // shards named as parents were closed by a split or merge
    const closed = new Set(shards.flatMap((shard) => shard.parentShardIds))
    const initial: LeaseCheckpoint = typeof options.initialPosition === "string" ? options.initialPosition : "AT_TIMESTAMP"
    const leasedBelow = new Map<string, boolean>()
    const hasLeasedDescendant = (shardId: string): boolean => {
      const memo = leasedBelow.get(shardId)
      if (memo !== undefined) return memo
      leasedBelow.set(shardId, false) // a cycle in a malformed listing ends here
      const found = [...children.get(shardId) ?? []].some((child) => known.has(child) || hasLeasedDescendant(child))
      leasedBelow.set(shardId, found)
      return found
    }
    for (const shard of parentsFirst(shards)) {
      if (known.has(shard.shardId) || hasLeasedDescendant(shard.shardId)) continue
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
    if (options.cleanup !== undefined) yield* cleanup(store, shards, leases, children, options.cleanup.cleaned)
  })

/** Each shard's children, as ListShards and the leases name their parents. */
const childrenOf = (shards: ReadonlyArray<ShardInfo>, leases: ReadonlyArray<Lease>): ReadonlyMap<string, ReadonlySet<string>> => {
  const children = new Map<string, Set<string>>()
  const add = (parent: string, child: string) => {
    const set = children.get(parent)
    if (set === undefined) children.set(parent, new Set([child]))
    else set.add(child)
  }
  for (const shard of shards) for (const parent of shard.parentShardIds) add(parent, shard.shardId)
  for (const lease of leases) for (const parent of lease.parentShardIds) add(parent, lease.leaseKey)
  return children
}

/** Deletes the finished leases whose shards expired and whose children all started (from one listing). */
const cleanup = (
  store: LeaseStoreShape,
  shards: ReadonlyArray<ShardInfo>,
  leases: ReadonlyArray<Lease>,
  children: ReadonlyMap<string, ReadonlySet<string>>,
  cleaned: Metric.Metric.Counter<number>
): Effect.Effect<void> => {
  const listed = new Set(shards.map((shard) => shard.shardId))
  const byKey = new Map(leases.map((lease) => [lease.leaseKey, lease]))
  const started = (child: string): boolean => {
    const lease = byKey.get(child)
    return lease === undefined ? !listed.has(child) : typeof lease.checkpoint !== "string" || lease.checkpoint === "SHARD_END"
  }
  const expired = leases.filter((lease) =>
    isShardEnd(lease) && !listed.has(lease.leaseKey) && [...children.get(lease.leaseKey) ?? []].every(started)
  )
  return Effect.forEach(expired, (lease) =>
    store.delete(lease).pipe(
      // another worker may have deleted it first
      Effect.flatMap((deleted) =>
        deleted
          ? Effect.zipRight(
            Metric.increment(cleaned),
            Effect.logDebug("finished lease deleted").pipe(Effect.annotateLogs("leaseKey", lease.leaseKey))
          )
          : Effect.void
      ),
      // changed since it was listed (another worker deleted it first, or it is not what it seemed): next time
      Effect.catchTag("LeaseConflict", () => Effect.void),
      Effect.catchTag("LeaseStoreError", (error) => Effect.logWarning("lease cleanup failed", error))
    ), { discard: true })
}

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
