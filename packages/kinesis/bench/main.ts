/**
 * Kinesis throughput against plain SDK loops, in one process, into embedded kinesalite:
 *
 * - kinesis-put: the producer sink (one `write` of the round's records) vs PutRecords of 500-record
 *   batches in a loop;
 * - kinesis-read: the stream source draining a pre-filled stream (every shard, bounded read) vs
 *   GetShardIterator + GetRecords loops over the same shards.
 *
 * Run: `tsx --expose-gc packages/kinesis/bench/main.ts` from the root (or `pnpm --filter @tributary/kinesis bench`);
 * `--expose-gc` lets each timed run start on a collected heap (less noise), it works without.
 * BENCH_KINESIS_RECORDS sets records per round (default 20,000), BENCH_KINESIS_ROUNDS the rounds (9).
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true"

import { GetRecordsCommand, GetShardIteratorCommand, KinesisClient, PutRecordsCommand } from "@aws-sdk/client-kinesis"
import type { PutRecordsRequestEntry } from "@aws-sdk/client-kinesis"
import * as LocalKinesis from "@tributary/local/LocalKinesis"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Kinesis from "../src/Kinesis.js"
import * as Producer from "../src/Producer.js"
import * as StreamAdmin from "../src/StreamAdmin.js"
import * as StreamSource from "../src/StreamSource.js"
import { compare, format } from "@tributary/core/test-utils/Bench"

const records = Number(process.env.BENCH_KINESIS_RECORDS ?? 20_000)
const rounds = Number(process.env.BENCH_KINESIS_ROUNDS ?? 9)
const shards = 4

interface Event {
  readonly id: number
  readonly customer: string
  readonly kind: string
  readonly amount: number
}

const events: ReadonlyArray<Event> = Array.from({ length: records }, (_, id) => ({
  id,
  customer: `customer-${id % 97}`,
  kind: id % 3 === 0 ? "buy" : "view",
  amount: (id * 7919) % 1000
}))

const program = Effect.gen(function*() {
  const local = yield* LocalKinesis.LocalKinesis
  const kinesis = yield* Kinesis.Kinesis
  const raw = new KinesisClient({ ...local.clientConfig, maxAttempts: 1 })

  // ---- put ----
  // Each timed run writes into a fresh stream (made, and the previous one deleted, before the clock
  // starts), so neither contender pays for the other's records in kinesalite's store.
  let streams = 0
  const freshStream = () =>
    Effect.runPromise(Effect.gen(function*() {
      const name = `bench-put-${++streams}`
      if (streams > 1) yield* StreamAdmin.deleteStream(`bench-put-${streams - 1}`)
      yield* StreamAdmin.ensureStream(name, { shards })
      return name
    }).pipe(Effect.provideService(Kinesis.Kinesis, kinesis)))
  let tributaryStream = ""
  let rawStream = ""
  const producers = new Map<string, Producer.Producer<Event>>()
  const producerScope = yield* Effect.scope
  const tributaryPut = {
    setup: async () => {
      tributaryStream = await freshStream()
      producers.set(tributaryStream, await Effect.runPromise(Producer.make<Event>({
        stream: tributaryStream,
        partitionKey: (e) => e.customer,
        data: (e) => JSON.stringify(e),
        concurrency: Number(process.env.BENCH_KINESIS_CONCURRENCY ?? 4)
      }).pipe(Effect.provideService(Kinesis.Kinesis, kinesis), Scope.extend(producerScope))))
    },
    run: () => Effect.runPromise(Effect.as(producers.get(tributaryStream)!.write(events), events.length))
  }
  const rawPut = {
    setup: async () => {
      rawStream = await freshStream()
    },
    run: async () => {
      for (let i = 0; i < events.length; i += 500) {
        const entries: Array<PutRecordsRequestEntry> = events.slice(i, i + 500).map((e) => ({
          PartitionKey: e.customer,
          Data: Buffer.from(JSON.stringify(e))
        }))
        const result = await raw.send(new PutRecordsCommand({ StreamName: rawStream, Records: entries }))
        if ((result.FailedRecordCount ?? 0) > 0) throw new Error("raw PutRecords had failures")
      }
      return events.length
    }
  }
  console.log(format("kinesis-put", yield* Effect.promise(() => compare(tributaryPut, rawPut, { rounds, clock: "wall" })), "raw-sdk"))

  // ---- read ----
  const readStream = "bench-read"
  yield* StreamAdmin.ensureStream(readStream, { shards })
  yield* Effect.promise(async () => {
    for (let i = 0; i < events.length; i += 500) {
      await raw.send(new PutRecordsCommand({
        StreamName: readStream,
        Records: events.slice(i, i + 500).map((e) => ({ PartitionKey: e.customer, Data: Buffer.from(JSON.stringify(e)) }))
      }))
    }
  })
  const shardIds = (yield* StreamAdmin.listShards(readStream)).map((s) => s.shardId)
  const source = yield* StreamSource.make({
    stream: readStream,
    follow: false,
    // against a local endpoint the 5 calls/s per shard of real AWS need not be kept
    reader: { maxCallsPerSecond: 1000 }
  })
  const tributaryRead = () =>
    Effect.runPromise(
      source.shards.pipe(
        Stream.mapEffect((shard) =>
          Stream.runFold(shard.batches, 0, (n, page) => n + page.length), { concurrency: "unbounded", unordered: true }),
        Stream.runFold(0, (a, b) => a + b)
      )
    )
  const rawRead = async () => {
    let count = 0
    for (const shardId of shardIds) {
      let { ShardIterator: iterator } = await raw.send(
        new GetShardIteratorCommand({ StreamName: readStream, ShardId: shardId, ShardIteratorType: "TRIM_HORIZON" })
      )
      while (iterator !== undefined) {
        const page = await raw.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }))
        const got = page.Records?.length ?? 0
        count += got
        if (got === 0 && (page.MillisBehindLatest ?? 0) === 0) break
        iterator = page.NextShardIterator
      }
    }
    return count
  }
  const checkTributary = yield* Effect.promise(tributaryRead)
  const checkRaw = yield* Effect.promise(rawRead)
  if (checkTributary !== events.length || checkRaw !== events.length) {
    throw new Error(`read ${checkTributary} (tributary) and ${checkRaw} (raw) of ${events.length} records`)
  }
  console.log(format("kinesis-read", yield* Effect.promise(() => compare({ run: tributaryRead }, { run: rawRead }, { rounds, clock: "wall" })), "raw-sdk"))
  raw.destroy()
}).pipe(Effect.provide(Layer.provideMerge(
  Layer.unwrapEffect(Effect.map(LocalKinesis.LocalKinesis, (local) => Kinesis.layer({ ...local.clientConfig }))),
  LocalKinesis.layerKinesalite()
)), Effect.scoped)

Effect.runPromise(program).catch((error) => {
  console.error(error)
  process.exit(1)
})
