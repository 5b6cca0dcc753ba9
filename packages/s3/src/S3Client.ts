/**
 * The AWS SDK v3 `S3Client` as a service: a method per S3 operation Tributary uses, each mapping failures
 * to `S3Error` and passing an abort signal, so interrupting the fiber aborts the HTTP request (see
 * `AwsClient` of @tributary/aws).
 *
 * Unlike the Kinesis and DynamoDB clients of Tributary, this one keeps the SDK's retries (3 attempts by
 * default, `maxAttempts` or `AWS_MAX_ATTEMPTS` to change): every call the archive makes is idempotent, so
 * a retried put can never double anything, and the archive source has no retry loop of its own.
 *
 * @since 0.1.0
 */
import type * as Sdk from "@aws-sdk/client-s3"
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client as SdkS3Client
} from "@aws-sdk/client-s3"
import { NodeHttpHandler } from "@smithy/node-http-handler"
import { AwsClient } from "@tributary/aws"
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { S3Error } from "./S3Error.js"
import { fromSdkError } from "./S3Error.js"

const commands = { CreateBucketCommand, DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand }

/**
 * The client, its endpoint, `use` for any SDK call, a method per wrapped operation (`putObject`,
 * `listObjectsV2`, `deleteObject`, `createBucket`) and `getObjectBytes`.
 *
 * @since 0.1.0
 * @category models
 */
export interface S3ClientShape extends AwsClient.Client<SdkS3Client, typeof commands, S3Error> {
  /** GetObject with the whole body read (under the same abort signal). */
  readonly getObjectBytes: (input: Sdk.GetObjectCommandInput) => Effect.Effect<Uint8Array, S3Error>
}

/**
 * The tag of the S3 client service; `layer`, `layerConfig` or `fromClient` provide it.
 *
 * @since 0.1.0
 * @category tags
 */
export class S3Client extends Context.Tag("@tributary/s3/S3Client")<S3Client, S3ClientShape>() {}

/**
 * `fromClient(client, endpoint?)` wraps a client built elsewhere (not destroyed by this service).
 * `make(config?)` builds one from SDK settings, destroyed when the scope closes; for a loopback endpoint
 * (an emulator such as s3rver) it defaults to path-style addressing and an HTTP/1.1 handler with a
 * connection timeout. `layer(config?)` provides it. `layerConfig` reads the standard AWS settings through
 * `Config` (see `AwsClient.settings`: the endpoint from `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`,
 * `AWS_MAX_ATTEMPTS` default the SDK's 3); its overrides win.
 *
 * @since 0.1.0
 * @category constructors
 */
export const { fromClient, layer, layerConfig, make } = AwsClient.service(S3Client, {
  endpointVariable: "AWS_ENDPOINT_URL_S3",
  client: (config: Sdk.S3ClientConfig) => new SdkS3Client(config),
  commands,
  fromSdkError,
  sdkRetries: true,
  // emulators answer on one host name: no bucket sub-domains
  local: () => ({ requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000 }), forcePathStyle: true }),
  extend: (service) => ({
    getObjectBytes: (input: Sdk.GetObjectCommandInput) =>
      service.use("GetObject", async (c, abortSignal) => {
        const output = await c.send(new GetObjectCommand(input), { abortSignal })
        return output.Body === undefined ? new Uint8Array(0) : output.Body.transformToByteArray()
      })
  })
})
