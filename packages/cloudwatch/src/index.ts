/**
 * @since 0.1.0
 */
export * as CloudWatchMetrics from "./CloudWatchMetrics.js"
export * as Emf from "./Emf.js"
export * as MetricPublisher from "./MetricPublisher.js"
