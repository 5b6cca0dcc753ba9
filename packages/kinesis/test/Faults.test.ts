/**
 * Producer and reader through the fault proxy: 20% throttling, 5% connection resets (half of them after
 * the emulator applied the request) and 5% 500s on every call, seeded.
 */
import { describe, expect, it } from "@effect/vitest"
import * as DeadLetter from "@tributary/core/DeadLetter"
import * as Pipeline from "@tributary/core/Pipeline"
import * as RecordSink from "@tributary/core/RecordSink"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import * as FaultProxy from "@tributary/local/FaultProxy"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Kinesis from "../src/Kinesis.js"
import * as Producer from "../src/Producer.js"
import * as StreamAdmin from "../src/StreamAdmin.js"
import * as StreamSource from "../src/StreamSource.js"
import { Direct, drainStream, proxied, streamName, text } from "./helpers.js"

const faults: FaultProxy.FaultOptions = {
  seed: 20_240_601,
  rules: { "*": { throttle: 0.2, reset: 0.05, internalFailure: 0.05 } },
  resetAfterForward: 0.5
}

const key = (r: SourceRecord) => `${r.shardId}/${r.sequenceNumber}/${r.subSequenceNumber}`

describe("under faults (seeded)", () => {
  it.scopedLive("the producer loses nothing and duplicates only entries whose call was applied and then reset; the reader loses and duplicates nothing", () =>
    Effect.gen(function*() {
      const proxy = yield* FaultProxy.FaultProxy
      const direct = yield* Direct
      const stream = streamName("faults")
      yield* StreamAdmin.ensureStream(stream, { shards: 4 }).pipe(Effect.provideService(Kinesis.Kinesis, direct))
      yield* proxy.setFaults(faults)

      // ---- produce through the faults ----
      const count = 5_000
      const producer = yield* Producer.make<number>({
        stream,
        partitionKey: (i) => `key-${i % 101}`,
        data: (i) => `${i}`,
        backoffBase: "5 millis",
        backoffCap: "100 millis",
        maxRetries: 30,
        // smaller calls: more of them meet a fault
        maxBatchRecords: 100
      })
      // pipeline-sized writes, several at once
      yield* Effect.forEach(
        Array.from({ length: count / 250 }, (_, w) => Array.from({ length: 250 }, (_, i) => w * 250 + i)),
        (items) => producer.write(items),
        { concurrency: 4, discard: true }
      )
      const stats = yield* producer.stats
      const injected = yield* proxy.stats
      expect(stats.records).toBe(count)
      expect(stats.failedRecords).toBe(0)
      expect(injected.throttled).toBeGreaterThan(0)
      expect(injected.resetsAfter + injected.resetsBefore).toBeGreaterThan(0)
      expect(injected.internalFailures).toBeGreaterThan(0)

      // the truth, read straight from kinesalite
      const stored = [...(yield* drainStream(stream).pipe(Effect.provideService(Kinesis.Kinesis, direct))).values()].flat()
      const ids = stored.map((r) => Number(text(r)))
      expect(new Set(ids)).toEqual(new Set(Array.from({ length: count }, (_, i) => i)))
      const duplicates = stored.length - count
      // exactly the entries of calls the emulator applied before the proxy cut the connection
      expect(duplicates).toBe(injected.resetsAfterPutRecordsEntries)
      expect(duplicates).toBeLessThanOrEqual(stats.possibleDuplicates)
      expect(stats.retriedEntries).toBeGreaterThanOrEqual(stats.possibleDuplicates)

      // ---- read through the faults ----
      yield* proxy.resetStats
      const sink = yield* RecordSink.memory<SourceRecord>()
      const summary = yield* Pipeline.make("read").pipe(Pipeline.to(sink), Pipeline.run).pipe(
        Effect.provide(Layer.merge(
          StreamSource.layer({ stream, follow: false, reader: { backoffBase: "5 millis", backoffCap: "100 millis", maxCallsPerSecond: 50, maxRecords: 300 } }),
          DeadLetter.layerMemory
        ))
      )
      const read = yield* sink.items
      const readFaults = yield* proxy.stats
      expect(readFaults.throttled + readFaults.internalFailures + readFaults.resetsBefore + readFaults.resetsAfter).toBeGreaterThan(10)
      expect(summary.recordsIn).toBe(stored.length)
      // nothing lost, nothing twice: the same records as the truth, each once
      expect(read.map(key).sort()).toEqual(stored.map(key).sort())
      expect(new Set(read.map(key)).size).toBe(read.length)
    }).pipe(Effect.provide(proxied)), 120_000)

  it.scopedLive("a PutRecords applied but answered by a reset is sent again: its entries are stored twice, counted as possible duplicates", () =>
    Effect.gen(function*() {
      const proxy = yield* FaultProxy.FaultProxy
      const direct = yield* Direct
      const stream = streamName("dup")
      yield* StreamAdmin.ensureStream(stream, { shards: 1 }).pipe(Effect.provideService(Kinesis.Kinesis, direct))
      yield* proxy.setFaults({ rules: { PutRecords: { reset: 1 } }, resetAfterForward: 1 })
      const producer = yield* Producer.make<number>({ stream, partitionKey: String, data: String, backoffBase: "50 millis", concurrency: 1 })
      const write = yield* Effect.fork(producer.write(Array.from({ length: 40 }, (_, i) => i)))
      while ((yield* proxy.stats).resetsAfter === 0) yield* Effect.sleep("5 millis")
      yield* proxy.clearFaults
      yield* write.await
      const stats = yield* producer.stats
      const injected = yield* proxy.stats
      const stored = [...(yield* drainStream(stream).pipe(Effect.provideService(Kinesis.Kinesis, direct))).values()].flat()
      const copies = new Map<string, number>()
      for (const r of stored) copies.set(text(r), (copies.get(text(r)) ?? 0) + 1)
      // every reset call stored all 40, and the final call stored them once more
      expect(injected.resetsAfterPutRecordsEntries).toBe(40 * injected.resetsAfter)
      expect(stored.length).toBe(40 * (injected.resetsAfter + 1))
      expect([...copies.values()].every((n) => n === injected.resetsAfter + 1)).toBe(true)
      expect(stats.possibleDuplicates).toBe(40 * injected.resetsAfter)
      expect([stats.records, stats.failedRecords]).toEqual([40, 0])
    }).pipe(Effect.provide(proxied)))
})
