/**
 * Tributary's Effect metrics as CloudWatch metrics: the one table that names each of them in CloudWatch
 * (names, units, dimensions), and a collector that turns snapshots of Effect's metric registry into
 * CloudWatch samples. `Emf` writes the samples as Embedded Metric Format log lines, `MetricPublisher` sends
 * them with PutMetricData; the CDK constructs' alarms and dashboard read the names from here.
 *
 * Names follow what the KCL and the KPL publish where the meaning is the same (`MillisBehindLatest`,
 * `RecordsProcessed`, `DataBytesProcessed`, `ExpiredIterator`, `CurrentLeases`, `TakenLeases`,
 * `LostLeases`, `UserRecordsPut`, `UserRecordsDataPut`, `UserRecordsPending`); the others are named for
 * what they count. Every metric lives in one namespace (default `Tributary`) with the dimensions below.
 *
 * - Counters are sent as what they counted since the previous collection (CloudWatch sums them), so the
 *   `Sum` statistic over a period is the count in that period, whatever the number of processes.
 * - Gauges are sent as their current value (NaN, "no value", is not sent).
 * - Histograms are sent as the observations since the previous collection, each bucket's observations
 *   at the bucket's upper bound (the largest observation for the last, unbounded bucket), so percentile
 *   statistics are upper bounds at the histogram's resolution.
 *
 * The worker id (the `worker` tag) is not a dimension: it changes with every process, and each new value
 * would make new CloudWatch metrics (each billed). Series that differ only by a tag that is not a dimension
 * are sent as separate values of the same metric, which CloudWatch aggregates.
 *
 * @since 0.1.0
 */
import * as Metric from "effect/Metric"
import type * as MetricPair from "effect/MetricPair"
import * as MetricState from "effect/MetricState"

/**
 * The CloudWatch units used here.
 *
 * @since 0.1.0
 * @category models
 */
export type Unit = "Count" | "Bytes" | "Milliseconds" | "Seconds"

/**
 * How one Effect metric appears in CloudWatch.
 *
 * @since 0.1.0
 * @category models
 */
export interface Definition {
  /** The CloudWatch metric name. */
  readonly name: string
  /** The unit CloudWatch records the values in (a histogram's values are its buckets' upper bounds). */
  readonly unit: Unit
  /** Effect tags that become dimensions, and the dimensions' names. Other tags are dropped. */
  readonly dimensions: Readonly<Record<string, string>>
  /**
   * The dimension sets each value is reported under (names from `dimensions`): one CloudWatch metric per
   * set and combination of values. A set without the finest dimension aggregates its series, e.g.
   * `MillisBehindLatest` by `StreamName` alone, whose `Maximum` is the lag of the stream's furthest shard.
   */
  readonly dimensionSets: ReadonlyArray<ReadonlyArray<string>>
  /** What the metric counts or measures, for people reading the table; it is not sent to CloudWatch. */
  readonly description: string
}

/**
 * The default namespace.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultNamespace = "Tributary"

/**
 * Dimension names.
 *
 * @since 0.1.0
 * @category constants
 */
export const Dimension = {
  Pipeline: "Pipeline",
  StreamName: "StreamName",
  ShardId: "ShardId",
  Application: "Application",
  Reason: "Reason",
  Exit: "Exit",
  Route: "Route",
  Status: "Status"
} as const

const pipeline = (name: string, description: string): Definition => ({
  name,
  unit: "Count",
  dimensions: { pipeline: Dimension.Pipeline },
  dimensionSets: [[Dimension.Pipeline]],
  description
})

const shard = (name: string, unit: Unit, description: string): Definition => ({
  name,
  unit,
  dimensions: { stream: Dimension.StreamName, shard: Dimension.ShardId },
  dimensionSets: [[Dimension.StreamName], [Dimension.StreamName, Dimension.ShardId]],
  description
})

const producer = (name: string, unit: Unit, description: string): Definition => ({
  name,
  unit,
  dimensions: { stream: Dimension.StreamName },
  dimensionSets: [[Dimension.StreamName]],
  description
})

const lease = (name: string, description: string, byReason: boolean): Definition => ({
  name,
  unit: "Count",
  dimensions: byReason ? { application: Dimension.Application, reason: Dimension.Reason } : { application: Dimension.Application },
  dimensionSets: byReason ? [[Dimension.Application], [Dimension.Application, Dimension.Reason]] : [[Dimension.Application]],
  description
})

/**
 * Every metric Tributary defines, by its Effect (and Prometheus) name. A metric that is not here is not
 * sent; pass `definitions` to `Emf` or `MetricPublisher` to send metrics of your own.
 *
 * @since 0.1.0
 * @category definitions
 */
export const definitions: Readonly<Record<string, Definition>> = {
  // pipelines (Pipeline.metrics)
  tributary_records_in_total: pipeline("RecordsIn", "records read from the source"),
  tributary_records_out_total: pipeline("RecordsOut", "records whose outputs were written, or that a window absorbed"),
  tributary_records_dead_lettered_total: pipeline("RecordsDeadLettered", "records sent to the dead-letter sink"),
  tributary_records_late_total: pipeline("RecordsLate", "records behind their windows' allowed lateness"),
  tributary_records_filtered_total: pipeline("RecordsFiltered", "records dropped by a filter or flatMap"),
  tributary_sink_retries_total: pipeline("SinkRetries", "transient sink failures retried"),

  // Kinesis readers (Metrics.reader of @tributary/kinesis)
  tributary_kinesis_read_records_total: shard("RecordsProcessed", "Count", "user records read from the shard (KCL: RecordsProcessed)"),
  tributary_kinesis_read_bytes_total: shard("DataBytesProcessed", "Bytes", "record bytes read from the shard (KCL: DataBytesProcessed)"),
  tributary_kinesis_get_records_calls_total: shard("GetRecordsCalls", "Count", "GetRecords calls, retries included"),
  tributary_kinesis_read_throttled_total: shard("ReadThrottles", "Count", "reads throttled by Kinesis"),
  tributary_kinesis_iterators_expired_total: shard("ExpiredIterator", "Count", "shard iterators replaced after ExpiredIterator (KCL: ExpiredIterator)"),
  tributary_kinesis_millis_behind_latest: shard(
    "MillisBehindLatest",
    "Milliseconds",
    "how far the shard's newest record is ahead of the reader (KCL: MillisBehindLatest)"
  ),
  tributary_kinesis_iterator_age_millis: shard("IteratorAgeMilliseconds", "Milliseconds", "age of the last record read"),
  tributary_kinesis_subscribe_to_shard_calls_total: shard("SubscribeToShardCalls", "Count", "SubscribeToShard calls of the fan-out reader, retries included"),
  tributary_kinesis_subscriptions_in_use_total: shard(
    "SubscribeToShardResourceInUse",
    "Count",
    "SubscribeToShard refused because a subscription of the consumer to the shard was active"
  ),

  // Kinesis producers (Metrics.producer of @tributary/kinesis)
  tributary_kinesis_put_records_total: producer("UserRecordsPut", "Count", "user records stored (KPL: UserRecordsPut)"),
  tributary_kinesis_put_bytes_total: producer("UserRecordsDataPut", "Bytes", "user record bytes stored (KPL: UserRecordsDataPut)"),
  tributary_kinesis_put_records_calls_total: producer("PutRecordsCalls", "Count", "PutRecords calls"),
  tributary_kinesis_put_retried_entries_total: producer("PutRecordsRetriedEntries", "Count", "Kinesis records sent again after a failure"),
  tributary_kinesis_put_throttled_entries_total: producer("PutRecordsThrottledEntries", "Count", "Kinesis records throttled"),
  tributary_kinesis_put_failed_records_total: producer("UserRecordsFailed", "Count", "user records given up on"),
  tributary_kinesis_put_buffered_records: producer("UserRecordsPending", "Count", "user records buffered or in flight (KPL: UserRecordsPending)"),

  // leases (LeaseCoordinator.metrics)
  tributary_leases_taken_total: lease("TakenLeases", "leases acquired, by reason (KCL: TakenLeases)", true),
  tributary_leases_lost_total: lease("LostLeases", "leases lost against the worker's will, by reason (KCL: LostLeases)", true),
  tributary_leases_released_total: lease("ReleasedLeases", "leases the worker let go, by reason", true),
  tributary_lease_renewal_failures_total: lease("LeaseRenewalFailures", "lease renewals that failed", false),
  tributary_leases_held: lease("CurrentLeases", "leases held (KCL: CurrentLeases)", false),
  tributary_leases_cleaned_total: lease("CleanedLeases", "finished leases deleted once their shards expired and their children started", false),

  // consumers (Consumer.metrics of @tributary/consumer)
  tributary_consumer_shard_exits_total: {
    name: "ShardExits",
    unit: "Count",
    dimensions: { stream: Dimension.StreamName, exit: Dimension.Exit },
    dimensionSets: [[Dimension.StreamName], [Dimension.StreamName, Dimension.Exit]],
    description: "shard fibers that ended, by exit"
  },

  // the gateway (Metrics.gateway of @tributary/server)
  tributary_gateway_requests_total: {
    name: "GatewayRequests",
    unit: "Count",
    dimensions: { route: Dimension.Route, status: Dimension.Status },
    dimensionSets: [[Dimension.Route], [Dimension.Route, Dimension.Status]],
    description: "HTTP requests answered, by route and status"
  },
  tributary_gateway_records_accepted_total: producer("GatewayRecordsAccepted", "Count", "records the stream's sink acknowledged"),
  tributary_gateway_bytes_accepted_total: producer("GatewayBytesAccepted", "Bytes", "data bytes the stream's sink acknowledged"),
  tributary_gateway_request_duration_seconds: {
    name: "GatewayRequestDuration",
    unit: "Seconds",
    dimensions: { route: Dimension.Route },
    dimensionSets: [[Dimension.Route]],
    description: "time from request to response"
  }
}

/**
 * The CloudWatch names of Tributary's metrics, for alarms and dashboards.
 *
 * @since 0.1.0
 * @category definitions
 */
export const names = {
  recordsIn: "RecordsIn",
  recordsOut: "RecordsOut",
  recordsDeadLettered: "RecordsDeadLettered",
  recordsLate: "RecordsLate",
  recordsFiltered: "RecordsFiltered",
  sinkRetries: "SinkRetries",
  recordsProcessed: "RecordsProcessed",
  millisBehindLatest: "MillisBehindLatest",
  iteratorAge: "IteratorAgeMilliseconds",
  readThrottles: "ReadThrottles",
  currentLeases: "CurrentLeases",
  takenLeases: "TakenLeases",
  lostLeases: "LostLeases",
  leaseRenewalFailures: "LeaseRenewalFailures",
  shardExits: "ShardExits",
  userRecordsPut: "UserRecordsPut",
  userRecordsFailed: "UserRecordsFailed"
} as const

/**
 * One series' contribution since the previous collection: a number (a counter's increase, a gauge's
 * value), or observations as values and how often each was seen (a histogram).
 *
 * @since 0.1.0
 * @category models
 */
export type Value = number | { readonly values: ReadonlyArray<number>; readonly counts: ReadonlyArray<number> }

/**
 * A metric's value for one series: its definition and the values of its dimensions.
 *
 * @since 0.1.0
 * @category models
 */
export interface Sample {
  /** How the series' metric appears in CloudWatch: its name, unit and dimension sets. */
  readonly definition: Definition
  /** Dimension name to value; every dimension of `definition.dimensions` is present. */
  readonly dimensions: Readonly<Record<string, string>>
  /** What the series contributed since the previous collection. */
  readonly value: Value
}

/**
 * Turns registry snapshots into samples. It remembers what each counter and histogram had at the previous
 * collection, so that each sample carries only what happened since; a series' first collection carries
 * everything since the process started.
 *
 * @since 0.1.0
 * @category models
 */
export interface Collector {
  /**
   * The samples of a registry snapshot (`snapshot`): one per series that `definitions` names and that has
   * every dimension's tag; counters and histograms as their increases since the previous call, gauges as
   * they are (a gauge that is not a finite number is skipped), histograms with no new observation omitted.
   */
  readonly collect: (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>) => ReadonlyArray<Sample>
}

/**
 * A collector over `definitions` (Tributary's by default). A series missing a tag that is a dimension is
 * skipped: CloudWatch would mix it with others.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeCollector = (table: Readonly<Record<string, Definition>> = definitions): Collector => {
  const previous = new Map<string, number | ReadonlyArray<number>>()
  return {
    collect: (pairs) => {
      const out: Array<Sample> = []
      for (const pair of pairs) {
        const definition = table[pair.metricKey.name]
        if (definition === undefined) continue
        const dimensions: Record<string, string> = {}
        let complete = true
        for (const [tag, dimension] of Object.entries(definition.dimensions)) {
          const found = pair.metricKey.tags.find((t) => t.key === tag)
          if (found === undefined || found.value === "") complete = false
          else dimensions[dimension] = found.value
        }
        if (!complete) continue
        const key = seriesKey(pair)
        const state = pair.metricState
        if (MetricState.isCounterState(state)) {
          const count = Number(state.count)
          const before = previous.get(key)
          previous.set(key, count)
          const delta = count - (typeof before === "number" ? before : 0)
          // a counter never goes down; if it did, the registry was reset: send what it has
          out.push({ definition, dimensions, value: delta >= 0 ? delta : count })
        } else if (MetricState.isGaugeState(state)) {
          const value = Number(state.value)
          if (Number.isFinite(value)) out.push({ definition, dimensions, value })
        } else if (MetricState.isHistogramState(state)) {
          const cumulative = state.buckets.map(([, count]) => count)
          const before = previous.get(key)
          previous.set(key, cumulative)
          const earlier = Array.isArray(before) ? perBucket(before) : []
          const now = perBucket(cumulative)
          const values: Array<number> = []
          const counts: Array<number> = []
          for (let i = 0; i < now.length; i++) {
            const fresh = now[i] - (earlier[i] ?? 0)
            if (fresh <= 0) continue
            const bound = state.buckets[i][0]
            values.push(Number.isFinite(bound) ? bound : state.max)
            counts.push(fresh)
          }
          if (values.length > 0) out.push({ definition, dimensions, value: { values, counts } })
        }
      }
      return out
    }
  }
}

/**
 * The registry's metrics that `definitions` does not name (metrics of your own, or of a newer Tributary):
 * they are not sent to CloudWatch.
 *
 * @since 0.1.0
 * @category utils
 */
export const undefinedNames = (
  pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>,
  table: Readonly<Record<string, Definition>> = definitions
): ReadonlyArray<string> =>
  [...new Set(pairs.map((pair) => pair.metricKey.name).filter((name) => table[name] === undefined))].sort()

/**
 * The registry, read now (`Metric.snapshot`, re-exported so the collector's callers need nothing else).
 *
 * @since 0.1.0
 * @category utils
 */
export const snapshot = Metric.snapshot

/** Cumulative bucket counts (Effect's, like Prometheus') as counts per bucket. */
const perBucket = (cumulative: ReadonlyArray<number>): ReadonlyArray<number> =>
  cumulative.map((count, i) => count - (i === 0 ? 0 : cumulative[i - 1]))

const seriesKey = (pair: MetricPair.MetricPair.Untyped): string =>
  `${pair.metricKey.name}\u0000${pair.metricKey.tags.map((t) => `${t.key}=${t.value}`).sort().join("\u0000")}`
