/**
 * The gateway's metrics (Effect metrics, rendered at `/metrics` with everything else in the registry).
 *
 * @since 0.1.0
 */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"

/**
 * The gateway's Effect metrics: requests answered, records and bytes accepted, and request durations
 * (seconds). The gateway updates them; `CloudWatchMetrics.definitions` names them for CloudWatch.
 *
 * @since 0.1.0
 * @category metrics
 */
export const gateway = {
  /** Tagged `route` (ingest, results, healthz, readyz, metrics, dashboard, other) and `status`. */
  requests: Metric.counter("tributary_gateway_requests_total", { description: "HTTP requests answered, by route and status", incremental: true }),
  /** Tagged `stream`. */
  recordsAccepted: Metric.counter("tributary_gateway_records_accepted_total", {
    description: "records the stream's sink acknowledged",
    incremental: true
  }),
  /** Tagged `stream`. */
  bytesAccepted: Metric.counter("tributary_gateway_bytes_accepted_total", {
    description: "data bytes (without partition keys) the stream's sink acknowledged",
    incremental: true
  }),
  /** Tagged `route`. */
  duration: Metric.histogram(
    "tributary_gateway_request_duration_seconds",
    MetricBoundaries.fromIterable([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]),
    "time from request to response"
  )
} as const
