/**
 * A read-only view of a consumer's lease table: who processes which shard, where each shard's checkpoint
 * is, and how far behind it is (the age of the oldest record after the checkpoint, read with one
 * GetRecords call of one record per shard).
 *
 * @since 0.1.0
 */
import type { Lease, LeaseStoreError } from "@tributary/core/LeaseStore"
import { LeaseStore } from "@tributary/core/LeaseStore"
import { Kinesis } from "@tributary/kinesis/Kinesis"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as LeaseKey from "./LeaseKey.js"

/**
 * One line of the view: a shard's lease, its checkpoint as text, and its lag.
 *
 * @since 0.1.0
 * @category models
 */
export interface Row {
  /** The lease key: the shard id, or `<stream>:<shardId>` in the table of a worker of several streams. */
  readonly shardId: string
  /** The worker holding the lease; null when nobody does (new, released or finished). */
  readonly owner: string | null
  /** The lease's counter, moved by every write: a counter that stands still means the owner stopped renewing. */
  readonly counter: number
  /** A sequence number (with `/<sub-sequence>` when not 0), or a sentinel. */
  readonly checkpoint: string
  /**
   * The last record processed when the checkpoint was stored, when it is further than the checkpoint: a
   * window stage stores its checkpoint at the earliest record its open windows still need, with the
   * processed position beside it. Undefined when the checkpoint is where processing was.
   */
  readonly processed: string | undefined
  /**
   * Acquisitions by a different owner since the last checkpoint: a number that grows without progress is a
   * stuck shard.
   */
  readonly ownerSwitchesSinceCheckpoint: number
  /** The shards this one was split or merged from; it is processed only once they reach SHARD_END. */
  readonly parentShardIds: ReadonlyArray<string>
  /**
   * Milliseconds since the oldest unprocessed record arrived: 0 when nothing is after the checkpoint,
   * undefined when unknown (a sentinel checkpoint, a finished shard, no stream given, or the read failed).
   */
  readonly lagMillis: number | undefined
}

/**
 * A lease's checkpoint as `LeaseView` shows it: the sentinel, or the sequence number with `/<sub-sequence>`
 * when that is not 0.
 *
 * @since 0.1.0
 * @category models
 */
export const checkpointText = (lease: Pick<Lease, "checkpoint">): string =>
  typeof lease.checkpoint === "string"
    ? lease.checkpoint
    : lease.checkpoint.subSequenceNumber === 0
    ? lease.checkpoint.sequenceNumber
    : `${lease.checkpoint.sequenceNumber}/${lease.checkpoint.subSequenceNumber}`

/**
 * The processed position a checkpoint carries, when it is further than the checkpoint itself.
 *
 * @since 0.1.0
 * @category models
 */
export const processedText = (lease: Pick<Lease, "checkpoint">): string | undefined => {
  const checkpoint = lease.checkpoint
  if (typeof checkpoint === "string" || checkpoint.processed === undefined) return undefined
  const processed = checkpoint.processed
  if (processed.sequenceNumber === checkpoint.sequenceNumber && processed.subSequenceNumber === checkpoint.subSequenceNumber) {
    return undefined
  }
  return processed.subSequenceNumber === 0 ? processed.sequenceNumber : `${processed.sequenceNumber}/${processed.subSequenceNumber}`
}

/**
 * The age of the oldest record after a checkpoint (0 when there is none yet), or undefined when it cannot
 * be told. A lease key that names a stream (`<stream>:<shardId>`) is read from that stream.
 *
 * @since 0.1.0
 * @category utils
 */
export const lagOf = (stream: string, lease: Lease): Effect.Effect<number | undefined, never, Kinesis> =>
  Effect.gen(function*() {
    const checkpoint = lease.checkpoint
    if (typeof checkpoint === "string" && checkpoint !== "TRIM_HORIZON") return undefined
    const kinesis = yield* Kinesis
    const key = LeaseKey.parse(lease.leaseKey)
    const StreamName = key.stream ?? stream
    const iterator = yield* kinesis.getShardIterator(
      typeof checkpoint === "string"
        ? { StreamName, ShardId: key.shardId, ShardIteratorType: "TRIM_HORIZON" }
        : {
          StreamName,
          ShardId: key.shardId,
          ShardIteratorType: "AFTER_SEQUENCE_NUMBER",
          StartingSequenceNumber: checkpoint.sequenceNumber
        }
    )
    if (iterator.ShardIterator === undefined) return undefined
    const page = yield* kinesis.getRecords({ ShardIterator: iterator.ShardIterator, Limit: 1 })
    const first = page.Records?.[0]
    if (first?.ApproximateArrivalTimestamp === undefined) return 0
    return Math.max(0, (yield* Clock.currentTimeMillis) - first.ApproximateArrivalTimestamp.getTime())
  }).pipe(Effect.orElseSucceed(() => undefined))

/**
 * Every lease of the table, by shard id; with a stream (and the `Kinesis` service), the lag of each (of
 * the stream a key names, if it names one).
 *
 * @since 0.1.0
 * @category constructors
 */
export const rows = (stream?: string): Effect.Effect<ReadonlyArray<Row>, LeaseStoreError, LeaseStore> =>
  Effect.gen(function*() {
    const store = yield* LeaseStore
    const leases = [...(yield* store.list)].sort((a, b) => a.leaseKey.localeCompare(b.leaseKey))
    const kinesis = yield* Effect.serviceOption(Kinesis)
    return yield* Effect.forEach(leases, (lease) => {
      // a lease key of a worker of several streams names its stream
      const streamOf = LeaseKey.parse(lease.leaseKey).stream ?? stream
      return Effect.map(
        streamOf === undefined || Option.isNone(kinesis)
          ? Effect.succeed(undefined)
          : lagOf(streamOf, lease).pipe(Effect.provideService(Kinesis, kinesis.value)),
        (lagMillis): Row => ({
          shardId: lease.leaseKey,
          owner: lease.owner,
          counter: lease.counter,
          checkpoint: checkpointText(lease),
          processed: processedText(lease),
          ownerSwitchesSinceCheckpoint: lease.ownerSwitchesSinceCheckpoint,
          parentShardIds: lease.parentShardIds,
          lagMillis
        })
      )
    }, { concurrency: 8 })
  })

/**
 * The rows as a text table, with a line of totals per owner and, when a checkpoint is behind what was
 * processed, a line saying why.
 *
 * @since 0.1.0
 * @category utils
 */
export const format = (table: ReadonlyArray<Row>): string => {
  const header = ["shard", "owner", "counter", "checkpoint", "processed", "switches", "parents", "lag"]
  const lines = table.map((row) => [
    row.shardId,
    row.owner ?? "-",
    String(row.counter),
    row.checkpoint,
    row.processed ?? "-",
    String(row.ownerSwitchesSinceCheckpoint),
    row.parentShardIds.join(",") || "-",
    row.lagMillis === undefined ? "?" : `${row.lagMillis} ms`
  ])
  const widths = header.map((title, i) => Math.max(title.length, ...lines.map((line) => line[i].length)))
  const render = (cells: ReadonlyArray<string>) => cells.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd()
  const owners = new Map<string, number>()
  for (const row of table) if (row.owner !== null) owners.set(row.owner, (owners.get(row.owner) ?? 0) + 1)
  const totals = Array.from(owners, ([owner, count]) => `${owner}: ${count}`).sort().join(", ")
  const heldBack = table.filter((row) => row.processed !== undefined).length
  const unstarted = table.filter((row) => row.owner !== null && (row.checkpoint === "TRIM_HORIZON" || row.checkpoint === "LATEST")).length
  const notes = [
    ...(heldBack === 0 ? [] : [
      `${heldBack === 1 ? "1 checkpoint is" : `${heldBack} checkpoints are`} behind what was processed: a window stage ` +
      "keeps the checkpoint at the earliest record its open windows still need (a restart reads from there again " +
      "to rebuild them), until those windows close"
    ]),
    ...(unstarted === 0 ? [] : [
      `${unstarted === 1 ? "1 shard held by a worker has" : `${unstarted} shards held by workers have`} no checkpoint yet: ` +
      "nothing of it is durable yet, or a window stage holds the checkpoint before its first record until the " +
      "first windows close"
    ])
  ]
  return [render(header), ...lines.map(render), "", `${table.length} leases; held: ${totals || "none"}`, ...notes].join("\n")
}
