import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb"
import { CreateStreamCommand, DescribeStreamSummaryCommand, KinesisClient, ListStreamsCommand } from "@aws-sdk/client-kinesis"
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Net from "../src/internal/net.js"
import * as LocalDynamoDB from "../src/LocalDynamoDB.js"
import * as LocalKinesis from "../src/LocalKinesis.js"
import * as LocalS3 from "../src/LocalS3.js"

const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Waits (bounded) until the stream is ACTIVE and answers its status. */
const activeStream = (client: KinesisClient, name: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 100; i++) {
      const summary = yield* Effect.promise(() => client.send(new DescribeStreamSummaryCommand({ StreamName: name })))
      const status = summary.StreamDescriptionSummary?.StreamStatus
      if (status === "ACTIVE") return { status, shards: summary.StreamDescriptionSummary?.OpenShardCount }
      yield* Effect.sleep("20 millis")
    }
    return { status: "NOT ACTIVE", shards: undefined }
  })

describe("LocalKinesis", () => {
  for (const [name, make] of [["in this process", LocalKinesis.makeKinesalite], ["in its child process", LocalKinesis.makeKinesaliteProcess]] as const) {
    it.live(`kinesalite ${name} starts on a free loopback port, answers the SDK, and is gone after the scope`, () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const local = yield* make().pipe(Scope.extend(scope))
        expect(local.endpoint).toBe(`http://127.0.0.1:${local.port}`)
        expect(local.kind).toBe("kinesalite")
        // the child's process is its own (embedded: none)
        expect(local.pid === undefined ? undefined : isRunning(local.pid)).toBe(make === LocalKinesis.makeKinesalite ? undefined : true)
        const client = new KinesisClient({ ...local.clientConfig, maxAttempts: 1 })
        yield* Effect.promise(() => client.send(new CreateStreamCommand({ StreamName: "orders", ShardCount: 3 })))
        expect(yield* activeStream(client, "orders")).toEqual({ status: "ACTIVE", shards: 3 })
        const listed = yield* Effect.promise(() => client.send(new ListStreamsCommand({})))
        expect(listed.StreamNames).toEqual(["orders"])
        expect(yield* Net.isClosed(local.port)).toBe(false)
        yield* Scope.close(scope, Exit.void)
        expect(yield* Net.isClosed(local.port)).toBe(true)
        if (local.pid !== undefined) expect(isRunning(local.pid)).toBe(false)
        client.destroy()
      }), 60_000)
  }

  it.live("two kinesalites run side by side on different ports with separate state", () =>
    Effect.gen(function*() {
      const [a, b] = yield* Effect.all([LocalKinesis.makeKinesalite(), LocalKinesis.makeKinesalite()])
      expect(a.port).not.toBe(b.port)
      const clientA = new KinesisClient({ ...a.clientConfig, maxAttempts: 1 })
      const clientB = new KinesisClient({ ...b.clientConfig, maxAttempts: 1 })
      yield* Effect.promise(() => clientA.send(new CreateStreamCommand({ StreamName: "only-a", ShardCount: 1 })))
      const listedB = yield* Effect.promise(() => clientB.send(new ListStreamsCommand({})))
      expect(listedB.StreamNames).toEqual([])
      // destroying one client leaves the shared HTTP agent usable for the next
      clientA.destroy()
      const again = new KinesisClient({ ...a.clientConfig, maxAttempts: 1 })
      const listedA = yield* Effect.promise(() => again.send(new ListStreamsCommand({})))
      expect(listedA.StreamNames).toEqual(["only-a"])
    }).pipe(Effect.scoped))

  it.live("kinesis-mock runs as a child process, answers the SDK, and the process is gone after the scope", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const local = yield* LocalKinesis.makeKinesisMock({ initializeStreams: { ready: 2 } }).pipe(Scope.extend(scope))
      expect(local.kind).toBe("kinesis-mock")
      const pid = local.pid
      expect(typeof pid).toBe("number")
      expect(isRunning(pid!)).toBe(true)
      const client = new KinesisClient({ ...local.clientConfig, maxAttempts: 1 })
      expect(yield* activeStream(client, "ready")).toEqual({ status: "ACTIVE", shards: 2 })
      yield* Effect.promise(() => client.send(new CreateStreamCommand({ StreamName: "created", ShardCount: 1 })))
      expect(yield* activeStream(client, "created")).toEqual({ status: "ACTIVE", shards: 1 })
      yield* Scope.close(scope, Exit.void)
      expect(isRunning(pid!)).toBe(false)
      expect(yield* Net.isClosed(local.port)).toBe(true)
      client.destroy()
    }), 90_000)
})

describe("LocalDynamoDB", () => {
  for (const [name, make] of [["in this process", LocalDynamoDB.makeDynalite], ["in its child process", LocalDynamoDB.makeDynaliteProcess]] as const) {
    it.live(`dynalite ${name} starts, stores and reads an item through the SDK, and stops with the scope`, () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const local = yield* make().pipe(Scope.extend(scope))
        const client = new DynamoDBClient({ ...local.clientConfig, maxAttempts: 1 })
        yield* Effect.promise(() =>
          client.send(new CreateTableCommand({
            TableName: "leases",
            AttributeDefinitions: [{ AttributeName: "leaseKey", AttributeType: "S" }],
            KeySchema: [{ AttributeName: "leaseKey", KeyType: "HASH" }],
            BillingMode: "PAY_PER_REQUEST"
          }))
        )
        yield* Effect.promise(() =>
          client.send(new PutItemCommand({ TableName: "leases", Item: { leaseKey: { S: "shard-1" }, leaseCounter: { N: "7" } } }))
        )
        const item = yield* Effect.promise(() =>
          client.send(new GetItemCommand({ TableName: "leases", Key: { leaseKey: { S: "shard-1" } }, ConsistentRead: true }))
        )
        expect(item.Item).toEqual({ leaseKey: { S: "shard-1" }, leaseCounter: { N: "7" } })
        yield* Scope.close(scope, Exit.void)
        expect(yield* Net.isClosed(local.port)).toBe(true)
        client.destroy()
      }), 60_000)
  }
})

describe("LocalS3", () => {
  it.live("s3rver starts, stores and reads an object through the SDK, and removes its directory with the scope", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const local = yield* LocalS3.makeS3rver({ buckets: ["archive"] }).pipe(Scope.extend(scope))
      const client = new S3Client({ ...local.clientConfig, maxAttempts: 1 })
      yield* Effect.promise(() => client.send(new CreateBucketCommand({ Bucket: "second" })))
      yield* Effect.promise(() =>
        client.send(new PutObjectCommand({ Bucket: "archive", Key: "a/b.json", Body: "{\"n\":1}", ContentType: "application/json" }))
      )
      const object = yield* Effect.promise(() => client.send(new GetObjectCommand({ Bucket: "archive", Key: "a/b.json" })))
      expect(yield* Effect.promise(() => object.Body!.transformToString())).toBe("{\"n\":1}")
      expect(Fs.existsSync(local.directory)).toBe(true)
      yield* Scope.close(scope, Exit.void)
      expect(yield* Net.isClosed(local.port)).toBe(true)
      expect(Fs.existsSync(local.directory)).toBe(false)
      client.destroy()
    }))

  for (const [name, make] of [["in this process", LocalS3.makeS3rver], ["in its child process", LocalS3.makeS3rverProcess]] as const) {
    it.live(`s3rver ${name}: concurrent PUTs of one key leave one whole version, and a GET after a PUT reads all of it`, () =>
      Effect.gen(function*() {
        const local = yield* make({ buckets: ["race"] })
        const client = new S3Client({ ...local.clientConfig, maxAttempts: 1 })
        yield* Effect.addFinalizer(() => Effect.sync(() => client.destroy()))
        // sizes apart, so a torn or partly written object cannot pass for one of them
        const versions = Array.from({ length: 12 }, (_, i) => Buffer.alloc(16 * 1024 * (i + 1), i + 1))
        const put = (body: Buffer) => Effect.promise(() => client.send(new PutObjectCommand({ Bucket: "race", Key: "k", Body: body })))
        const get = Effect.promise(async () => {
          const object = await client.send(new GetObjectCommand({ Bucket: "race", Key: "k" }))
          return Buffer.from(await object.Body!.transformToByteArray())
        })
        const whole = (got: Buffer) => versions.some((body) => body.equals(got))
        for (let round = 0; round < 3; round++) {
          yield* Effect.forEach(versions, put, { concurrency: "unbounded", discard: true })
          expect(whole(yield* get)).toBe(true)
          // each PUT read back at once, while the others still write
          const reads = yield* Effect.forEach(versions, (body) => Effect.zipRight(put(body), get), { concurrency: "unbounded" })
          expect(reads.every(whole)).toBe(true)
        }
        const last = versions[3]
        yield* put(last)
        expect((yield* get).equals(last)).toBe(true)
      }).pipe(Effect.scoped), 60_000)
  }

  it.live("a directory left by a process that is gone is removed at the next start; a running process's is kept", () =>
    Effect.gen(function*() {
      // a pid no process has (pids stay below 2^22 on Linux)
      const gone = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tributary-s3rver-4194305-"))
      const running = Fs.mkdtempSync(Path.join(Os.tmpdir(), `tributary-s3rver-${process.ppid}-`))
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(running, { recursive: true, force: true })))
      const local = yield* LocalS3.makeS3rver()
      expect(Path.basename(local.directory)).toMatch(new RegExp(`^tributary-s3rver-${process.pid}-[A-Za-z0-9]{6}$`))
      expect(Fs.existsSync(gone)).toBe(false)
      expect(Fs.existsSync(running)).toBe(true)
    }).pipe(Effect.scoped))

  it.live("s3rver's child process removes its directory when its parent goes (its stdin closes)", () =>
    Effect.gen(function*() {
      const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), `tributary-s3rver-${process.pid}-`))
      const script = fileURLToPath(new URL("../src/internal/s3rver-child.cjs", import.meta.url))
      const child = spawn(process.execPath, ["--openssl-legacy-provider", script, directory, "archive"], { stdio: ["pipe", "pipe", "inherit"] })
      yield* Effect.addFinalizer(() => Effect.sync(() => child.kill("SIGKILL")))
      const port = yield* Effect.async<number>((resume) => {
        child.stdout.once("data", (line: Buffer) => resume(Effect.succeed(JSON.parse(line.toString()).port)))
      })
      expect(yield* Net.isClosed(port)).toBe(false)
      const exited = Effect.async<number | null>((resume) => {
        child.once("exit", (code) => resume(Effect.succeed(code)))
      })
      child.stdin.end()
      expect(yield* exited).toBe(0)
      expect(Fs.existsSync(directory)).toBe(false)
    }).pipe(Effect.scoped), 30_000)
})
