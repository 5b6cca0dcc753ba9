/**
 * The IAM permissions Tributary needs, derived from the AWS calls its code makes: the one table mapping
 * every AWS SDK command the packages send to its IAM actions and the resource it acts on, and the calls
 * each part of Tributary makes (`uses`). The constructs grant from here, so a role allows exactly what the
 * code calls on the resources it uses; a test reads the packages' sources and fails when a command is sent
 * that this table does not know.
 *
 * @since 0.1.0
 */
import * as iam from "aws-cdk-lib/aws-iam"
import type * as kms from "aws-cdk-lib/aws-kms"

/**
 * What an action applies to: a stream, an enhanced fan-out consumer of a stream, a table, a bucket
 * (listing), objects in a bucket, or nothing narrower than the account (actions that take no resource).
 *
 * @since 0.1.0
 * @category models
 */
export type ResourceKind = "stream" | "consumer" | "table" | "bucket" | "object" | "account"

/**
 * What one AWS SDK command needs in IAM: its actions, what they apply to, and KMS actions on an encrypted
 * resource's key.
 *
 * @since 0.1.0
 * @category models
 */
export interface Command {
  /** The IAM actions the call needs. */
  readonly actions: ReadonlyArray<string>
  /** The kind of resource the actions are granted on. */
  readonly resource: ResourceKind
  /**
   * The KMS actions the call also needs on the resource's key when it is encrypted with a customer managed
   * key (AWS managed keys need none).
   */
  readonly keyActions?: ReadonlyArray<string>
}

/**
 * Every AWS SDK command class the packages send (`new <Name>Command(...)`), by name without `Command`.
 *
 * @since 0.1.0
 * @category commands
 */
export const commands = {
  // Kinesis (@tributary/kinesis Kinesis.ts)
  PutRecords: { actions: ["kinesis:PutRecords"], resource: "stream", keyActions: ["kms:GenerateDataKey"] },
  GetRecords: { actions: ["kinesis:GetRecords"], resource: "stream", keyActions: ["kms:Decrypt"] },
  GetShardIterator: { actions: ["kinesis:GetShardIterator"], resource: "stream" },
  ListShards: { actions: ["kinesis:ListShards"], resource: "stream" },
  ListStreams: { actions: ["kinesis:ListStreams"], resource: "account" },
  DescribeStreamSummary: { actions: ["kinesis:DescribeStreamSummary"], resource: "stream" },
  CreateStream: { actions: ["kinesis:CreateStream"], resource: "stream" },
  DeleteStream: { actions: ["kinesis:DeleteStream"], resource: "stream" },
  SplitShard: { actions: ["kinesis:SplitShard"], resource: "stream" },
  MergeShards: { actions: ["kinesis:MergeShards"], resource: "stream" },
  UpdateShardCount: { actions: ["kinesis:UpdateShardCount"], resource: "stream" },
  RegisterStreamConsumer: { actions: ["kinesis:RegisterStreamConsumer"], resource: "stream" },
  DescribeStreamConsumer: { actions: ["kinesis:DescribeStreamConsumer"], resource: "consumer" },
  DeregisterStreamConsumer: { actions: ["kinesis:DeregisterStreamConsumer"], resource: "consumer" },
  SubscribeToShard: { actions: ["kinesis:SubscribeToShard"], resource: "consumer", keyActions: ["kms:Decrypt"] },
  // DynamoDB (@tributary/dynamodb DynamoDBClient.ts, internal/tables.ts)
  GetItem: { actions: ["dynamodb:GetItem"], resource: "table" },
  PutItem: { actions: ["dynamodb:PutItem"], resource: "table" },
  UpdateItem: { actions: ["dynamodb:UpdateItem"], resource: "table" },
  DeleteItem: { actions: ["dynamodb:DeleteItem"], resource: "table" },
  Scan: { actions: ["dynamodb:Scan"], resource: "table" },
  Query: { actions: ["dynamodb:Query"], resource: "table" },
  BatchWriteItem: { actions: ["dynamodb:BatchWriteItem"], resource: "table" },
  CreateTable: { actions: ["dynamodb:CreateTable"], resource: "table" },
  DescribeTable: { actions: ["dynamodb:DescribeTable"], resource: "table" },
  DeleteTable: { actions: ["dynamodb:DeleteTable"], resource: "table" },
  // S3 (@tributary/s3 S3Client.ts)
  PutObject: { actions: ["s3:PutObject"], resource: "object", keyActions: ["kms:GenerateDataKey"] },
  GetObject: { actions: ["s3:GetObject"], resource: "object", keyActions: ["kms:Decrypt"] },
  DeleteObject: { actions: ["s3:DeleteObject"], resource: "object" },
  ListObjectsV2: { actions: ["s3:ListBucket"], resource: "bucket" },
  CreateBucket: { actions: ["s3:CreateBucket"], resource: "bucket" },
  // CloudWatch (@tributary/cloudwatch MetricPublisher.ts)
  PutMetricData: { actions: ["cloudwatch:PutMetricData"], resource: "account" }
} as const satisfies Record<string, Command>

/**
 * The name of an AWS SDK command the packages send, a key of `commands` (e.g. `"PutRecords"`).
 *
 * @since 0.1.0
 * @category models
 */
export type CommandName = keyof typeof commands

/**
 * The calls each part of Tributary makes, from its code (see docs/deployment.md for the functions behind
 * each). Every command of a use acts on one resource of the use's kind: a stream, a table, or a bucket
 * and its objects.
 *
 * @since 0.1.0
 * @category uses
 */
export const uses = {
  /** `ShardReader`, `StreamSource`, `Consumer`: ListShards, then GetShardIterator and GetRecords per shard. */
  readStream: ["ListShards", "GetShardIterator", "GetRecords"],
  /**
   * `Consumer` with `reader: { fanOut }` (`StreamConsumer.ensure`, `FanOutReader`), besides `readStream`'s
   * ListShards: the stream's ARN, its consumer registered or found, SubscribeToShard per shard.
   */
  readStreamFanOut: ["DescribeStreamSummary", "RegisterStreamConsumer", "DescribeStreamConsumer", "SubscribeToShard"],
  /** `Producer.make`, `DeadLetterStream.layer`: PutRecords; ListShards with `rateLimit` or `aggregation`. */
  writeStream: ["PutRecords", "ListShards"],
  /** `StreamAdmin.ensureStream`, resharding: what `tributary provision` and operators run. */
  administerStream: [
    "DescribeStreamSummary",
    "CreateStream",
    "ListShards",
    "SplitShard",
    "MergeShards",
    "UpdateShardCount",
    "DeregisterStreamConsumer"
  ],
  /** `DynamoDBLeaseStore`; DeleteItem for the coordinator's cleanup of finished leases. */
  leases: ["GetItem", "PutItem", "UpdateItem", "Scan", "DeleteItem"],
  /** What creates a table on first use (`createTable` left on): DescribeTable, CreateTable. */
  createTable: ["DescribeTable", "CreateTable"],
  /** `ResultsTable.sink`: BatchWriteItem (modes `auto`, `batch`), PutItem (modes `auto`, `conditional`). */
  writeResults: ["BatchWriteItem", "PutItem"],
  /** `ResultsTable.query`, `partials`, `scanPartials`. */
  readResults: ["Query", "Scan"],
  /** `DynamoDBDeadLetters.make`. */
  writeDeadLetters: ["BatchWriteItem"],
  /** `DynamoDBDeadLetters.readAll`. */
  readDeadLetters: ["Scan"],
  /** `DynamoDBRunLog.make`: a job's run log. */
  runLog: ["PutItem", "Query"],
  /** `Archive.sink`, `DeadLetterArchive.sink` on `S3ObjectStore`. */
  writeArchive: ["PutObject"],
  /** `Archive.source`, `DeadLetterArchive.read` on `S3ObjectStore`. */
  readArchive: ["ListObjectsV2", "GetObject"],
  /** `MetricPublisher` of `@tributary/cloudwatch`. */
  publishMetrics: ["PutMetricData"]
} as const satisfies Record<string, ReadonlyArray<CommandName>>

/**
 * The name of one part of Tributary's calls, a key of `uses` (e.g. `"readStream"`), as `grant` takes it.
 *
 * @since 0.1.0
 * @category models
 */
export type Use = keyof typeof uses

/**
 * The IAM actions of some commands, sorted, without repeats.
 *
 * @since 0.1.0
 * @category actions
 */
export const actionsOf = (names: ReadonlyArray<CommandName>, kind?: ResourceKind): Array<string> =>
  [...new Set(names.flatMap((name) => {
    const command: Command = commands[name]
    return kind === undefined || command.resource === kind ? command.actions : []
  }))].sort()

/**
 * The KMS actions some commands need on a customer managed key, sorted, without repeats.
 *
 * @since 0.1.0
 * @category actions
 */
export const keyActionsOf = (names: ReadonlyArray<CommandName>): Array<string> =>
  [...new Set(names.flatMap((name) => (commands[name] as Command).keyActions ?? []))].sort()

/**
 * Where a use applies: a stream (and its consumers, `<stream ARN>/consumer/*`) or table by ARN, or a bucket
 * with the key prefixes its objects are under (`["raw/*"]`); `key` is the resource's customer managed key,
 * if any.
 *
 * @since 0.1.0
 * @category models
 */
export type Target =
  | { readonly kind: "stream"; readonly arn: string; readonly key?: kms.IKey | undefined }
  | { readonly kind: "table"; readonly arn: string }
  | { readonly kind: "bucket"; readonly arn: string; readonly objects: ReadonlyArray<string>; readonly key?: kms.IKey | undefined }
  | { readonly kind: "account"; readonly conditions?: Record<string, Record<string, unknown>> }

/**
 * The policy statements that let a principal make a use's calls on a target: one per resource kind, and
 * one for the customer managed key when the calls need it.
 *
 * @since 0.1.0
 * @category grants
 */
export const statements = (use: Use, target: Target): Array<iam.PolicyStatement> => {
  const names: ReadonlyArray<CommandName> = uses[use]
  const out: Array<iam.PolicyStatement> = []
  const add = (actions: Array<string>, resources: Array<string>, conditions?: Record<string, Record<string, unknown>>) => {
    if (actions.length > 0) out.push(new iam.PolicyStatement({ actions, resources, ...(conditions === undefined ? {} : { conditions }) }))
  }
  switch (target.kind) {
    case "stream":
      add(actionsOf(names, "stream"), [target.arn])
      add(actionsOf(names, "consumer"), [`${target.arn}/consumer/*`])
      break
    case "table":
      add(actionsOf(names, "table"), [target.arn])
      break
    case "bucket":
      // listing only the prefixes the use reads (S3 checks `s3:prefix` against ListObjectsV2's Prefix)
      add(actionsOf(names, "bucket"), [target.arn], { StringLike: { "s3:prefix": [...target.objects] } })
      add(actionsOf(names, "object"), target.objects.map((pattern) => `${target.arn}/${pattern}`))
      break
    case "account":
      add(actionsOf(names, "account"), ["*"], target.conditions)
      break
  }
  const key = target.kind === "stream" || target.kind === "bucket" ? target.key : undefined
  if (key !== undefined) add(keyActionsOf(names), [key.keyArn])
  return out
}

/**
 * Adds a use's statements on a target to a principal's policy.
 *
 * @since 0.1.0
 * @category grants
 */
export const grant = (grantee: iam.IGrantable, use: Use, target: Target): void => {
  for (const statement of statements(use, target)) grantee.grantPrincipal.addToPrincipalPolicy(statement)
}
