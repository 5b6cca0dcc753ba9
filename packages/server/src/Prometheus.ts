/**
 * Effect's metric registry (`Metric.snapshot`) in the Prometheus text exposition format (0.0.4):
 * counters, gauges, histograms (cumulative `_bucket{le}`, `_sum`, `_count`), summaries (`{quantile}`,
 * `_sum`, `_count`) and frequencies (a counter per occurrence, its value in the `key` label). Metric tags
 * become labels.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as MetricPair from "effect/MetricPair"
import * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"

/**
 * The `Content-Type` of the text exposition format, for the `/metrics` answer.
 *
 * @since 0.1.0
 * @category constants
 */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/**
 * Reads the default metric registry now and renders it (`renderPairs`).
 *
 * @since 0.1.0
 * @category rendering
 */
export const render: Effect.Effect<string> = Effect.map(Metric.snapshot, (pairs) => renderPairs(pairs))

const sanitizeName = (name: string): string => {
  const cleaned = name.replace(/[^a-zA-Z0-9_:]/g, "_")
  return /^[a-zA-Z_:]/.test(cleaned) ? cleaned : `_${cleaned}`
}

const sanitizeLabel = (name: string): string => {
  const cleaned = name.replace(/[^a-zA-Z0-9_]/g, "_")
  return /^[a-zA-Z_]/.test(cleaned) ? cleaned : `_${cleaned}`
}

const escapeValue = (value: string): string => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")
const escapeHelp = (value: string): string => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

const labels = (pairs: ReadonlyArray<readonly [string, string]>): string =>
  pairs.length === 0 ? "" : `{${pairs.map(([k, v]) => `${sanitizeLabel(k)}="${escapeValue(v)}"`).join(",")}}`

const number = (value: number | bigint): string => {
  if (typeof value === "bigint") return value.toString()
  if (Number.isNaN(value)) return "NaN"
  if (value === Infinity) return "+Inf"
  if (value === -Infinity) return "-Inf"
  return String(value)
}

interface Family {
  type: "counter" | "gauge" | "histogram" | "summary"
  help: string | undefined
  /** One entry per series (a set of tags), its lines in the order the format wants them. */
  series: Array<{ readonly labels: string; readonly lines: ReadonlyArray<string> }>
}

/**
 * Renders metric pairs as exposition text: one family per metric name (sorted, with `# HELP` from the
 * description and `# TYPE`), its series sorted by labels; characters the format does not allow in metric
 * and label names become `_`. Ends with a newline.
 *
 * @since 0.1.0
 * @category rendering
 */
export const renderPairs = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): string => {
  const families = new Map<string, Family>()
  const family = (name: string, type: Family["type"], help: string | undefined): Family => {
    let f = families.get(name)
    if (f === undefined) families.set(name, f = { type, help, series: [] })
    return f
  }
  for (const pair of pairs) {
    const name = sanitizeName(pair.metricKey.name)
    const help = Option.getOrUndefined(pair.metricKey.description)
    const tags: Array<readonly [string, string]> = pair.metricKey.tags.map((t) => [t.key, t.value] as const)
    const state = pair.metricState
    const add = (type: Family["type"], lines: ReadonlyArray<string>) =>
      family(name, type, help).series.push({ labels: labels(tags), lines })
    if (MetricState.isCounterState(state)) {
      add("counter", [`${name}${labels(tags)} ${number(state.count)}`])
    } else if (MetricState.isGaugeState(state)) {
      add("gauge", [`${name}${labels(tags)} ${number(state.value)}`])
    } else if (MetricState.isHistogramState(state)) {
      // buckets by increasing bound, +Inf last, as the exposition format requires (not sorted as text)
      const buckets = [...state.buckets].filter(([bound]) => bound !== Infinity).sort(([a], [b]) => a - b)
      add("histogram", [
        ...buckets.map(([bound, count]) => `${name}_bucket${labels([...tags, ["le", number(bound)]])} ${count}`),
        `${name}_bucket${labels([...tags, ["le", "+Inf"]])} ${state.count}`,
        `${name}_sum${labels(tags)} ${number(state.sum)}`,
        `${name}_count${labels(tags)} ${state.count}`
      ])
    } else if (MetricState.isSummaryState(state)) {
      const quantiles = [...state.quantiles].sort(([a], [b]) => a - b)
      add("summary", [
        ...quantiles.map(([quantile, value]) =>
          `${name}${labels([...tags, ["quantile", number(quantile)]])} ${Option.match(value, { onNone: () => "NaN", onSome: number })}`
        ),
        `${name}_sum${labels(tags)} ${number(state.sum)}`,
        `${name}_count${labels(tags)} ${state.count}`
      ])
    } else if (MetricState.isFrequencyState(state)) {
      for (const [key, count] of state.occurrences) {
        const keyed: ReadonlyArray<readonly [string, string]> = [...tags, ["key", key]]
        family(name, "counter", help).series.push({ labels: labels(keyed), lines: [`${name}${labels(keyed)} ${count}`] })
      }
    }
  }
  const out: Array<string> = []
  for (const name of [...families.keys()].sort()) {
    const f = families.get(name)!
    if (f.help !== undefined) out.push(`# HELP ${name} ${escapeHelp(f.help)}`)
    out.push(`# TYPE ${name} ${f.type}`)
    // series in a stable order (by their labels), each series' lines as they were made
    const series = f.series.slice().sort((a, b) => (a.labels < b.labels ? -1 : a.labels > b.labels ? 1 : 0))
    for (const entry of series) for (const line of entry.lines) out.push(line)
  }
  return out.join("\n") + "\n"
}
