import * as LeaseStore from "@tributary/core/LeaseStore"
import { DynamoDBClient, DynamoDBLeaseStore } from "@tributary/dynamodb"
import { Kinesis, StreamAdmin } from "@tributary/kinesis"
import * as LocalDynamoDB from "@tributary/local/LocalDynamoDB"
import * as LocalKinesis from "@tributary/local/LocalKinesis"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

const clients = Layer.mergeAll(
  Layer.unwrapEffect(Effect.map(LocalKinesis.LocalKinesis, (local) => Kinesis.layer({ ...local.clientConfig }))),
  Layer.unwrapEffect(Effect.map(LocalDynamoDB.LocalDynamoDB, (local) => DynamoDBClient.layer({ ...local.clientConfig })))
)

/** kinesalite and dynalite embedded, with the Kinesis and DynamoDB client services talking to them. */
export const emulators = clients.pipe(Layer.provideMerge(Layer.mergeAll(LocalKinesis.layerKinesalite(), LocalDynamoDB.layerDynalite())))

/**
 * kinesis-mock (a child process) and dynalite: for what kinesalite gets wrong, such as GetShardIterator
 * AT_TIMESTAMP in a shard with no record at or after the time (kinesalite 3.3.3 never answers it).
 */
export const fidelityEmulators = clients.pipe(
  Layer.provideMerge(Layer.mergeAll(LocalKinesis.layerKinesisMock(), LocalDynamoDB.layerDynalite()))
)

let names = 0
/** A fresh stream or table name per test. */
export const uniqueName = (prefix: string) => `${prefix}-${process.pid}-${++names}`

/** A stream of `shards` shards, and a lease store on a fresh table. */
export const setup = (shards: number) =>
  Effect.gen(function*() {
    const stream = uniqueName("stream")
    const table = uniqueName("leases")
    yield* StreamAdmin.ensureStream(stream, { shards })
    const store = yield* DynamoDBLeaseStore.make({ tableName: table })
    return { stream, table, store }
  })

/** The hash key in the middle of shard `i` of `n` equal shards (Kinesis splits the 128-bit space evenly). */
export const hashKeyOf = (i: number, n: number): string => {
  const space = 2n ** 128n
  return ((space / BigInt(n)) * BigInt(i) + space / BigInt(n) / 2n).toString()
}

/**
 * Puts `count` records spread evenly over `shards` shards (explicit hash keys); the data is
 * `dataOf(index)` (default `r-<index>`) and the partition key `k<index % 50>`. Answers the data of every record put.
 */
export const produce = (stream: string, count: number, shards: number, dataOf: (i: number) => string = (i) => `r-${i}`) =>
  Effect.gen(function*() {
    const kinesis = yield* Kinesis.Kinesis
    const put: Array<string> = []
    for (let from = 0; from < count; from += 500) {
      let entries = Array.from({ length: Math.min(500, count - from) }, (_, j) => {
        const i = from + j
        return { data: dataOf(i), key: `k${i % 50}`, hash: hashKeyOf(i % shards, shards) }
      })
      // a few retries of entries the emulator failed (it never throttles, but the SDK call may fail)
      for (let attempt = 0; entries.length > 0 && attempt < 5; attempt++) {
        const output = yield* kinesis.putRecords({
          StreamName: stream,
          Records: entries.map((e) => ({ Data: Buffer.from(e.data), PartitionKey: e.key, ExplicitHashKey: e.hash }))
        })
        const failed = (output.Records ?? []).flatMap((r, j) => r.ErrorCode === undefined ? [] : [entries[j]])
        for (const e of entries) if (!failed.includes(e)) put.push(e.data)
        entries = failed
      }
    }
    return put
  })

/** Lease counts per owner ("" for none), from the table. */
export const ownership = (store: LeaseStore.LeaseStoreShape) =>
  Effect.map(store.list, (leases) => {
    const counts: Record<string, number> = {}
    for (const lease of leases) {
      if (lease.checkpoint === "SHARD_END") continue
      counts[lease.owner ?? ""] = (counts[lease.owner ?? ""] ?? 0) + 1
    }
    return counts
  })

/**
 * Polls `check` every 50 ms until it holds; answers how long that took (a measurement, printed by the
 * tests, never asserted: a busy machine is slow, not wrong). Past `slowMs` it says once on stderr what it
 * waits for and the state (`describe`), and goes on waiting: the test's timeout bounds the wait.
 */
export const waitUntil = <E, R>(
  what: string,
  check: Effect.Effect<boolean, E, R>,
  slowMs: number,
  describe: Effect.Effect<unknown, E, R> = Effect.void
) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    let told = false
    while (true) {
      if (yield* check) return (yield* Clock.currentTimeMillis) - start
      if (!told && (yield* Clock.currentTimeMillis) - start > slowMs) {
        told = true
        process.stderr.write(`still waiting: ${what}, after ${slowMs} ms (${JSON.stringify(yield* describe)})\n`)
      }
      yield* Effect.sleep("50 millis")
    }
  })

/** Sorted lease counts, e.g. [2, 3, 3]: the split regardless of who holds what. */
export const split = (counts: Record<string, number>): ReadonlyArray<number> =>
  Object.entries(counts).filter(([owner]) => owner !== "").map(([, n]) => n).sort((a, b) => a - b)
