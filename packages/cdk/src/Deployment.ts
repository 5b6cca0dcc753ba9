/**
 * A whole deployment in one construct: the stream, the lease, results and dead-letter tables, the archive
 * bucket, the workers' role, alarms and a dashboard, and optionally a Lambda consumer; what
 * `tributary synth` prints as a CloudFormation template. Compose the constructs one by one instead to
 * change more than these props allow.
 *
 * Names: with `name`, resources are named after it (`<name>` stream, `<name>-leases`, `<name>-results`,
 * `<name>-dead-letters` tables; the bucket's name stays generated, bucket names being global); without,
 * CloudFormation generates them. The stack outputs every name, for the workers' configuration.
 *
 * @since 0.1.0
 */
import { CfnOutput } from "aws-cdk-lib"
import type { Duration } from "aws-cdk-lib"
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch"
import type * as iam from "aws-cdk-lib/aws-iam"
import { Construct } from "constructs"
import { ArchiveBucket } from "./ArchiveBucket.js"
import type { ArchiveBucketProps } from "./ArchiveBucket.js"
import { DataStream } from "./DataStream.js"
import type { DataStreamProps } from "./DataStream.js"
import { LambdaConsumer } from "./LambdaConsumer.js"
import type { LambdaConsumerProps } from "./LambdaConsumer.js"
import { Alarms, Dashboard } from "./Monitoring.js"
import { DeadLetterTable, LeaseTable, ResultsTable } from "./Tables.js"
import { WorkerRole } from "./WorkerRole.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface DeploymentProps {
  /** Names the resources (see the module's docs). Default: generated names. */
  readonly name?: string
  /** Provisioned shards. Default on-demand. */
  readonly shards?: number
  readonly retention?: Duration
  readonly streamEncryption?: DataStreamProps["encryption"]
  readonly archive?: Omit<ArchiveBucketProps, "bucketName"> & { readonly bucketName?: string }
  /** Pipeline names, for the alarms and the dashboard. Default `[name]`, or `["main"]`. */
  readonly pipelines?: ReadonlyArray<string>
  /** The consumer application (the coordinator's `application`). Default the stream's name. */
  readonly application?: string
  /** Who runs the workers. Default ECS tasks. */
  readonly workerPrincipal?: iam.IPrincipal
  /** Let the workers publish metrics with PutMetricData (else they write EMF lines). Default false. */
  readonly putMetricData?: boolean
  /** The workers read with enhanced fan-out (`reader: { fanOut }`): their role may register and subscribe. */
  readonly fanOut?: boolean
  /** Default `Tributary`. */
  readonly metricsNamespace?: string
  readonly alarmActions?: ReadonlyArray<cloudwatch.IAlarmAction>
  /** A Lambda consumer of the stream, writing to the same tables and bucket. */
  readonly lambdaConsumer?: Omit<LambdaConsumerProps, "source" | "resultsTables" | "deadLetterTable" | "archive">
}

/**
 * @since 0.1.0
 * @category constructs
 */
export class Deployment extends Construct {
  readonly stream: DataStream
  readonly leaseTable: LeaseTable
  readonly resultsTable: ResultsTable
  readonly deadLetterTable: DeadLetterTable
  readonly archive: ArchiveBucket
  readonly workerRole: WorkerRole
  readonly lambdaConsumer: LambdaConsumer | undefined
  readonly alarms: Alarms
  readonly dashboard: Dashboard

  constructor(scope: Construct, id: string, props: DeploymentProps = {}) {
    super(scope, id)
    const named = (suffix: string) => props.name === undefined ? {} : { tableName: `${props.name}${suffix}` }
    this.stream = new DataStream(this, "Stream", {
      ...(props.name === undefined ? {} : { streamName: props.name }),
      ...(props.shards === undefined ? {} : { shards: props.shards }),
      ...(props.retention === undefined ? {} : { retention: props.retention }),
      ...(props.streamEncryption === undefined ? {} : { encryption: props.streamEncryption })
    })
    this.leaseTable = new LeaseTable(this, "LeaseTable", named("-leases"))
    this.resultsTable = new ResultsTable(this, "ResultsTable", named("-results"))
    this.deadLetterTable = new DeadLetterTable(this, "DeadLetterTable", named("-dead-letters"))
    this.archive = new ArchiveBucket(this, "Archive", props.archive ?? {})
    const sinks = {
      resultsTables: [this.resultsTable],
      deadLetterTable: this.deadLetterTable,
      archive: this.archive
    }
    this.workerRole = new WorkerRole(this, "WorkerRole", {
      stream: this.stream,
      leaseTable: this.leaseTable,
      ...sinks,
      ...(props.workerPrincipal === undefined ? {} : { assumedBy: props.workerPrincipal }),
      ...(props.fanOut === true ? { fanOut: true } : {}),
      ...(props.putMetricData === true ? { metricsNamespace: props.metricsNamespace ?? "Tributary" } : {})
    })
    this.lambdaConsumer = props.lambdaConsumer === undefined
      ? undefined
      : new LambdaConsumer(this, "LambdaConsumer", { ...props.lambdaConsumer, source: { stream: this.stream }, ...sinks })
    const monitored = {
      ...(props.metricsNamespace === undefined ? {} : { namespace: props.metricsNamespace }),
      pipelines: props.pipelines ?? [props.name ?? "main"],
      streams: [this.stream],
      applications: [props.application ?? this.stream.streamName],
      lambdaFunctions: this.lambdaConsumer === undefined ? [] : [this.lambdaConsumer.function]
    }
    this.alarms = new Alarms(this, "Alarms", { ...monitored, ...(props.alarmActions === undefined ? {} : { actions: props.alarmActions }) })
    this.dashboard = new Dashboard(this, "Dashboard", {
      ...monitored,
      ...(props.name === undefined ? {} : { dashboardName: props.name }),
      alarms: this.alarms.alarms
    })
    const output = (outputId: string, value: string, description: string) => new CfnOutput(this, outputId, { value, description })
    output("StreamName", this.stream.streamName, "the Kinesis stream (Consumer option `stream`)")
    output("LeaseTableName", this.leaseTable.tableName, "the lease table (DynamoDBLeaseStore `tableName`, `createTable: false`)")
    output("ResultsTableName", this.resultsTable.tableName, "the results table (ResultsTable.sink `tableName`)")
    output("DeadLetterTableName", this.deadLetterTable.tableName, "the dead-letter table (DynamoDBDeadLetters `tableName`)")
    output("ArchiveBucketName", this.archive.bucketName, "the archive bucket (S3ObjectStore `bucket`)")
    output("WorkerRoleArn", this.workerRole.roleArn, "the workers' role")
  }
}
