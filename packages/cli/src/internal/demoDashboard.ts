/**
 * What the demo's dashboard shows, sampled from the running workers, the lease table, the readers' lag
 * gauges, the dead-letter sink and the results table.
 */
import type { ConsumerShape } from "@tributary/consumer/Consumer"
import { checkpointText } from "@tributary/consumer/LeaseView"
import type { DeadLetter } from "@tributary/core/DeadLetter"
import type { LeaseStoreShape } from "@tributary/core/LeaseStore"
import * as KinesisMetrics from "@tributary/kinesis/Metrics"
import type { Chart, Snapshot } from "@tributary/server/Dashboard"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import { activities, customers as customerCount } from "../Traffic.js"

interface Merged {
  readonly key: string
  readonly start: number
  readonly count: number
  readonly value: { readonly count: number; readonly mean: number | undefined; readonly p95: number | undefined }
}

export interface Sources {
  readonly stream: string
  /** The running workers (filled in once they start). */
  readonly workers: () => ReadonlyArray<ConsumerShape>
  readonly leaseStore: LeaseStoreShape
  readonly deadLetters: Effect.Effect<ReadonlyArray<DeadLetter>>
  readonly readResults: (query: { readonly key: string; readonly from: number; readonly to: number }) => Effect.Effect<
    ReadonlyArray<Merged>,
    unknown
  >
  readonly dimensions: { readonly activity: string; readonly customer: string }
  /** Why a shard's checkpoint may be behind what was processed. */
  readonly checkpointNote: string
}

const positionText = (position: { readonly sequenceNumber: string; readonly subSequenceNumber: number }) =>
  position.subSequenceNumber === 0 ? position.sequenceNumber : `${position.sequenceNumber}/${position.subSequenceNumber}`

/** The windows shown: the last quarter of an hour. */
const chartSpan = 15 * 60_000
const recentDeadLetters = 8
/** Customers charted: the busiest few of the last window, chosen anew every so often. */
const topCustomers = 5
const topCustomersEvery = 10_000

export const make = (sources: Sources) => {
  // Kinesis' MillisBehindLatest, or the age of the last record read when that says more (emulators
  // report MillisBehindLatest 0)
  const gauge = (metric: typeof KinesisMetrics.reader.iteratorAge, shardId: string) =>
    Effect.map(
      Metric.value(metric.pipe(Metric.tagged("stream", sources.stream), Metric.tagged("shard", shardId))),
      (state) => state.value
    )
  const lagOf = (shardId: string) =>
    Effect.zipWith(
      gauge(KinesisMetrics.reader.millisBehindLatest, shardId),
      gauge(KinesisMetrics.reader.iteratorAge, shardId),
      // a reader that stopped leaves no value (NaN) behind: no current lag from this process
      (behind, age) => {
        const lag = Math.max(behind, age)
        return Number.isFinite(lag) ? Math.round(lag) : null
      }
    )

  // the processed position of each shard, from the worker processing it
  const positions = Effect.map(
    Effect.forEach(sources.workers(), (worker) => worker.positions),
    (all) => new Map(all.flat().map((position) => [position.shardId, position]))
  )

  const shards = Effect.flatMap(Effect.zip(sources.leaseStore.list, positions), ([leases, processing]) =>
    Effect.forEach([...leases].sort((a, b) => a.leaseKey.localeCompare(b.leaseKey)), (lease) =>
      Effect.map(lagOf(lease.leaseKey), (lag) => {
        const position = processing.get(lease.leaseKey)
        const processed = position?.processed ?? (typeof lease.checkpoint === "string" ? undefined : lease.checkpoint.processed)
        const heldBack = position?.heldBack ?? processed !== undefined
        return {
          shardId: lease.leaseKey,
          owner: lease.owner,
          checkpoint: checkpointText(lease),
          ...(processed === undefined ? {} : { processed: positionText(processed) }),
          ...(heldBack ? { checkpointNote: sources.checkpointNote } : {}),
          // a shard nobody reads has no current lag
          lagMillis: lease.owner === null ? null : lag
        }
      })))

  const maxLagMillis = shards.pipe(
    Effect.map((all) => {
      const lags = all.flatMap((s) => (s.lagMillis === null ? [] : [s.lagMillis]))
      return lags.length === 0 ? undefined : Math.max(...lags)
    }),
    Effect.orElseSucceed(() => undefined)
  )

  let customers: { readonly at: number; readonly keys: ReadonlyArray<string> } = { at: 0, keys: [] }

  const charts = (now: number) =>
    Effect.gen(function*() {
      const range = { from: now - chartSpan, to: now + 60_000 }
      const perActivity = yield* Effect.forEach(activities, (activity) =>
        Effect.map(sources.readResults({ key: sources.dimensions.activity + activity, ...range }), (rows) => ({ activity, rows })), {
        concurrency: 3
      })
      if (now - customers.at >= topCustomersEvery) {
        // the busiest customers of the current minute, from their own windows
        const start = Math.floor(now / 60_000) * 60_000
        const counted = yield* Effect.forEach(
          Array.from({ length: customerCount }, (_, i) => `C${i}`),
          (id) =>
            Effect.map(
              sources.readResults({ key: sources.dimensions.customer + id, from: start, to: start + 1 }),
              (rows) => ({ id, count: rows.reduce((total, r) => total + r.count, 0) })
            ),
          { concurrency: 4 }
        )
        customers = { at: now, keys: counted.sort((a, b) => b.count - a.count).slice(0, topCustomers).map((c) => c.id) }
      }
      const perCustomer = yield* Effect.forEach(customers.keys, (id) =>
        Effect.map(sources.readResults({ key: sources.dimensions.customer + id, ...range }), (rows) => ({ id, rows })), {
        concurrency: 3
      })
      const result: Array<Chart> = [
        {
          id: "activity-count",
          title: "Activities per minute",
          unit: "records",
          series: perActivity.map(({ activity, rows }) => ({ label: activity, points: rows.map((r) => [r.start, r.count] as const) }))
        },
        {
          id: "activity-p95",
          title: "p95 duration per activity and minute",
          unit: "ms",
          series: perActivity.map(({ activity, rows }) => ({
            label: activity,
            points: rows.flatMap((r) => (r.value.p95 === undefined ? [] : [[r.start, Math.round(r.value.p95)] as const]))
          }))
        },
        {
          id: "customer-count",
          title: `Busiest ${topCustomers} customers: activities per minute`,
          unit: "records",
          series: perCustomer.map(({ id, rows }) => ({ label: id, points: rows.map((r) => [r.start, r.count] as const) }))
        }
      ]
      return result
    })

  const snapshot: Effect.Effect<Snapshot, unknown> = Effect.gen(function*() {
    const at = yield* Clock.currentTimeMillis
    const summaries = yield* Effect.forEach(sources.workers(), (w) => w.summary)
    const total = (f: (s: (typeof summaries)[number]) => number) => summaries.reduce((sum, s) => sum + f(s), 0)
    const letters = yield* sources.deadLetters
    return {
      at,
      totals: {
        recordsIn: total((s) => s.recordsIn),
        recordsOut: total((s) => s.recordsOut),
        deadLetters: total((s) => s.deadLettered),
        filtered: total((s) => s.filtered),
        late: total((s) => s.late)
      },
      shards: yield* shards,
      charts: yield* charts(at),
      deadLetters: letters.slice(-recentDeadLetters).reverse().map((l) => ({
        shardId: l.shardId,
        sequenceNumber: l.sequenceNumber,
        stage: l.stage,
        reason: l.reason,
        failedAt: l.failedAt
      }))
    }
  })

  return { snapshot, maxLagMillis, lagOf }
}
