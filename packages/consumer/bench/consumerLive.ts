/**
 * `bench consumer-live`: the Tributary `Consumer` (one worker, its defaults) and a plain SDK loop (5
 * GetRecords a second per shard, `sides/sdkLoop.ts`), each started first at LATEST, then a producer in its
 * own process puts `BENCH_LIVE_RATE` records a second (4,000) for `BENCH_LIVE_SECONDS` (20) into 8 shards.
 * Each side reports the delay from each record's put to the pipeline (p50, p99), its CPU from its start
 * to its last record (and once every shard was being read, leaving out start-up) and its peak RSS. Each
 * round starts a fresh kinesalite and dynalite in their own processes and runs both sides one after the
 * other (which goes first alternates); medians over `BENCH_LIVE_ROUNDS` rounds (3 from main.ts).
 */
import type { SideReport } from "./internal/processes.js"
import { median, runRounds, runToEnd, startSide } from "./internal/processes.js"
import * as BenchStream from "./internal/stream.js"

const shards = 8

export interface Options {
  readonly rate: number
  readonly seconds: number
  readonly rounds: number
  readonly onRound?: (round: number, tributary: SideReport, loop: SideReport) => void
}

export const run = async (options: Options): Promise<string> => {
  const expected = options.rate * options.seconds
  const { loop, ratio, tributary } = await runRounds({
    rounds: options.rounds,
    onRound: options.onRound,
    prepare: async (round, endpoints) => {
      const kinesis = BenchStream.client(endpoints.kinesis)
      const stream = `live-${round}`
      await BenchStream.create(kinesis, stream, shards)
      kinesis.destroy()
      return {
        BENCH_KINESIS: endpoints.kinesis,
        BENCH_DYNAMODB: endpoints.dynamodb,
        BENCH_STREAM: stream,
        BENCH_MODE: "live",
        BENCH_EXPECT: String(expected),
        BENCH_SHARDS: String(shards),
        BENCH_RATE: String(options.rate),
        BENCH_SECONDS: String(options.seconds)
      }
    },
    side: async (name, env, round) => {
      const started = await startSide(name, { ...env, BENCH_TABLE: `live-leases-${round}-${name}` })
      await started.ready
      // the readers' first GetRecords at LATEST come right after ready
      await new Promise((resolve) => setTimeout(resolve, 1_000))
      const put = Number(await runToEnd("producer", env))
      const report = await started.report
      if (put !== expected) throw new Error(`the producer put ${put} of ${expected}`)
      if (report.records !== expected) throw new Error(`${name} counted ${report.records} of ${expected}`)
      return report
    }
  })
  const summary = (reports: ReadonlyArray<SideReport>) =>
    `p50 ${Math.round(median(reports.map((r) => r.p50 ?? NaN)))} ms p99 ${Math.round(median(reports.map((r) => r.p99 ?? NaN)))} ms ` +
    `(after the first second ${Math.round(median(reports.map((r) => r.p99Steady ?? NaN)))} ms) ` +
    `cpu ${median(reports.map((r) => r.cpuSeconds)).toFixed(2)} s rss ${Math.round(median(reports.map((r) => r.peakRssMb)))} MB`
  const p99Diff = median(tributary.map((t, i) => (t.p99 ?? NaN) - (loop[i].p99 ?? NaN)))
  return `bench consumer-live: tributary ${summary(tributary)}, sdk-loop ${summary(loop)}, ` +
    `cpu-ratio ${ratio((r) => r.cpuSeconds).toFixed(2)} (once reading: ${ratio((r) => r.cpuReadingSeconds).toFixed(2)}), ` +
    `p99-diff ${Math.round(p99Diff)} ms, rss-ratio ${ratio((r) => r.peakRssMb).toFixed(2)} ` +
    `(${options.rate.toLocaleString("en-US")} rec/s for ${options.seconds} s into ${shards} shards, median of ${options.rounds})`
}
