import { describe, expect, it } from "@effect/vitest"
import * as Kinesis from "@tributary/kinesis/Kinesis"
import * as Producer from "@tributary/kinesis/Producer"
import * as ShardReader from "@tributary/kinesis/ShardReader"
import * as StreamAdmin from "@tributary/kinesis/StreamAdmin"
import * as LocalKinesis from "@tributary/local/LocalKinesis"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Gateway from "../src/Gateway.js"
import type { IngestRecord } from "../src/Ingest.js"
import { keyAll, storedKeys } from "./helpers.js"

const kinesalite = Layer.unwrapEffect(
  Effect.map(LocalKinesis.LocalKinesis, (local) => Kinesis.layer({ ...local.clientConfig }))
).pipe(Layer.provideMerge(LocalKinesis.layerKinesalite()))

describe("gateway through the Kinesis producer (kinesalite)", () => {
  it.scopedLive("accepted records are in the stream when the gateway answers", () =>
    Effect.gen(function*() {
      const stream = `gateway-${process.pid}`
      yield* StreamAdmin.ensureStream(stream, { shards: 2 })
      const producer = yield* Producer.make<IngestRecord>({ stream, partitionKey: (r) => r.partitionKey, data: (r) => r.data })
      const kinesis = yield* Kinesis.Kinesis
      const server = yield* Gateway.serve({
        keys: storedKeys,
        sinkFor: Gateway.sinks({ events: producer }),
        ready: StreamAdmin.listShards(stream).pipe(Effect.provideService(Kinesis.Kinesis, kinesis))
      })
      const post = (body: unknown) =>
        Effect.promise(() =>
          fetch(`${server.url}/v1/streams/events/records`, {
            method: "POST",
            headers: { authorization: `Bearer ${keyAll}`, "content-type": "application/json" },
            body: JSON.stringify(body)
          }).then((r) => r.status)
        )
      expect(yield* post({ records: Array.from({ length: 300 }, (_, i) => ({ partitionKey: `k${i % 7}`, data: { i } })) })).toBe(200)
      expect(yield* post({ partitionKey: "single", data: "last" })).toBe(200)
      expect(yield* post({ partitionKey: "", data: 1 })).toBe(400)
      expect((yield* Effect.promise(() => fetch(`${server.url}/readyz`))).status).toBe(200)
      // read everything back, straight from the stream
      const shards = yield* StreamAdmin.listShards(stream)
      const read: Array<string> = []
      for (const shard of shards) {
        const reader = yield* ShardReader.make({ stream, shardId: shard.shardId, follow: false, idleInterval: "10 millis", maxCallsPerSecond: 1000 })
        for (const page of yield* Stream.runCollect(reader.batches)) for (const r of page) read.push(new TextDecoder().decode(r.data))
      }
      expect(read.length).toBe(301)
      expect(new Set(read)).toEqual(new Set([...Array.from({ length: 300 }, (_, i) => JSON.stringify({ i })), "last"]))
    }).pipe(Effect.provide(kinesalite)), 30_000)
})
