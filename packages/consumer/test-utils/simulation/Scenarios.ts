/**
 * The scenarios of the scale simulation (issue 20), at any size: `full` (4,096 shards, 256 workers) for
 * `pnpm bench`, `small` (256 shards, 16 workers) for the test suite. Every worker runs with the
 * coordinator's defaults (lease 10 s, renewals every 3.3 s, take rounds every 10 s, shard sync every
 * minute) unless a scenario says otherwise.
 */
import * as Effect from "effect/Effect"
import type * as LeaseCoordinator from "../../src/LeaseCoordinator.js"
import type * as LeaseTaker from "../../src/LeaseTaker.js"
import * as Fleet from "./Fleet.js"
import * as Random from "./Random.js"

/**
 * @since 0.1.0
 */
export interface Size {
  readonly shards: number
  readonly workers: number
  /** The shards of the stream that is resharded to twice as many. */
  readonly reshardFrom: number
}

export const full: Size = { shards: 4_096, workers: 256, reshardFrom: 1_024 }
export const small: Size = { shards: 256, workers: 16, reshardFrom: 64 }

/** A scenario's outcome. */
export interface Outcome {
  readonly name: string
  readonly report: Fleet.Report
  /** The longest a shard may go without a worker in this scenario, by the coordinator's guarantees. */
  readonly failoverBoundMillis: number
}

/** The coordinator's defaults. */
export const leaseMillis = 10_000
/** The default take interval: the lease duration. */
export const takeMillis = leaseMillis
/** The fleet has settled once no lease was acquired for two take rounds (and every shard has a worker). */
const quiet = { quietMillis: 2 * takeMillis + 1_000, maxMillis: 30 * 60_000 }
/** Slack for the requests in flight (a take round's scan, acquisitions one after the other). */
const slackMillis = 5_000

/**
 * All workers start within 30 s on a stream whose lease table is empty. The first ones take many leases
 * (they see few workers); the others steal their share, one lease per take round each.
 */
export const coldStart = (size: Size, options: Partial<Fleet.Options> = {}): Promise<Outcome> => outcome({
  name: "cold-start",
  failoverBoundMillis: takeMillis + slackMillis,
  report: Fleet.run({ shards: size.shards, ...options }, (fleet) =>
    Effect.gen(function*() {
      yield* fleet.mark
      yield* fleet.start(size.workers, 30_000)
      yield* fleet.settle(quiet)
    }))
})

/**
 * A settled fleet is replaced a quarter at a time, every minute: the new quarter starts, and 20 s later
 * the old quarter stops gracefully (it releases its leases).
 */
export const rollingDeploy = (size: Size, options: Partial<Fleet.Options> = {}): Promise<Outcome> => outcome({
  name: "rolling-deploy",
  // released leases are taken at the others' next take round, or the one after when that round ran while
  // the releases were under way (it counted the stopping workers, so its share was too small)
  failoverBoundMillis: 2 * takeMillis + slackMillis,
  report: Fleet.run({ shards: size.shards, ...options }, (fleet) =>
    Effect.gen(function*() {
      const old = yield* fleet.startSettled(size.workers)
      yield* Effect.sleep(30_000)
      yield* fleet.mark
      const batch = Math.ceil(size.workers / 4)
      for (let from = 0; from < old.length; from += batch) {
        yield* fleet.start(batch, 10_000)
        yield* Effect.sleep(20_000)
        yield* fleet.stop(old.slice(from, from + batch))
        yield* Effect.sleep(30_000)
      }
      yield* fleet.settle(quiet)
    }))
})

/**
 * A tenth of a settled fleet dies at once (its leases expire: nothing is released).
 */
export const killTenth = (size: Size, options: Partial<Fleet.Options> = {}): Promise<Outcome> => outcome({
  name: "kill-10%",
  // expired on the others' clocks a lease duration after they first saw its last renewal, which they see
  // up to a take interval late; a round runs as soon as a watched lease could have expired
  failoverBoundMillis: leaseMillis + takeMillis + slackMillis,
  report: Fleet.run({ shards: size.shards, ...options }, (fleet) =>
    Effect.gen(function*() {
      const workers = yield* fleet.startSettled(size.workers)
      yield* Effect.sleep(30_000)
      yield* fleet.mark
      const random = Random.make(11)
      const victims = [...workers].sort(() => random.next() - 0.5).slice(0, Math.max(1, Math.round(size.workers / 10)))
      yield* fleet.kill(victims)
      yield* fleet.settle(quiet)
    }))
})

/**
 * A settled fleet's stream goes from `reshardFrom` to twice as many shards (`UpdateShardCount`): every
 * shard splits in two; the parents are read to their end, then their children are taken.
 */
export const reshard = (size: Size, options: Partial<Fleet.Options> = {}): Promise<Outcome> => outcome({
  name: `reshard ${size.reshardFrom}->${2 * size.reshardFrom}`,
  failoverBoundMillis: takeMillis + slackMillis,
  report: Fleet.run({ shards: size.reshardFrom, ...options }, (fleet) =>
    Effect.gen(function*() {
      yield* fleet.startSettled(size.workers)
      yield* Effect.sleep(30_000)
      yield* fleet.mark
      yield* fleet.reshard
      yield* fleet.settle(quiet)
    }))
})

/** 5 % of the shards carry half of the records, the others share the other half. */
export const hotTraffic = (index: number, shards: number): number => {
  const hot = Math.max(1, Math.round(shards / 20))
  const total = shards * 100
  return index % 20 === 0 && index / 20 < hot ? total / 2 / hot : total / 2 / (shards - hot)
}

/**
 * A cold start on a stream where 5 % of the shards carry half of the traffic, balancing lease counts or
 * throughput.
 */
export const hotShards = async (size: Size, balance: LeaseTaker.Balance, options: Partial<Fleet.Options> = {}): Promise<Outcome> => {
  const coordinator: Omit<LeaseCoordinator.ConfigOptions, "workerId"> = { ...options.coordinator, balance }
  const cold = await coldStart(size, { ...options, traffic: hotTraffic, coordinator })
  return { ...cold, name: `hot-shards (${balance === "leases" ? "lease counts" : "throughput"})` }
}

const outcome = async (pending: Omit<Outcome, "report"> & { readonly report: Promise<Fleet.Report> }): Promise<Outcome> => ({
  ...pending,
  report: await pending.report
})

/** Seconds with one decimal. */
const seconds = (millis: number) => (millis / 1000).toFixed(1)

/**
 * The bench line of an outcome: `bench scale <scenario>: settle <s>, max leases per worker <n>, lease moves
 * <n>, peak lease-table RCU/s <n> WCU/s <n>, shard-list calls/s <n>, unowned shard-seconds <n>`, and the
 * heaviest worker's load over the mean when the traffic is skewed.
 */
export const line = (outcome: Outcome, withLoad = false): string => {
  const r = outcome.report
  const settle = r.settleMillis === undefined ? `not within ${seconds(r.virtualMillis)}` : seconds(r.settleMillis)
  return `bench scale ${outcome.name}: settle ${settle}, max leases per worker ${r.maxLeasesPerWorker}, ` +
    `lease moves ${r.moves}, peak lease-table RCU/s ${Math.round(r.peakReadUnits)} WCU/s ${Math.round(r.peakWriteUnits)}, ` +
    `shard-list calls/s ${r.peakListShardsCalls}, unowned shard-seconds ${Math.round(r.unownedShardSeconds)}` +
    (withLoad ? `, max/mean load per worker ${r.maxOverMeanLoad.toFixed(3)}` : "")
}
