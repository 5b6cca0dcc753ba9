/**
 * IAM coverage, three ways:
 *
 * 1. the packages' sources: every AWS SDK command class they send is in `Permissions.commands` (with its
 *    IAM actions), and every entry there is sent by some package;
 * 2. the synthesized workers' role allows, per resource, exactly the actions of the uses `WorkerRole`
 *    grants, nothing with a wildcard;
 * 3. a worker running on kinesalite, dynalite and s3rver, its SDK clients recording every command they
 *    send: each call is allowed by the synthesized role on the resource it acts on.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { Consumer } from "@tributary/consumer"
import * as Aggregate from "@tributary/core/Aggregate"
import * as Archive from "@tributary/core/Archive"
import * as Decoder from "@tributary/core/Decoder"
import * as Pipeline from "@tributary/core/Pipeline"
import * as SourceTree from "@tributary/core/test-utils/SourceTree"
import * as Window from "@tributary/core/Window"
import { DynamoDBClient, DynamoDBDeadLetters, DynamoDBLeaseStore, LeaseTable, ResultsTable } from "@tributary/dynamodb"
import { Kinesis, StreamAdmin } from "@tributary/kinesis"
import * as LocalDynamoDB from "@tributary/local/LocalDynamoDB"
import * as LocalKinesis from "@tributary/local/LocalKinesis"
import * as LocalS3 from "@tributary/local/LocalS3"
import { S3Client, S3ObjectStore } from "@tributary/s3"
import { App, Stack } from "aws-cdk-lib"
import { Template } from "aws-cdk-lib/assertions"
import { Effect, Layer, Schema } from "effect"
import { Deployment, Permissions } from "../src/index.js"

// ---------------------------------------------------------------------------------------------------------
// 1. the sources
// ---------------------------------------------------------------------------------------------------------

describe("Permissions.commands", () => {
  it("maps every AWS SDK command the packages send, and nothing they do not", () => {
    const sent = new Map<string, ReadonlyArray<string>>()
    const add = (found: ReadonlyMap<string, ReadonlyArray<string>>) => {
      for (const [name, files] of found) sent.set(name, [...new Set([...(sent.get(name) ?? []), ...files])])
    }
    add(SourceTree.occurrences(/new (\w+)Command\(/g))
    // commands imported from a client, whether or not `new` is in the same file
    for (const file of SourceTree.files()) {
      for (const match of file.text.matchAll(/import \{([^}]*)\} from "@aws-sdk\/client-[\w-]+"/g)) {
        for (const name of match[1].split(",").map((s) => s.trim())) {
          const command = /^(\w+)Command$/.exec(name)
          if (command !== null) add(new Map([[command[1], [file.path]]]))
        }
      }
    }
    const mapped = new Set(Object.keys(Permissions.commands))
    const problems = [
      ...[...sent].filter(([name]) => !mapped.has(name)).map(([name, files]) =>
        `${name}Command is sent by ${files.join(", ")} but has no IAM mapping: add ${name} to \`commands\` in ` +
        "packages/cdk/src/Permissions.ts (its IAM actions, the kind of resource it acts on and the KMS actions it needs " +
        "on an encrypted resource), then to the `uses` of the parts of Tributary that send it"
      ),
      ...[...mapped].filter((name) => !sent.has(name)).map((name) =>
        `${name} is in Permissions.commands but no package sends ${name}Command: remove it`
      )
    ]
    expect(problems).toStrictEqual([])
    expect(sent.size).toBeGreaterThanOrEqual(27)
  })

  it("every use names mapped commands, and the actions come out sorted and once", () => {
    for (const names of Object.values(Permissions.uses)) {
      for (const name of names) expect(Permissions.commands).toHaveProperty(name)
    }
    expect(Permissions.actionsOf(["ListObjectsV2", "GetObject", "GetObject"])).toStrictEqual(["s3:GetObject", "s3:ListBucket"])
    expect(Permissions.actionsOf(Permissions.uses.readArchive, "bucket")).toStrictEqual(["s3:ListBucket"])
    expect(Permissions.keyActionsOf(Permissions.uses.writeStream)).toStrictEqual(["kms:GenerateDataKey"])
  })
})

// ---------------------------------------------------------------------------------------------------------
// 2. the synthesized role
// ---------------------------------------------------------------------------------------------------------

const names = {
  stream: "iam-orders",
  leases: "iam-orders-leases",
  results: "iam-orders-results",
  deadLetters: "iam-orders-dead-letters",
  bucket: "iam-orders-archive"
}

const synthesize = (options: { readonly streamEncryption?: "kms"; readonly fanOut?: boolean } = {}) => {
  const stack = new Stack(new App(), "Iam", { env: { account: "123456789012", region: "eu-west-1" } })
  new Deployment(stack, "Orders", {
    name: names.stream,
    archive: { bucketName: names.bucket },
    putMetricData: true,
    ...options
  })
  return Template.fromStack(stack).toJSON() as { Resources: Record<string, { Type: string; Properties: any }> }
}

/** A resource of the template as `kind:name` (`stream:orders`, `object:bucket/raw/*`), or `*`. */
const resolver = (template: ReturnType<typeof synthesize>) => {
  const physical = (id: string): string => {
    const resource = template.Resources[id]
    switch (resource.Type) {
      case "AWS::Kinesis::Stream":
        return `stream:${resource.Properties.Name}`
      case "AWS::DynamoDB::Table":
        return `table:${resource.Properties.TableName}`
      case "AWS::S3::Bucket":
        return `bucket:${resource.Properties.BucketName}`
      case "AWS::KMS::Key":
        return `key:${id}`
    }
    throw new Error(`unexpected resource ${id} (${resource.Type}) in a policy`)
  }
  const resolve = (value: unknown): string => {
    if (value === "*") return "*"
    const v = value as Record<string, any>
    if (v["Fn::GetAtt"] !== undefined) return physical(v["Fn::GetAtt"][0])
    if (v["Fn::Join"] !== undefined) {
      const [first, ...rest] = v["Fn::Join"][1] as Array<unknown>
      return `${resolve(first).replace(/^bucket:/, "object:")}${rest.join("")}`
    }
    throw new Error(`cannot read the resource ${JSON.stringify(value)}`)
  }
  return resolve
}

interface Grant {
  readonly action: string
  readonly resource: string
  readonly condition: unknown
}

/** The statements of the policies attached to the workers' role, one entry per action and resource. */
const workerGrants = (template: ReturnType<typeof synthesize>): Array<Grant> => {
  const roleId = Object.keys(template.Resources).find((id) =>
    template.Resources[id].Type === "AWS::IAM::Role" && id.includes("WorkerRole")
  )!
  const resolve = resolver(template)
  return Object.values(template.Resources)
    .filter((r) => r.Type === "AWS::IAM::Policy" && r.Properties.Roles.some((role: any) => role.Ref === roleId))
    .flatMap((r) => r.Properties.PolicyDocument.Statement as Array<any>)
    .flatMap((statement) => {
      expect(statement.Effect).toBe("Allow")
      return [statement.Action].flat().flatMap((action: string) =>
        [statement.Resource].flat().map((resource: unknown) => ({ action, resource: resolve(resource), condition: statement.Condition }))
      )
    })
}

const byResource = (grants: ReadonlyArray<Grant>) => {
  const out: Record<string, Array<string>> = {}
  for (const grant of grants) (out[grant.resource] ??= []).push(grant.action)
  for (const actions of Object.values(out)) actions.sort()
  return out
}

describe("WorkerRole", () => {
  it("allows, per resource, exactly the calls of the uses it grants; no wildcards", () => {
    const grants = workerGrants(synthesize())
    expect(byResource(grants)).toStrictEqual({
      [`stream:${names.stream}`]: Permissions.actionsOf(Permissions.uses.readStream),
      [`table:${names.leases}`]: Permissions.actionsOf(Permissions.uses.leases),
      [`table:${names.results}`]: Permissions.actionsOf(Permissions.uses.writeResults),
      [`table:${names.deadLetters}`]: Permissions.actionsOf(Permissions.uses.writeDeadLetters),
      [`object:${names.bucket}/raw/*`]: Permissions.actionsOf(Permissions.uses.writeArchive),
      [`object:${names.bucket}/dead-letters/*`]: Permissions.actionsOf(Permissions.uses.writeArchive),
      "*": Permissions.actionsOf(Permissions.uses.publishMetrics)
    })
    // what that is, spelled out
    expect(byResource(grants)[`stream:${names.stream}`]).toStrictEqual(["kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"])
    expect(byResource(grants)[`table:${names.leases}`]).toStrictEqual([
      "dynamodb:DeleteItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Scan",
      "dynamodb:UpdateItem"
    ])
    expect(grants.every((g) => !g.action.includes("*"))).toBe(true)
    // the one action on every resource is narrowed to the namespace
    expect(grants.filter((g) => g.resource === "*").map((g) => g.condition)).toStrictEqual([
      { StringEquals: { "cloudwatch:namespace": "Tributary" } }
    ])
  })

  it("fan-out workers: the consumer calls on the stream, SubscribeToShard and DescribeStreamConsumer on its consumers", () => {
    const grants = byResource(workerGrants(synthesize({ fanOut: true })))
    expect(grants[`stream:${names.stream}`]).toStrictEqual([
      "kinesis:DescribeStreamSummary",
      "kinesis:GetRecords",
      "kinesis:GetShardIterator",
      "kinesis:ListShards",
      "kinesis:RegisterStreamConsumer"
    ])
    expect(grants[`stream:${names.stream}/consumer/*`]).toStrictEqual(["kinesis:DescribeStreamConsumer", "kinesis:SubscribeToShard"])
  })

  it("a stream encrypted with a key of its own: kms:Decrypt on that key, for GetRecords", () => {
    const grants = workerGrants(synthesize({ streamEncryption: "kms" }))
    expect(grants.filter((g) => g.resource.startsWith("key:")).map((g) => g.action)).toStrictEqual(["kms:Decrypt"])
  })
})

// ---------------------------------------------------------------------------------------------------------
// 3. a worker's calls on the emulators
// ---------------------------------------------------------------------------------------------------------

interface Call {
  readonly command: string
  readonly resources: ReadonlyArray<string>
}

const calls: Array<Call> = []

/** Records every command a client sends, with the resources it names. */
const record = (client: { readonly middlewareStack: { add: (...args: Array<any>) => void } }, resourcesOf: (input: any) => Array<string>) =>
  client.middlewareStack.add(
    (next: (args: any) => Promise<unknown>, context: { readonly commandName: string }) => (args: { readonly input: unknown }) => {
      calls.push({ command: context.commandName.replace(/Command$/, ""), resources: resourcesOf(args.input) })
      return next(args)
    },
    { step: "initialize", name: "recordCalls" }
  )

const streamOf = (input: any) => [`stream:${input.StreamName ?? names.stream}`]
const tablesOf = (input: any) =>
  input.TableName !== undefined ? [`table:${input.TableName}`] : Object.keys(input.RequestItems ?? {}).map((t) => `table:${t}`)
const objectsOf = (input: any) => input.Key !== undefined ? [`object:${input.Bucket}/${input.Key}`] : [`bucket:${input.Bucket}`]

const local = Layer.mergeAll(LocalKinesis.layerKinesalite(), LocalDynamoDB.layerDynalite(), LocalS3.layerS3rver())

/** Clients of the worker, recording their calls. */
const recordedClients = Layer.mergeAll(
  Layer.scoped(Kinesis.Kinesis, Effect.flatMap(LocalKinesis.LocalKinesis, (l) => Kinesis.make({ ...l.clientConfig }))
    .pipe(Effect.tap((k) => record(k.client, streamOf)))),
  Layer.scoped(DynamoDBClient.DynamoDBClient, Effect.flatMap(LocalDynamoDB.LocalDynamoDB, (l) => DynamoDBClient.make({ ...l.clientConfig }))
    .pipe(Effect.tap((d) => record(d.client, tablesOf)))),
  Layer.scoped(S3Client.S3Client, Effect.flatMap(LocalS3.LocalS3, (l) => S3Client.make({ ...l.clientConfig }))
    .pipe(Effect.tap((s) => record(s.client, objectsOf))))
)

/** Clients of the test itself (what the CDK deployment would have created), not recorded. */
const adminClients = Layer.mergeAll(
  Layer.unwrapEffect(Effect.map(LocalKinesis.LocalKinesis, (l) => Kinesis.layer({ ...l.clientConfig }))),
  Layer.unwrapEffect(Effect.map(LocalDynamoDB.LocalDynamoDB, (l) => DynamoDBClient.layer({ ...l.clientConfig }))),
  Layer.unwrapEffect(Effect.map(LocalS3.LocalS3, (l) => S3Client.layer({ ...l.clientConfig })))
)

const Order = Schema.Struct({ orderId: Schema.String, amount: Schema.Number, at: Schema.Number })

/** Does a grant's resource pattern (`*` anywhere) cover a resource? */
const covers = (pattern: string, resource: string) =>
  new RegExp(`^${pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`).test(resource)

layer(local, { excludeTestServices: true, timeout: "60 seconds" })("a worker on the emulators", (it) => {
  it.effect("every call it makes is allowed by the synthesized role, on the resource it names", () =>
    Effect.gen(function*() {
      // what the deployment creates
      yield* Effect.gen(function*() {
        yield* StreamAdmin.ensureStream(names.stream, { shards: 2 })
        yield* LeaseTable.ensure(names.leases)
        yield* ResultsTable.ensure(names.results)
        yield* DynamoDBDeadLetters.make({ tableName: names.deadLetters })
        yield* (yield* S3Client.S3Client).createBucket({ Bucket: names.bucket })
        const kinesis = yield* Kinesis.Kinesis
        yield* kinesis.putRecords({
          StreamName: names.stream,
          Records: [
            { PartitionKey: "a", Data: Buffer.from(`{"orderId":"o-1","amount":10,"at":1000}`) },
            { PartitionKey: "b", Data: Buffer.from(`broken`) },
            { PartitionKey: "c", Data: Buffer.from(`{"orderId":"o-2","amount":20,"at":2000}`) },
            // past the first minute's end: the window fires and its result is written
            { PartitionKey: "a", Data: Buffer.from(`{"orderId":"o-3","amount":30,"at":70000}`) },
            { PartitionKey: "c", Data: Buffer.from(`{"orderId":"o-4","amount":40,"at":70000}`) }
          ]
        })
      }).pipe(Effect.provide(adminClients))

      // the worker, given `createTable: false` as the constructs' tables ask
      yield* Effect.gen(function*() {
        const results = yield* ResultsTable.sink<string, ResultsTable.WithState<number>>({
          tableName: names.results,
          pipeline: "iam-orders",
          createTable: false
        })
        const pipeline = Pipeline.make("iam-orders").pipe(
          Pipeline.to(Archive.RawArchive),
          Pipeline.decode(Decoder.json(Order)),
          Pipeline.window({
            window: Window.tumbling("1 minute"),
            key: (order: typeof Order.Type) => order.orderId.slice(0, 1),
            eventTime: (order) => order.at,
            aggregate: ResultsTable.withState(Aggregate.count)
          }),
          Pipeline.to(results)
        )
        const letters = yield* DynamoDBDeadLetters.readAll(names.deadLetters).pipe(Effect.provide(adminClients))
        expect(letters).toStrictEqual([])
        yield* Effect.scoped(Effect.gen(function*() {
          yield* Consumer.make(pipeline, { stream: names.stream, initialPosition: "TRIM_HORIZON" })
          // until the window's result and the dead letter are stored
          while (true) {
            const stored = yield* ResultsTable.scanPartials(names.results).pipe(Effect.provide(adminClients))
            const dead = yield* DynamoDBDeadLetters.readAll(names.deadLetters).pipe(Effect.provide(adminClients))
            if (stored.length > 0 && dead.length > 0) break
            yield* Effect.sleep("20 millis")
          }
        }))
      }).pipe(
        Effect.provide(Layer.mergeAll(
          DynamoDBLeaseStore.layer({ tableName: names.leases, createTable: false }),
          DynamoDBDeadLetters.layer({ tableName: names.deadLetters, createTable: false }),
          Archive.layerSink({ maxAge: 0 }).pipe(Layer.provide(S3ObjectStore.layer({ bucket: names.bucket })))
        )),
        Effect.provide(recordedClients)
      )

      const grants = workerGrants(synthesize())
      const denied = calls.flatMap((call) => {
        const actions: ReadonlyArray<string> = (Permissions.commands as Record<string, Permissions.Command>)[call.command]?.actions ?? []
        return call.resources.flatMap((resource) =>
          actions.length > 0 && actions.every((action) => grants.some((g) => g.action === action && covers(g.resource, resource)))
            ? []
            : [`${call.command} on ${resource}`]
        )
      })
      expect([...new Set(denied)]).toStrictEqual([])
      // the run made the calls a worker makes
      const made = new Set(calls.map((c) => c.command))
      for (const command of ["ListShards", "GetShardIterator", "GetRecords", "Scan", "PutItem", "UpdateItem", "BatchWriteItem", "PutObject"]) {
        expect(made).toContain(command)
      }
      // a worker on three emulators, then a synthesis: minutes on a machine busy with other work
    }), 600_000)
})
