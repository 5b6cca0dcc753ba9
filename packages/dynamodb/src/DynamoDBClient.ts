/**
 * The AWS SDK v3 DynamoDB client as a service. Every call maps AWS exceptions to `DynamoDBError`s and
 * passes an abort signal, so interrupting the fiber aborts the HTTP request.
 *
 * The client is built with `maxAttempts: 1` unless told otherwise: the lease store retries on its own,
 * with backoff and with the error classification of `DynamoDBError`, and it must know when a conditional
 * write was retried (the SDK's retries would hide that, and a retried write whose first attempt took
 * effect fails its condition).
 *
 * @since 0.1.0
 */
import type * as Sdk from "@aws-sdk/client-dynamodb"
import {
  CreateTableCommand,
  DeleteItemCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient as SdkDynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand
} from "@aws-sdk/client-dynamodb"
import { NodeHttpHandler } from "@smithy/node-http-handler"
import { AwsSdk } from "@tributary/aws"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { DynamoDBError } from "./DynamoDBError.js"
import { fromSdkError } from "./DynamoDBError.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface DynamoDBClientShape {
  /** The SDK client, for calls this service does not wrap (use `use` to keep the error mapping). */
  readonly client: SdkDynamoDBClient
  /** The configured endpoint, if any (otherwise the SDK's regional endpoint). */
  readonly endpoint: string | undefined
  /** True when the endpoint is on this machine (an emulator). */
  readonly isLocal: boolean
  /** Runs any SDK call with an abort signal and the error mapping. */
  readonly use: <A>(
    operation: string,
    f: (client: SdkDynamoDBClient, signal: AbortSignal) => Promise<A>
  ) => Effect.Effect<A, DynamoDBError>
  readonly getItem: (input: Sdk.GetItemInput) => Effect.Effect<Sdk.GetItemOutput, DynamoDBError>
  readonly putItem: (input: Sdk.PutItemInput) => Effect.Effect<Sdk.PutItemOutput, DynamoDBError>
  readonly updateItem: (input: Sdk.UpdateItemInput) => Effect.Effect<Sdk.UpdateItemOutput, DynamoDBError>
  readonly deleteItem: (input: Sdk.DeleteItemInput) => Effect.Effect<Sdk.DeleteItemOutput, DynamoDBError>
  readonly scan: (input: Sdk.ScanInput) => Effect.Effect<Sdk.ScanOutput, DynamoDBError>
  readonly query: (input: Sdk.QueryInput) => Effect.Effect<Sdk.QueryOutput, DynamoDBError>
  readonly createTable: (input: Sdk.CreateTableInput) => Effect.Effect<Sdk.CreateTableOutput, DynamoDBError>
  readonly describeTable: (input: Sdk.DescribeTableInput) => Effect.Effect<Sdk.DescribeTableOutput, DynamoDBError>
  readonly deleteTable: (input: Sdk.DeleteTableInput) => Effect.Effect<Sdk.DeleteTableOutput, DynamoDBError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class DynamoDBClient extends Context.Tag("@tributary/dynamodb/DynamoDBClient")<
  DynamoDBClient,
  DynamoDBClientShape
>() {}

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
export const fromClient = (client: SdkDynamoDBClient, endpoint?: string): DynamoDBClientShape => {
  const use = <A>(operation: string, f: (client: SdkDynamoDBClient, signal: AbortSignal) => Promise<A>) =>
    Effect.tryPromise({ try: (signal) => f(client, signal), catch: (error) => fromSdkError(operation, error) })
  return {
    client,
    endpoint,
    isLocal: isLoopback(endpoint),
    use,
    getItem: (input) => use("GetItem", (c, abortSignal) => c.send(new GetItemCommand(input), { abortSignal })),
    putItem: (input) => use("PutItem", (c, abortSignal) => c.send(new PutItemCommand(input), { abortSignal })),
    updateItem: (input) => use("UpdateItem", (c, abortSignal) => c.send(new UpdateItemCommand(input), { abortSignal })),
    deleteItem: (input) => use("DeleteItem", (c, abortSignal) => c.send(new DeleteItemCommand(input), { abortSignal })),
    scan: (input) => use("Scan", (c, abortSignal) => c.send(new ScanCommand(input), { abortSignal })),
    query: (input) => use("Query", (c, abortSignal) => c.send(new QueryCommand(input), { abortSignal })),
    createTable: (input) => use("CreateTable", (c, abortSignal) => c.send(new CreateTableCommand(input), { abortSignal })),
    describeTable: (input) =>
      use("DescribeTable", (c, abortSignal) => c.send(new DescribeTableCommand(input), { abortSignal })),
    deleteTable: (input) => use("DeleteTable", (c, abortSignal) => c.send(new DeleteTableCommand(input), { abortSignal }))
  }
}

/**
 * Builds a client from SDK settings, with `maxAttempts: 1` unless given, and an HTTP/1.1 handler when the
 * endpoint is loopback and no handler is given; the client is destroyed when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (config: Sdk.DynamoDBClientConfig = {}) =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => {
        const endpoint = typeof config.endpoint === "string" ? config.endpoint : undefined
        const local = isLoopback(endpoint)
        return new SdkDynamoDBClient({
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
export const layer = (config?: Sdk.DynamoDBClientConfig): Layer.Layer<DynamoDBClient> =>
  Layer.scoped(DynamoDBClient, make(config))

/**
 * The standard AWS settings, read through Effect's `Config` (so a `ConfigProvider` can supply them): region
 * from `AWS_REGION` (or `AWS_DEFAULT_REGION`, else the SDK's profile chain), static credentials from
 * `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` when set (else the SDK's default
 * chain: profiles, SSO, web identity, container and instance roles), the endpoint from
 * `AWS_ENDPOINT_URL_DYNAMODB` or `AWS_ENDPOINT_URL`, and `AWS_MAX_ATTEMPTS` (default 1, see the module
 * docs). `overrides` win over all.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  overrides: Sdk.DynamoDBClientConfig = {}
): Layer.Layer<DynamoDBClient, ConfigError.ConfigError> =>
  Layer.scoped(
    DynamoDBClient,
    Effect.gen(function*() {
      const region = yield* Config.option(Config.nonEmptyString("AWS_REGION").pipe(
        Config.orElse(() => Config.nonEmptyString("AWS_DEFAULT_REGION"))
      ))
      const endpoint = yield* Config.option(Config.nonEmptyString("AWS_ENDPOINT_URL_DYNAMODB").pipe(
        Config.orElse(() => Config.nonEmptyString("AWS_ENDPOINT_URL"))
      ))
      const maxAttempts = yield* Config.integer("AWS_MAX_ATTEMPTS").pipe(Config.withDefault(1))
      // static keys, as the SDK's environment provider would read them (first in its default chain)
      const keys = yield* Config.option(Config.all({
        accessKeyId: Config.nonEmptyString("AWS_ACCESS_KEY_ID"),
        secretAccessKey: Config.nonEmptyString("AWS_SECRET_ACCESS_KEY"),
        sessionToken: Config.option(Config.nonEmptyString("AWS_SESSION_TOKEN"))
      }))
      return yield* make({
        maxAttempts,
        ...(Option.isSome(region) ? { region: region.value } : {}),
        ...(Option.isSome(keys)
          ? {
            credentials: {
              accessKeyId: keys.value.accessKeyId,
              secretAccessKey: keys.value.secretAccessKey,
              ...(Option.isSome(keys.value.sessionToken) ? { sessionToken: keys.value.sessionToken.value } : {})
            }
          }
          : {}),
        // passed explicitly (the SDK reads these variables too) so Effect's ConfigProvider can supply them
        ...(Option.isSome(endpoint) ? { endpoint: endpoint.value } : {}),
        ...overrides
      })
    })
  )
