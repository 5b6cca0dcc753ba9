/**
 * `bench consumer-drain`: a catch-up drain of a pre-filled stream by the Tributary `Consumer` (one worker,
 * its defaults, DynamoDB leases on dynalite, decode + count into an in-memory sink) and by a plain SDK loop
 * doing the same work (`sides/sdkLoop.ts`). Each round starts a fresh kinesalite and dynalite, each in its
 * own process, fills an 8-shard stream, then runs both sides one after the other on it (which goes first
 * alternates), each in its own process (bundled with esbuild, run by plain node) that reports its rate,
 * its CPU from its start to its last record, and its peak RSS. Medians over the rounds; the ratios are
 * medians of each round's ratio.
 *
 * BENCH_DRAIN_RECORDS (default 200,000) sets the stream's size, BENCH_DRAIN_ROUNDS the rounds (3 from main.ts).
 */
import type { SideReport } from "./internal/processes.js"
import { median, runRounds, startSide } from "./internal/processes.js"
import * as BenchStream from "./internal/stream.js"

const shards = 8

export interface Options {
  readonly records: number
  readonly rounds: number
  /** Called with each round's reports. */
  readonly onRound?: (round: number, tributary: SideReport, loop: SideReport) => void
}

export const run = async (options: Options): Promise<string> => {
  const { loop, ratio, tributary } = await runRounds({
    rounds: options.rounds,
    onRound: options.onRound,
    prepare: async (round, endpoints) => {
      const kinesis = BenchStream.client(endpoints.kinesis)
      const stream = `drain-${round}`
      await BenchStream.fill(kinesis, stream, await BenchStream.create(kinesis, stream, shards), options.records)
      kinesis.destroy()
      return {
        BENCH_KINESIS: endpoints.kinesis,
        BENCH_DYNAMODB: endpoints.dynamodb,
        BENCH_STREAM: stream,
        BENCH_TABLE: `drain-leases-${round}`,
        BENCH_MODE: "drain",
        BENCH_EXPECT: String(options.records),
        BENCH_SHARDS: String(shards)
      }
    },
    side: async (name, env) => {
      const report = await (await startSide(name, env)).report
      if (report.records !== options.records) throw new Error(`${name} counted ${report.records} of ${options.records}`)
      return report
    }
  })
  const rate = (r: SideReport) => r.records / r.seconds
  const summary = (reports: ReadonlyArray<SideReport>) =>
    `${Math.round(median(reports.map(rate))).toLocaleString("en-US")} rec/s cpu ${median(reports.map((r) => r.cpuSeconds)).toFixed(2)} s ` +
    `rss ${Math.round(median(reports.map((r) => r.peakRssMb)))} MB`
  return `bench consumer-drain: tributary ${summary(tributary)}, sdk-loop ${summary(loop)}, ` +
    `ratio ${ratio(rate).toFixed(2)}, cpu-ratio ${ratio((r) => r.cpuSeconds).toFixed(2)} ` +
    `(once reading: ${ratio((r) => r.cpuReadingSeconds).toFixed(2)}), ` +
    `rss-ratio ${ratio((r) => r.peakRssMb).toFixed(2)} (${options.records.toLocaleString("en-US")} records, ${shards} shards, ` +
    `median of ${options.rounds})`
}
