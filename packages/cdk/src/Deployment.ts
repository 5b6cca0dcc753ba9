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
 * Props of `Deployment`: names, the stream's capacity, retention and encryption, the archive, who runs the
 * workers, metrics and alarms, and an optional Lambda consumer. All optional.
 *
 * @since 0.1.0
 * @category models
 */
export interface DeploymentProps {
  /** Names the resources (see the module's docs). Default: generated names. */
  readonly name?: string
  /** Provisioned shards. Default on-demand. */
  readonly shards?: number
  /** How long the stream keeps records (`DataStreamProps.retention`). Default 24 hours. */
  readonly retention?: Duration
  /** The stream's encryption (`DataStreamProps.encryption`). Default `"aws-managed"`. */
  readonly streamEncryption?: DataStreamProps["encryption"]
  /** The archive bucket's props (`ArchiveBucketProps`). Default: the bucket's defaults, a generated name. */
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
  /**
   * The CloudWatch namespace the workers' metrics go to, for the alarms, the dashboard and the role.
   * Default `Tributary`.
   */
  readonly metricsNamespace?: string
  /** What every alarm does when it fires and when it recovers, e.g. an `SnsAction`. Default none. */
  readonly alarmActions?: ReadonlyArray<cloudwatch.IAlarmAction>
  /** A Lambda consumer of the stream, writing to the same tables and bucket. */
  readonly lambdaConsumer?: Omit<LambdaConsumerProps, "source" | "resultsTables" | "deadLetterTable" | "archive">
}

/**
 * Everything one stream's processing needs, made from the props and wired together; its parts are public
 * for grants and settings of your own.
 *
 * @since 0.1.0
 * @category constructs
 */
export class Deployment extends Construct {
  /** The Kinesis stream. */
  readonly stream: DataStream
  /** The consumer application's lease table. */
  readonly leaseTable: LeaseTable
  /** The table the window results are written to. */
  readonly resultsTable: ResultsTable
  /** The table the dead letters are written to. */
  readonly deadLetterTable: DeadLetterTable
  /** The bucket of the raw archive and the dead-letter archive. */
  readonly archive: ArchiveBucket
  /** The workers' role: reads the stream, keeps leases, writes the tables and the archive. */
  readonly workerRole: WorkerRole
  /** The Lambda consumer, when `lambdaConsumer` was given. */
  readonly lambdaConsumer: LambdaConsumer | undefined
  /** The alarms on the stream, the pipelines, the application and the Lambda consumer. */
  readonly alarms: Alarms
  /** The CloudWatch dashboard, named `name` when given. */
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
