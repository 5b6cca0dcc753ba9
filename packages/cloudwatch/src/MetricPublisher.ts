/**
 * Publishes Tributary's metrics to CloudWatch with PutMetricData, for workers whose logs do not reach
 * CloudWatch Logs as EMF: every `interval` (1 minute by default) the registry's changes since the previous
 * round become metric data, sent in batches of up to 1,000 data per call (CloudWatch's limit). Counters go
 * as increases, gauges as values, histograms as values with counts (see `CloudWatchMetrics`).
 *
 * A round that fails (CloudWatch throttled or unreachable after a few retries) keeps its data for the next
 * round, up to `maxPending` data, so an outage of a few minutes loses nothing; past that the oldest are
 * dropped, with a warning. The layer publishes once more when it closes.
 *
 * The client needs `cloudwatch:PutMetricData` (a condition on `cloudwatch:namespace` can narrow it).
 *
 * @since 0.1.0
 */
import type { MetricDatum, PutMetricDataInput } from "@aws-sdk/client-cloudwatch"
import { CloudWatchClient as SdkCloudWatchClient, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch"
import { AwsError } from "@tributary/aws"
import * as Retry from "@tributary/core/Retry"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type { Definition, Sample } from "./CloudWatchMetrics.js"
import { defaultNamespace, definitions as tributaryDefinitions, makeCollector } from "./CloudWatchMetrics.js"

/**
 * PutMetricData's limits.
 *
 * @since 0.1.0
 * @category constants
 */
export const limits = { datumsPerCall: 1_000, valuesPerDatum: 150 } as const

/**
 * A PutMetricData call failed, read like every AWS error (see `AwsError` of @tributary/aws): its `reason`
 * says what went wrong, `retryability` is `transient` for throttling, 5xx and network failures and
 * `permanent` for the rest (access denied, invalid data).
 *
 * @since 0.1.0
 * @category errors
 */
export class CloudWatchError extends AwsError.ServiceError("CloudWatchError", "CloudWatch") {}

const fromSdkError: (operation: string, error: unknown) => CloudWatchError = AwsError.classifier(CloudWatchError)

/**
 * The `CloudWatch` service: the SDK client, and the one call the publisher makes.
 *
 * @since 0.1.0
 * @category models
 */
export interface CloudWatchShape {
  /** The AWS SDK client the calls go through, for calls this service does not wrap. */
  readonly client: SdkCloudWatchClient
  /** Sends one PutMetricData request as is; fails with `CloudWatchError` (no retry here). */
  readonly putMetricData: (input: PutMetricDataInput) => Effect.Effect<void, CloudWatchError>
}

/**
 * The AWS SDK's CloudWatch client as a service.
 *
 * @since 0.1.0
 * @category tags
 */
export class CloudWatch extends Context.Tag("@tributary/cloudwatch/CloudWatch")<CloudWatch, CloudWatchShape>() {}

/**
 * Wraps an existing client (it is not destroyed by this service).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromClient = (client: SdkCloudWatchClient): CloudWatchShape => ({
  client,
  putMetricData: (input) =>
    Effect.tryPromise({
      try: (abortSignal) => client.send(new PutMetricDataCommand(input), { abortSignal }),
      catch: (error) => fromSdkError("PutMetricData", error)
    }).pipe(Effect.asVoid)
})

/**
 * A client from SDK settings, destroyed when the layer closes.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient = (config: ConstructorParameters<typeof SdkCloudWatchClient>[0] = {}): Layer.Layer<CloudWatch> =>
  Layer.scoped(
    CloudWatch,
    Effect.map(
      Effect.acquireRelease(Effect.sync(() => new SdkCloudWatchClient(config)), (client) => Effect.sync(() => client.destroy())),
      fromClient
    )
  )

/**
 * A client from the standard AWS settings: region from `AWS_REGION` (or `AWS_DEFAULT_REGION`), the
 * endpoint from `AWS_ENDPOINT_URL_CLOUDWATCH` or `AWS_ENDPOINT_URL`, credentials from the SDK's default
 * chain. `overrides` win.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClientConfig = (
  overrides: ConstructorParameters<typeof SdkCloudWatchClient>[0] = {}
): Layer.Layer<CloudWatch, ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const region = yield* Config.option(Config.nonEmptyString("AWS_REGION").pipe(
      Config.orElse(() => Config.nonEmptyString("AWS_DEFAULT_REGION"))
    ))
    const endpoint = yield* Config.option(Config.nonEmptyString("AWS_ENDPOINT_URL_CLOUDWATCH").pipe(
      Config.orElse(() => Config.nonEmptyString("AWS_ENDPOINT_URL"))
    ))
    return layerClient({
      ...(Option.isSome(region) ? { region: region.value } : {}),
      ...(Option.isSome(endpoint) ? { endpoint: endpoint.value } : {}),
      ...overrides
    })
  }))

/**
 * Options of `make` and `layer`: the namespace, which metrics go out, how often, and how failures are
 * absorbed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The CloudWatch namespace the metrics are put in. Default `Tributary`. */
  readonly namespace?: string
  /** Which Effect metrics are sent, and how. Default `CloudWatchMetrics.definitions`. */
  readonly definitions?: Readonly<Record<string, Definition>>
  /** How often a round runs. Default 1 minute. */
  readonly interval?: Duration.DurationInput
  /** 60 (standard, default) or 1 (high resolution, billed more). */
  readonly storageResolution?: 1 | 60
  /** Data kept for the next round when a round fails. Default 10,000. */
  readonly maxPending?: number
  /** How a failing call is retried within a round. Default 3 retries, 200 ms doubling, jittered. */
  readonly retry?: Schedule.Schedule<unknown, CloudWatchError>
}

/**
 * Samples as metric data: one datum per sample and dimension set (histograms with `Values` and `Counts`,
 * at most 150 values to a datum).
 *
 * @since 0.1.0
 * @category rendering
 */
export const toMetricData = (
  samples: ReadonlyArray<Sample>,
  timestamp: number,
  storageResolution: 1 | 60 = 60
): Array<MetricDatum> => {
  const out: Array<MetricDatum> = []
  const at = new Date(timestamp)
  for (const sample of samples) {
    for (const set of sample.definition.dimensionSets) {
      const base = {
        MetricName: sample.definition.name,
        Dimensions: set.map((name) => ({ Name: name, Value: sample.dimensions[name] })),
        Timestamp: at,
        Unit: sample.definition.unit,
        StorageResolution: storageResolution
      }
      if (typeof sample.value === "number") {
        out.push({ ...base, Value: sample.value })
        continue
      }
      const { counts, values } = sample.value
      for (let from = 0; from < values.length; from += limits.valuesPerDatum) {
        out.push({
          ...base,
          Values: values.slice(from, from + limits.valuesPerDatum),
          Counts: counts.slice(from, from + limits.valuesPerDatum)
        })
      }
    }
  }
  return out
}

/**
 * Publishes the registry's changes on demand; `layer` runs it on a schedule.
 *
 * @since 0.1.0
 * @category models
 */
export interface Publisher {
  /**
   * One round: what changed since the previous round, plus what a failed round left, in calls of up to
   * 1,000 data. Answers the number of data sent; on failure the data wait for the next round.
   */
  readonly publish: Effect.Effect<number, CloudWatchError>
  /** Data waiting for the next round. */
  readonly pending: Effect.Effect<number>
}

/**
 * A publisher over the default metric registry that sends through the `CloudWatch` service; transient
 * failures (throttling, 5xx, network) are retried with `retry`, permanent ones fail the round at once.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Publisher, never, CloudWatch> =>
  Effect.gen(function*() {
    const cloudwatch = yield* CloudWatch
    const collector = makeCollector(options.definitions ?? tributaryDefinitions)
    const namespace = options.namespace ?? defaultNamespace
    const maxPending = options.maxPending ?? 10_000
    const retry = options.retry ?? Retry.exponential({ base: "200 millis", times: 3 })
    let pending: Array<MetricDatum> = []

    const publish = Effect.gen(function*() {
      const pairs = yield* Metric.snapshot
      const now = yield* Clock.currentTimeMillis
      pending = pending.concat(toMetricData(collector.collect(pairs), now, options.storageResolution))
      if (pending.length > maxPending) {
        const dropped = pending.length - maxPending
        pending = pending.slice(dropped)
        yield* Effect.logWarning(`CloudWatch metrics: ${dropped} data dropped, more than ${maxPending} waited`)
      }
      let sent = 0
      while (pending.length > 0) {
        const batch = pending.slice(0, limits.datumsPerCall)
        yield* Effect.retry(cloudwatch.putMetricData({ Namespace: namespace, MetricData: batch }), {
          schedule: retry,
          while: (error) => error.retryability === "transient"
        })
        pending = pending.slice(batch.length)
        sent += batch.length
      }
      return sent
    })
    return { publish, pending: Effect.sync(() => pending.length) }
  })

/**
 * Publishes every `interval` while the layer is alive, and once more when it closes. A failed round is
 * logged (warning) and its data wait for the next.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<never, never, CloudWatch> =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const publisher = yield* make(options)
    const round = publisher.publish.pipe(
      Effect.catchAll((error) => Effect.logWarning("CloudWatch metrics not published; retried next round", error))
    )
    yield* Effect.addFinalizer(() => round)
    yield* Effect.forkScoped(Effect.schedule(round, Schedule.spaced(Duration.decode(options.interval ?? "1 minute"))))
  }))
