/**
 * A pipeline as a Lambda function behind an event source mapping (`Lambda.handler` or
 * `Lambda.tumblingWindowHandler` of `@tributary/lambda`), reading a Kinesis stream (by polling, or through
 * an enhanced fan-out consumer of its own) or a DynamoDB table's stream.
 *
 * The mapping's settings are named as in Lambda's API and in `LocalRunner` (which runs the same settings
 * against a local stream), with the defaults docs/lambda.md recommends:
 *
 * | setting | default | why |
 * | --- | --- | --- |
 * | `reportBatchItemFailures` | true | the handler answers with the first record not written: Lambda retries from there, not the whole batch |
 * | `batchSize` | 100 | the handler's default `chunkSize`: one chunk per invocation |
 * | `maximumBatchingWindow` | 1 second | fewer, fuller invocations on a quiet stream |
 * | `bisectBatchOnFunctionError` | true | a record that crashes the function is isolated instead of blocking the shard |
 * | `maximumRetryAttempts` | 10 | a failing batch is given up (to `onFailure`) instead of blocking the shard until its records expire |
 * | `maximumRecordAge` | none | set it below the stream's retention to give up on records before Kinesis drops them |
 * | `onFailure` | a new SQS queue | given-up batches' metadata (shard, sequence numbers) is kept, to replay them |
 * | `startingPosition` | `TRIM_HORIZON` | |
 * | `tumblingWindow` | none | only with `Lambda.tumblingWindowHandler` |
 *
 * The function's role gets what the mapping needs to read the source (added by the CDK's event source) and
 * what the pipeline's sinks need (`Sinks`, as for workers).
 *
 * @since 0.1.0
 */
import { Duration } from "aws-cdk-lib"
import * as dynamodb from "aws-cdk-lib/aws-dynamodb"
import * as kinesis from "aws-cdk-lib/aws-kinesis"
import * as lambda from "aws-cdk-lib/aws-lambda"
import * as sources from "aws-cdk-lib/aws-lambda-event-sources"
import type * as sns from "aws-cdk-lib/aws-sns"
import * as sqs from "aws-cdk-lib/aws-sqs"
import { Construct } from "constructs"
import { DataStream } from "./DataStream.js"
import type { Sinks } from "./WorkerRole.js"
import { grantSinks } from "./WorkerRole.js"

/**
 * The event source mapping's settings (see the module's table for defaults).
 *
 * @since 0.1.0
 * @category models
 */
export interface MappingOptions {
  /** Records per invocation, 1 to 10,000. */
  readonly batchSize?: number
  /** Up to 5 minutes. */
  readonly maximumBatchingWindow?: Duration
  /** Split a failing batch in two and retry each half, until the record that fails is alone. */
  readonly bisectBatchOnFunctionError?: boolean
  /** -1: retry until the records expire. */
  readonly maximumRetryAttempts?: number
  /** 1 minute to 7 days. */
  readonly maximumRecordAge?: Duration
  /** Let the handler answer which record failed, so that Lambda retries from it rather than the whole batch. */
  readonly reportBatchItemFailures?: boolean
  /** Where a new mapping starts reading: the oldest record kept (`TRIM_HORIZON`) or new records only. */
  readonly startingPosition?: "TRIM_HORIZON" | "LATEST"
  /** Up to 15 minutes, for `Lambda.tumblingWindowHandler`. */
  readonly tumblingWindow?: Duration
  /** Concurrent batches per shard, 1 to 10. Default 1 (order kept per partition key either way). */
  readonly parallelizationFactor?: number
  /** Where given-up batches' metadata goes; `false` for nowhere. Default a new SQS queue (14 days). */
  readonly onFailure?: sqs.IQueue | sns.ITopic | false
}

/**
 * What the function reads: a Kinesis stream, optionally through an enhanced fan-out consumer (dedicated
 * 2 MB/s per shard, pushed; named `enhancedFanOut` when a string), or the stream of a DynamoDB table
 * (the table must have one: `stream` on this package's tables).
 *
 * @since 0.1.0
 * @category models
 */
export type Source =
  | { readonly stream: kinesis.IStream | DataStream; readonly enhancedFanOut?: boolean | string }
  | { readonly table: dynamodb.ITable | dynamodb.Table | { readonly table: dynamodb.Table } }

/**
 * Props of `LambdaConsumer`: what it reads, the function (yours, or one made from `code` and `handler`),
 * the mapping's settings, and the sinks its role may write.
 *
 * @since 0.1.0
 * @category models
 */
export interface LambdaConsumerProps extends MappingOptions, Sinks {
  /** The stream or table stream the function reads. */
  readonly source: Source
  /** A function of your own (e.g. a `NodejsFunction`). Otherwise one is made from `code` and `handler`. */
  readonly function?: lambda.IFunction
  /** The bundled handler's code, for the function made here (required without `function`). */
  readonly code?: lambda.Code
  /** e.g. `index.handler`. */
  readonly handler?: string
  /** Default Node.js 22 (Lambda deprecated Node.js 20 in April 2026). */
  readonly runtime?: lambda.Runtime
  /** Default 512 MB. */
  readonly memorySize?: number
  /** Default 1 minute: above what the pipeline's retries take for one chunk, plus the handler's `timeMargin`. */
  readonly timeout?: Duration
  /** Environment variables of the function made here (not applied to a `function` of your own). Default none. */
  readonly environment?: Record<string, string>
}

/**
 * A Lambda function reading a stream through an event source mapping, with the mapping's defaults above
 * and an on-failure destination; its role may write the `Sinks` given. Throws when neither `function` nor
 * both `code` and `handler` are given.
 *
 * @since 0.1.0
 * @category constructs
 */
export class LambdaConsumer extends Construct {
  /** The function: the one given, or the one made here. */
  readonly function: lambda.IFunction
  /** The event source added to the function (its event source mapping). */
  readonly eventSource: sources.StreamEventSource
  /** The enhanced fan-out consumer, when there is one. */
  readonly streamConsumer: kinesis.StreamConsumer | undefined
  /** The on-failure queue made here, when `onFailure` was not given. */
  readonly failureQueue: sqs.Queue | undefined

  constructor(scope: Construct, id: string, props: LambdaConsumerProps) {
    super(scope, id)
    this.function = props.function ?? this.makeFunction(props)
    this.failureQueue = props.onFailure === undefined
      ? new sqs.Queue(this, "FailedBatches", {
        retentionPeriod: Duration.days(14),
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true
      })
      : undefined
    const onFailure = this.failureQueue ?? props.onFailure
    const options: sources.StreamEventSourceProps = {
      startingPosition: props.startingPosition === "LATEST" ? lambda.StartingPosition.LATEST : lambda.StartingPosition.TRIM_HORIZON,
      batchSize: props.batchSize ?? 100,
      maxBatchingWindow: props.maximumBatchingWindow ?? Duration.seconds(1),
      bisectBatchOnError: props.bisectBatchOnFunctionError ?? true,
      retryAttempts: props.maximumRetryAttempts ?? 10,
      reportBatchItemFailures: props.reportBatchItemFailures ?? true,
      parallelizationFactor: props.parallelizationFactor ?? 1,
      ...(props.maximumRecordAge === undefined ? {} : { maxRecordAge: props.maximumRecordAge }),
      ...(props.tumblingWindow === undefined ? {} : { tumblingWindow: props.tumblingWindow }),
      ...(onFailure === false || onFailure === undefined
        ? {}
        : { onFailure: isQueue(onFailure) ? new sources.SqsDlq(onFailure) : new sources.SnsDlq(onFailure) })
    }
    const source = props.source
    if ("stream" in source) {
      const stream = source.stream instanceof DataStream ? source.stream.stream : source.stream
      if (source.enhancedFanOut === undefined || source.enhancedFanOut === false) {
        this.streamConsumer = undefined
        this.eventSource = new sources.KinesisEventSource(stream, options)
      } else {
        this.streamConsumer = new kinesis.StreamConsumer(this, "StreamConsumer", {
          stream,
          streamConsumerName: typeof source.enhancedFanOut === "string" ? source.enhancedFanOut : `${id}-consumer`
        })
        this.eventSource = new sources.KinesisConsumerEventSource(this.streamConsumer, options)
      }
    } else {
      this.streamConsumer = undefined
      const table = isWrapped(source.table) ? source.table.table : source.table
      // a Table is an ITable; only exactOptionalPropertyTypes, which the CDK's types predate, says otherwise
      this.eventSource = new sources.DynamoEventSource(table as dynamodb.ITable, options)
    }
    this.function.addEventSource(this.eventSource)
    grantSinks(this.function, props)
  }

  private makeFunction(props: LambdaConsumerProps): lambda.Function {
    if (props.code === undefined || props.handler === undefined) {
      throw new Error("LambdaConsumer: give either `function`, or `code` and `handler`")
    }
    return new lambda.Function(this, "Function", {
      code: props.code,
      handler: props.handler,
      runtime: props.runtime ?? lambda.Runtime.NODEJS_22_X,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.minutes(1),
      ...(props.environment === undefined ? {} : { environment: props.environment })
    })
  }
}

const isWrapped = (table: object): table is { readonly table: dynamodb.Table } =>
  "table" in table && table.table instanceof dynamodb.Table

const isQueue = (target: sqs.IQueue | sns.ITopic): target is sqs.IQueue => "queueArn" in target
