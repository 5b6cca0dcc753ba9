/**
 * The IAM role of the worker processes (`Consumer.layer(pipeline, ...)` on ECS, EKS or EC2): it allows
 * exactly the calls the code makes on the resources the deployment gives it, from `Permissions`:
 *
 * - on the stream: ListShards, GetShardIterator, GetRecords (and `kms:Decrypt` on its own key, if any); with
 *   `fanOut`, also DescribeStreamSummary and RegisterStreamConsumer, and on the stream's consumers
 *   DescribeStreamConsumer and SubscribeToShard;
 * - on the lease table: GetItem, PutItem, UpdateItem, Scan;
 * - on each results table: BatchWriteItem, PutItem; on the dead-letter table: BatchWriteItem;
 * - on the archive bucket: PutObject under the raw and dead-letter prefixes;
 * - optionally PutRecords (and ListShards) on streams the pipeline writes to, DescribeTable and CreateTable
 *   where the code creates tables on first use, and PutMetricData in one namespace.
 *
 * @since 0.1.0
 */
import * as iam from "aws-cdk-lib/aws-iam"
import type * as kms from "aws-cdk-lib/aws-kms"
import { Construct } from "constructs"
import type { ArchiveBucket } from "./ArchiveBucket.js"
import * as Permissions from "./Permissions.js"

/**
 * A stream: a `DataStream`, or any CDK `IStream`.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamRef {
  readonly streamArn: string
  readonly encryptionKey?: kms.IKey | undefined
}

/**
 * A table: one of this package's tables, or any CDK `ITable`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TableRef {
  readonly tableArn: string
}

/**
 * Where a pipeline writes, for the role of whatever runs it (workers, a Lambda function, jobs).
 *
 * @since 0.1.0
 * @category models
 */
export interface Sinks {
  /** Tables written by `ResultsTable.sink` (or `ItemSink`). */
  readonly resultsTables?: ReadonlyArray<TableRef>
  /** The table of `DynamoDBDeadLetters`. */
  readonly deadLetterTable?: TableRef
  /** The bucket of `Archive.sink` and `DeadLetterArchive.sink` (both prefixes). */
  readonly archive?: ArchiveBucket
  /** Streams the pipeline writes to with a `Producer` (or `DeadLetterStream`). */
  readonly writeStreams?: ReadonlyArray<StreamRef>
  /**
   * true: the code creates its tables on first use (`createTable` left on), so it also needs DescribeTable
   * and CreateTable. Default false: these constructs made the tables; give the code `createTable: false`.
   */
  readonly createTables?: boolean
  /** Allow PutMetricData (`MetricPublisher` of `@tributary/cloudwatch`) in this namespace. Default: not. */
  readonly metricsNamespace?: string
}

/**
 * Grants what writing to `sinks` needs.
 *
 * @since 0.1.0
 * @category grants
 */
export const grantSinks = (grantee: iam.IGrantable, sinks: Sinks): void => {
  const tables = (use: Permissions.Use, table: TableRef) => {
    Permissions.grant(grantee, use, { kind: "table", arn: table.tableArn })
    if (sinks.createTables === true) Permissions.grant(grantee, "createTable", { kind: "table", arn: table.tableArn })
  }
  for (const table of sinks.resultsTables ?? []) tables("writeResults", table)
  if (sinks.deadLetterTable !== undefined) tables("writeDeadLetters", sinks.deadLetterTable)
  if (sinks.archive !== undefined) {
    Permissions.grant(grantee, "writeArchive", {
      kind: "bucket",
      arn: sinks.archive.bucketArn,
      objects: [`${sinks.archive.rawPrefix}/*`, `${sinks.archive.deadLetterPrefix}/*`],
      key: sinks.archive.encryptionKey
    })
  }
  for (const stream of sinks.writeStreams ?? []) {
    Permissions.grant(grantee, "writeStream", { kind: "stream", arn: stream.streamArn, key: stream.encryptionKey })
  }
  if (sinks.metricsNamespace !== undefined) {
    Permissions.grant(grantee, "publishMetrics", {
      kind: "account",
      conditions: { StringEquals: { "cloudwatch:namespace": sinks.metricsNamespace } }
    })
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface WorkerRoleProps extends Sinks {
  /** Default the ECS tasks service (`ecs-tasks.amazonaws.com`). */
  readonly assumedBy?: iam.IPrincipal
  readonly roleName?: string
  /** The stream the workers read. */
  readonly stream: StreamRef
  /** The consumer application's lease table. */
  readonly leaseTable: TableRef
  /** The workers read with enhanced fan-out (`reader: { fanOut: { consumerName } }` of `Consumer`). */
  readonly fanOut?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category constructs
 */
export class WorkerRole extends Construct {
  readonly role: iam.Role

  constructor(scope: Construct, id: string, props: WorkerRoleProps) {
    super(scope, id)
    this.role = new iam.Role(this, "Resource", {
      assumedBy: props.assumedBy ?? new iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
      ...(props.roleName === undefined ? {} : { roleName: props.roleName }),
      description: "Tributary workers: read the stream, keep leases, write the sinks"
    })
    Permissions.grant(this.role, "readStream", { kind: "stream", arn: props.stream.streamArn, key: props.stream.encryptionKey })
    if (props.fanOut === true) {
      Permissions.grant(this.role, "readStreamFanOut", { kind: "stream", arn: props.stream.streamArn, key: props.stream.encryptionKey })
    }
    Permissions.grant(this.role, "leases", { kind: "table", arn: props.leaseTable.tableArn })
    if (props.createTables === true) Permissions.grant(this.role, "createTable", { kind: "table", arn: props.leaseTable.tableArn })
    grantSinks(this.role, props)
  }

  /** @since 0.1.0 */
  get roleArn(): string {
    return this.role.roleArn
  }
}
