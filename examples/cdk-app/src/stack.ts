/**
 * The demo's architecture on AWS, composed from `@tributary/cdk`'s constructs: a 4-shard stream, the
 * workers' lease table, the results table (and the re-aggregation job's), the dead-letter table, the raw
 * archive bucket, the workers' role (for ECS tasks), a Lambda consumer of the same stream through an
 * enhanced fan-out consumer of its own, alarms sent to an SNS topic, and the dashboard.
 */
import {
  Alarms,
  ArchiveBucket,
  Dashboard,
  DataStream,
  DeadLetterTable,
  LambdaConsumer,
  LeaseTable,
  ResultsTable,
  WorkerRole
} from "@tributary/cdk"
import { AssetHashType, CfnOutput, DockerImage, Duration, Stack, type StackProps } from "aws-cdk-lib"
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions"
import * as lambda from "aws-cdk-lib/aws-lambda"
import * as sns from "aws-cdk-lib/aws-sns"
import type { Construct } from "constructs"
import { buildSync } from "esbuild"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

/**
 * A handler file bundled with esbuild on this machine, with the dependencies it imports (the AWS SDK
 * versions Tributary pins included, not the runtime's), as one ES module `index.mjs`.
 */
export const bundle = (entry: string): lambda.Code =>
  lambda.Code.fromAsset(dirname(entry), {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // only used when local bundling fails; it does not here
      image: DockerImage.fromRegistry("public.ecr.aws/sam/build-nodejs22.x"),
      local: {
        tryBundle: (outputDir) => {
          buildSync({
            entryPoints: [entry],
            outfile: join(outputDir, "index.mjs"),
            bundle: true,
            platform: "node",
            target: "node22",
            format: "esm",
            minify: true,
            // CommonJS dependencies bundled into an ES module still call `require`
            banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
            logLevel: "error"
          })
          return true
        }
      }
    }
  })

/** The demo's pipeline (`tributary demo`) and the Lambda consumer's. */
export const pipelines = ["activity-per-minute", "activity-per-minute-lambda"]

export class DemoStack extends Stack {
  readonly stream: DataStream
  readonly workerRole: WorkerRole
  readonly lambdaConsumer: LambdaConsumer

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, props)
    this.stream = new DataStream(this, "Activities", { streamName: "activities", shards: 4 })
    const leases = new LeaseTable(this, "Leases", { tableName: "activities-leases" })
    const results = new ResultsTable(this, "Results", { tableName: "activities-results" })
    const batchResults = new ResultsTable(this, "BatchResults", { tableName: "activities-results-batch" })
    const deadLetters = new DeadLetterTable(this, "DeadLetters", { tableName: "activities-dead-letters" })
    const archive = new ArchiveBucket(this, "Archive", { expireRawAfter: Duration.days(365) })

    // the workers also run the re-aggregation job: it writes the batch results table
    this.workerRole = new WorkerRole(this, "Workers", {
      stream: this.stream,
      leaseTable: leases,
      resultsTables: [results, batchResults],
      deadLetterTable: deadLetters,
      archive,
      metricsNamespace: "Tributary"
    })

    this.lambdaConsumer = new LambdaConsumer(this, "LambdaConsumer", {
      source: { stream: this.stream, enhancedFanOut: "activities-lambda" },
      code: bundle(fileURLToPath(new URL("./handler.ts", import.meta.url))),
      handler: "index.handler",
      environment: { RESULTS_TABLE: results.tableName, DEAD_LETTER_TABLE: deadLetters.tableName },
      batchSize: 500,
      maximumRecordAge: Duration.hours(23),
      resultsTables: [results],
      deadLetterTable: deadLetters
    })

    const topic = new sns.Topic(this, "Alerts")
    const monitored = {
      pipelines,
      streams: [this.stream],
      // the consumer's application defaults to the stream's name
      applications: ["activities"],
      lambdaFunctions: [this.lambdaConsumer.function]
    }
    const alarms = new Alarms(this, "Alarms", { ...monitored, actions: [new actions.SnsAction(topic)] })
    new Dashboard(this, "Dashboard", { ...monitored, dashboardName: "tributary-demo", alarms: alarms.alarms })

    new CfnOutput(this, "WorkerRoleArn", { value: this.workerRole.roleArn })
    new CfnOutput(this, "ArchiveBucketName", { value: archive.bucketName })
  }
}
