/**
 * The AWS SDK v3 `KinesisClient` as a service. Every call maps AWS exceptions to `KinesisError`s and
 * passes an abort signal, so interrupting the fiber aborts the HTTP request.
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
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  ListStreamsCommand,
  MergeShardsCommand,
  PutRecordsCommand,
  SplitShardCommand,
  UpdateShardCountCommand
} from "@aws-sdk/client-kinesis"
import { NodeHttpHandler } from "@smithy/node-http-handler"
import { AwsSdk } from "@tributary/aws"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { KinesisError } from "./KinesisError.js"
import { fromSdkError } from "./KinesisError.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface KinesisShape {
  /** The SDK client, for calls this service does not wrap (use `use` to keep the error mapping). */
  readonly client: KinesisClient
  /** The configured endpoint, if any (otherwise the SDK's regional endpoint). */
  readonly endpoint: string | undefined
  /** True when the endpoint is on this machine (an emulator): lifts limits meant to protect real AWS. */
  readonly isLocal: boolean
  /** Runs any SDK call with an abort signal and the error mapping. */
  readonly use: <A>(operation: string, f: (client: KinesisClient, signal: AbortSignal) => Promise<A>) => Effect.Effect<A, KinesisError>
  readonly putRecords: (input: Sdk.PutRecordsInput) => Effect.Effect<Sdk.PutRecordsOutput, KinesisError>
  readonly getRecords: (input: Sdk.GetRecordsInput) => Effect.Effect<Sdk.GetRecordsOutput, KinesisError>
  readonly getShardIterator: (input: Sdk.GetShardIteratorInput) => Effect.Effect<Sdk.GetShardIteratorOutput, KinesisError>
  readonly listShards: (input: Sdk.ListShardsInput) => Effect.Effect<Sdk.ListShardsOutput, KinesisError>
  readonly listStreams: (input: Sdk.ListStreamsInput) => Effect.Effect<Sdk.ListStreamsOutput, KinesisError>
  readonly describeStreamSummary: (
    input: Sdk.DescribeStreamSummaryInput
  ) => Effect.Effect<Sdk.DescribeStreamSummaryOutput, KinesisError>
  readonly createStream: (input: Sdk.CreateStreamInput) => Effect.Effect<Sdk.CreateStreamCommandOutput, KinesisError>
  readonly deleteStream: (input: Sdk.DeleteStreamInput) => Effect.Effect<Sdk.DeleteStreamCommandOutput, KinesisError>
  readonly splitShard: (input: Sdk.SplitShardInput) => Effect.Effect<Sdk.SplitShardCommandOutput, KinesisError>
  readonly mergeShards: (input: Sdk.MergeShardsInput) => Effect.Effect<Sdk.MergeShardsCommandOutput, KinesisError>
  readonly updateShardCount: (input: Sdk.UpdateShardCountInput) => Effect.Effect<Sdk.UpdateShardCountOutput, KinesisError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Kinesis extends Context.Tag("@tributary/kinesis/Kinesis")<Kinesis, KinesisShape>() {}

/**
 * True for loopback endpoints (127.0.0.0/8, ::1, localhost).
 *
 * @since 0.1.0
 * @category utils
 */
export const isLoopback: (endpoint: string | undefined) => boolean = AwsSdk.isLoopback

/**
 * Wraps an existing client.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromClient = (client: KinesisClient, endpoint?: string): KinesisShape => {
  const use = <A>(operation: string, f: (client: KinesisClient, signal: AbortSignal) => Promise<A>) =>
    Effect.tryPromise({ try: (signal) => f(client, signal), catch: (error) => fromSdkError(operation, error) })
  return {
    client,
    endpoint,
    isLocal: isLoopback(endpoint),
    use,
    putRecords: (input) => use("PutRecords", (c, abortSignal) => c.send(new PutRecordsCommand(input), { abortSignal })),
    getRecords: (input) => use("GetRecords", (c, abortSignal) => c.send(new GetRecordsCommand(input), { abortSignal })),
    getShardIterator: (input) =>
      use("GetShardIterator", (c, abortSignal) => c.send(new GetShardIteratorCommand(input), { abortSignal })),
    listShards: (input) => use("ListShards", (c, abortSignal) => c.send(new ListShardsCommand(input), { abortSignal })),
    listStreams: (input) => use("ListStreams", (c, abortSignal) => c.send(new ListStreamsCommand(input), { abortSignal })),
    describeStreamSummary: (input) =>
      use("DescribeStreamSummary", (c, abortSignal) => c.send(new DescribeStreamSummaryCommand(input), { abortSignal })),
    createStream: (input) => use("CreateStream", (c, abortSignal) => c.send(new CreateStreamCommand(input), { abortSignal })),
    deleteStream: (input) => use("DeleteStream", (c, abortSignal) => c.send(new DeleteStreamCommand(input), { abortSignal })),
    splitShard: (input) => use("SplitShard", (c, abortSignal) => c.send(new SplitShardCommand(input), { abortSignal })),
    mergeShards: (input) => use("MergeShards", (c, abortSignal) => c.send(new MergeShardsCommand(input), { abortSignal })),
    updateShardCount: (input) =>
      use("UpdateShardCount", (c, abortSignal) => c.send(new UpdateShardCountCommand(input), { abortSignal }))
  }
}

/**
 * Builds a client from SDK settings, with `maxAttempts: 1` unless given, and an HTTP/1.1 handler when the
 * endpoint is loopback (the SDK's default HTTP/2 fails against the emulators); the client is destroyed
 * when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (config: Sdk.KinesisClientConfig = {}) =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => {
        const endpoint = typeof config.endpoint === "string" ? config.endpoint : undefined
        const local = isLoopback(endpoint)
        return new KinesisClient({
          maxAttempts: 1,
          ...(local && config.requestHandler === undefined ? { requestHandler: new NodeHttpHandler() } : {}),
          ...config
        })
      }),
      (client) => Effect.sync(() => client.destroy())
    ),
    (client) => fromClient(client, typeof config.endpoint === "string" ? config.endpoint : undefined)
  )

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (config?: Sdk.KinesisClientConfig): Layer.Layer<Kinesis> => Layer.scoped(Kinesis, make(config))

/**
 * The standard AWS settings: region from `AWS_REGION` (or `AWS_DEFAULT_REGION`, else the SDK's profile
 * chain), credentials from the SDK's default chain, the endpoint from `AWS_ENDPOINT_URL_KINESIS` or
 * `AWS_ENDPOINT_URL` (read by the SDK itself; read here only to pick HTTP/1.1 for a loopback endpoint),
 * and `AWS_MAX_ATTEMPTS` (default 1, see the module docs).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (overrides: Sdk.KinesisClientConfig = {}): Layer.Layer<Kinesis, ConfigError.ConfigError> =>
  Layer.scoped(
    Kinesis,
    Effect.gen(function*() {
      const region = yield* Config.option(Config.nonEmptyString("AWS_REGION").pipe(
        Config.orElse(() => Config.nonEmptyString("AWS_DEFAULT_REGION"))
      ))
      const endpoint = yield* Config.option(Config.nonEmptyString("AWS_ENDPOINT_URL_KINESIS").pipe(
        Config.orElse(() => Config.nonEmptyString("AWS_ENDPOINT_URL"))
      ))
      const maxAttempts = yield* Config.integer("AWS_MAX_ATTEMPTS").pipe(Config.withDefault(1))
      const local = isLoopback(Option.getOrUndefined(endpoint))
      const client = yield* Effect.acquireRelease(
        Effect.sync(() =>
          new KinesisClient({
            maxAttempts,
            ...(Option.isSome(region) ? { region: region.value } : {}),
            // passed explicitly (the SDK reads these variables too) so Effect's ConfigProvider can supply them
            ...(Option.isSome(endpoint) ? { endpoint: endpoint.value } : {}),
            ...(local ? { requestHandler: new NodeHttpHandler() } : {}),
            ...overrides
          })
        ),
        (client) => Effect.sync(() => client.destroy())
      )
      return fromClient(client, typeof overrides.endpoint === "string" ? overrides.endpoint : Option.getOrUndefined(endpoint))
    })
  )
