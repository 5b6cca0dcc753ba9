/**
 * A Kinesis stream as its shard listing appears to the workers of a simulation: shards over time (a
 * reshard closes every open shard and splits it in two, as `UpdateShardCount` does to double a stream),
 * and ListShards calls limited per stream as the Kinesis API reference documents: 1,000 calls per second
 * per stream in the current reference (earlier versions said 100: both can be simulated). A throttled call
 * fails with `LimitExceededException`, classified by the real `KinesisError` classifier.
 *
 * The workers list shards through the real `Consumer.listShards` (`StreamAdmin.listShards`: pages of 1,000
 * shards, transient failures retried), given a `Kinesis` service that answers only `ListShards`.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Sdk from "@aws-sdk/client-kinesis"
import * as TokenBucket from "@tributary/core/TokenBucket"
import type { KinesisShape } from "@tributary/kinesis/Kinesis"
import { Kinesis } from "@tributary/kinesis/Kinesis"
import * as KinesisError from "@tributary/kinesis/KinesisError"
import type { StreamAdminError } from "@tributary/kinesis/StreamAdmin"
import * as Consumer from "../../src/Consumer.js"
import type { ShardInfo } from "../../src/LeaseCoordinator.js"
import * as Random from "./Random.js"
import * as Series from "./Series.js"

export interface Options {
  /** Open shards at the start, over the whole hash key space in equal ranges. */
  readonly shards: number
  /** ListShards calls per second per stream. Default 1,000 (the Kinesis API reference). */
  readonly listShardsPerSecond?: number | undefined
  /** Of one ListShards call. Default median 15 ms, p99 60 ms. */
  readonly latency?: Random.Latency | undefined
  readonly seed?: number | undefined
}

export interface StreamModel {
  readonly name: string
  /** What a worker's coordinator is given as `listShards`. */
  readonly listShards: Effect.Effect<ReadonlyArray<ShardInfo>, StreamAdminError>
  /** Closes every open shard and splits each in two (its children listed from now on). */
  readonly doubleShards: Effect.Effect<void>
  /** When the shard was closed, if it was. */
  readonly closedAt: (shardId: string) => number | undefined
  /** The shard a shard was split from, if it was. */
  readonly parentOf: (shardId: string) => string | undefined
  /** ListShards calls per second, throttled ones included. */
  readonly calls: Series.Series
  readonly throttled: Series.Series
}

const space = 2n ** 128n

export const make = (options: Options): StreamModel => {
  const name = "simulated"
  const shards: Array<Sdk.Shard> = []
  const closed = new Map<string, number>()
  const random = Random.make(options.seed ?? 2)
  const latency = options.latency ?? { median: 15, p99: 60 }
  const rate = { perSecond: options.listShardsPerSecond ?? 1_000, burst: options.listShardsPerSecond ?? 1_000 }
  const buckets = TokenBucket.make()
  const calls = Series.make()
  const throttled = Series.make()
  let sequence = 0
  const parents = new Map<string, string>()

  const add = (start: bigint, end: bigint, parent?: string) => {
    const shardId = `shardId-${String(shards.length).padStart(12, "0")}`
    if (parent !== undefined) parents.set(shardId, parent)
    shards.push({
      ShardId: shardId,
      ParentShardId: parent,
      HashKeyRange: { StartingHashKey: start.toString(), EndingHashKey: end.toString() },
      SequenceNumberRange: { StartingSequenceNumber: String(++sequence).padStart(56, "0") }
    })
  }
  for (let i = 0; i < options.shards; i++) {
    add(space * BigInt(i) / BigInt(options.shards), space * BigInt(i + 1) / BigInt(options.shards) - 1n)
  }

  const listShardsCall = (input: Sdk.ListShardsInput): Effect.Effect<Sdk.ListShardsOutput, KinesisError.KinesisError> =>
    Effect.gen(function*() {
      const took = Random.latency(random, latency)
      yield* Effect.sleep(took / 2)
      const now = yield* Clock.currentTimeMillis
      calls.add(now, 1)
      if (buckets.tryTake(name, rate, now) > 0) {
        throttled.add(now, 1)
        yield* Effect.sleep(took / 2)
        return yield* Effect.fail(KinesisError.fromSdkError("ListShards", {
          name: "LimitExceededException",
          message: `Rate exceeded for stream ${name} under account 123456789012.`,
          $metadata: { httpStatusCode: 400 }
        }))
      }
      const from = input.NextToken === undefined ? 0 : Number(input.NextToken)
      const to = Math.min(shards.length, from + (input.MaxResults ?? 1000))
      const page = shards.slice(from, to)
      yield* Effect.sleep(took / 2)
      return { Shards: page, NextToken: to < shards.length ? String(to) : undefined, $metadata: {} }
    })

  // a Kinesis service that only lists shards: what the coordinator calls
  const kinesis = { listShards: listShardsCall } as unknown as KinesisShape

  return {
    name,
    listShards: Consumer.listShards(name).pipe(Effect.provideService(Kinesis, kinesis)),
    doubleShards: Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.sync(() => {
        for (const shard of shards.slice()) {
          const shardId = shard.ShardId!
          if (closed.has(shardId)) continue
          closed.set(shardId, now)
          shard.SequenceNumberRange = { StartingSequenceNumber: shard.SequenceNumberRange!.StartingSequenceNumber, EndingSequenceNumber: String(++sequence).padStart(56, "0") }
          const start = BigInt(shard.HashKeyRange!.StartingHashKey!)
          const end = BigInt(shard.HashKeyRange!.EndingHashKey!)
          const middle = start + (end - start) / 2n
          add(start, middle, shardId)
          add(middle + 1n, end, shardId)
        }
      })),
    closedAt: (shardId) => closed.get(shardId),
    parentOf: (shardId) => parents.get(shardId),
    calls,
    throttled
  }
}
