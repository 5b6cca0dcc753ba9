/**
 * Tributary's metrics as CloudWatch Embedded Metric Format (EMF) log lines: JSON objects whose `_aws`
 * member tells CloudWatch Logs which members are metrics, under which namespace and dimensions. CloudWatch
 * extracts the metrics from the log lines: no API call, no latency added to the work (what Lambda users and
 * Powertools for AWS Lambda do).
 *
 * ```json
 * {"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"Tributary","Dimensions":[["Pipeline"]],
 *  "Metrics":[{"Name":"RecordsIn","Unit":"Count"},{"Name":"RecordsOut","Unit":"Count"}]}]},
 *  "Pipeline":"orders","RecordsIn":500,"RecordsOut":498}
 * ```
 *
 * - In Lambda, write the lines to stdout after each invocation (`handler` wraps a handler to do so): Lambda
 *   sends stdout to CloudWatch Logs, which extracts EMF lines on its own.
 * - In a worker, `layer` writes them every minute (and when it stops); CloudWatch Logs extracts them when
 *   they reach it through the CloudWatch agent (or any sender that sets the `x-amzn-logs-format: json/emf`
 *   header). Otherwise use `MetricPublisher`, which calls PutMetricData.
 *
 * Names and dimensions: see `CloudWatchMetrics.definitions`.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import type { Definition, Sample } from "./CloudWatchMetrics.js"
import { defaultNamespace, definitions as tributaryDefinitions, makeCollector } from "./CloudWatchMetrics.js"

/**
 * EMF's limits: metrics per directive, and values of one metric in one line.
 *
 * @since 0.1.0
 * @category constants
 */
export const limits = { metricsPerDirective: 100, valuesPerMetric: 100, dimensionsPerSet: 30 } as const

/**
 * Options of `render` and `make`: the namespace, which metrics go out, and extra members of every line.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The CloudWatch namespace the metrics are put in. Default `Tributary`. */
  readonly namespace?: string
  /** Which Effect metrics are sent, and how. Default `CloudWatchMetrics.definitions`. */
  readonly definitions?: Readonly<Record<string, Definition>>
  /**
   * Members added to every line that are neither metrics nor dimensions, for searching the logs (e.g. a
   * `service` name). They must not use a metric's or a dimension's name.
   */
  readonly properties?: Readonly<Record<string, string>>
}

/**
 * Samples as EMF lines (JSON text, one object per line): one line per group of samples with the same
 * dimension sets and dimension values, carrying all their metrics; a histogram's observations are listed
 * one by one, in as many lines as EMF's 100 values per metric require.
 *
 * @since 0.1.0
 * @category rendering
 */
export const render = (
  samples: ReadonlyArray<Sample>,
  timestamp: number,
  options: Options = {}
): ReadonlyArray<string> => {
  const namespace = options.namespace ?? defaultNamespace
  const properties = options.properties ?? {}
  const groups = new Map<string, { readonly sets: ReadonlyArray<ReadonlyArray<string>>; readonly dimensions: Readonly<Record<string, string>>; readonly samples: Array<Sample> }>()
  const lines: Array<string> = []
  const line = (
    sets: ReadonlyArray<ReadonlyArray<string>>,
    dimensions: Readonly<Record<string, string>>,
    metrics: ReadonlyArray<{ readonly definition: Definition; readonly value: number | ReadonlyArray<number> }>
  ) => {
    const object: Record<string, unknown> = {
      _aws: {
        Timestamp: timestamp,
        CloudWatchMetrics: [{
          Namespace: namespace,
          Dimensions: sets,
          Metrics: metrics.map(({ definition }) => ({ Name: definition.name, Unit: definition.unit }))
        }]
      },
      ...properties,
      ...dimensions
    }
    for (const { definition, value } of metrics) object[definition.name] = value
    lines.push(JSON.stringify(object))
  }
  for (const sample of samples) {
    if (typeof sample.value !== "number") {
      // observations one by one, at most 100 to a line
      const { counts, values } = sample.value
      const expanded: Array<number> = []
      values.forEach((value, i) => {
        for (let n = 0; n < counts[i]; n++) expanded.push(value)
      })
      for (let from = 0; from < expanded.length; from += limits.valuesPerMetric) {
        line(sample.definition.dimensionSets, sample.dimensions, [{
          definition: sample.definition,
          value: expanded.slice(from, from + limits.valuesPerMetric)
        }])
      }
      continue
    }
    const key = JSON.stringify([sample.definition.dimensionSets, Object.entries(sample.dimensions).sort()])
    let group = groups.get(key)
    if (group === undefined) {
      groups.set(key, group = { sets: sample.definition.dimensionSets, dimensions: sample.dimensions, samples: [] })
    }
    group.samples.push(sample)
  }
  for (const group of groups.values()) {
    for (let from = 0; from < group.samples.length; from += limits.metricsPerDirective) {
      const metrics = group.samples.slice(from, from + limits.metricsPerDirective)
        .map((sample) => ({ definition: sample.definition, value: sample.value as number }))
      line(group.sets, group.dimensions, mergeSameName(metrics))
    }
  }
  return lines
}

/**
 * Several series of one metric in one group (they differ by a tag that is not a dimension, such as the
 * worker): their values go out as one array, which CloudWatch reads as several values.
 */
const mergeSameName = (
  metrics: ReadonlyArray<{ readonly definition: Definition; readonly value: number }>
): ReadonlyArray<{ readonly definition: Definition; readonly value: number | ReadonlyArray<number> }> => {
  const byName = new Map<string, { definition: Definition; values: Array<number> }>()
  for (const { definition, value } of metrics) {
    const found = byName.get(definition.name)
    if (found === undefined) byName.set(definition.name, { definition, values: [value] })
    else found.values.push(value)
  }
  return Array.from(byName.values(), ({ definition, values }) => ({ definition, value: values.length === 1 ? values[0] : values }))
}

/**
 * Reads the registry and renders what changed since the previous call (counters and histograms as
 * increases, gauges as they are).
 *
 * @since 0.1.0
 * @category models
 */
export interface Emitter {
  /**
   * Takes a snapshot of the registry now and answers its changes since the previous run as EMF lines,
   * stamped with the current time.
   */
  readonly lines: Effect.Effect<ReadonlyArray<string>>
}

/**
 * An emitter over the default metric registry; each emitter remembers its own previous collection, so use
 * one per destination.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Emitter => {
  const collector = makeCollector(options.definitions ?? tributaryDefinitions)
  return {
    lines: Effect.gen(function*() {
      const pairs = yield* Metric.snapshot
      const timestamp = yield* Clock.currentTimeMillis
      return render(collector.collect(pairs), timestamp, options)
    })
  }
}

/**
 * Options of `layer` and `handler`.
 *
 * @since 0.1.0
 * @category models
 */
export interface WriteOptions extends Options {
  /** Where the lines go. Default stdout, one line each. */
  readonly write?: (line: string) => void
}

/**
 * Options of `layer`: those of `handler`, and how often the lines are written.
 *
 * @since 0.1.0
 * @category models
 */
export interface LayerOptions extends WriteOptions {
  /** How often the lines are written. Default 1 minute (CloudWatch's standard resolution). */
  readonly interval?: Duration.DurationInput
}

const stdout = (line: string) => void process.stdout.write(line + "\n")

/**
 * Writes the metrics as EMF lines every `interval` while the layer is alive, and once more when it closes
 * (so a stopping worker's last counts are not lost).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: LayerOptions = {}): Layer.Layer<never> =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const emitter = make(options)
    const write = options.write ?? stdout
    const flush = Effect.flatMap(emitter.lines, (lines) => Effect.sync(() => lines.forEach(write)))
    yield* Effect.addFinalizer(() => flush)
    yield* Effect.forkScoped(
      Effect.schedule(flush, Schedule.spaced(Duration.decode(options.interval ?? "1 minute")))
    )
  }))

/**
 * Wraps a Lambda handler (e.g. `Lambda.handler(...)` of `@tributary/lambda`) so that the metrics of each
 * invocation are written as EMF lines before it returns, whether it succeeded or threw. Other members of
 * the handler (its `dispose`) are kept.
 *
 * @since 0.1.0
 * @category lambda
 */
export const handler = <H extends (...args: Array<any>) => Promise<unknown>>(wrapped: H, options: WriteOptions = {}): H => {
  const emitter = make(options)
  const write = options.write ?? stdout
  const run = async function(this: unknown, ...args: Array<unknown>) {
    try {
      return await wrapped.apply(this, args)
    } finally {
      for (const line of Effect.runSync(emitter.lines)) write(line)
    }
  }
  return Object.assign(run, wrapped) as unknown as H
}
