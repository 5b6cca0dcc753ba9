/**
 * An in-memory stand-in for the Kinesis service, for tests of the readers' time logic under TestClock:
 * one or more shards of records, iterators that encode an index, subscriptions that push pages (an empty
 * event a second once caught up, as kinesis-mock does), scripted failures, and a log of calls with the
 * (test) time they were made at.
 */
import type * as Sdk from "@aws-sdk/client-kinesis"
import { KinesisClient } from "@aws-sdk/client-kinesis"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Kinesis from "../src/Kinesis.js"
import * as KinesisError from "../src/KinesisError.js"

export interface FakeShard {
  readonly shardId: string
  readonly parentShardId?: string
  readonly records: Array<Sdk._Record>
  closed: boolean
  /** ChildShards to report in the last page (undefined: leave them out, like kinesalite). */
  childShards?: ReadonlyArray<string>
}

export interface Call {
  readonly operation: string
  readonly at: number
  readonly input: unknown
}

export const record = (shard: number, n: number, data = `r${n}`, arrival = 0): Sdk._Record => ({
  SequenceNumber: sequence(shard, n),
  PartitionKey: `k${n}`,
  Data: Buffer.from(data),
  ApproximateArrivalTimestamp: new Date(arrival)
})

export const sequence = (shard: number, n: number): string => `4959${String(shard).padStart(4, "0")}${String(n).padStart(20, "0")}`

const error = (name: string, operation: string) =>
  KinesisError.fromSdkError(operation, Object.assign(new Error(`${name} (fake)`), {
    name,
    $metadata: { httpStatusCode: name === "InternalFailure" ? 500 : 400 }
  }))

export interface FakeOptions {
  readonly local?: boolean
  /** Records per subscription event. Default 3. */
  readonly eventRecords?: number
  /** Events before a subscription ends (AWS ends one after 5 minutes). Default: never. */
  readonly eventsPerSubscription?: number
  /** Runs before each ListShards answer (to change the shards in between two calls of a reader). */
  readonly beforeListShards?: () => void
}

export const makeFake = (shards: ReadonlyArray<FakeShard>, options: FakeOptions = {}) => {
  const calls: Array<Call> = []
  /** Failures for the next GetRecords calls, by AWS name, in order. */
  const getRecordsFailures: Array<string> = []
  /** Failures for the next SubscribeToShard calls, and for the next events read, by AWS name, in order. */
  const subscribeFailures: Array<string> = []
  const eventFailures: Array<string> = []
  /** Events read (`next` calls) and subscriptions closed. */
  const subscriptions = { nextCalls: 0, closed: 0 }
  const shardOf = (id: string) => {
    const shard = shards.find((s) => s.shardId === id)
    if (shard === undefined) throw new Error(`no shard ${id}`)
    return shard
  }
  let iterators = 0
  const issued = new Map<string, { shard: FakeShard; index: number }>()
  const issue = (shard: FakeShard, index: number) => {
    const id = `iterator-${++iterators}`
    issued.set(id, { shard, index })
    return id
  }
  const log = (operation: string, input: unknown) =>
    Effect.flatMap(Clock.currentTimeMillis, (at) => Effect.sync(() => calls.push({ operation, at, input })))
  const indexAfter = (shard: FakeShard, seq: string, inclusive: boolean) => {
    const at = shard.records.findIndex((r) => r.SequenceNumber === seq)
    if (at >= 0) return inclusive ? at : at + 1
    const later = shard.records.findIndex((r) => r.SequenceNumber! > seq)
    return later < 0 ? shard.records.length : later
  }
  const indexOf = (shard: FakeShard, type: string | undefined, seq: string | undefined, timestamp: Date | undefined) => {
    switch (type) {
      case "LATEST":
        return shard.records.length
      case "AT_SEQUENCE_NUMBER":
        return indexAfter(shard, seq!, true)
      case "AFTER_SEQUENCE_NUMBER":
        return indexAfter(shard, seq!, false)
      case "AT_TIMESTAMP": {
        const index = shard.records.findIndex((r) => r.ApproximateArrivalTimestamp!.getTime() >= timestamp!.getTime())
        return index < 0 ? shard.records.length : index
      }
      default:
        return 0
    }
  }
  const eventRecords = options.eventRecords ?? 3
  const eventsPerSubscription = options.eventsPerSubscription ?? Infinity

  const shape: Kinesis.KinesisShape = {
    ...Kinesis.fromClient(new KinesisClient({ region: "us-east-1" }), options.local === true ? "http://127.0.0.1:1" : undefined),
    getShardIterator: (input) =>
      Effect.zipRight(log("GetShardIterator", input), Effect.sync(() => {
        const shard = shardOf(input.ShardId!)
        const index = indexOf(shard, input.ShardIteratorType, input.StartingSequenceNumber, input.Timestamp)
        return { ShardIterator: issue(shard, index), $metadata: {} }
      })),
    getRecords: (input) =>
      Effect.zipRight(
        log("GetRecords", input),
        Effect.suspend(() => {
          const failure = getRecordsFailures.shift()
          if (failure !== undefined) return Effect.fail(error(failure, "GetRecords"))
          const position = issued.get(input.ShardIterator!)
          if (position === undefined) return Effect.fail(error("InvalidArgumentException", "GetRecords"))
          const { index, shard } = position
          const page = shard.records.slice(index, index + (input.Limit ?? 10_000))
          const end = index + page.length
          const atEnd = shard.closed && end >= shard.records.length
          return Effect.succeed({
            Records: page,
            NextShardIterator: atEnd ? undefined : issue(shard, end),
            MillisBehindLatest: end >= shard.records.length ? 0 : 1000,
            ...(atEnd && shard.childShards !== undefined
              ? { ChildShards: shard.childShards.map((id) => ({ ShardId: id, ParentShards: [shard.shardId], HashKeyRange: undefined })) }
              : {}),
            $metadata: {}
          } as Sdk.GetRecordsCommandOutput)
        })
      ),
    putRecords: (input) =>
      Effect.zipRight(log("PutRecords", input), Effect.sync(() => {
        const target = shards[0]
        const results = (input.Records ?? []).map((entry) => {
          const n = target.records.length
          target.records.push({ ...record(0, n), PartitionKey: entry.PartitionKey, Data: entry.Data })
          return { ShardId: target.shardId, SequenceNumber: sequence(0, n) }
        })
        return { FailedRecordCount: 0, Records: results, $metadata: {} } as Sdk.PutRecordsCommandOutput
      })),
    subscribeToShard: (input) =>
      Effect.gen(function*() {
        yield* log("SubscribeToShard", input)
        const failure = subscribeFailures.shift()
        if (failure !== undefined) return yield* Effect.fail(error(failure, "SubscribeToShard"))
        const shard = shardOf(input.ShardId!)
        const position = input.StartingPosition!
        let index = indexOf(shard, position.Type, position.SequenceNumber, position.Timestamp)
        let events = 0
        let ended = false
        yield* Effect.addFinalizer(() => Effect.sync(() => void subscriptions.closed++))
        const next: Effect.Effect<Sdk.SubscribeToShardEvent | undefined, KinesisError.KinesisError> = Effect.gen(function*() {
          subscriptions.nextCalls++
          const failure = eventFailures.shift()
          if (failure !== undefined) return yield* Effect.fail(error(failure, "SubscribeToShard"))
          if (ended || events >= eventsPerSubscription) return undefined
          events++
          // caught up: the next event a second later, with whatever arrived meanwhile
          if (index >= shard.records.length && !(shard.closed && shard.childShards !== undefined)) yield* Effect.sleep("1 second")
          const page = shard.records.slice(index, index + eventRecords)
          index += page.length
          const caughtUp = index >= shard.records.length
          if (caughtUp && shard.closed && shard.childShards !== undefined) {
            // the last event of a closed shard: its children and no continuation
            ended = true
            return {
              Records: page,
              MillisBehindLatest: 0,
              ContinuationSequenceNumber: undefined,
              ChildShards: shard.childShards.map((id) => ({ ShardId: id, ParentShards: [shard.shardId], HashKeyRange: undefined }))
            }
          }
          return {
            Records: page,
            MillisBehindLatest: caughtUp ? 0 : 1000,
            // before any record: the shard's starting sequence number, as kinesis-mock does
            ContinuationSequenceNumber: index > 0 ? shard.records[index - 1].SequenceNumber : "0"
          }
        })
        return { next }
      }),
    listShards: (input) =>
      Effect.zipRight(log("ListShards", input), Effect.sync(() => options.beforeListShards?.())).pipe(Effect.as({
        Shards: shards.map((s) => ({
          ShardId: s.shardId,
          ParentShardId: s.parentShardId,
          HashKeyRange: { StartingHashKey: "0", EndingHashKey: "1" },
          SequenceNumberRange: { StartingSequenceNumber: "0", ...(s.closed ? { EndingSequenceNumber: "9" } : {}) }
        })),
        $metadata: {}
      } as Sdk.ListShardsCommandOutput))
  }
  return { shape, calls, getRecordsFailures, subscribeFailures, eventFailures, subscriptions, issued }
}
