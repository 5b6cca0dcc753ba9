/**
 * What every side of the consumer benches measures in its own process: records, the time and CPU from
 * its start (modules loaded) to its last record, CPU including start-up, peak RSS, and in live runs the
 * delay from each record's put (its `DateUnixMs`) to the pipeline. No dependency: the plain loop bundles
 * this and the SDK only.
 */

import { writeFileSync } from "node:fs"

/** The bench's settings, from the environment the orchestrator gives. */
export const settings = {
  kinesis: process.env.BENCH_KINESIS ?? "",
  dynamodb: process.env.BENCH_DYNAMODB ?? "",
  stream: process.env.BENCH_STREAM ?? "",
  table: process.env.BENCH_TABLE ?? "",
  /** drain: from TRIM_HORIZON until `expect` records; live: from LATEST until `expect` or idle. */
  mode: (process.env.BENCH_MODE ?? "drain") as "drain" | "live",
  expect: Number(process.env.BENCH_EXPECT ?? 0)
}

/** Seed-shaped activities (see core/bench/data.ts), the put time in DateUnixMs. */
export const activities = ["buy", "sell", "view", "search", "click"] as const
export interface Activity {
  readonly CustomerId: string
  readonly DateUnixMs: number
  readonly Activity: "buy" | "sell" | "view" | "search" | "click"
  readonly DurationMs: number
}

export const clientConfig = (endpoint: string) => ({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "local", secretAccessKey: "local" }
})

/** Once modules are loaded: the measurements start here. */
export const start = () => {
  const startedAt = performance.now()
  const cpuAtStart = process.cpuUsage()
  // profiled (see internal/processes.ts): where the profile's samples of the measured part start
  const profile = process.env.BENCH_PROFILE
  if (profile !== undefined && profile !== "") {
    writeFileSync(`${profile}/start.${process.pid}.json`, JSON.stringify({ monotonicMicros: Number(process.hrtime.bigint() / 1000n) }))
  }
  let records = 0
  // when every shard is being read: what came before is start-up (for Tributary, its lease table)
  let cpuAtReady = cpuAtStart
  let lastAt = startedAt
  // process.cpuUsage() is a system call: taken at most every 100 ms, and when the last record comes
  let cpuAtLast = cpuAtStart
  let cpuTakenAt = startedAt
  const delays: Array<number> = []
  const putAt: Array<number> = []
  let idle: ReturnType<typeof setTimeout> | undefined

  const report = () => {
    const cpu = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1e6
    // the records put in the first second meet readers that were idle before: reported apart as well
    const firstPut = putAt.reduce((a, b) => Math.min(a, b), Infinity)
    const steady = delays.filter((_, i) => putAt[i] >= firstPut + 1_000)
    const quantile = (values: Array<number>, q: number) => {
      values.sort((a, b) => a - b)
      return values.length === 0 ? undefined : values[Math.min(values.length - 1, Math.floor(q * values.length))]
    }
    console.log(JSON.stringify({
      records,
      seconds: (lastAt - startedAt) / 1000,
      cpuSeconds: cpu(cpuAtLast) - cpu(cpuAtStart),
      cpuTotalSeconds: cpu(cpuAtLast),
      cpuReadingSeconds: cpu(cpuAtLast) - cpu(cpuAtReady),
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      p99Steady: quantile(steady, 0.99),
      p50: quantile(delays, 0.5),
      p99: quantile(delays, 0.99)
    }))
    process.exit(0)
  }

  return {
    ready: () => {
      cpuAtReady = process.cpuUsage()
      console.log("ready")
    },
    /**
     * Counts a page's records (with, in live runs, each one's put time); reports and exits once
     * `expect` records came, or in live runs 30 s after the last record.
     */
    page: (count: number, putTimes?: ArrayLike<number>) => {
      if (count === 0) return
      records += count
      const now = performance.now()
      lastAt = now
      if (now - cpuTakenAt >= 100) {
        cpuAtLast = process.cpuUsage()
        cpuTakenAt = now
      }
      if (putTimes !== undefined) {
        const wallNow = Date.now()
        for (let i = 0; i < putTimes.length; i++) {
          delays.push(wallNow - putTimes[i])
          putAt.push(putTimes[i])
        }
      }
      if (records >= settings.expect) {
        cpuAtLast = process.cpuUsage()
        return report()
      }
      if (settings.mode === "live") {
        if (idle !== undefined) clearTimeout(idle)
        idle = setTimeout(report, 30_000)
      }
    }
  }
}
