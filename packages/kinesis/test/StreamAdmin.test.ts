import { describe, expect, it } from "@effect/vitest"
import * as FaultProxy from "@tributary/local/FaultProxy"
import * as Effect from "effect/Effect"
import * as Kinesis from "../src/Kinesis.js"
import * as StreamAdmin from "../src/StreamAdmin.js"
import { kinesalite, proxied, streamName } from "./helpers.js"

const full = (1n << 128n) - 1n

describe("StreamAdmin (kinesalite)", () => {
  it.scopedLive("ensureStream creates the stream once, waits for ACTIVE, and is idempotent", () =>
    Effect.gen(function*() {
      const stream = streamName()
      const first = yield* StreamAdmin.ensureStream(stream, { shards: 3 })
      const again = yield* StreamAdmin.ensureStream(stream, { shards: 5 })
      expect([first.status, first.openShardCount, first.name]).toEqual(["ACTIVE", 3, stream])
      expect([again.status, again.openShardCount]).toEqual(["ACTIVE", 3])
      const kinesis = yield* Kinesis.Kinesis
      expect((yield* kinesis.listStreams({})).StreamNames).toEqual([stream])
      const shards = yield* StreamAdmin.listShards(stream)
      expect(shards.map((s) => s.shardId)).toEqual(["shardId-000000000000", "shardId-000000000001", "shardId-000000000002"])
      // contiguous hash ranges over the whole key space, all open, no parents
      expect(shards[0].hashKeyRange.start).toBe(0n)
      expect(shards[2].hashKeyRange.end).toBe(full)
      expect(shards[1].hashKeyRange.start).toBe(shards[0].hashKeyRange.end + 1n)
      expect(shards[2].hashKeyRange.start).toBe(shards[1].hashKeyRange.end + 1n)
      expect(shards.map((s) => [StreamAdmin.isClosed(s), s.parentShardId])).toEqual([[false, undefined], [false, undefined], [false, undefined]])
      yield* StreamAdmin.deleteStream(stream)
      const gone = yield* Effect.flip(StreamAdmin.describe(stream))
      expect([gone._tag, gone._tag === "KinesisError" && gone.reason]).toEqual(["KinesisError", "NotFound"])
    }).pipe(Effect.provide(kinesalite)))

  it.scopedLive("splits and merges shards: children carry their parents, parents are closed", () =>
    Effect.gen(function*() {
      const stream = streamName()
      yield* StreamAdmin.ensureStream(stream, { shards: 2 })
      const [parent] = yield* StreamAdmin.listShards(stream)
      const children = yield* StreamAdmin.splitShard(stream, parent.shardId)
      expect(children.map((c) => [c.shardId, c.parentShardId, c.adjacentParentShardId])).toEqual([
        ["shardId-000000000002", parent.shardId, undefined],
        ["shardId-000000000003", parent.shardId, undefined]
      ])
      const mid = (parent.hashKeyRange.start + parent.hashKeyRange.end + 1n) / 2n
      expect(children.map((c) => [c.hashKeyRange.start, c.hashKeyRange.end])).toEqual([
        [parent.hashKeyRange.start, mid - 1n],
        [mid, parent.hashKeyRange.end]
      ])
      const merged = yield* StreamAdmin.mergeShards(stream, "shardId-000000000003", "shardId-000000000001")
      expect([merged.shardId, merged.parentShardId, merged.adjacentParentShardId]).toEqual([
        "shardId-000000000004", "shardId-000000000003", "shardId-000000000001"
      ])
      expect([merged.hashKeyRange.start, merged.hashKeyRange.end]).toEqual([mid, full])
      const all = yield* StreamAdmin.listShards(stream)
      expect(all.map((s) => [s.shardId, StreamAdmin.isClosed(s)])).toEqual([
        ["shardId-000000000000", true],
        ["shardId-000000000001", true],
        ["shardId-000000000002", false],
        ["shardId-000000000003", true],
        ["shardId-000000000004", false]
      ])
      expect((yield* StreamAdmin.describe(stream)).openShardCount).toBe(2)
      const closed = yield* Effect.flip(StreamAdmin.splitShard(stream, parent.shardId))
      expect([closed._tag, closed.message]).toEqual(["InvalidReshard", `cannot reshard ${stream}: shardId-000000000000 is closed`])
      const apart = yield* Effect.flip(StreamAdmin.mergeShards(stream, "shardId-000000000002", "shardId-000000000002"))
      expect(apart._tag).toBe("InvalidReshard")
      const unsupported = yield* Effect.flip(StreamAdmin.updateShardCount(stream, 4))
      expect([unsupported._tag, unsupported._tag === "KinesisError" && unsupported.reason]).toEqual(["KinesisError", "Unsupported"])
    }).pipe(Effect.provide(kinesalite)))

  it.scopedLive("retries throttled control-plane calls", () =>
    Effect.gen(function*() {
      const proxy = yield* FaultProxy.FaultProxy
      const stream = streamName()
      yield* proxy.setFaults({ seed: 5, rules: { "*": { throttle: 0.3, internalFailure: 0.2 } } })
      const description = yield* StreamAdmin.ensureStream(stream, { shards: 2 })
      const shards = yield* StreamAdmin.listShards(stream, { pageSize: 1 })
      expect([description.status, shards.length]).toEqual(["ACTIVE", 2])
      const stats = yield* proxy.stats
      expect(stats.throttled + stats.internalFailures).toBeGreaterThan(0)
    }).pipe(Effect.provide(proxied)))
})
