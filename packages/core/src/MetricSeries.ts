/**
 * One series of a metric (the metric with fixed tags), resolved once, for what is counted per page or per
 * call: updating it goes straight to the series. Effect's `Metric.tagged` merges the tags into a new array
 * and looks the series up in the registry again on every update (a few microseconds each time); a series
 * keeps one array, which the metric resolves once.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import type * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"

/**
 * A metric's series with its tags fixed: updates go straight to it, without a registry lookup.
 *
 * @since 0.1.0
 * @category models
 */
export interface MetricSeries<in In> {
  /** Updates the series (a counter adds, a gauge sets, a histogram records), for use inside `Effect.sync`. */
  readonly unsafeUpdate: (input: In) => void
  /** `unsafeUpdate` as an effect. */
  readonly update: (input: In) => Effect.Effect<void>
}

/**
 * The series of `metric` with `tags` and the current fiber's metric labels (`Effect.labelMetrics`), the
 * series `Metric.tagged` would update from this fiber. `metric` is best an untagged metric (as
 * `Metric.counter`, `Metric.gauge` make it): the registry lookup is then made once.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <Type, In, Out>(
  metric: Metric.Metric<Type, In, Out>,
  tags: Readonly<Record<string, string>>
): Effect.Effect<MetricSeries<In>> =>
  Effect.map(FiberRef.get(FiberRef.currentMetricLabels), (fiberLabels) => unsafeMake(metric, tags, fiberLabels))

/**
 * `make` outside an effect, with the given fiber labels (default none).
 *
 * @since 0.1.0
 * @category constructors
 */
export const unsafeMake = <Type, In, Out>(
  metric: Metric.Metric<Type, In, Out>,
  tags: Readonly<Record<string, string>>,
  fiberLabels: ReadonlyArray<MetricLabel.MetricLabel> = []
): MetricSeries<In> => {
  // the same array on every update: the metric keeps the series it resolved for it
  const labels = [...Object.entries(tags).map(([key, value]) => MetricLabel.make(key, value)), ...fiberLabels]
  const unsafeUpdate = (input: In) => metric.unsafeUpdate(input, labels)
  return { unsafeUpdate, update: (input) => Effect.sync(() => unsafeUpdate(input)) }
}
