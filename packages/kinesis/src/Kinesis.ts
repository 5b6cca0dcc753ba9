/**
 * The AWS SDK v3 `KinesisClient` as a service: a method per Kinesis operation Tributary uses, each mapping
 * failures to `KinesisError` and passing an abort signal, so interrupting the fiber aborts the HTTP
 * request (see `AwsClient` of @tributary/aws), and `subscribeToShard`, whose event stream lives in a scope.
 *
 * The client is built with `maxAttempts: 1` unless told otherwise: the shard reader, the producer and the
 * stream admin functions retry on their own, with backoff and with the error classification of
 * `KinesisError` (the SDK's retries would stack under them and hide throttling).
 *
 * @since 0.1.0
 */
import type * as Sdk from "@aws-sdk/client-kinesis"
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DeregisterStreamConsumerCommand,
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  ListStreamsCommand,
  MergeShardsCommand,
  PutRecordsCommand,
  RegisterStreamConsumerCommand,
  SplitShardCommand,
  SubscribeToShardCommand,
  UpdateShardCountCommand
} from "@aws-sdk/client-kinesis"
import { AwsClient } from "@tributary/aws"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as GetRecordsAnswer from "./internal/getRecordsAnswer.js"
import type { KinesisError } from "./KinesisError.js"
import { fromSdkError } from "./KinesisError.js"

const commands = {
  CreateStreamCommand, DeleteStreamCommand, DeregisterStreamConsumerCommand, DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand, GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, ListStreamsCommand,
  MergeShardsCommand, PutRecordsCommand, RegisterStreamConsumerCommand, SplitShardCommand, UpdateShardCountCommand
}

/**
 * An open SubscribeToShard: its events, read from the HTTP/2 stream one at a time as `next` asks for them
 * (the SDK reads no further ahead than the stream's flow-control window: a slow reader slows the sender).
 *
 * @since 0.1.0
 * @category models
 */
export interface Subscription {
  /**
   * The next event, or `undefined` once the subscription ended (AWS ends each after 5 minutes). An exception
   * the service sends in the stream (ResourceInUse, a KMS failure, InternalFailure) fails it.
   */
  readonly next: Effect.Effect<Sdk.SubscribeToShardEvent | undefined, KinesisError>
}

/**
 * The client, its endpoint, `use` for any SDK call, a method per wrapped operation (`putRecords`,
 * `getRecords`, `getShardIterator`, `listShards`, `listStreams`, `describeStreamSummary`, `createStream`,
 * `deleteStream`, `splitShard`, `mergeShards`, `updateShardCount`, `registerStreamConsumer`,
 * `describeStreamConsumer`, `deregisterStreamConsumer`), and `subscribeToShard`.
 *
 * @since 0.1.0
 * @category models
 */
export interface KinesisShape extends AwsClient.Client<KinesisClient, typeof commands, KinesisError> {
  /**
   * Subscribes to a shard through an enhanced fan-out consumer (HTTP/2: the SDK's default handler, or a
   * loopback endpoint's `LoopbackHandler`). Succeeds once the service answered; the subscription is
   * cancelled (its HTTP/2 stream reset) when the scope closes.
   */
  readonly subscribeToShard: (input: Sdk.SubscribeToShardInput) => Effect.Effect<Subscription, KinesisError, Scope.Scope>
}

/**
 * The tag of the Kinesis client service; `layer`, `layerConfig` or `fromClient` provide it.
 *
 * @since 0.1.0
 * @category tags
 */
export class Kinesis extends Context.Tag("@tributary/kinesis/Kinesis")<Kinesis, KinesisShape>() {}

/**
 * `fromClient(client, endpoint?)` wraps a client built elsewhere (not destroyed by this service; its
 * handler must speak HTTP/2 for `subscribeToShard`). `make(config?)` builds one from SDK settings, with
 * `maxAttempts: 1` unless given and a `LoopbackHandler` (HTTP/1.1, HTTP/2 for event streams) for a loopback
 * endpoint, destroyed when the scope closes; `layer(config?)` provides it. `layerConfig`
 * reads the standard AWS settings through `Config` (see `AwsClient.settings`: the endpoint from
 * `AWS_ENDPOINT_URL_KINESIS` or `AWS_ENDPOINT_URL`, `AWS_MAX_ATTEMPTS` default 1); its overrides win.
 *
 * @since 0.1.0
 * @category constructors
 */
export const { fromClient, layer, layerConfig, make } = AwsClient.service(Kinesis, {
  endpointVariable: "AWS_ENDPOINT_URL_KINESIS",
  // GetRecords answers are read without the SDK's generic deserializer (see internal/getRecordsAnswer)
  client: (config: Sdk.KinesisClientConfig) => GetRecordsAnswer.install(new KinesisClient(config)),
  commands,
  fromSdkError,
  extend: (service) => ({ subscribeToShard: subscribeToShard(service.client) })
})

const subscribeToShard = (client: KinesisClient) => (input: Sdk.SubscribeToShardInput) =>
  Effect.gen(function*() {
    // aborting resets the HTTP/2 stream, whether the answer came already or not
    const controller = yield* Effect.acquireRelease(
      Effect.sync(() => new AbortController()),
      (controller) => Effect.sync(() => controller.abort())
    )
    const output = yield* Effect.tryPromise({
      try: () => client.send(new SubscribeToShardCommand(input), { abortSignal: controller.signal }),
      catch: (error) => fromSdkError("SubscribeToShard", error)
    })
    const events = output.EventStream?.[Symbol.asyncIterator]()
    const next: Effect.Effect<Sdk.SubscribeToShardEvent | undefined, KinesisError> = events === undefined
      ? Effect.succeed(undefined)
      : Effect.tryPromise({
        try: async () => {
          while (true) {
            const result = await events.next()
            if (result.done === true) return undefined
            // members this SDK version does not know are skipped
            if (result.value.SubscribeToShardEvent !== undefined) return result.value.SubscribeToShardEvent
          }
        },
        catch: (error) => fromSdkError("SubscribeToShard", error)
      })
    const subscription: Subscription = { next }
    return subscription
  })
