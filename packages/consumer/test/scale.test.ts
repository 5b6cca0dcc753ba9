/**
 * The scale simulation at a small size (256 shards, 16 workers): the real coordinators on a modelled lease
 * table and shard listing, in virtual time (see test-utils/simulation). `pnpm bench` runs the same
 * scenarios at 4,096 shards and 256 workers.
 */
import { describe, expect, it } from "@effect/vitest"
import type * as Fleet from "../test-utils/simulation/Fleet.js"
import * as Scenarios from "../test-utils/simulation/Scenarios.js"

const size = Scenarios.small
// a simulation takes a few seconds of CPU: generous, for a loaded machine
const timeout = 300_000

/**
 * Every shard ready to be processed has exactly one worker, the one the table names; no lease went back and
 * forth; a worker whose lease was taken stopped within a lease duration.
 */
const expectSettled = (report: Fleet.Report) => {
  expect(report.settleMillis).toBeDefined()
  expect({ unowned: report.unowned, heldTwice: report.heldTwice, disagreeing: report.disagreeing }).toStrictEqual({
    unowned: 0,
    heldTwice: 0,
    disagreeing: 0
  })
  expect(report.stolenBack).toBe(0)
  expect(report.longestHeldTwiceMillis).toBeLessThanOrEqual(Scenarios.leaseMillis)
}

describe("scale simulation (small)", () => {
  it("cold start, 5 % of the shards carrying half of the traffic: every shard taken within a take interval; lease counts even, load not; throughput-aware assignment within 25 % of the mean load", async () => {
    const byCount = await Scenarios.hotShards(size, "leases")
    expectSettled(byCount.report)
    expect(byCount.report.longestUnownedMillis).toBeLessThanOrEqual(byCount.failoverBoundMillis)
    expect([byCount.report.minLeasesPerWorker, byCount.report.maxLeasesPerWorker]).toStrictEqual([16, 16])
    expect(byCount.report.maxOverMeanLoad).toBeGreaterThan(1.25)

    const byThroughput = await Scenarios.hotShards(size, "bytes")
    expectSettled(byThroughput.report)
    expect(byThroughput.report.longestUnownedMillis).toBeLessThanOrEqual(byThroughput.failoverBoundMillis)
    expect(byThroughput.report.maxOverMeanLoad).toBeLessThanOrEqual(1.25)
  }, timeout)

  it("rolling deploy: every worker replaced, gracefully; shards without a worker for at most two take intervals", async () => {
    const { failoverBoundMillis, report } = await Scenarios.rollingDeploy(size)
    expectSettled(report)
    expect(report.longestUnownedMillis).toBeLessThanOrEqual(failoverBoundMillis)
    // each lease moved at least once (its worker was replaced)
    expect(report.moves).toBeGreaterThanOrEqual(size.shards)
    expect(report.maxLeasesPerWorker - report.minLeasesPerWorker).toBeLessThanOrEqual(1)
  }, timeout)

  it("a tenth of the workers killed: their shards taken within the failover bound", async () => {
    const { failoverBoundMillis, report } = await Scenarios.killTenth(size)
    expectSettled(report)
    expect(report.longestUnownedMillis).toBeGreaterThan(10_000) // they waited for the leases to expire
    expect(report.longestUnownedMillis).toBeLessThanOrEqual(failoverBoundMillis)
    expect(report.maxLeasesPerWorker - report.minLeasesPerWorker).toBeLessThanOrEqual(1)
  }, timeout)

  it("a reshard to twice the shards: parents finished, children taken at once, an even split", async () => {
    const { failoverBoundMillis, report } = await Scenarios.reshard(size)
    expectSettled(report)
    expect(report.longestUnownedMillis).toBeLessThanOrEqual(failoverBoundMillis)
    expect([report.minLeasesPerWorker, report.maxLeasesPerWorker]).toStrictEqual([8, 8])
  }, timeout)

  it("a throttled table (about the capacity the fleet reads) and 1 % of requests failing: a worker whose lease was taken still stops within a lease duration", async () => {
    const { report } = await Scenarios.killTenth(size, {
      table: { readCapacity: 30, writeCapacity: 400, failureRate: 0.01 }
    })
    expect(report.tableThrottled).toBeGreaterThan(0)
    expect(report.longestHeldTwiceMillis).toBeLessThanOrEqual(Scenarios.leaseMillis)
  }, timeout)
})
