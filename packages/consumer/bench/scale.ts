/**
 * The scale simulation at full size (issue 20): 4,096 shards and 256 workers, each worker the real lease
 * coordinator, on a modelled DynamoDB lease table and Kinesis shard listing, in virtual time (see
 * test-utils/simulation). One line per scenario:
 *
 *   bench scale <scenario>: settle <s>, max leases per worker <n>, lease moves <n>, peak lease-table RCU/s <n>
 *   WCU/s <n>, shard-list calls/s <n>, unowned shard-seconds <n>
 *
 * and, for the hot-shard scenario, the heaviest worker's load over the mean for both assignment policies.
 * The figures are virtual-time figures: the same on every machine (the runs are seeded); only the CPU time
 * printed after each line depends on the machine.
 *
 *   tsx packages/consumer/bench/scale.ts       (SIZE=small for the suite's 256 shards and 16 workers)
 *
 * At full size it takes about 12 minutes of CPU (one core); at the small size about 15 seconds.
 */
import * as Scenarios from "../test-utils/simulation/Scenarios.js"

const size = process.env.SIZE === "small" ? Scenarios.small : Scenarios.full

const report = async (run: () => Promise<Scenarios.Outcome>, withLoad = false, alsoAs?: string) => {
  const cpu = process.cpuUsage()
  const outcome = await run()
  const used = process.cpuUsage(cpu)
  const r = outcome.report
  if (alsoAs !== undefined) console.log(Scenarios.line({ ...outcome, name: alsoAs }))
  console.log(
    `${Scenarios.line(outcome, withLoad)} (steady RCU/s ${Math.round(r.steadyReadUnits)} WCU/s ${Math.round(r.steadyWriteUnits)}, ` +
      `longest unowned ${(r.longestUnownedMillis / 1000).toFixed(1)} s of a ${outcome.failoverBoundMillis / 1000} s bound, ` +
      `leases stolen back ${r.stolenBack}, ` +
      `throttled: lease-table requests ${Math.round(r.tableThrottled)}, ListShards calls ${Math.round(r.listShardsThrottled)}, ` +
      `${((used.user + used.system) / 1e6).toFixed(0)} s CPU)`
  )
  return outcome
}

console.log(`scale simulation: ${size.shards} shards, ${size.workers} workers, coordinator defaults`)
await report(() => Scenarios.rollingDeploy(size))
await report(() => Scenarios.killTenth(size))
await report(() => Scenarios.reshard(size))
// the cold start on the hot-shard stream: with lease counts balanced, the traffic changes nothing in the
// run (no load is measured), so this one run is both the cold start and the hot-shard baseline
await report(() => Scenarios.hotShards(size, "leases"), true, "cold-start")
await report(() => Scenarios.hotShards(size, "bytes"), true)
