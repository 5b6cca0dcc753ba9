/**
 * Effect metrics of the shard readers, polling and fan-out (tagged with `stream` and `shard`), and of the
 * producer (tagged with `stream`). They are per process: every reader of a shard, and every producer of a
 * stream, in the process shares one series.
 *
 * @since 0.1.0
 */
import * as Metric from "effect/Metric"

/**
 * The shard reader's metrics, tagged with `stream` and `shard`: records and bytes read, GetRecords calls,
 * throttled reads, expired iterators, and the lag gauges.
 *
 * @since 0.1.0
 * @category metrics
 */
export const reader = {
  /** User records delivered (after deaggregation). */
  records: Metric.counter("tributary_kinesis_read_records_total", { description: "user records read from a shard", incremental: true }),
  /** Bytes of Kinesis record data read. */
  bytes: Metric.counter("tributary_kinesis_read_bytes_total", { description: "record bytes read from a shard", incremental: true }),
  getRecordsCalls: Metric.counter("tributary_kinesis_get_records_calls_total", { description: "GetRecords calls", incremental: true }),
  /** Reads throttled: GetRecords over the shard's limits, SubscribeToShard more than once a second (LimitExceeded). */
  throttled: Metric.counter("tributary_kinesis_read_throttled_total", { description: "reads throttled by Kinesis", incremental: true }),
  expiredIterators: Metric.counter("tributary_kinesis_iterators_expired_total", { description: "shard iterators that expired", incremental: true }),
  /** SubscribeToShard calls of the fan-out reader, retries included (one per subscription: AWS ends each after 5 minutes). */
  subscribeToShardCalls: Metric.counter("tributary_kinesis_subscribe_to_shard_calls_total", {
    description: "SubscribeToShard calls",
    incremental: true
  }),
  /**
   * SubscribeToShard refused with ResourceInUse: another subscription of the consumer to the shard is active
   * (a worker that lost the shard has not let go yet, or two applications share a consumer name).
   */
  subscriptionsInUse: Metric.counter("tributary_kinesis_subscriptions_in_use_total", {
    description: "SubscribeToShard calls refused because a subscription of the consumer to the shard was active",
    incremental: true
  }),
  /**
   * As reported by GetRecords or by each SubscribeToShard event: how far the shard's newest record is ahead
   * of this reader. When the last
   * reader of the shard in this process ends: 0 if it read the closed shard to its end, NaN ("no value")
   * otherwise (its lease moved, the worker stops, it failed), so no stale lag outlives the reading.
   */
  millisBehindLatest: Metric.gauge("tributary_kinesis_millis_behind_latest", {
    description: "MillisBehindLatest of the last GetRecords or subscription event; NaN once this process stopped reading the shard"
  }),
  /**
   * Age of the last record read (now minus its arrival time); 0 when caught up. Reset like
   * `millisBehindLatest` when the reading ends.
   */
  iteratorAge: Metric.gauge("tributary_kinesis_iterator_age_millis", {
    description: "age of the last record read; NaN once this process stopped reading the shard"
  })
} as const

/**
 * The producer's metrics, tagged with `stream`: records and bytes stored, PutRecords calls, entries retried
 * and throttled, records given up on, and records buffered.
 *
 * @since 0.1.0
 * @category metrics
 */
export const producer = {
  /** User records stored. */
  records: Metric.counter("tributary_kinesis_put_records_total", { description: "user records stored", incremental: true }),
  /** Bytes of user record data stored. */
  bytes: Metric.counter("tributary_kinesis_put_bytes_total", { description: "user record bytes stored", incremental: true }),
  putRecordsCalls: Metric.counter("tributary_kinesis_put_records_calls_total", { description: "PutRecords calls", incremental: true }),
  /** Kinesis records sent again after a failure (partial or whole-call). */
  retriedEntries: Metric.counter("tributary_kinesis_put_retried_entries_total", { description: "entries sent again", incremental: true }),
  throttledEntries: Metric.counter("tributary_kinesis_put_throttled_entries_total", { description: "entries throttled", incremental: true }),
  /** User records given up on (retries exhausted or rejected). */
  failedRecords: Metric.counter("tributary_kinesis_put_failed_records_total", { description: "user records not stored", incremental: true }),
  /**
   * User records waiting in a producer's buffer or in flight, summed over the stream's producers in this
   * process: each producer adds what it buffers and subtracts what it settles (a gauge set by each would
   * show only the last one's buffer).
   */
  buffered: Metric.gauge("tributary_kinesis_put_buffered_records", {
    description: "user records buffered or in flight, all producers of the stream in this process"
  })
} as const
