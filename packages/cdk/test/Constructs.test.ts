/**
 * Each construct synthesized in a stack of its own and read back with `aws-cdk-lib/assertions`: resources,
 * properties and policies.
 */
import { describe, expect, it } from "@effect/vitest"
import { App, Duration, Stack } from "aws-cdk-lib"
import { Match, Template } from "aws-cdk-lib/assertions"
import * as dynamodb from "aws-cdk-lib/aws-dynamodb"
import * as kms from "aws-cdk-lib/aws-kms"
import * as lambda from "aws-cdk-lib/aws-lambda"
import * as sns from "aws-cdk-lib/aws-sns"
import {
  Alarms,
  ArchiveBucket,
  Dashboard,
  DataStream,
  DeadLetterTable,
  LambdaConsumer,
  LeaseTable,
  ResultsTable,
  RunLogTable
} from "../src/index.js"

const stackOf = () => new Stack(new App(), "Test", { env: { account: "123456789012", region: "eu-west-1" } })

const code = lambda.Code.fromInline("export const handler = async () => ({ batchItemFailures: [] })")

describe("DataStream", () => {
  it("on demand, 24 hours, encrypted with the AWS managed key, retained", () => {
    const stack = stackOf()
    new DataStream(stack, "Stream", { streamName: "orders" })
    const template = Template.fromStack(stack)
    template.hasResource("AWS::Kinesis::Stream", {
      Properties: {
        Name: "orders",
        RetentionPeriodHours: 24,
        StreamModeDetails: { StreamMode: "ON_DEMAND" },
        StreamEncryption: { EncryptionType: "KMS", KeyId: "alias/aws/kinesis" }
      },
      DeletionPolicy: "Retain"
    })
  })

  it("provisioned shards, a week of retention, a key of its own", () => {
    const stack = stackOf()
    const stream = new DataStream(stack, "Stream", { shards: 4, retention: Duration.days(7), encryption: "kms" })
    const template = Template.fromStack(stack)
    template.hasResourceProperties("AWS::Kinesis::Stream", {
      ShardCount: 4,
      RetentionPeriodHours: 168,
      StreamEncryption: { EncryptionType: "KMS", KeyId: { "Fn::GetAtt": [Match.stringLikeRegexp("StreamKey"), "Arn"] } }
    })
    template.resourceCountIs("AWS::KMS::Key", 1)
    expect(stream.encryptionKey).toBeDefined()
  })
})

describe("tables", () => {
  it("the lease table: leaseKey, on demand, retained; the item tables: pk and sk, point-in-time recovery", () => {
    const stack = stackOf()
    new LeaseTable(stack, "Leases", { tableName: "orders-leases" })
    new ResultsTable(stack, "Results", { tableName: "orders-results" })
    new DeadLetterTable(stack, "DeadLetters", { tableName: "orders-dead-letters", timeToLiveAttribute: "expiresAt" })
    new RunLogTable(stack, "Runs", { tableName: "orders-runs", stream: dynamodb.StreamViewType.NEW_IMAGE })
    const template = Template.fromStack(stack)
    template.hasResource("AWS::DynamoDB::Table", {
      Properties: {
        TableName: "orders-leases",
        KeySchema: [{ AttributeName: "leaseKey", KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: "leaseKey", AttributeType: "S" }],
        BillingMode: "PAY_PER_REQUEST",
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: false }
      },
      DeletionPolicy: "Retain"
    })
    const itemKeys = {
      KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }, { AttributeName: "sk", KeyType: "RANGE" }],
      AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }, { AttributeName: "sk", AttributeType: "S" }],
      BillingMode: "PAY_PER_REQUEST"
    }
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      TableName: "orders-results",
      ...itemKeys,
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: Match.absent()
    })
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      TableName: "orders-dead-letters",
      ...itemKeys,
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true }
    })
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      TableName: "orders-runs",
      ...itemKeys,
      StreamSpecification: { StreamViewType: "NEW_IMAGE" }
    })
  })
})

describe("ArchiveBucket", () => {
  it("encrypted, public access blocked, TLS only, raw objects to cheaper storage with age", () => {
    const stack = stackOf()
    new ArchiveBucket(stack, "Archive", { bucketName: "orders-archive", expireRawAfter: Duration.days(400) })
    const template = Template.fromStack(stack)
    template.hasResource("AWS::S3::Bucket", {
      Properties: {
        BucketName: "orders-archive",
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }] },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true
        },
        LifecycleConfiguration: {
          Rules: [
            {
              Id: "raw-to-cheaper-storage",
              Prefix: "raw/",
              Status: "Enabled",
              Transitions: [
                { StorageClass: "STANDARD_IA", TransitionInDays: 30 },
                { StorageClass: "GLACIER_IR", TransitionInDays: 90 }
              ],
              ExpirationInDays: 400
            },
            { Id: "abort-incomplete-uploads", Status: "Enabled", AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } }
          ]
        }
      },
      DeletionPolicy: "Retain"
    })
    template.hasResourceProperties("AWS::S3::BucketPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Effect: "Deny",
          Action: "s3:*",
          Condition: { Bool: { "aws:SecureTransport": "false" } }
        })])
      }
    })
  })

  it("a KMS key with a bucket key, other prefixes", () => {
    const stack = stackOf()
    const key = new kms.Key(stack, "Key")
    const archive = new ArchiveBucket(stack, "Archive", { encryptionKey: key, rawPrefix: "/archive/raw/", deadLetterPrefix: "dl" })
    expect([archive.rawPrefix, archive.deadLetterPrefix]).toStrictEqual(["archive/raw", "dl"])
    Template.fromStack(stack).hasResourceProperties("AWS::S3::Bucket", {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{
          ServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: { "Fn::GetAtt": [Match.stringLikeRegexp("Key"), "Arn"] } },
          BucketKeyEnabled: true
        }]
      },
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Prefix: "archive/raw/" })]) }
    })
  })
})

describe("LambdaConsumer", () => {
  it("a Kinesis mapping with the recommended settings, an on-failure queue, and the sinks' permissions", () => {
    const stack = stackOf()
    const stream = new DataStream(stack, "Stream")
    const results = new ResultsTable(stack, "Results")
    const consumer = new LambdaConsumer(stack, "Consumer", {
      source: { stream },
      code,
      handler: "index.handler",
      resultsTables: [results],
      maximumRecordAge: Duration.hours(20)
    })
    const template = Template.fromStack(stack)
    template.hasResourceProperties("AWS::Lambda::Function", { Runtime: "nodejs22.x", MemorySize: 512, Timeout: 60, Handler: "index.handler" })
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: { "Fn::GetAtt": [Match.stringLikeRegexp("Stream"), "Arn"] },
      StartingPosition: "TRIM_HORIZON",
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 1,
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 72_000,
      ParallelizationFactor: 1,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      DestinationConfig: { OnFailure: { Destination: { "Fn::GetAtt": [Match.stringLikeRegexp("FailedBatches"), "Arn"] } } },
      TumblingWindowInSeconds: Match.absent()
    })
    template.hasResourceProperties("AWS::SQS::Queue", { MessageRetentionPeriod: 1_209_600, SqsManagedSseEnabled: true })
    // the sinks: BatchWriteItem and PutItem on the results table
    template.hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: {
        Statement: Match.arrayWith([{
          Effect: "Allow",
          Action: ["dynamodb:BatchWriteItem", "dynamodb:PutItem"],
          Resource: { "Fn::GetAtt": [Match.stringLikeRegexp("Results"), "Arn"] }
        }])
      }
    })
    expect(consumer.failureQueue).toBeDefined()
  })

  it("an enhanced fan-out consumer, a tumbling window, an SNS topic on failure", () => {
    const stack = stackOf()
    const stream = new DataStream(stack, "Stream")
    const topic = new sns.Topic(stack, "Failures")
    new LambdaConsumer(stack, "Consumer", {
      source: { stream, enhancedFanOut: "orders-windows" },
      code,
      handler: "index.handler",
      tumblingWindow: Duration.minutes(5),
      batchSize: 500,
      startingPosition: "LATEST",
      onFailure: topic
    })
    const template = Template.fromStack(stack)
    template.hasResourceProperties("AWS::Kinesis::StreamConsumer", { ConsumerName: "orders-windows" })
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: { "Fn::GetAtt": [Match.stringLikeRegexp("StreamConsumer"), "ConsumerARN"] },
      StartingPosition: "LATEST",
      BatchSize: 500,
      TumblingWindowInSeconds: 300,
      DestinationConfig: { OnFailure: { Destination: { Ref: Match.stringLikeRegexp("Failures") } } }
    })
    template.resourceCountIs("AWS::SQS::Queue", 0)
  })

  it("a DynamoDB table's stream", () => {
    const stack = stackOf()
    const table = new ResultsTable(stack, "Orders", { stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES })
    new LambdaConsumer(stack, "Consumer", { source: { table }, code, handler: "index.handler", onFailure: false })
    const template = Template.fromStack(stack)
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: { "Fn::GetAtt": [Match.stringLikeRegexp("Orders"), "StreamArn"] },
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      BisectBatchOnFunctionError: true,
      DestinationConfig: Match.absent()
    })
  })

  it("needs a function, or code and a handler", () => {
    const stack = stackOf()
    expect(() => new LambdaConsumer(stack, "Consumer", { source: { stream: new DataStream(stack, "Stream") } }))
      .toThrow("give either `function`, or `code` and `handler`")
  })
})

describe("Alarms and Dashboard", () => {
  it("lag, dead letters, lease renewal failures and sink retries, on Tributary's CloudWatch metrics", () => {
    const stack = stackOf()
    const stream = new DataStream(stack, "Stream", { streamName: "orders" })
    const fn = new lambda.Function(stack, "Fn", { code, handler: "index.handler", runtime: lambda.Runtime.NODEJS_22_X })
    const alarms = new Alarms(stack, "Alarms", {
      pipelines: ["orders"],
      streams: [stream],
      applications: ["orders-app"],
      lambdaFunctions: [fn]
    })
    new Dashboard(stack, "Dashboard", {
      dashboardName: "orders",
      pipelines: ["orders"],
      streams: [stream],
      applications: ["orders-app"],
      lambdaFunctions: [fn],
      alarms: alarms.alarms
    })
    const template = Template.fromStack(stack)
    template.resourceCountIs("AWS::CloudWatch::Alarm", 5)
    const alarm = (metric: string, dimension: Record<string, unknown>, rest: Record<string, unknown>) =>
      template.hasResourceProperties("AWS::CloudWatch::Alarm", {
        Namespace: "Tributary",
        MetricName: metric,
        Dimensions: [dimension],
        TreatMissingData: "notBreaching",
        Period: 60,
        ...rest
      })
    alarm("MillisBehindLatest", { Name: "StreamName", Value: { Ref: Match.stringLikeRegexp("Stream") } }, {
      Statistic: "Maximum",
      Threshold: 60_000,
      EvaluationPeriods: 10,
      ComparisonOperator: "GreaterThanThreshold"
    })
    alarm("RecordsDeadLettered", { Name: "Pipeline", Value: "orders" }, {
      Statistic: "Sum",
      Threshold: 1,
      EvaluationPeriods: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold"
    })
    alarm("SinkRetries", { Name: "Pipeline", Value: "orders" }, { Statistic: "Sum", Threshold: 0, EvaluationPeriods: 10 })
    alarm("LeaseRenewalFailures", { Name: "Application", Value: "orders-app" }, { Statistic: "Sum", Threshold: 0, EvaluationPeriods: 5 })
    template.hasResourceProperties("AWS::CloudWatch::Alarm", { Namespace: "AWS/Lambda", MetricName: "IteratorAge", Statistic: "Maximum" })

    const dashboards = template.findResources("AWS::CloudWatch::Dashboard")
    const body = JSON.stringify(Object.values(dashboards)[0].Properties.DashboardBody)
    for (const name of ["RecordsIn", "RecordsOut", "RecordsDeadLettered", "RecordsLate", "RecordsFiltered", "MillisBehindLatest",
      "ShardExits", "CurrentLeases", "TakenLeases", "LostLeases", "LeaseRenewalFailures", "SinkRetries", "IncomingRecords",
      "GetRecords.IteratorAgeMilliseconds", "IteratorAge", "alarm"]) {
      expect(body).toContain(name)
    }
  })
})
