/**
 * What the archive tests share: records of a few shards around 2024-03-05T17:00Z, stores, readers.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Zlib from "node:zlib"
import type { ObjectStoreShape } from "../src/ObjectStore.js"
import * as ObjectStore from "../src/ObjectStore.js"
import type { RecordSource } from "../src/RecordSource.js"
import type { SourceRecord } from "../src/SourceRecord.js"

export const t0 = Date.UTC(2024, 2, 5, 17, 0, 0) // 2024-03-05T17:00Z
export const hour = 3_600_000
export const seq = (n: number | bigint) =>
  (49_590_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000n + BigInt(n) * 7_919n).toString()

const payload = (shard: number, i: number): Uint8Array => {
  const bytes = new Uint8Array((i * 37 + shard) % 120)
  for (let j = 0; j < bytes.length; j++) bytes[j] = (i * 31 + j * 7 + shard) & 0xff
  return bytes
}

export const records = (
  shard: number,
  from: number,
  count: number,
  arrival: (i: number) => number = () => t0,
  stream = "orders"
): Array<SourceRecord> =>
  Array.from({ length: count }, (_, k) => {
    const i = from + k
    return {
      stream,
      shardId: `shardId-${String(shard).padStart(12, "0")}`,
      sequenceNumber: seq(i),
      subSequenceNumber: 0,
      partitionKey: `key-${i % 17}`,
      arrivalTime: arrival(i),
      data: payload(shard, i)
    }
  })

export const keysOf = (store: ObjectStoreShape, prefix = "") =>
  Effect.map(Stream.runCollect(ObjectStore.listAll(store, prefix)), (objects) => Chunk.toReadonlyArray(objects).map((o) => o.key))

export const textOf = (store: ObjectStoreShape, key: string) =>
  Effect.map(store.get(key), (body) => Zlib.gunzipSync(Option.getOrThrow(body)).toString("utf8"))

/** Everything a source delivers: per shard, its chunks in order. */
export const readSource = (source: RecordSource["Type"]) =>
  Effect.gen(function*() {
    const shards = Chunk.toReadonlyArray(yield* Stream.runCollect(source.shards))
    const out = new Map<string, Array<ReadonlyArray<SourceRecord>>>()
    for (const shard of shards) {
      out.set(shard.shardId, Chunk.toReadonlyArray(yield* Stream.runCollect(shard.batches)).slice())
    }
    return out
  })

export const plain = (record: SourceRecord) => ({ ...record, data: Array.from(record.data) })

/** A store whose puts fail with the given retryability. */
export const failing = (inner: ObjectStoreShape, retryability: "transient" | "permanent"): ObjectStoreShape => ({
  ...inner,
  put: (key) =>
    Effect.fail(new ObjectStore.ObjectStoreError({ store: "failing", operation: "put", key, reason: "injected", retryability }))
})

export const withStore = <A, E>(body: (store: ObjectStoreShape) => Effect.Effect<A, E, ObjectStore.ObjectStore | Scope.Scope>) =>
  Effect.gen(function*() {
    const store = yield* ObjectStore.makeMemory()
    return yield* Effect.provideService(body(store), ObjectStore.ObjectStore, store)
  })

