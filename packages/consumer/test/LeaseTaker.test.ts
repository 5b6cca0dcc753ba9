import { describe, expect, it } from "@effect/vitest"
import type { Lease } from "@tributary/core/LeaseStore"
import * as fc from "fast-check"
import type { TakeInput } from "../src/LeaseTaker.js"
import * as LeaseTaker from "../src/LeaseTaker.js"

const hashRange = { start: "0", end: "1" }

const lease = (leaseKey: string, owner: string | null, options: Partial<Lease> = {}): Lease => ({
  leaseKey,
  owner,
  counter: 1,
  checkpoint: "TRIM_HORIZON",
  parentShardIds: [],
  hashRange,
  ownerSwitchesSinceCheckpoint: 0,
  ...options
})

const key = (i: number) => `shardId-${String(i).padStart(12, "0")}`

/** A lease table of up to 40 leases over up to 5 workers, seen by one of them, with expiry and waiting judged. */
const arbitraryInput: fc.Arbitrary<TakeInput> = fc.integer({ min: 1, max: 5 }).chain((workers) =>
  fc.record({
    me: fc.integer({ min: 0, max: workers - 1 }),
    leases: fc.array(
      fc.record({
        owner: fc.option(fc.integer({ min: 0, max: workers - 1 }), { nil: null }),
        finished: fc.integer({ min: 0, max: 4 }).map((n) => n === 0), // a few leases reached SHARD_END
        expired: fc.boolean(),
        waiting: fc.boolean(),
        heldByMe: fc.boolean()
      }),
      { maxLength: 40 }
    ),
    maxLeasesPerWorker: fc.oneof(fc.constant(Number.POSITIVE_INFINITY), fc.integer({ min: 1, max: 10 })),
    maxLeasesToStealAtOneTime: fc.integer({ min: 1, max: 4 })
  }).map(({ leases, maxLeasesPerWorker, maxLeasesToStealAtOneTime, me }): TakeInput => {
    const workerId = `w${me}`
    const table = leases.map((l, i) => lease(key(i), l.owner === null ? null : `w${l.owner}`, l.finished ? { checkpoint: "SHARD_END" } : {}))
    return {
      workerId,
      leases: table,
      // a worker holds leases the table names it owner of (or, after a lost answer, some it does not know yet)
      held: new Set(table.filter((l, i) => l.owner === workerId && leases[i].heldByMe).map((l) => l.leaseKey)),
      expired: new Set(table.filter((_, i) => leases[i].expired).map((l) => l.leaseKey)),
      waiting: new Set(table.filter((_, i) => leases[i].waiting).map((l) => l.leaseKey)),
      maxLeasesPerWorker,
      maxLeasesToStealAtOneTime
    }
  })
)

describe("LeaseTaker.planTake", () => {
  it("takes only leases it may, each for the right reason", () =>
    fc.assert(fc.property(arbitraryInput, (input) => {
      const plan = LeaseTaker.planTake(input)
      const keys = plan.take.map((t) => t.lease.leaseKey)
      expect(new Set(keys).size).toBe(keys.length)
      for (const { lease, reason } of plan.take) {
        expect(lease.checkpoint).not.toBe("SHARD_END")
        expect(input.waiting.has(lease.leaseKey)).toBe(false)
        expect(input.held.has(lease.leaseKey)).toBe(false)
        const expected = lease.owner === null
          ? "unowned"
          : lease.owner === input.workerId
          ? "reclaimed"
          : input.expired.has(lease.leaseKey)
          ? "expired"
          : "stolen"
        expect(reason).toBe(expected)
        if (reason === "stolen") expect(lease.owner).toBe(plan.stealFrom)
      }
    })))

  it("never takes beyond the even share, and steals only when nothing is free, a bounded number at a time", () =>
    fc.assert(fc.property(arbitraryInput, (input) => {
      const plan = LeaseTaker.planTake(input)
      const mine = plan.counts.get(input.workerId)!
      expect(mine).toBe(input.held.size - [...input.held].filter((k) =>
        input.waiting.has(k) || input.leases.find((l) => l.leaseKey === k)?.checkpoint === "SHARD_END"
      ).length)
      expect(plan.target).toBeLessThanOrEqual(input.maxLeasesPerWorker)
      expect(mine + plan.take.length).toBeLessThanOrEqual(Math.max(plan.target, mine))
      const stealing = plan.take.some((t) => t.reason === "stolen")
      if (stealing) {
        expect(plan.take.every((t) => t.reason === "stolen")).toBe(true)
        expect(plan.take.length).toBeLessThanOrEqual(input.maxLeasesToStealAtOneTime)
        // nothing was free to take instead
        const free = input.leases.filter((l) =>
          l.checkpoint !== "SHARD_END" && !input.waiting.has(l.leaseKey) && !input.held.has(l.leaseKey) &&
          (l.owner === null || l.owner === input.workerId || input.expired.has(l.leaseKey))
        )
        expect(free).toStrictEqual([])
      }
    })))

  it("a steal never leaves the victim with fewer leases than the thief, less one: no back and forth", () =>
    fc.assert(fc.property(arbitraryInput, (input) => {
      const plan = LeaseTaker.planTake(input)
      if (plan.stealFrom === undefined) return
      const victimAfter = plan.counts.get(plan.stealFrom)! - plan.take.length
      const thiefAfter = plan.counts.get(input.workerId)! + plan.take.length
      expect(victimAfter).toBeGreaterThanOrEqual(thiefAfter - 1)
    })))

  it("workers taking in turns from an empty table settle within one lease of each other, every lease held", () =>
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 0, max: 60 }),
      fc.integer({ min: 1, max: 3 }),
      (workers, leases, maxSteal) => {
        const owners = new Map<string, string | null>(Array.from({ length: leases }, (_, i) => [key(i), null]))
        const table = () => [...owners].map(([leaseKey, owner]) => lease(leaseKey, owner))
        // each turn applies the plan at once (a real worker acquires conditionally; nothing races here)
        for (let round = 0; round < leases + workers + 2; round++) {
          for (let w = 0; w < workers; w++) {
            const workerId = `w${w}`
            const listed = table()
            const plan = LeaseTaker.planTake({
              workerId,
              leases: listed,
              held: new Set(listed.filter((l) => l.owner === workerId).map((l) => l.leaseKey)),
              expired: new Set(),
              waiting: new Set(),
              maxLeasesPerWorker: Number.POSITIVE_INFINITY,
              maxLeasesToStealAtOneTime: maxSteal
            })
            for (const { lease } of plan.take) owners.set(lease.leaseKey, workerId)
          }
        }
        const counts = Array.from({ length: workers }, (_, w) => [...owners.values()].filter((o) => o === `w${w}`).length)
        expect([...owners.values()].every((owner) => owner !== null)).toBe(true)
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1)
      }
    )))

  it("the leases of a worker that stopped renewing are taken as expired, in the order given", () => {
    const leases = [lease(key(0), "gone"), lease(key(1), "gone"), lease(key(2), "w1"), lease(key(3), null)]
    const plan = LeaseTaker.planTake({
      workerId: "w1",
      leases,
      held: new Set([key(2)]),
      expired: new Set([key(0), key(1)]),
      waiting: new Set(),
      maxLeasesPerWorker: Number.POSITIVE_INFINITY,
      maxLeasesToStealAtOneTime: 1
    })
    // the stopped worker is no longer counted: one worker, four leases
    expect(plan.target).toBe(4)
    expect(plan.take.map((t) => [t.lease.leaseKey, t.reason])).toStrictEqual([
      [key(0), "expired"],
      [key(1), "expired"],
      [key(3), "unowned"]
    ])
  })
})
