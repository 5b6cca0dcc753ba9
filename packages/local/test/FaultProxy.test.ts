import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListStreamsCommand,
  PutRecordsCommand
} from "@aws-sdk/client-kinesis"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ClientConfig from "../src/ClientConfig.js"
import * as FaultProxy from "../src/FaultProxy.js"
import * as LocalKinesis from "../src/LocalKinesis.js"

const layer = FaultProxy.layerKinesis().pipe(Layer.provideMerge(LocalKinesis.layerKinesalite()))

/** A client through the proxy and one straight to the emulator, plus a 2-shard stream "s". */
const setup = Effect.gen(function*() {
  const proxy = yield* FaultProxy.FaultProxy
  const local = yield* LocalKinesis.LocalKinesis
  const client = new KinesisClient({ ...local.clientConfig, maxAttempts: 1 })
  const direct = new KinesisClient({ ...ClientConfig.make(proxy.target), maxAttempts: 1 })
  yield* Effect.promise(() => direct.send(new CreateStreamCommand({ StreamName: "s", ShardCount: 2 })))
  yield* eventually(
    Effect.promise(() => direct.send(new DescribeStreamSummaryCommand({ StreamName: "s" }))),
    (described) => described.StreamDescriptionSummary?.StreamStatus === "ACTIVE"
  )
  return { proxy, client, direct }
})

/**
 * Runs `effect` every 10 ms until its value satisfies `until`, and answers that value: waits for a state,
 * not for a time (the test's timeout bounds the wait).
 */
const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>, until: (a: A) => boolean) =>
  Effect.gen(function*() {
    for (;;) {
      const value = yield* effect
      if (until(value)) return value
      yield* Effect.sleep("10 millis")
    }
  })

const outcome = (promise: () => Promise<unknown>) =>
  Effect.promise(() =>
    promise().then(
      () => "ok",
      (error: { name?: string; $metadata?: { httpStatusCode?: number } }) =>
        `${error.name}:${error.$metadata?.httpStatusCode ?? "-"}`
    )
  )

const readAll = (client: KinesisClient, shardId: string) =>
  Effect.gen(function*() {
    const { ShardIterator } = yield* Effect.promise(() =>
      client.send(new GetShardIteratorCommand({ StreamName: "s", ShardId: shardId, ShardIteratorType: "TRIM_HORIZON" }))
    )
    const page = yield* Effect.promise(() => client.send(new GetRecordsCommand({ ShardIterator })))
    return (page.Records ?? []).map((r) => Buffer.from(r.Data!).toString())
  })

describe("FaultProxy", () => {
  it.scopedLive("forwards untouched while no rule applies", () =>
    Effect.gen(function*() {
      const { client, proxy } = yield* setup
      const listed = yield* Effect.promise(() => client.send(new ListStreamsCommand({})))
      expect(listed.StreamNames).toEqual(["s"])
      const stats = yield* proxy.stats
      expect(stats.requests).toBe(1)
      expect(stats.forwarded).toBe(1)
      expect(stats.byOperation).toEqual({ ListStreams: 1 })
    }).pipe(Effect.provide(layer)))

  it.scopedLive("answers throttling and internal failures the way AWS does, as the SDK parses them", () =>
    Effect.gen(function*() {
      const { client, proxy } = yield* setup
      yield* proxy.setFaults({ rules: { "Kinesis_20131202.ListStreams": { throttle: 1 } } })
      const throttled = yield* Effect.promise(() => client.send(new ListStreamsCommand({})).catch((e) => e))
      expect(throttled.name).toBe("ProvisionedThroughputExceededException")
      expect(throttled.$metadata.httpStatusCode).toBe(400)
      expect(throttled.message).toBe("Rate exceeded for ListStreams.")
      yield* proxy.setFaults({ rules: { ListStreams: { internalFailure: 1 } } })
      const failed = yield* Effect.promise(() => client.send(new ListStreamsCommand({})).catch((e) => e))
      expect(failed.name).toBe("InternalFailure")
      expect(failed.$metadata.httpStatusCode).toBe(500)
      expect(failed.$fault).toBe("server")
      // other operations are untouched
      yield* proxy.setFaults({ rules: { ListStreams: { throttle: 1 } } })
      expect(yield* outcome(() => client.send(new GetShardIteratorCommand({ StreamName: "s", ShardId: "shardId-000000000000", ShardIteratorType: "LATEST" })))).toBe("ok")
      const stats = yield* proxy.stats
      expect([stats.throttled, stats.internalFailures, stats.forwarded]).toEqual([1, 1, 1])
    }).pipe(Effect.provide(layer)))

  it.scopedLive("resets before forwarding lose the request; resets after forwarding lose only the answer", () =>
    Effect.gen(function*() {
      const { client, direct, proxy } = yield* setup
      const put = (data: string) =>
        outcome(() => client.send(new PutRecordsCommand({ StreamName: "s", Records: [{ PartitionKey: "k", Data: Buffer.from(data) }] })))
      yield* proxy.setFaults({ rules: { PutRecords: { reset: 1 } }, resetAfterForward: 0 })
      const before = yield* put("lost")
      yield* proxy.setFaults({ rules: { PutRecords: { reset: 1 } }, resetAfterForward: 1 })
      const after = yield* put("stored")
      expect(before).toMatch(/^(Error|TimeoutError):-$/)
      expect(after).toMatch(/^(Error|TimeoutError):-$/)
      const shard = (yield* readAll(direct, "shardId-000000000000")).concat(yield* readAll(direct, "shardId-000000000001"))
      expect(shard).toEqual(["stored"])
      const stats = yield* proxy.stats
      expect([stats.resetsBefore, stats.resetsAfter]).toEqual([1, 1])
    }).pipe(Effect.provide(layer)))

  it.scopedLive("the same seed gives the same faults for the same requests; another seed other faults", () =>
    Effect.gen(function*() {
      const { client, proxy } = yield* setup
      const run = (seed: number) =>
        Effect.gen(function*() {
          yield* proxy.setFaults({ seed, rules: { "*": { throttle: 0.3, internalFailure: 0.2 } } })
          const outcomes: Array<string> = []
          for (let i = 0; i < 40; i++) outcomes.push(yield* outcome(() => client.send(new ListStreamsCommand({}))))
          return outcomes.join(",")
        })
      const first = yield* run(42)
      const second = yield* run(42)
      const other = yield* run(7)
      expect(second).toBe(first)
      expect(other).not.toBe(first)
      const counts = first.split(",").reduce<Record<string, number>>((acc, o) => ({ ...acc, [o]: (acc[o] ?? 0) + 1 }), {})
      expect(Object.keys(counts).sort()).toEqual(["InternalFailure:500", "ProvisionedThroughputExceededException:400", "ok"])
    }).pipe(Effect.provide(layer)))

  it.scopedLive("fails single PutRecords entries as a partial failure and stores the others", () =>
    Effect.gen(function*() {
      const { client, direct, proxy } = yield* setup
      yield* proxy.setFaults({ seed: 3, rules: { PutRecords: { entryFailure: 0.5 } } })
      const data = Array.from({ length: 40 }, (_, i) => `r${i}`)
      const result = yield* Effect.promise(() =>
        client.send(new PutRecordsCommand({ StreamName: "s", Records: data.map((d) => ({ PartitionKey: d, Data: Buffer.from(d) })) }))
      )
      const failed = result.Records!.flatMap((r, i) => r.ErrorCode === undefined ? [] : [data[i]])
      const stored = result.Records!.flatMap((r, i) => r.ErrorCode === undefined ? [data[i]] : [])
      expect(result.FailedRecordCount).toBe(failed.length)
      expect(failed.length).toBeGreaterThan(5)
      expect(stored.length).toBeGreaterThan(5)
      expect(result.Records!.every((r) => r.ErrorCode === undefined ? typeof r.SequenceNumber === "string" : r.ErrorCode === "ProvisionedThroughputExceededException")).toBe(true)
      const read = (yield* readAll(direct, "shardId-000000000000")).concat(yield* readAll(direct, "shardId-000000000001"))
      expect(read.sort()).toEqual(stored.sort())
      const stats = yield* proxy.stats
      expect([stats.entryFailures, stats.putRecordsEntries]).toEqual([failed.length, 40])
    }).pipe(Effect.provide(layer)))

  it.scopedLive("expires every iterator issued before the switch once; iterators issued after it work", () =>
    Effect.gen(function*() {
      const { client, proxy } = yield* setup
      const iterator = (type: "TRIM_HORIZON" | "LATEST") =>
        Effect.promise(() =>
          client.send(new GetShardIteratorCommand({ StreamName: "s", ShardId: "shardId-000000000000", ShardIteratorType: type }))
        ).pipe(Effect.map((r) => r.ShardIterator!))
      const old1 = yield* iterator("TRIM_HORIZON")
      const old2 = yield* iterator("LATEST")
      yield* proxy.expireIteratorsNow
      const fresh = yield* iterator("TRIM_HORIZON")
      const get = (it: string) => outcome(() => client.send(new GetRecordsCommand({ ShardIterator: it })))
      expect(yield* get(old1)).toBe("ExpiredIteratorException:400")
      expect(yield* get(fresh)).toBe("ok")
      expect(yield* get(old2)).toBe("ExpiredIteratorException:400")
      // once per iterator
      expect(yield* get(old1)).toBe("ok")
      const next = yield* Effect.promise(() => client.send(new GetRecordsCommand({ ShardIterator: fresh })))
      expect(yield* get(next.NextShardIterator!)).toBe("ok")
      expect((yield* proxy.stats).expiredIterators).toBe(2)
    }).pipe(Effect.provide(layer)))

  it.scopedLive("adds latency, and counts a client that gives up before the answer", () =>
    Effect.gen(function*() {
      const { client, proxy } = yield* setup
      yield* proxy.setFaults({ rules: { ListStreams: { latency: "300 millis" } } })
      const started = Date.now()
      const listed = yield* Effect.promise(() => client.send(new ListStreamsCommand({})))
      expect(listed.StreamNames).toEqual(["s"])
      expect(Date.now() - started).toBeGreaterThanOrEqual(290)
      const controller = new AbortController()
      const call = client.send(new ListStreamsCommand({}), { abortSignal: controller.signal }).catch((e) => e.name)
      // given up while the proxy holds it
      yield* eventually(proxy.stats, (stats) => stats.delayed === 2)
      controller.abort()
      expect(yield* Effect.promise(() => call)).toBe("AbortError")
      const stats = yield* eventually(proxy.stats, (stats) => stats.clientAborts > 0)
      expect([stats.delayed, stats.clientAborts, stats.forwarded]).toEqual([2, 1, 1])
    }).pipe(Effect.provide(layer)))
})
