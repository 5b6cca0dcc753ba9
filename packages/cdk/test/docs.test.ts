/**
 * The examples of docs/deployment.md, synthesized and checked. The last test checks that each ```ts block
 * of the page appears verbatim here (whitespace aside, import lines left out), with its imports (see
 * test-utils/DocBlocks.ts of @tributary/core). Change an example in both places.
 */
import { describe, expect, it } from "@effect/vitest"
import * as DocBlocks from "@tributary/core/test-utils/DocBlocks"
import { App, Duration, Stack } from "aws-cdk-lib"
import { Match, Template } from "aws-cdk-lib/assertions"
import * as lambda from "aws-cdk-lib/aws-lambda"
import {
  Alarms,
  ArchiveBucket,
  Dashboard,
  DataStream,
  DeadLetterTable,
  Deployment,
  LambdaConsumer,
  LeaseTable,
  ResultsTable,
  WorkerRole
} from "../src/index.js"

describe("docs/deployment.md", () => {
  it("the stack of constructs, a Lambda consumer added, and the Deployment construct", () => {
    const windowsCode = lambda.Code.fromInline("export const handler = async () => ({})")

    // --- the page's examples ---
    const app = new App()
    const stack = new Stack(app, "Orders")

    const stream = new DataStream(stack, "Stream", { streamName: "orders", shards: 4 })
    const leases = new LeaseTable(stack, "Leases", { tableName: "orders-leases" })
    const results = new ResultsTable(stack, "Results", { tableName: "orders-results" })
    const deadLetters = new DeadLetterTable(stack, "DeadLetters", { tableName: "orders-dead-letters" })
    const archive = new ArchiveBucket(stack, "Archive")

    // what the workers (ECS tasks) may call, on these resources only
    const workers = new WorkerRole(stack, "Workers", {
      stream,
      leaseTable: leases,
      resultsTables: [results],
      deadLetterTable: deadLetters,
      archive
    })

    const monitored = { pipelines: ["orders"], streams: [stream], applications: ["orders"] }
    const alarms = new Alarms(stack, "Alarms", monitored)
    new Dashboard(stack, "Dashboard", { ...monitored, alarms: alarms.alarms })

    // windowsCode: your bundled handler, e.g. lambda.Code.fromAsset("dist/windows")
    const windows = new LambdaConsumer(stack, "Windows", {
      source: { stream, enhancedFanOut: "orders-windows" },
      code: windowsCode,
      handler: "index.handler",
      tumblingWindow: Duration.minutes(5),
      resultsTables: [results],
      deadLetterTable: deadLetters
    })

    const orders = new Deployment(new Stack(app, "OrdersAll"), "Orders", { name: "orders", shards: 4, pipelines: ["orders"] })
    // --- end of the examples ---

    const template = Template.fromStack(stack)
    template.hasResourceProperties("AWS::Kinesis::Stream", { Name: "orders", ShardCount: 4 })
    template.resourceCountIs("AWS::DynamoDB::Table", 3)
    // lag, dead letters, sink retries, lease renewal failures
    template.resourceCountIs("AWS::CloudWatch::Alarm", 4)
    template.resourceCountIs("AWS::CloudWatch::Dashboard", 1)
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", { TumblingWindowInSeconds: 300, BatchSize: 100 })
    template.hasResourceProperties("AWS::Kinesis::StreamConsumer", { ConsumerName: "orders-windows" })
    template.hasResourceProperties("AWS::IAM::Role", {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: "ecs-tasks.amazonaws.com" } })] }
    })
    expect(workers.role.roleArn).toBeDefined()
    expect(windows.function).toBeDefined()
    const all = Template.fromStack(Stack.of(orders))
    all.resourceCountIs("AWS::DynamoDB::Table", 3)
    all.resourceCountIs("AWS::S3::Bucket", 1)
    all.resourceCountIs("AWS::CloudWatch::Dashboard", 1)
  })

  it("every TypeScript example is tested here", () => {
    expect(DocBlocks.blocks(DocBlocks.read("deployment.md")).length).toBe(3)
    expect(DocBlocks.problems("deployment.md", { files: [import.meta.url], checkImports: true })).toStrictEqual([])
  })
})
