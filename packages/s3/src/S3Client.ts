/**
 * The AWS SDK v3 `S3Client` as a service. Every call maps S3 errors to `S3Error`s and passes an abort
 * signal, so interrupting the fiber aborts the HTTP request.
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
import { AwsSdk } from "@tributary/aws"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { S3Error } from "./S3Error.js"
import { fromSdkError } from "./S3Error.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface S3ClientShape {
  /** The SDK client, for calls this service does not wrap (use `use` to keep the error mapping). */
  readonly client: SdkS3Client
  /** The configured endpoint, if any (otherwise the SDK's regional endpoint). */
  readonly endpoint: string | undefined
  /** True when the endpoint is on this machine (an emulator). */
  readonly isLocal: boolean
  /** Runs any SDK call with an abort signal and the error mapping. */
  readonly use: <A>(
    operation: string,
    f: (client: SdkS3Client, signal: AbortSignal) => Promise<A>
  ) => Effect.Effect<A, S3Error>
  readonly putObject: (input: Sdk.PutObjectCommandInput) => Effect.Effect<Sdk.PutObjectCommandOutput, S3Error>
  /** GetObject with the whole body read (under the same abort signal). */
  readonly getObjectBytes: (input: Sdk.GetObjectCommandInput) => Effect.Effect<Uint8Array, S3Error>
  readonly listObjectsV2: (input: Sdk.ListObjectsV2CommandInput) => Effect.Effect<Sdk.ListObjectsV2CommandOutput, S3Error>
  readonly deleteObject: (input: Sdk.DeleteObjectCommandInput) => Effect.Effect<Sdk.DeleteObjectCommandOutput, S3Error>
  readonly createBucket: (input: Sdk.CreateBucketCommandInput) => Effect.Effect<Sdk.CreateBucketCommandOutput, S3Error>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class S3Client extends Context.Tag("@tributary/s3/S3Client")<S3Client, S3ClientShape>() {}

/**
 * True for loopback endpoints (127.0.0.0/8, ::1, localhost).
 *
 * @since 0.1.0
 * @category utils
 */
export const isLoopback: (endpoint: string | undefined) => boolean = AwsSdk.isLoopback

/**
 * Wraps an existing client (it is not destroyed by this service).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromClient = (client: SdkS3Client, endpoint?: string): S3ClientShape => {
  const use = <A>(operation: string, f: (client: SdkS3Client, signal: AbortSignal) => Promise<A>) =>
    Effect.tryPromise({ try: (signal) => f(client, signal), catch: (error) => fromSdkError(operation, error) })
  return {
    client,
    endpoint,
    isLocal: isLoopback(endpoint),
    use,
    putObject: (input) => use("PutObject", (c, abortSignal) => c.send(new PutObjectCommand(input), { abortSignal })),
    getObjectBytes: (input) =>
      use("GetObject", async (c, abortSignal) => {
        const output = await c.send(new GetObjectCommand(input), { abortSignal })
        return output.Body === undefined ? new Uint8Array(0) : output.Body.transformToByteArray()
      }),
    listObjectsV2: (input) =>
      use("ListObjectsV2", (c, abortSignal) => c.send(new ListObjectsV2Command(input), { abortSignal })),
    deleteObject: (input) => use("DeleteObject", (c, abortSignal) => c.send(new DeleteObjectCommand(input), { abortSignal })),
    createBucket: (input) => use("CreateBucket", (c, abortSignal) => c.send(new CreateBucketCommand(input), { abortSignal }))
  }
}

/**
 * Builds a client from SDK settings; for a loopback endpoint (an emulator such as s3rver) it defaults to
 * path-style addressing and an HTTP/1.1 handler with a connection timeout. The client is destroyed when
 * the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (config: Sdk.S3ClientConfig = {}) =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => {
        const endpoint = typeof config.endpoint === "string" ? config.endpoint : undefined
        const local = isLoopback(endpoint)
        return new SdkS3Client({
          ...(local && config.requestHandler === undefined
            ? { requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000 }) }
            : {}),
          // emulators answer on one host name: no bucket sub-domains
          ...(local ? { forcePathStyle: true } : {}),
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
export const layer = (config?: Sdk.S3ClientConfig): Layer.Layer<S3Client> => Layer.scoped(S3Client, make(config))

/**
 * The standard AWS settings: region from `AWS_REGION` (or `AWS_DEFAULT_REGION`, else the SDK's profile
 * chain), credentials from the SDK's default chain, the endpoint from `AWS_ENDPOINT_URL_S3` or
 * `AWS_ENDPOINT_URL`, and `AWS_MAX_ATTEMPTS` (default: the SDK's, 3). `overrides` win over all.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (overrides: Sdk.S3ClientConfig = {}): Layer.Layer<S3Client, ConfigError.ConfigError> =>
  Layer.scoped(
    S3Client,
    Effect.gen(function*() {
      const region = yield* Config.option(Config.nonEmptyString("AWS_REGION").pipe(
        Config.orElse(() => Config.nonEmptyString("AWS_DEFAULT_REGION"))
      ))
      const endpoint = yield* Config.option(Config.nonEmptyString("AWS_ENDPOINT_URL_S3").pipe(
        Config.orElse(() => Config.nonEmptyString("AWS_ENDPOINT_URL"))
      ))
      const maxAttempts = yield* Config.option(Config.integer("AWS_MAX_ATTEMPTS"))
      return yield* make({
        ...(Option.isSome(maxAttempts) ? { maxAttempts: maxAttempts.value } : {}),
        ...(Option.isSome(region) ? { region: region.value } : {}),
        // passed explicitly (the SDK reads these variables too) so Effect's ConfigProvider can supply them
        ...(Option.isSome(endpoint) ? { endpoint: endpoint.value } : {}),
        ...overrides
      })
    })
  )
