/**
 * `tributary synth`: the template of a default deployment, printed on stdout, deployable without a CDK
 * bootstrap.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, it } from "@effect/vitest"
import { DynamoDBClient } from "@tributary/dynamodb"
import { Kinesis } from "@tributary/kinesis"
import { S3Client } from "@tributary/s3"
import { Console, Effect, Layer } from "effect"
import * as Cli from "../src/Cli.js"

// the command makes no AWS call: clients to a port where nothing answers
const offline = Layer.mergeAll(
  Kinesis.layer({ region: "us-east-1", endpoint: "http://127.0.0.1:9" }),
  DynamoDBClient.layer({ region: "us-east-1", endpoint: "http://127.0.0.1:9" }),
  S3Client.layer({ region: "us-east-1", endpoint: "http://127.0.0.1:9" }),
  NodeContext.layer
)

/** Runs `tributary ...args` in this process; answers the exit code and its stdout. */
const cli = (...args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const out: Array<string> = []
    const console = yield* Effect.console
    const capture: Console.Console = { ...console, log: (...items) => Effect.sync(() => void out.push(items.join(" "))) }
    const code = yield* Cli.main(["node", "tributary", ...args]).pipe(Effect.withConsole(capture), Effect.provide(offline))
    return { code, stdout: out.join("\n").replace(/\u001b\[[0-9;]*m/g, "") }
  })

it.effect("is listed by --help, with its options", () =>
  Effect.gen(function*() {
    expect((yield* cli("--help")).stdout).toMatch(/^  synth +Print the CloudFormation template/m)
    const help = yield* cli("synth", "--help")
    expect(help.code).toBe(0)
    for (const option of ["--name NAME", "--shards N", "--pipeline NAME", "--application NAME", "--put-metric-data"]) {
      expect(help.stdout).toContain(option)
    }
  }))

it.effect("prints the CloudFormation template of a default deployment", () =>
  Effect.gen(function*() {
    const { code, stdout } = yield* cli("synth", "--name", "orders", "--shards", "2", "--pipeline", "orders-per-minute")
    expect(code).toBe(0)
    const template = JSON.parse(stdout)
    const resources = Object.values(template.Resources as Record<string, { Type: string; Properties: any }>)
    const count = (type: string) => resources.filter((r) => r.Type === type).length
    expect(resources.find((r) => r.Type === "AWS::Kinesis::Stream")?.Properties).toMatchObject({ Name: "orders", ShardCount: 2 })
    expect(resources.filter((r) => r.Type === "AWS::DynamoDB::Table").map((r) => r.Properties.TableName).sort())
      .toStrictEqual(["orders-dead-letters", "orders-leases", "orders-results"])
    expect([count("AWS::S3::Bucket"), count("AWS::IAM::Role"), count("AWS::CloudWatch::Dashboard")]).toStrictEqual([1, 1, 1])
    expect(resources.filter((r) => r.Type === "AWS::CloudWatch::Alarm").map((r) => r.Properties.MetricName).sort())
      .toStrictEqual(["LeaseRenewalFailures", "MillisBehindLatest", "RecordsDeadLettered", "SinkRetries"])
    // plain CloudFormation: no bootstrap version parameter or rule, no CDK metadata
    expect(template.Parameters?.BootstrapVersion).toBeUndefined()
    expect(template.Rules).toBeUndefined()
    expect(count("AWS::CDK::Metadata")).toBe(0)
    // the names the workers are configured with
    expect(Object.values(template.Outputs as Record<string, { Description: string }>).map((o) => o.Description.split(" (")[0]))
      .toStrictEqual(["the Kinesis stream", "the lease table", "the results table", "the dead-letter table", "the archive bucket", "the workers' role"])
  }), { timeout: 120_000 })
