/**
 * What the two readers of a shard share (the polling `ShardReader` and the `FanOutReader`): records from
 * the SDK's shape, dropping what a partly processed aggregate already delivered, the children of a closed
 * shard, their backoff, and their metrics with the lag gauges that must not outlive the reading.
 */
import type * as Sdk from "@aws-sdk/client-kinesis"
import * as MetricSeries from "@tributary/core/MetricSeries"
import type { Position } from "@tributary/core/RecordSource"
import * as Retry from "@tributary/core/Retry"
import * as Sequence from "@tributary/core/SequenceNumber"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import { SourceError } from "@tributary/core/TributaryError"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Schedule from "effect/Schedule"
import * as Aggregation from "../Aggregation.js"
import type { Kinesis } from "../Kinesis.js"
import * as Metrics from "../Metrics.js"
import * as StreamAdmin from "../StreamAdmin.js"

/**
 * The reader metrics of one shard (`Metrics.reader`, tagged with `stream` and `shard`), updated per page:
 * each series resolved once.
 */
export const readerMetrics = (stream: string, shardId: string) => {
  const tags = { stream, shard: shardId }
  return Effect.all({
    records: MetricSeries.make(Metrics.reader.records, tags),
    bytes: MetricSeries.make(Metrics.reader.bytes, tags),
    calls: MetricSeries.make(Metrics.reader.getRecordsCalls, tags),
    throttled: MetricSeries.make(Metrics.reader.throttled, tags),
    expired: MetricSeries.make(Metrics.reader.expiredIterators, tags),
    behind: MetricSeries.make(Metrics.reader.millisBehindLatest, tags),
    age: MetricSeries.make(Metrics.reader.iteratorAge, tags),
    subscribeCalls: MetricSeries.make(Metrics.reader.subscribeToShardCalls, tags),
    subscriptionsInUse: MetricSeries.make(Metrics.reader.subscriptionsInUse, tags)
  })
}

/** The reader metrics of one shard, as `readerMetrics` resolves them. */
export type ReaderMetrics = Effect.Effect.Success<ReturnType<typeof readerMetrics>>

/** Equal jitter (between half and all of the doubled delay, never above the cap), without a limit. */
export const readerBackoff = (options: {
  readonly backoffBase?: Duration.DurationInput | undefined
  readonly backoffCap?: Duration.DurationInput | undefined
}): Schedule.Schedule<unknown> =>
  Retry.exponential({ base: options.backoffBase ?? "200 millis", cap: options.backoffCap ?? "10 seconds", times: Infinity, jitter: [0.5, 1] })

/**
 * The lag gauges must not outlive the reading: when the last run of a reader of the shard in this process
 * ends, however it ends (interrupted, failed, at the shard's end), they are reset. Another reader of the
 * shard still running here (a worker of this process that took the lease over) keeps them.
 */
export const lagGauges = (source: string, metrics: ReaderMetrics) => ({
  enter: Effect.sync(() => void running.set(source, (running.get(source) ?? 0) + 1)),
  leave: (atShardEnd: boolean) =>
    Effect.suspend(() => {
      const left = (running.get(source) ?? 1) - 1
      if (left > 0) {
        running.set(source, left)
        return Effect.void
      }
      running.delete(source)
      // a closed shard read to its end has no lag, for good; otherwise nobody here reads the shard any
      // more: NaN, Prometheus' "no value" (max and min skip it, no threshold is above it), not a stale lag
      const value = atShardEnd ? 0 : Number.NaN
      return Effect.sync(() => {
        metrics.behind.unsafeUpdate(value)
        metrics.age.unsafeUpdate(value)
      })
    })
})

/** Runs of readers under way in this process, per `kinesis:<stream>/<shard>` (the lag gauges' series). */
const running = new Map<string, number>()

/**
 * The children of a closed shard: from the service's ChildShards, or from ListShards where it leaves them
 * out (kinesalite's GetRecords, kinesis-mock's SubscribeToShard).
 */
export const childrenOf = (
  stream: string,
  shardId: string,
  source: string,
  listed: ReadonlyArray<Sdk.ChildShard> | undefined
): Effect.Effect<ReadonlyArray<string>, SourceError, Kinesis> => {
  if (listed !== undefined && listed.length > 0) {
    return Effect.succeed(listed.flatMap((child) => child.ShardId === undefined ? [] : [child.ShardId]))
  }
  return StreamAdmin.listShards(stream).pipe(
    Effect.map((shards) =>
      shards.filter((s) => s.parentShardId === shardId || s.adjacentParentShardId === shardId).map((s) => s.shardId)
    ),
    Effect.mapError((error) =>
      new SourceError({
        source,
        reason: `cannot list the children of ${shardId}: ${error.message}`,
        retryability: error.retryability,
        cause: error
      })
    )
  )
}

/**
 * A page's records as a reader delivers them, and their bytes: `SourceRecord`s (arrival time `receivedAt`
 * where the service gives none), KPL aggregates expanded when `deaggregate`, and the user records at or
 * before `skipThrough` dropped (what a partly processed aggregate already delivered). `skipped`: the page
 * had records, so `skipThrough` is done with.
 */
export const pageOf = (
  records: ReadonlyArray<Sdk._Record>,
  options: {
    readonly stream: string
    readonly shardId: string
    readonly receivedAt: number
    readonly deaggregate: boolean
    readonly skipThrough: Position | undefined
  }
): { readonly records: ReadonlyArray<SourceRecord>; readonly bytes: number; readonly skipped: boolean } => {
  const page = toRecords(records, options.stream, options.shardId, options.receivedAt)
  const delivered = options.deaggregate ? Aggregation.deaggregate(page.records) : page.records
  const skipped = options.skipThrough !== undefined && delivered.length > 0
  return { records: skipped ? dropThrough(delivered, options.skipThrough!) : delivered, bytes: page.bytes, skipped }
}

/** The records of a page as `SourceRecord`s (arrival time `now` where the service gives none), and their bytes. */
const toRecords = (
  records: ReadonlyArray<Sdk._Record>,
  stream: string,
  shardId: string,
  now: number
): { readonly records: Array<SourceRecord>; readonly bytes: number } => {
  const out: Array<SourceRecord> = new Array(records.length)
  let bytes = 0
  for (let i = 0; i < records.length; i++) {
    const r = records[i]
    const data = r.Data ?? empty
    bytes += data.length
    out[i] = {
      stream,
      shardId,
      sequenceNumber: r.SequenceNumber ?? "0",
      subSequenceNumber: 0,
      partitionKey: r.PartitionKey ?? "",
      arrivalTime: r.ApproximateArrivalTimestamp?.getTime() ?? now,
      data
    }
  }
  return { records: out, bytes }
}

const empty = new Uint8Array(0)

/** Drops the records at or before `position` (records are in shard order). */
const dropThrough = (records: ReadonlyArray<SourceRecord>, position: Position): ReadonlyArray<SourceRecord> => {
  let i = 0
  while (i < records.length) {
    const order = Sequence.compare(records[i].sequenceNumber, position.sequenceNumber)
    if (order > 0 || (order === 0 && records[i].subSequenceNumber > position.subSequenceNumber)) break
    i++
  }
  return i === 0 ? records : records.slice(i)
}
