import * as ClientConfig from "@tributary/local/ClientConfig"
import * as FaultProxy from "@tributary/local/FaultProxy"
import * as LocalKinesis from "@tributary/local/LocalKinesis"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Stream from "effect/Stream"
import * as Kinesis from "../src/Kinesis.js"
import * as Metrics from "../src/Metrics.js"
import * as ShardReader from "../src/ShardReader.js"
import * as StreamAdmin from "../src/StreamAdmin.js"

/** The Kinesis service over a local emulator's client settings. */
export const kinesisFromLocal: Layer.Layer<Kinesis.Kinesis, never, LocalKinesis.LocalKinesis> = Layer.unwrapEffect(
  Effect.map(LocalKinesis.LocalKinesis, (local) => Kinesis.layer({ ...local.clientConfig }))
)

/** kinesalite embedded, and the Kinesis service talking to it. */
export const kinesalite = kinesisFromLocal.pipe(Layer.provideMerge(LocalKinesis.layerKinesalite()))

/** kinesis-mock as a child process, and the Kinesis service talking to it. */
export const kinesisMock = kinesisFromLocal.pipe(Layer.provideMerge(LocalKinesis.layerKinesisMock()))

/**
 * kinesalite behind the fault proxy: `Kinesis` goes through the proxy; `Direct` talks to kinesalite
 * itself (for setup and checks that must not see faults).
 */
export class Direct extends Effect.Service<Direct>()("test/Direct", {
  scoped: Effect.gen(function*() {
    const proxy = yield* FaultProxy.FaultProxy
    return yield* Kinesis.make({ ...ClientConfig.make(proxy.target) })
  })
}) {}

export const proxied = Layer.mergeAll(kinesisFromLocal, Direct.Default).pipe(
  Layer.provideMerge(FaultProxy.layerKinesis()),
  Layer.provideMerge(LocalKinesis.layerKinesalite())
)

let streams = 0
/** A fresh stream name per test. */
export const streamName = (prefix = "s") => `${prefix}-${process.pid}-${++streams}`

/** Reads every shard of a stream to its newest record (TRIM_HORIZON, bounded), straight through the SDK. */
export const drainShard = (stream: string, shardId: string) =>
  Effect.gen(function*() {
    const reader = yield* ShardReader.make({ stream, shardId, follow: false, idleInterval: "10 millis", maxCallsPerSecond: 1000 })
    const pages = yield* Stream.runCollect(reader.batches)
    return Array.from(pages).flat()
  })

export const drainStream = (stream: string) =>
  Effect.gen(function*() {
    const shards = yield* StreamAdmin.listShards(stream)
    const out = new Map<string, Array<SourceRecord>>()
    for (const shard of shards) out.set(shard.shardId, yield* drainShard(stream, shard.shardId))
    return out
  })

export const text = (record: SourceRecord): string => Buffer.from(record.data).toString("utf8")

/** GetRecords calls made so far by readers of the shard (a process-wide metric). */
export const pollsOf = (stream: string, shardId: string) =>
  Effect.map(
    Metric.value(Metrics.reader.getRecordsCalls.pipe(Metric.tagged("stream", stream), Metric.tagged("shard", shardId))),
    (state) => state.count
  )

/**
 * Runs `effect` every 10 ms until its value satisfies `until`, and answers that value: waits for a state,
 * not for a time (the test's timeout bounds the wait, however slow the machine).
 */
export const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>, until: (a: A) => boolean) =>
  Effect.gen(function*() {
    for (;;) {
      const value = yield* effect
      if (until(value)) return value
      yield* Effect.sleep("10 millis")
    }
  })

/** Waits until readers of the shard made more than `before` GetRecords calls. */
export const waitForPolls = (stream: string, shardId: string, before = 0) =>
  Effect.asVoid(eventually(pollsOf(stream, shardId), (polls) => polls > before))
