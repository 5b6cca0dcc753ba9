/**
 * Enhanced fan-out consumers of a stream: register one (or reuse the one registered under the name),
 * wait until it is ACTIVE, describe it, deregister it. A consumer gets its own 2 MB/s per shard, pushed
 * to it by SubscribeToShard (`FanOutReader`); a stream has at most 20 (5 by default, a service quota).
 *
 * Waiting polls DescribeStreamConsumer on a `Retry.exponential` schedule: registration takes a few seconds
 * on AWS.
 *
 * @since 0.1.0
 */
import type * as Sdk from "@aws-sdk/client-kinesis"
import { AwsError } from "@tributary/aws"
import * as Retry from "@tributary/core/Retry"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { Kinesis } from "./Kinesis.js"
import { KinesisError } from "./KinesisError.js"
import * as StreamAdmin from "./StreamAdmin.js"

/**
 * An enhanced fan-out consumer of a stream, as DescribeStreamConsumer answers it.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamConsumer {
  /** The name it was registered under (the application's, the same for all its workers). */
  readonly name: string
  /** What SubscribeToShard takes: `arn:aws:kinesis:<region>:<account>:stream/<stream>/consumer/<name>:<created>`. */
  readonly arn: string
  /** CREATING, ACTIVE or DELETING. */
  readonly status: string
  /** The ARN of the stream it reads. */
  readonly streamArn: string
}

/**
 * How long `ensure` and `deregister` wait for the consumer's status to settle.
 *
 * @since 0.1.0
 * @category models
 */
export interface WaitOptions {
  /** How long to wait for ACTIVE (or for a deregistered consumer to be gone). Default 5 minutes. */
  readonly timeout?: Duration.DurationInput | undefined
}

/**
 * The errors of this module's functions.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamConsumerError = KinesisError | AwsError.NotReady

/**
 * Why Kinesis would refuse a consumer name (it takes 1 to 128 of `a-z A-Z 0-9 _ . -`), or undefined; for
 * `checkOptions` of @tributary/core.
 *
 * @since 0.1.0
 * @category validation
 */
export const nameProblem = (name: string): string | undefined =>
  /^[a-zA-Z0-9_.-]{1,128}$/.test(name) ? undefined : `${JSON.stringify(name)} is not 1 to 128 letters, digits, '_', '.' or '-'`

/**
 * The consumer registered under `name` on the stream (by name or ARN), or undefined.
 *
 * @since 0.1.0
 * @category describe
 */
export const describe = Effect.fn("StreamConsumer.describe")(function*(stream: string, name: string) {
  const kinesis = yield* Kinesis
  const streamArn = yield* arnOf(stream)
  return yield* kinesis.describeStreamConsumer({ StreamARN: streamArn, ConsumerName: name }).pipe(
    StreamAdmin.retryTransient,
    Effect.map((output) => toConsumer(output.ConsumerDescription, streamArn)),
    Effect.catchIf(AwsError.hasReason("NotFound"), () => Effect.succeed(undefined))
  )
})

/**
 * Registers the consumer `name` on the stream unless it is registered already (by this process, another
 * worker, or a deployment), and waits until it is ACTIVE. A consumer being deleted is waited for, then
 * registered again.
 *
 * @since 0.1.0
 * @category register
 */
export const ensure = Effect.fn("StreamConsumer.ensure")(function*(stream: string, name: string, options: WaitOptions = {}) {
  const kinesis = yield* Kinesis
  const streamArn = yield* arnOf(stream)
  const started = yield* Clock.currentTimeMillis
  const poll: Effect.Effect<StreamConsumer, StreamConsumerError | NotYet, Kinesis> = Effect.gen(function*() {
    const found = yield* describe(streamArn, name)
    if (found === undefined) {
      // ResourceInUse: registered meanwhile by another worker (or the stream is being updated)
      yield* kinesis.registerStreamConsumer({ StreamARN: streamArn, ConsumerName: name }).pipe(
        Effect.catchIf(AwsError.hasReason("ResourceInUse"), () => Effect.void),
        StreamAdmin.retryTransient
      )
      return yield* new NotYet({ status: "CREATING" })
    }
    if (found.status !== "ACTIVE") return yield* new NotYet({ status: found.status })
    return found
  })
  return yield* waitFor(poll, `Kinesis stream consumer ${name}`, started, options, kinesis.isLocal)
})

/**
 * Deregisters the consumer `name` (its subscriptions end) and waits until it is gone; nothing if there is
 * none.
 *
 * @since 0.1.0
 * @category register
 */
export const deregister = Effect.fn("StreamConsumer.deregister")(function*(stream: string, name: string, options: WaitOptions = {}) {
  const kinesis = yield* Kinesis
  const streamArn = yield* arnOf(stream)
  const started = yield* Clock.currentTimeMillis
  yield* kinesis.deregisterStreamConsumer({ StreamARN: streamArn, ConsumerName: name }).pipe(
    StreamAdmin.retryTransient,
    Effect.catchIf(AwsError.hasReason("NotFound"), () => Effect.void)
  )
  const gone = Effect.flatMap(describe(streamArn, name), (found) =>
    found === undefined ? Effect.void : Effect.fail(new NotYet({ status: found.status })))
  yield* waitFor(gone, `Kinesis stream consumer ${name}`, started, options, kinesis.isLocal)
})

// ---------------------------------------------------------------------------------------------------------
// internal
// ---------------------------------------------------------------------------------------------------------

/** Not in the state waited for yet. */
class NotYet extends Data.TaggedError("NotYet")<{ readonly status: string }> {}

const waitFor = <A, R>(
  poll: Effect.Effect<A, StreamConsumerError | NotYet, R>,
  resource: string,
  started: number,
  options: WaitOptions,
  local: boolean
): Effect.Effect<A, StreamConsumerError, R> => {
  const timeout = Duration.decode(options.timeout ?? "5 minutes")
  const schedule = Retry.exponential({
    base: local ? "20 millis" : "500 millis",
    cap: local ? "200 millis" : "5 seconds",
    times: Infinity,
    jitter: [0.5, 1]
  }).pipe(Schedule.upTo(timeout))
  return poll.pipe(
    Effect.retry({ schedule, while: (error) => error._tag === "NotYet" }),
    Effect.catchTag("NotYet", (error) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.fail(new AwsError.NotReady({ resource, status: error.status, waited: Duration.millis(now - started) }))))
  )
}

/** A stream's ARN (an ARN is taken as it is). */
const arnOf = (stream: string): Effect.Effect<string, KinesisError, Kinesis> =>
  stream.startsWith("arn:")
    ? Effect.succeed(stream)
    : Effect.flatMap(StreamAdmin.describe(stream), (description) =>
      description.arn === undefined
        ? Effect.fail(missingArn(stream))
        : Effect.succeed(description.arn))

/** kinesalite has no stream ARNs, and no consumers. */
const missingArn = (stream: string): KinesisError =>
  new KinesisError({
    operation: "DescribeStreamSummary",
    reason: "Unsupported",
    retryability: "permanent",
    awsName: "NoStreamARN",
    description: `the endpoint gives ${stream} no StreamARN: it has no stream consumers`,
    statusCode: undefined,
    requestId: undefined,
    cause: undefined
  })

const toConsumer = (description: Sdk.ConsumerDescription | undefined, streamArn: string): StreamConsumer | undefined =>
  description === undefined ? undefined : {
    name: description.ConsumerName ?? "",
    arn: description.ConsumerARN ?? "",
    status: description.ConsumerStatus ?? "UNKNOWN",
    streamArn: description.StreamARN ?? streamArn
  }
