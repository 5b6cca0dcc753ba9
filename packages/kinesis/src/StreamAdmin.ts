/**
 * Stream administration: make sure a stream exists, describe it, list its shards (with their parents and
 * hash ranges), and reshard it. Every function retries transient failures (the control plane allows only
 * a few calls per second) and waits for the stream to be ACTIVE again after a change.
 *
 * @since 0.1.0
 */
import type * as Sdk from "@aws-sdk/client-kinesis"
import { AwsError } from "@tributary/aws"
import * as Retry from "@tributary/core/Retry"
import type { Retryability } from "@tributary/core/TributaryError"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { Kinesis } from "./Kinesis.js"
import type { KinesisError } from "./KinesisError.js"

/**
 * A shard as ListShards gives it: its id, its parents, its hash key range and its sequence number range.
 *
 * @since 0.1.0
 * @category models
 */
export interface Shard {
  /** The shard's id, e.g. "shardId-000000000000". */
  readonly shardId: string
  /**
   * The shard it was split from, or the first of the two it was merged from; undefined for a shard the
   * stream was created with.
   */
  readonly parentShardId: string | undefined
  /** The second parent of a shard made by MergeShards. */
  readonly adjacentParentShardId: string | undefined
  /** Inclusive range of 128-bit hash keys the shard owns. */
  readonly hashKeyRange: { readonly start: bigint; readonly end: bigint }
  /** The sequence number of the shard's first record. */
  readonly startingSequenceNumber: string
  /** Set once the shard is closed (after a split or merge): no records are added after it. */
  readonly endingSequenceNumber: string | undefined
}

/**
 * A stream as DescribeStreamSummary gives it.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamDescription {
  /** The stream's name. */
  readonly name: string
  /** The stream's ARN. */
  readonly arn: string | undefined
  /** CREATING, ACTIVE, UPDATING or DELETING. */
  readonly status: string
  /** How many shards are open: those new records go to. */
  readonly openShardCount: number
  /** How long records are kept, in hours. */
  readonly retentionHours: number | undefined
  /** "NONE" or "KMS". */
  readonly encryption: string | undefined
  /** The capacity mode: "PROVISIONED" or "ON_DEMAND". */
  readonly mode: string | undefined
}

/**
 * A resharding request that cannot be done (no such shard, a closed shard, shards that are not adjacent).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidReshard extends Data.TaggedError("InvalidReshard")<{
  readonly stream: string
  readonly reason: string
}> {
  /**
   * Always permanent: the same request fails again.
   *
   * @since 0.1.0
   */
  readonly retryability: Retryability = "permanent"
  /**
   * The stream and why the request cannot be done.
   *
   * @since 0.1.0
   */
  override get message(): string {
    return `cannot reshard ${this.stream}: ${this.reason}`
  }
}

/**
 * How long to wait for a stream to be ACTIVE, and how often to look.
 *
 * @since 0.1.0
 * @category models
 */
export interface WaitOptions {
  /** How long to wait for ACTIVE. Default 5 minutes. */
  readonly timeout?: Duration.DurationInput
  /** Between DescribeStreamSummary calls. Default 1 s against AWS, 25 ms against a local endpoint. */
  readonly pollInterval?: Duration.DurationInput
}

/**
 * Retries transient failures of a control-plane call: jittered backoff from 100 ms (capped at 5 s), at most
 * 10 retries.
 *
 * @since 0.1.0
 * @category utils
 */
export const retryTransient = <A, E extends { readonly retryability: Retryability }, R>(
  effect: Effect.Effect<A, E, R>,
  options: { readonly times?: number } = {}
): Effect.Effect<A, E, R> =>
  Retry.transient(Retry.exponential({ base: "100 millis", cap: "5 seconds", times: options.times ?? 10, jitter: [0.5, 1] }))(
    effect
  )

/**
 * The stream's name, status, shards, retention, encryption and capacity mode (DescribeStreamSummary,
 * retrying transient failures); fails with a `NotFound` `KinesisError` when the stream does not exist.
 *
 * @since 0.1.0
 * @category describe
 */
export const describe = Effect.fn("StreamAdmin.describe")(function*(stream: string) {
  const kinesis = yield* Kinesis
  const output = yield* retryTransient(kinesis.describeStreamSummary({ StreamName: stream }))
  return toDescription(stream, output.StreamDescriptionSummary)
})

/**
 * Waits until the stream is ACTIVE (fails with a `NotFound` `KinesisError` if it does not exist, or is
 * deleted while waiting).
 *
 * @since 0.1.0
 * @category describe
 */
export const waitForActive = Effect.fn("StreamAdmin.waitForActive")(function*(stream: string, options: WaitOptions = {}) {
  const kinesis = yield* Kinesis
  const timeout = Duration.decode(options.timeout ?? "5 minutes")
  const interval = Duration.decode(options.pollInterval ?? (kinesis.isLocal ? "25 millis" : "1 second"))
  const started = yield* Clock.currentTimeMillis
  while (true) {
    const description = yield* describe(stream)
    if (description.status === "ACTIVE") return description
    const waited = Duration.millis((yield* Clock.currentTimeMillis) - started)
    if (Duration.greaterThanOrEqualTo(waited, timeout)) {
      return yield* new AwsError.NotReady({ resource: `Kinesis stream ${stream}`, status: description.status, waited })
    }
    yield* Effect.sleep(interval)
  }
})

/**
 * Makes sure the stream exists and is ACTIVE: creates it with `shards` shards if it does not exist (a
 * stream created meanwhile by someone else is fine), and waits while it is CREATING or UPDATING. An
 * existing stream is left as it is, whatever its shard count (see `openShardCount`).
 *
 * @since 0.1.0
 * @category create
 */
export const ensureStream = Effect.fn("StreamAdmin.ensureStream")(function*(
  stream: string,
  options: WaitOptions & {
    readonly shards: number
    /** "PROVISIONED" (default) or "ON_DEMAND" (`shards` is then ignored; not on kinesalite). */
    readonly mode?: "PROVISIONED" | "ON_DEMAND"
  }
) {
  const kinesis = yield* Kinesis
  let existing = yield* Effect.either(kinesis.describeStreamSummary({ StreamName: stream }).pipe(retryTransient))
  if (existing._tag === "Right" && existing.right.StreamDescriptionSummary?.StreamStatus === "DELETING") {
    // it has to be gone before it can be created again
    yield* waitForDeletion(stream, options)
    existing = yield* Effect.either(kinesis.describeStreamSummary({ StreamName: stream }).pipe(retryTransient))
  }
  if (existing._tag === "Left") {
    if (existing.left.reason !== "NotFound") return yield* existing.left
    const input: Sdk.CreateStreamInput = options.mode === "ON_DEMAND"
      ? { StreamName: stream, StreamModeDetails: { StreamMode: "ON_DEMAND" } }
      : { StreamName: stream, ShardCount: options.shards }
    // ResourceInUse: someone else created it meanwhile
    yield* kinesis.createStream(input).pipe(
      Effect.catchIf(AwsError.hasReason("ResourceInUse"), () => Effect.void),
      retryTransient
    )
  }
  return yield* waitForActive(stream, options)
})

/**
 * Deletes the stream (with its consumers) and waits until it is gone.
 *
 * @since 0.1.0
 * @category delete
 */
export const deleteStream = Effect.fn("StreamAdmin.deleteStream")(function*(stream: string, options: WaitOptions = {}) {
  const kinesis = yield* Kinesis
  yield* kinesis.deleteStream({ StreamName: stream, EnforceConsumerDeletion: true }).pipe(
    retryTransient,
    Effect.catchIf(AwsError.hasReason("NotFound"), () => Effect.void)
  )
  yield* waitForDeletion(stream, options)
})

const waitForDeletion = Effect.fn("StreamAdmin.waitForDeletion")(function*(stream: string, options: WaitOptions) {
  const kinesis = yield* Kinesis
  const timeout = Duration.decode(options.timeout ?? "5 minutes")
  const interval = Duration.decode(options.pollInterval ?? (kinesis.isLocal ? "25 millis" : "1 second"))
  const started = yield* Clock.currentTimeMillis
  while (true) {
    const found = yield* kinesis.describeStreamSummary({ StreamName: stream }).pipe(
      retryTransient,
      Effect.map((output) => output.StreamDescriptionSummary?.StreamStatus ?? "UNKNOWN"),
      Effect.catchIf(AwsError.hasReason("NotFound"), () => Effect.succeed(undefined))
    )
    if (found === undefined) return
    const waited = Duration.millis((yield* Clock.currentTimeMillis) - started)
    if (Duration.greaterThanOrEqualTo(waited, timeout)) return yield* new AwsError.NotReady({ resource: `Kinesis stream ${stream}`, status: found, waited })
    yield* Effect.sleep(interval)
  }
})

/**
 * Every shard of the stream, open and closed (those still within the retention period), following
 * ListShards pagination.
 *
 * @since 0.1.0
 * @category shards
 */
export const listShards = Effect.fn("StreamAdmin.listShards")(function*(
  stream: string,
  options: {
    /** Shards per ListShards call, 1 to 10,000. Default 1,000. */
    readonly pageSize?: number
  } = {}
) {
  const kinesis = yield* Kinesis
  const pageSize = Math.max(1, Math.min(10_000, options.pageSize ?? 1000))
  const shards: Array<Shard> = []
  let token: string | undefined
  do {
    // with a NextToken, ListShards must not be given the stream name
    const input: Sdk.ListShardsInput = token === undefined
      ? { StreamName: stream, MaxResults: pageSize }
      : { NextToken: token, MaxResults: pageSize }
    const page = yield* retryTransient(kinesis.listShards(input))
    for (const shard of page.Shards ?? []) shards.push(toShard(shard))
    token = page.NextToken
  } while (token !== undefined)
  return shards as ReadonlyArray<Shard>
})

/**
 * True once the shard is closed.
 *
 * @since 0.1.0
 * @category shards
 */
export const isClosed = (shard: Shard): boolean => shard.endingSequenceNumber !== undefined

/**
 * Splits an open shard at `newStartingHashKey` (default: the middle of its range), waits for ACTIVE and
 * answers the two children.
 *
 * @since 0.1.0
 * @category reshard
 */
export const splitShard = Effect.fn("StreamAdmin.splitShard")(function*(
  stream: string,
  shardId: string,
  options: WaitOptions & { readonly newStartingHashKey?: bigint } = {}
) {
  const kinesis = yield* Kinesis
  const shard = (yield* listShards(stream)).find((s) => s.shardId === shardId)
  if (shard === undefined) return yield* new InvalidReshard({ stream, reason: `no shard ${shardId}` })
  if (isClosed(shard)) return yield* new InvalidReshard({ stream, reason: `${shardId} is closed` })
  const { start, end } = shard.hashKeyRange
  const at = options.newStartingHashKey ?? (start + end + 1n) / 2n
  if (at <= start || at > end) {
    return yield* new InvalidReshard({ stream, reason: `hash key ${at} is not inside ${shardId} (${start}..${end})` })
  }
  yield* retryTransient(kinesis.splitShard({ StreamName: stream, ShardToSplit: shardId, NewStartingHashKey: at.toString() }))
  yield* waitForActive(stream, options)
  return (yield* listShards(stream)).filter((s) => s.parentShardId === shardId && s.adjacentParentShardId === undefined)
})

/**
 * Merges two adjacent open shards, waits for ACTIVE and answers the child.
 *
 * @since 0.1.0
 * @category reshard
 */
export const mergeShards = Effect.fn("StreamAdmin.mergeShards")(function*(
  stream: string,
  shardId: string,
  adjacentShardId: string,
  options: WaitOptions = {}
) {
  const kinesis = yield* Kinesis
  const shards = yield* listShards(stream)
  const a = shards.find((s) => s.shardId === shardId)
  const b = shards.find((s) => s.shardId === adjacentShardId)
  if (a === undefined || b === undefined || isClosed(a) || isClosed(b)) {
    return yield* new InvalidReshard({ stream, reason: `${shardId} and ${adjacentShardId} must both be open shards` })
  }
  if (a.hashKeyRange.end + 1n !== b.hashKeyRange.start && b.hashKeyRange.end + 1n !== a.hashKeyRange.start) {
    return yield* new InvalidReshard({ stream, reason: `${shardId} and ${adjacentShardId} are not adjacent` })
  }
  yield* retryTransient(kinesis.mergeShards({ StreamName: stream, ShardToMerge: shardId, AdjacentShardToMerge: adjacentShardId }))
  yield* waitForActive(stream, options)
  const child = (yield* listShards(stream)).find((s) =>
    s.parentShardId === shardId && s.adjacentParentShardId === adjacentShardId ||
    s.parentShardId === adjacentShardId && s.adjacentParentShardId === shardId
  )
  if (child === undefined) return yield* new InvalidReshard({ stream, reason: "the merged shard is not listed" })
  return child
})

/**
 * Scales the stream to `target` open shards (UNIFORM_SCALING) and waits for ACTIVE. Real AWS and
 * kinesis-mock support it; kinesalite answers an `Unsupported` `KinesisError` (use `splitShard` and
 * `mergeShards`).
 *
 * @since 0.1.0
 * @category reshard
 */
export const updateShardCount = Effect.fn("StreamAdmin.updateShardCount")(function*(
  stream: string,
  target: number,
  options: WaitOptions = {}
) {
  const kinesis = yield* Kinesis
  yield* retryTransient(kinesis.updateShardCount({ StreamName: stream, TargetShardCount: target, ScalingType: "UNIFORM_SCALING" }))
  return yield* waitForActive(stream, options)
})

/**
 * The errors of this module's functions.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamAdminError = KinesisError | AwsError.NotReady | InvalidReshard

const toShard = (shard: Sdk.Shard): Shard => ({
  shardId: shard.ShardId ?? "",
  parentShardId: shard.ParentShardId ?? undefined,
  adjacentParentShardId: shard.AdjacentParentShardId ?? undefined,
  hashKeyRange: {
    start: BigInt(shard.HashKeyRange?.StartingHashKey ?? "0"),
    end: BigInt(shard.HashKeyRange?.EndingHashKey ?? "0")
  },
  startingSequenceNumber: shard.SequenceNumberRange?.StartingSequenceNumber ?? "0",
  endingSequenceNumber: shard.SequenceNumberRange?.EndingSequenceNumber ?? undefined
})

const toDescription = (stream: string, summary: Sdk.StreamDescriptionSummary | undefined): StreamDescription => ({
  name: summary?.StreamName ?? stream,
  arn: summary?.StreamARN,
  status: summary?.StreamStatus ?? "UNKNOWN",
  openShardCount: summary?.OpenShardCount ?? 0,
  retentionHours: summary?.RetentionPeriodHours,
  encryption: summary?.EncryptionType,
  mode: summary?.StreamModeDetails?.StreamMode
})
