/**
 * @since 0.1.0
 */
export * as ApiKeys from "./ApiKeys.js"
export * as Dashboard from "./Dashboard.js"
export * as Gateway from "./Gateway.js"
export * as HttpError from "./HttpError.js"
export * as Ingest from "./Ingest.js"
export * as Metrics from "./Metrics.js"
export * as Prometheus from "./Prometheus.js"
export * as RateLimiter from "./RateLimiter.js"
export * as ResultsCache from "./ResultsCache.js"
export * as Server from "./Server.js"
