/**
 * The demo's architecture synthesized twice, without an AWS account: in process (`app.synth()`, read back
 * with `aws-cdk-lib/assertions`), and by the CDK command line (`cdk synth`, which runs src/main.ts as
 * cdk.json says) in a child process. Then the Lambda bundle the stack would deploy is loaded and invoked
 * with a Kinesis event, against dynalite.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as SourceRecord from "@tributary/core/SourceRecord"
import { DynamoDBClient, DynamoDBDeadLetters, ResultsTable } from "@tributary/dynamodb"
import { KinesisEvent } from "@tributary/lambda"
import * as LocalDynamoDB from "@tributary/local/LocalDynamoDB"
import { App } from "aws-cdk-lib"
import { Match, Template } from "aws-cdk-lib/assertions"
import { Effect, Layer } from "effect"
import { execFile } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { pipelineName } from "../src/handler.js"
import { DemoStack, pipelines } from "../src/stack.js"

const appDirectory = fileURLToPath(new URL("..", import.meta.url))

const synthesizeInProcess = (outdir: string) => {
  const app = new App({ outdir })
  const stack = new DemoStack(app, "TributaryDemo")
  const assembly = app.synth()
  return { stack, template: Template.fromStack(stack), assembly }
}

const types = (template: Record<string, any>) =>
  Object.fromEntries(Object.entries(template.Resources as Record<string, { Type: string }>).map(([id, r]) => [id, r.Type]))

describe("examples/cdk-app", () => {
  const outdir = mkdtempSync(join(tmpdir(), "cdk-app-"))
  const synthesized = synthesizeInProcess(outdir)

  it("the demo's stream, tables, bucket, workers' role, Lambda consumer, alarms and dashboard", () => {
    const { template } = synthesized
    template.resourceCountIs("AWS::Kinesis::Stream", 1)
    template.hasResourceProperties("AWS::Kinesis::Stream", { Name: "activities", ShardCount: 4 })
    template.resourceCountIs("AWS::DynamoDB::Table", 4)
    for (const name of ["activities-leases", "activities-results", "activities-results-batch", "activities-dead-letters"]) {
      template.hasResourceProperties("AWS::DynamoDB::Table", { TableName: name, BillingMode: "PAY_PER_REQUEST" })
    }
    template.resourceCountIs("AWS::S3::Bucket", 1)
    template.hasResourceProperties("AWS::IAM::Role", {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: "ecs-tasks.amazonaws.com" } })] }
    })
    template.hasResourceProperties("AWS::Kinesis::StreamConsumer", { ConsumerName: "activities-lambda" })
    template.hasResourceProperties("AWS::Lambda::Function", {
      Handler: "index.handler",
      Runtime: "nodejs22.x",
      Environment: { Variables: { RESULTS_TABLE: { Ref: Match.stringLikeRegexp("Results") }, DEAD_LETTER_TABLE: Match.anyValue() } }
    })
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      BatchSize: 500,
      MaximumRecordAgeInSeconds: 82_800,
      FunctionResponseTypes: ["ReportBatchItemFailures"]
    })
    // lag, Lambda iterator age, dead letters and sink retries per pipeline, lease renewals
    template.resourceCountIs("AWS::CloudWatch::Alarm", 2 + 2 * pipelines.length + 1)
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "RecordsDeadLettered",
      Dimensions: [{ Name: "Pipeline", Value: pipelineName }],
      AlarmActions: [{ Ref: Match.stringLikeRegexp("Alerts") }]
    })
    template.hasResourceProperties("AWS::CloudWatch::Dashboard", { DashboardName: "tributary-demo" })
  })

  it("cdk synth: the command line writes the same template", async () => {
    const output = mkdtempSync(join(tmpdir(), "cdk-synth-"))
    try {
      const cdk = join(appDirectory, "node_modules", ".bin", "cdk")
      await new Promise<void>((resolve, reject) =>
        execFile(cdk, ["synth", "--no-notices", "--no-version-reporting", "--quiet", "--output", output], {
          cwd: appDirectory,
          timeout: 200_000,
          env: {
            ...process.env,
            PATH: `${join(appDirectory, "node_modules", ".bin")}:${process.env.PATH}`,
            CDK_DISABLE_CLI_TELEMETRY: "true"
          }
        }, (error, _stdout, stderr) => error === null ? resolve() : reject(new Error(`cdk synth failed: ${stderr}`)))
      )
      const written = JSON.parse(readFileSync(join(output, "TributaryDemo.template.json"), "utf8"))
      expect(types(written)).toStrictEqual(types(synthesized.template.toJSON()))
    } finally {
      rmSync(output, { recursive: true, force: true })
    }
  })

  it.effect("the Lambda bundle runs: a Kinesis event in, results and a dead letter in DynamoDB", () =>
    Effect.gen(function*() {
      const { assembly } = synthesized
      const fn = Object.values(synthesized.template.findResources("AWS::Lambda::Function"))[0]
      const assetPath = join(assembly.directory, `asset.${fn.Properties.Code.S3Key.replace(/\.zip$/, "")}`)
      expect(existsSync(join(assetPath, "index.mjs"))).toBe(true)

      const local = yield* LocalDynamoDB.LocalDynamoDB
      yield* ResultsTable.ensure("bundle-results")
      yield* DynamoDBDeadLetters.make({ tableName: "bundle-dead-letters" })
      const saved = { ...process.env }
      Object.assign(process.env, {
        AWS_ENDPOINT_URL_DYNAMODB: local.endpoint,
        AWS_REGION: local.region,
        AWS_ACCESS_KEY_ID: "local",
        AWS_SECRET_ACCESS_KEY: "local",
        RESULTS_TABLE: "bundle-results",
        DEAD_LETTER_TABLE: "bundle-dead-letters"
      })
      const lines: Array<string> = []
      const write = process.stdout.write
      try {
        const bundle = yield* Effect.promise(() => import(pathToFileURL(join(assetPath, "index.mjs")).href))
        process.stdout.write = ((chunk: string) => (lines.push(String(chunk)), true)) as typeof process.stdout.write
        const response = yield* Effect.promise(() =>
          bundle.handler(KinesisEvent.fromRecords([
            `{"CustomerId":"c1","DateUnixMs":1000,"Activity":"search","DurationMs":120}`,
            "Activity,CustomerId,DateUnixMs,DurationMs\nsearch,c2,2000,80",
            "not an activity"
          ].map((data, i) =>
            SourceRecord.make({
              stream: "activities",
              shardId: "shardId-000000000000",
              sequenceNumber: String(1000 + i),
              partitionKey: "c1",
              arrivalTime: 1_700_000_000_000,
              data: new TextEncoder().encode(data)
            })
          )))
        )
        process.stdout.write = write
        yield* Effect.promise(() => bundle.handler.dispose())
        expect(response).toStrictEqual({ batchItemFailures: [] })
      } finally {
        process.stdout.write = write
        process.env = saved
      }
      const stored = yield* ResultsTable.scanPartials<string>("bundle-results", { pipeline: pipelineName })
      expect(stored.map((r) => [r.key, r.count])).toStrictEqual([["search", 2]])
      const letters = yield* DynamoDBDeadLetters.readAll("bundle-dead-letters")
      expect(letters.map((l) => [l.sequenceNumber, l.stage])).toStrictEqual([["1002", "decode"]])
      // the invocation's metrics, as EMF lines on stdout
      const emf = lines.flatMap((chunk) => chunk.split("\n")).filter((line) => line.includes(`"Pipeline":"${pipelineName}"`))
        .map((line) => JSON.parse(line))
      expect(emf.map((line) => [line.RecordsIn, line.RecordsOut, line.RecordsDeadLettered])).toStrictEqual([[3, 2, 1]])
    }).pipe(
      Effect.provide(Layer.unwrapEffect(Effect.map(LocalDynamoDB.LocalDynamoDB, (l) => DynamoDBClient.layer({ ...l.clientConfig }))).pipe(
        Layer.provideMerge(LocalDynamoDB.layerDynalite())
      ))
    ))

  afterAll(() => rmSync(outdir, { recursive: true, force: true }))
})
