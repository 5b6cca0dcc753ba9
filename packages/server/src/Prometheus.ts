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
 * @since 0.1.0
 * @category constants
 */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/**
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
  lines: Array<string>
}

/**
 * @since 0.1.0
 * @category rendering
 */
export const renderPairs = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): string => {
  const families = new Map<string, Family>()
  const family = (name: string, type: Family["type"], help: string | undefined): Family => {
    let f = families.get(name)
    if (f === undefined) families.set(name, f = { type, help, lines: [] })
    return f
  }
  for (const pair of pairs) {
    const name = sanitizeName(pair.metricKey.name)
    const help = Option.getOrUndefined(pair.metricKey.description)
    const tags: Array<readonly [string, string]> = pair.metricKey.tags.map((t) => [t.key, t.value] as const)
    const state = pair.metricState
    if (MetricState.isCounterState(state)) {
      family(name, "counter", help).lines.push(`${name}${labels(tags)} ${number(state.count)}`)
    } else if (MetricState.isGaugeState(state)) {
      family(name, "gauge", help).lines.push(`${name}${labels(tags)} ${number(state.value)}`)
    } else if (MetricState.isHistogramState(state)) {
      const f = family(name, "histogram", help)
      let sawInf = false
      for (const [bound, count] of state.buckets) {
        if (bound === Infinity) sawInf = true
        f.lines.push(`${name}_bucket${labels([...tags, ["le", number(bound)]])} ${count}`)
      }
      if (!sawInf) f.lines.push(`${name}_bucket${labels([...tags, ["le", "+Inf"]])} ${state.count}`)
      f.lines.push(`${name}_sum${labels(tags)} ${number(state.sum)}`)
      f.lines.push(`${name}_count${labels(tags)} ${state.count}`)
    } else if (MetricState.isSummaryState(state)) {
      const f = family(name, "summary", help)
      for (const [quantile, value] of state.quantiles) {
        f.lines.push(`${name}${labels([...tags, ["quantile", number(quantile)]])} ${Option.match(value, { onNone: () => "NaN", onSome: number })}`)
      }
      f.lines.push(`${name}_sum${labels(tags)} ${number(state.sum)}`)
      f.lines.push(`${name}_count${labels(tags)} ${state.count}`)
    } else if (MetricState.isFrequencyState(state)) {
      const f = family(name, "counter", help)
      for (const [key, count] of state.occurrences) f.lines.push(`${name}${labels([...tags, ["key", key]])} ${count}`)
    }
  }
  const out: Array<string> = []
  for (const name of [...families.keys()].sort()) {
    const f = families.get(name)!
    if (f.help !== undefined) out.push(`# HELP ${name} ${escapeHelp(f.help)}`)
    out.push(`# TYPE ${name} ${f.type}`)
    for (const line of f.lines.sort()) out.push(line)
  }
  return out.join("\n") + "\n"
}
