/**
 * The AWS SDK v3 DynamoDB client as a service: a method per DynamoDB operation Tributary uses, each mapping
 * failures to `DynamoDBError` and passing an abort signal, so interrupting the fiber aborts the HTTP
 * request (see `AwsClient` of @tributary/aws).
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
  BatchWriteItemCommand,
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
import { AwsClient } from "@tributary/aws"
import * as Context from "effect/Context"
import type { DynamoDBError } from "./DynamoDBError.js"
import { fromSdkError } from "./DynamoDBError.js"

const commands = {
  BatchWriteItemCommand, CreateTableCommand, DeleteItemCommand, DeleteTableCommand, DescribeTableCommand,
  GetItemCommand, PutItemCommand, QueryCommand, ScanCommand, UpdateItemCommand
}

/**
 * The client, its endpoint, `use` for any SDK call, and a method per wrapped operation (`getItem`,
 * `putItem`, `updateItem`, `deleteItem`, `batchWriteItem`, `scan`, `query`, `createTable`, `describeTable`,
 * `deleteTable`).
 *
 * @since 0.1.0
 * @category models
 */
export interface DynamoDBClientShape extends AwsClient.Client<SdkDynamoDBClient, typeof commands, DynamoDBError> {}

/**
 * The tag of the DynamoDB client service; `layer`, `layerConfig` or `fromClient` provide it.
 *
 * @since 0.1.0
 * @category tags
 */
export class DynamoDBClient extends Context.Tag("@tributary/dynamodb/DynamoDBClient")<
  DynamoDBClient,
  DynamoDBClientShape
>() {}

/**
 * `fromClient(client, endpoint?)` wraps a client built elsewhere (not destroyed by this service).
 * `make(config?)` builds one from SDK settings, with `maxAttempts: 1` unless given (see the module docs)
 * and an HTTP/1.1 handler for a loopback endpoint, destroyed when the scope closes; `layer(config?)`
 * provides it. `layerConfig` reads the standard AWS settings through `Config` (see `AwsClient.settings`:
 * the endpoint from `AWS_ENDPOINT_URL_DYNAMODB` or `AWS_ENDPOINT_URL`, `AWS_MAX_ATTEMPTS` default 1); its
 * overrides win.
 *
 * @since 0.1.0
 * @category constructors
 */
export const { fromClient, layer, layerConfig, make } = AwsClient.service(DynamoDBClient, {
  client: (config: Sdk.DynamoDBClientConfig) => new SdkDynamoDBClient(config),
  endpointVariable: "AWS_ENDPOINT_URL_DYNAMODB",
  fromSdkError,
  commands
})
