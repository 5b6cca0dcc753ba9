import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as LeaseStore from "../src/LeaseStore.js"
import * as TributaryError from "../src/TributaryError.js"
import * as LeaseStoreContract from "../test-utils/LeaseStoreContract.js"

LeaseStoreContract.run("memory", LeaseStore.layerMemory)

describe("LeaseStore", () => {
  it("lease errors belong to the core error family and say they are permanent", () => {
    const lost = new LeaseStore.LeaseLost({ leaseKey: "s", owner: "w1", operation: "renew", expectedCounter: 3 })
    const conflict = new LeaseStore.LeaseConflict({ leaseKey: "s", operation: "acquire", expectedCounter: 0 })
    const failed = new LeaseStore.LeaseStoreError({ operation: "list", reason: "throttled", retryability: "transient" })
    for (const error of [lost, conflict, failed]) {
      expect(TributaryError.isTributaryError(error)).toBe(true)
      expect(LeaseStore.isLeaseError(error)).toBe(true)
    }
    expect(LeaseStore.isLeaseError(new TributaryError.SinkError({ sink: "x", reason: "y", retryability: "permanent" }))).toBe(false)
    expect([lost.retryability, conflict.retryability, failed.retryability]).toStrictEqual(["permanent", "permanent", "transient"])
    expect(lost.message).toBe("lease s is no longer held by w1 at counter 3 (renew)")
    expect(conflict.message).toBe("lease s changed since counter 0 was observed (acquire)")
    expect(failed.message).toBe("lease store list failed (transient): throttled")
  })

  it("checkpointEquals, resumeFrom, isShardEnd", () => {
    const a = { sequenceNumber: "10", subSequenceNumber: 1, watermark: 5, processed: { sequenceNumber: "12", subSequenceNumber: 0 } }
    expect(LeaseStore.checkpointEquals(a, { ...a, processed: { ...a.processed } })).toBe(true)
    expect(LeaseStore.checkpointEquals(a, { ...a, watermark: 6 })).toBe(false)
    expect(LeaseStore.checkpointEquals(a, { sequenceNumber: "10", subSequenceNumber: 1, watermark: 5 })).toBe(false)
    expect(LeaseStore.checkpointEquals("SHARD_END", "SHARD_END")).toBe(true)
    expect(LeaseStore.checkpointEquals("LATEST", a)).toBe(false)
    expect(LeaseStore.resumeFrom({ checkpoint: a })).toBe(a)
    expect(LeaseStore.resumeFrom({ checkpoint: "TRIM_HORIZON" })).toBeUndefined()
    expect(LeaseStore.isShardEnd({ checkpoint: "SHARD_END" })).toBe(true)
    expect(LeaseStore.isShardEnd({ checkpoint: a })).toBe(false)
  })

  it.effect("make validates new leases before they reach the store", () =>
    Effect.gen(function*() {
      const store = yield* LeaseStore.makeMemory
      const valid = { leaseKey: "s", checkpoint: "TRIM_HORIZON" as const, hashRange: { start: "0", end: "9" } }
      const invalid = [
        { ...valid, leaseKey: "" },
        { ...valid, hashRange: { start: "-1", end: "9" } },
        { ...valid, hashRange: { start: "0", end: "1".repeat(40) } },
        { ...valid, parentShardIds: ["p", "p"] },
        { ...valid, parentShardIds: [""] },
        { ...valid, checkpoint: { sequenceNumber: "1e5", subSequenceNumber: 0 } }
      ]
      for (const lease of invalid) {
        const error = yield* Effect.flip(store.createIfAbsent(lease))
        expect(error.reason, JSON.stringify(lease)).toMatch(/^invalid argument: /)
        expect(error.retryability).toBe("permanent")
      }
      expect(yield* store.list).toStrictEqual([])
      const noOwner = yield* Effect.flip(store.acquire({ leaseKey: "s", counter: 0, owner: null }, ""))
      expect(noOwner._tag).toBe("LeaseStoreError")
      const badCounter = yield* Effect.flip(store.renew({ leaseKey: "s", counter: -1, owner: "w" }))
      expect(badCounter._tag).toBe("LeaseStoreError")
    }))
})
