/**
 * OpenTelemetry tracing for Tributary: one layer sends the spans that pipelines, sinks, leases and the AWS
 * packages open (with `Effect.withSpan`) to an OpenTelemetry collector, through `@effect/opentelemetry`.
 * Without it the spans stay in Effect's own tracer and go nowhere: tracing is off by default, and the core
 * packages do not depend on OpenTelemetry.
 *
 * ```ts
 * const program = Consumer.run(pipeline, options).pipe(Effect.provide(Tracing.layer({ serviceName: "orders-worker" })))
 * ```
 *
 * It is configured by the standard `OTEL_*` environment variables:
 *
 * | variable | effect |
 * | --- | --- |
 * | `OTEL_SDK_DISABLED` | `true`: the layer does nothing |
 * | `OTEL_SERVICE_NAME` | the service name (wins over the `serviceName` option) |
 * | `OTEL_RESOURCE_ATTRIBUTES` | more resource attributes, `key=value,...` |
 * | `OTEL_TRACES_EXPORTER` | `otlp` (default), `console`, or `none` |
 * | `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | where spans go (OTLP over HTTP, JSON); default `http://localhost:4318/v1/traces` |
 * | `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_EXPORTER_OTLP_COMPRESSION` | the exporter's headers, timeout, compression |
 * | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | sampling (e.g. `parentbased_traceidratio` and `0.1`) |
 * | `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, ... | the batch span processor |
 *
 * @since 0.1.0
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import type { Attributes } from "@opentelemetry/api"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base"
import { BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

/**
 * Options of `layer`: the service's identity in the traces, and where spans go when the `OTEL_*` variables
 * should not decide.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The service name when `OTEL_SERVICE_NAME` is not set. Default "tributary". */
  readonly serviceName?: string
  /** The `service.version` resource attribute, e.g. the package's version. Default none. */
  readonly serviceVersion?: string
  /** More resource attributes (`OTEL_RESOURCE_ATTRIBUTES` adds to them). */
  readonly attributes?: Attributes
  /**
   * Where spans go instead of what `OTEL_TRACES_EXPORTER` says: e.g. a `SimpleSpanProcessor` over an
   * `InMemorySpanExporter` in tests.
   */
  readonly spanProcessor?: SpanProcessor | ReadonlyArray<SpanProcessor>
  /** How long closing the layer waits for the last spans to be exported. Default 3 seconds. */
  readonly shutdownTimeout?: Duration.DurationInput
}

/** The span processors `OTEL_TRACES_EXPORTER` asks for. */
const processorsFromEnv = Effect.gen(function*() {
  const exporter = yield* Config.string("OTEL_TRACES_EXPORTER").pipe(Config.withDefault("otlp"))
  const processors: Array<SpanProcessor> = []
  for (const name of exporter.split(",").map((s) => s.trim().toLowerCase())) {
    if (name === "otlp") processors.push(new BatchSpanProcessor(new OTLPTraceExporter()))
    else if (name === "console") processors.push(new SimpleSpanProcessor(new ConsoleSpanExporter()))
    else if (name !== "none" && name !== "") yield* Effect.logWarning(`OTEL_TRACES_EXPORTER: unknown exporter ${name}, ignored`)
  }
  return processors
})

/**
 * Turns tracing on for the effects it is provided to: Effect's spans become OpenTelemetry spans, exported
 * as the `OTEL_*` variables say (OTLP over HTTP by default), or to the `spanProcessor` given. Closing the
 * layer flushes the spans not yet exported.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<never> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const disabled = yield* Config.boolean("OTEL_SDK_DISABLED").pipe(Config.withDefault(false))
    if (disabled) return Layer.empty
    const fromEnv = yield* Config.option(Config.nonEmptyString("OTEL_SERVICE_NAME"))
    const spanProcessor = options.spanProcessor ?? (yield* processorsFromEnv)
    const sdk = NodeSdk.layer(() => ({
      spanProcessor,
      resource: {
        serviceName: Option.getOrElse(fromEnv, () => options.serviceName ?? "tributary"),
        ...(options.serviceVersion === undefined ? {} : { serviceVersion: options.serviceVersion }),
        ...(options.attributes === undefined ? {} : { attributes: options.attributes })
      },
      shutdownTimeout: Duration.decode(options.shutdownTimeout ?? "3 seconds")
    }))
    return sdk
  }).pipe(Effect.orDie))
