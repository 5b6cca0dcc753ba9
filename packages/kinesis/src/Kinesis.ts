/**
 * The AWS SDK v3 `KinesisClient` as a service: a method per Kinesis operation Tributary uses, each mapping
 * failures to `KinesisError` and passing an abort signal, so interrupting the fiber aborts the HTTP
 * request (see `AwsClient` of @tributary/aws).
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
import { AwsClient } from "@tributary/aws"
import * as Context from "effect/Context"
import type { KinesisError } from "./KinesisError.js"
import { fromSdkError } from "./KinesisError.js"

const commands = {
  CreateStreamCommand, DeleteStreamCommand, DescribeStreamSummaryCommand, GetRecordsCommand, GetShardIteratorCommand,
  ListShardsCommand, ListStreamsCommand, MergeShardsCommand, PutRecordsCommand, SplitShardCommand, UpdateShardCountCommand
}

/**
 * The client, its endpoint, `use` for any SDK call, and a method per wrapped operation (`putRecords`,
 * `getRecords`, `getShardIterator`, `listShards`, `listStreams`, `describeStreamSummary`, `createStream`,
 * `deleteStream`, `splitShard`, `mergeShards`, `updateShardCount`).
 *
 * @since 0.1.0
 * @category models
 */
export interface KinesisShape extends AwsClient.Client<KinesisClient, typeof commands, KinesisError> {}

/**
 * The tag of the Kinesis client service; `layer`, `layerConfig` or `fromClient` provide it.
 *
 * @since 0.1.0
 * @category tags
 */
export class Kinesis extends Context.Tag("@tributary/kinesis/Kinesis")<Kinesis, KinesisShape>() {}

/**
 * `fromClient(client, endpoint?)` wraps a client built elsewhere (not destroyed by this service).
 * `make(config?)` builds one from SDK settings, with `maxAttempts: 1` unless given and an HTTP/1.1 handler
 * for a loopback endpoint, destroyed when the scope closes; `layer(config?)` provides it. `layerConfig`
 * reads the standard AWS settings through `Config` (see `AwsClient.settings`: the endpoint from
 * `AWS_ENDPOINT_URL_KINESIS` or `AWS_ENDPOINT_URL`, `AWS_MAX_ATTEMPTS` default 1); its overrides win.
 *
 * @since 0.1.0
 * @category constructors
 */
export const { fromClient, layer, layerConfig, make } = AwsClient.service(Kinesis, {
  endpointVariable: "AWS_ENDPOINT_URL_KINESIS",
  client: (config: Sdk.KinesisClientConfig) => new KinesisClient(config),
  commands,
  fromSdkError
})
