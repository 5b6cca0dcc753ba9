import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as Prometheus from "../src/Prometheus.js"

interface Sample {
  readonly name: string
  readonly labels: ReadonlyMap<string, string>
  readonly value: string
}

/**
 * Reads the text exposition format (0.0.4), failing on what it does not allow: samples before their family's
 * TYPE, a family split in two, and histograms whose buckets do not climb in `le` (a number, `+Inf` last) with
 * non-decreasing counts, followed by `_sum` and a `_count` equal to the `+Inf` bucket.
 */
const parse = (text: string) => {
  const families = new Map<string, { type: string; samples: Array<Sample> }>()
  let current: string | undefined
  for (const line of text.split("\n")) {
    if (line === "") continue
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line)
    if (type !== null) {
      if (families.has(type[1])) throw new Error(`family ${type[1]} appears twice`)
      families.set(type[1], { type: type[2], samples: [] })
      current = type[1]
      continue
    }
    if (line.startsWith("# HELP ")) continue
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (sample === null) throw new Error(`not a sample: ${line}`)
    const family = current === undefined ? undefined : families.get(current)
    if (family === undefined || !(sample[1] === current || sample[1].startsWith(`${current}_`))) {
      throw new Error(`sample ${sample[1]} outside its family (current ${current})`)
    }
    const labels = new Map<string, string>()
    for (const [, k, v] of (sample[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels.set(k, v)
    family.samples.push({ name: sample[1], labels, value: sample[3] })
  }
  for (const [name, family] of families) {
    if (family.type !== "histogram") continue
    const bySeries = new Map<string, Array<Sample>>()
    for (const sample of family.samples) {
      const key = [...sample.labels].filter(([k]) => k !== "le").map(([k, v]) => `${k}=${v}`).join(",")
      const list = bySeries.get(key) ?? []
      list.push(sample)
      bySeries.set(key, list)
    }
    for (const [series, samples] of bySeries) {
      const buckets = samples.filter((s) => s.name === `${name}_bucket`)
      const bounds = buckets.map((s) => s.labels.get("le")!)
      expect(bounds[bounds.length - 1], `${name}{${series}}`).toBe("+Inf")
      const numeric = bounds.map((b) => (b === "+Inf" ? Infinity : Number(b)))
      for (let i = 1; i < numeric.length; i++) {
        expect(numeric[i], `${name}{${series}} le after ${bounds[i - 1]}`).toBeGreaterThan(numeric[i - 1])
        expect(Number(buckets[i].value)).toBeGreaterThanOrEqual(Number(buckets[i - 1].value))
      }
      expect(samples.map((s) => s.name)).toStrictEqual([...buckets.map(() => `${name}_bucket`), `${name}_sum`, `${name}_count`])
      expect(samples[samples.length - 1].value).toBe(buckets[buckets.length - 1].value)
    }
  }
  return families
}

describe("Prometheus", () => {
  it.effect("histogram buckets climb in numeric le order (2.5 before 10), +Inf last, then _sum and _count", () =>
    Effect.gen(function*() {
      const latency = Metric.histogram(
        "prometheus_test_latency_seconds",
        MetricBoundaries.fromIterable([0.5, 1, 2.5, 5, 10, 25, 100]),
        "latency"
      )
      for (const [route, values] of [["a", [0.2, 3, 12, 200]], ["b", [7, 7, 99]]] as const) {
        for (const value of values) yield* Metric.update(Metric.tagged(latency, "route", route), value)
      }
      yield* Metric.increment(Metric.counter("prometheus_test_requests_total"))
      const text = yield* Prometheus.render
      const families = parse(text)
      const histogram = families.get("prometheus_test_latency_seconds")!
      expect(histogram.type).toBe("histogram")
      const a = histogram.samples.filter((s) => s.labels.get("route") === "a").map((s) => `${s.name}:${s.labels.get("le") ?? ""}=${s.value}`)
      expect(a).toStrictEqual([
        "prometheus_test_latency_seconds_bucket:0.5=1",
        "prometheus_test_latency_seconds_bucket:1=1",
        "prometheus_test_latency_seconds_bucket:2.5=1",
        "prometheus_test_latency_seconds_bucket:5=2",
        "prometheus_test_latency_seconds_bucket:10=2",
        "prometheus_test_latency_seconds_bucket:25=3",
        "prometheus_test_latency_seconds_bucket:100=3",
        "prometheus_test_latency_seconds_bucket:+Inf=4",
        "prometheus_test_latency_seconds_sum:=215.2",
        "prometheus_test_latency_seconds_count:=4"
      ])
      expect(families.get("prometheus_test_requests_total")!.samples.map((s) => s.value)).toStrictEqual(["1"])
    }))

  it("the parser refuses buckets sorted as text", () => {
    const asText = [
      "# TYPE h histogram",
      "h_bucket{le=\"10\"} 1",
      "h_bucket{le=\"2.5\"} 1",
      "h_bucket{le=\"+Inf\"} 1",
      "h_sum 1",
      "h_count 1"
    ].join("\n")
    expect(() => parse(asText)).toThrow()
  })
})
