import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it, layer } from "@effect/vitest"
import * as Archive from "@tributary/core/Archive"
import * as DeadLetterArchive from "@tributary/core/DeadLetterArchive"
import * as ObjectStore from "@tributary/core/ObjectStore"
import type { DeadLetter } from "@tributary/core/DeadLetter"
import * as Decoder from "@tributary/core/Decoder"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import { DynamoDBClient, DynamoDBDeadLetters, DynamoDBLeaseStore, LeaseTable } from "@tributary/dynamodb"
import { Kinesis, Producer, StreamAdmin, StreamSource } from "@tributary/kinesis"
import { LocalDynamoDB, LocalKinesis, LocalS3 } from "@tributary/local"
import { S3Client, S3ObjectStore } from "@tributary/s3"
import { ApiKeys, Gateway } from "@tributary/server"
import type { IngestRecord } from "@tributary/server/Ingest"
import * as Chunk from "effect/Chunk"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { execFile } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as Cli from "../src/Cli.js"

// kinesalite, dynalite and s3rver in this process, and the clients the commands use talking to them
const emulators = Layer.mergeAll(
  Layer.unwrapEffect(Effect.map(LocalKinesis.LocalKinesis, (local) => Kinesis.layer({ ...local.clientConfig }))),
  Layer.unwrapEffect(Effect.map(LocalDynamoDB.LocalDynamoDB, (local) => DynamoDBClient.layer({ ...local.clientConfig }))),
  Layer.unwrapEffect(Effect.map(LocalS3.LocalS3, (local) => S3Client.layer({ ...local.clientConfig })))
).pipe(
  Layer.provideMerge(Layer.mergeAll(LocalKinesis.layerKinesalite(), LocalDynamoDB.layerDynalite(), LocalS3.layerS3rver())),
  Layer.merge(NodeContext.layer)
)

// clients for the tests that never reach AWS
const offline = Layer.mergeAll(
  Kinesis.layer({ region: "us-east-1", endpoint: "http://127.0.0.1:9" }),
  DynamoDBClient.layer({ region: "us-east-1", endpoint: "http://127.0.0.1:9" }),
  S3Client.layer({ region: "us-east-1", endpoint: "http://127.0.0.1:9" }),
  NodeContext.layer
)

const ansi = /\u001b\[[0-9;]*m/g

/** Runs `tributary ...args` in this process; answers the exit code and what it printed. */
const cli = (...args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const out: Array<string> = []
    const err: Array<string> = []
    const console = yield* Effect.console
    const capture: Console.Console = {
      ...console,
      log: (...items) => Effect.sync(() => void out.push(items.join(" "))),
      error: (...items) => Effect.sync(() => void err.push(items.join(" ")))
    }
    const code = yield* Cli.main(["node", "tributary", ...args]).pipe(Effect.withConsole(capture))
    return { code, stdout: out.join("\n").replace(ansi, ""), stderr: err.join("\n").replace(ansi, "") }
  })

const root = fileURLToPath(new URL("..", import.meta.url))

/** Runs `tsx src/bin/tributary.ts ...args` in a child process, with the emulators' endpoints in its environment. */
const spawn = (...args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const kinesis = yield* LocalKinesis.LocalKinesis
    const dynamodb = yield* LocalDynamoDB.LocalDynamoDB
    const s3 = yield* LocalS3.LocalS3
    return yield* Effect.async<{ code: number; stdout: string; stderr: string }>((resume) => {
      execFile(process.execPath, ["--import", "tsx", "src/bin/tributary.ts", ...args], {
        cwd: root,
        timeout: 20_000,
        env: {
          ...process.env,
          AWS_ENDPOINT_URL_KINESIS: kinesis.endpoint,
          AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
          AWS_ENDPOINT_URL_S3: s3.endpoint,
          AWS_REGION: "us-east-1",
          // s3rver knows only its own key; the other emulators take any
          AWS_ACCESS_KEY_ID: "S3RVER",
          AWS_SECRET_ACCESS_KEY: "S3RVER"
        }
      }, (error, stdout, stderr) =>
        resume(Effect.succeed({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr })))
    })
  })

let names = 0
const unique = (prefix: string) => `${prefix}-${process.pid}-${++names}`

/** Every record of the stream, read from the start of each shard. */
const readAll = (stream: string) =>
  Effect.gen(function*() {
    const source = yield* StreamSource.make({ stream, follow: false, reader: { idleInterval: "50 millis" } })
    const batches = yield* Stream.runCollect(source.shards.pipe(Stream.flatMap((reader) => reader.batches, { concurrency: "unbounded" })))
    return Chunk.toArray(batches).flat()
  })

const Activity = Schema.Struct({
  CustomerId: Schema.String,
  DateUnixMs: Schema.Number,
  Activity: Schema.String,
  DurationMs: Schema.Number
})

const activities = Decoder.auto(Activity, {
  aliases: { CustomerId: "customer", DateUnixMs: "ts", Activity: "activity", DurationMs: "duration_ms" }
})

describe("tributary --help", () => {
  it.effect("lists the commands, and every command its options", () =>
    Effect.gen(function*() {
      const top = yield* cli("--help")
      expect(top.code).toBe(0)
      for (const name of ["demo", "provision", "produce", "tail", "leases", "replay"]) {
        expect(top.stdout).toMatch(new RegExp(`^\\s*- ${name} `, "m"))
      }
      expect(top.stdout).toContain("Put archived records or dead letters back into a stream.")
      expect(top.stdout).toContain("AWS_ENDPOINT_URL_KINESIS")
      // no arguments: the same help
      expect((yield* cli()).stdout).toBe(top.stdout)

      const options: Record<string, ReadonlyArray<string>> = {
        demo: ["--duration DURATION", "--rate N", "--job-every DURATION", "--target local | aws", "--bucket BUCKET", "--keep", "--port PORT"],
        provision: ["--stream NAME", "--shards N", "--lease-table TABLE", "--results-table TABLE", "--dead-letter-table TABLE", "--bucket BUCKET"],
        produce: ["--stream NAME", "--rate N", "--count N", "--duration DURATION", "--broken-every N", "--via-gateway URL", "--api-key KEY"],
        tail: ["--stream NAME", "--from latest|trim-horizon|TIME", "--limit N", "--format auto | json | csv | keyValue | xml | apacheLog | raw"],
        leases: ["--lease-table TABLE", "--stream NAME", "--watch DURATION"],
        replay: [
          "--stream NAME",
          "--archive-bucket BUCKET",
          "--archive-dir DIR",
          "--archive-prefix PREFIX",
          "--dead-letters",
          "--dead-letter-table TABLE",
          "--pipeline NAME",
          "--from TIME",
          "--to TIME",
          "--source-stream NAME",
          "--dry-run"
        ]
      }
      for (const [name, expected] of Object.entries(options)) {
        const help = yield* cli(name, "--help")
        expect(help.code).toBe(0)
        expect(help.stdout).toContain("DESCRIPTION")
        for (const option of expected) expect(help.stdout, `${name} --help`).toContain(option)
      }
    }).pipe(Effect.provide(offline)))

  it.effect("wrong usage: exit code 2 and what is wrong", () =>
    Effect.gen(function*() {
      const missing = yield* cli("provision")
      expect(missing.code).toBe(2)
      expect(missing.stderr).toContain("Expected to find option: '--stream'")
      const duration = yield* cli("produce", "--stream", "s", "--duration", "soon")
      expect(duration.code).toBe(2)
      expect(duration.stderr).toContain(`--duration: "soon" is not a duration`)
      const both = yield* cli("produce", "--stream", "s", "--count", "5", "--duration", "1s")
      expect(both).toMatchObject({ code: 2, stderr: "tributary: give --count or --duration, not both" })
    }).pipe(Effect.provide(offline)))
})

layer(emulators, { excludeTestServices: true, timeout: "30 seconds" })("tributary on kinesalite, dynalite and s3rver", (it) => {
  it.effect("provision: creates, then reports what exists (a run in a child process, then one in process)", () =>
    Effect.gen(function*() {
      const [stream, leases, results, letters, bucket] = ["orders", "leases", "results", "dead-letters", "archive"].map(unique)
      const args = ["provision", "--stream", stream, "--shards", "2", "--lease-table", leases, "--results-table", results, "--dead-letter-table", letters, "--bucket", bucket]
      const first = yield* spawn(...args)
      expect(first.stderr).toBe("")
      expect(first.code).toBe(0)
      expect(first.stdout.trim().split("\n").sort()).toEqual([
        `bucket ${bucket}: created`,
        `dead-letter table ${letters}: created, ACTIVE`,
        `lease table ${leases}: created, ACTIVE`,
        `results table ${results}: created, ACTIVE`,
        `stream ${stream}: created, 2 shards, ACTIVE`
      ])

      const second = yield* cli(...args.map((arg) => arg === "2" ? "3" : arg))
      expect(second.code).toBe(0)
      expect(second.stdout.split("\n").sort()).toEqual([
        `bucket ${bucket}: exists`,
        `dead-letter table ${letters}: exists, ACTIVE`,
        `lease table ${leases}: exists, ACTIVE`,
        `results table ${results}: exists, ACTIVE`,
        `stream ${stream}: exists, 2 open shards (not 3: an existing stream is not resharded), ACTIVE`
      ])

      // and they are there
      expect(yield* StreamAdmin.describe(stream)).toMatchObject({ status: "ACTIVE", openShardCount: 2 })
      for (const table of [leases, results, letters]) expect(yield* LeaseTable.status(table)).toBe("ACTIVE")
      const s3 = yield* S3Client.S3Client
      expect((yield* s3.listObjectsV2({ Bucket: bucket })).KeyCount ?? 0).toBe(0)
    }))

  it.effect("produce --count 500: exactly 500 records in the stream, 5 of them broken", () =>
    Effect.gen(function*() {
      const stream = unique("produce")
      yield* StreamAdmin.ensureStream(stream, { shards: 2 })
      const run = yield* cli("produce", "--stream", stream, "--count", "500", "--rate", "5000")
      expect(run.stderr).toBe("")
      expect(run.code).toBe(0)
      expect(run.stdout).toMatch(
        new RegExp(`produced 500 messages \\(5 broken on purpose\\) to stream ${stream} in [\\d.]+ s: 500 accepted, 0 failed$`)
      )
      const records = yield* readAll(stream)
      expect(records.length).toBe(500)
      const decoded = Decoder.decodeAll(activities, records)
      expect(decoded.values.length).toBe(495)
      expect(decoded.failures.length).toBe(5)
      // one of each kind of breakage, and one more JSON one
      expect(decoded.failures.map((f) => f.format).sort()).toEqual(["csv", "json", "json", "keyValue", "xml"])

      const none = yield* cli("produce", "--stream", stream, "--count", "40", "--rate", "5000", "--broken-every", "0")
      expect(none.stdout).toContain("produced 40 messages (0 broken on purpose)")
    }))

  it.effect("produce --via-gateway: POSTs to a running ingest gateway", () =>
    Effect.gen(function*() {
      const stream = unique("gateway")
      yield* StreamAdmin.ensureStream(stream, { shards: 1 })
      const producer = yield* Producer.make<IngestRecord>({ stream, partitionKey: (r) => r.partitionKey, data: (r) => r.data })
      const server = yield* Gateway.serve({
        keys: [{ name: "test", sha256: ApiKeys.hash("secret"), streams: [stream] }],
        sinkFor: Gateway.sinks({ [stream]: producer })
      })
      const run = yield* cli("produce", "--stream", stream, "--count", "700", "--rate", "20000", "--via-gateway", server.url, "--api-key", "secret")
      expect(run.stderr).toBe("")
      expect(run.stdout).toContain(`produced 700 messages (7 broken on purpose) to ${server.url} in`)
      expect((yield* readAll(stream)).length).toBe(700)

      const refused = yield* cli("produce", "--stream", stream, "--count", "10", "--via-gateway", server.url, "--api-key", "wrong")
      expect(refused.code).toBe(1)
      expect(refused.stdout).toContain("0 accepted, 10 failed")
      expect(refused.stderr).toMatch(/^tributary: 10 of 10 messages were not accepted: 401 /)
    }).pipe(Effect.scoped))

  it.effect("tail --limit: the decoded values of the records just produced", () =>
    Effect.gen(function*() {
      const stream = unique("tail")
      yield* StreamAdmin.ensureStream(stream, { shards: 1 })
      const payloads = [
        `{"CustomerId":"C1","DateUnixMs":1700000000000,"Activity":"login","DurationMs":20}`,
        `CustomerId,DateUnixMs,Activity,DurationMs\nC2,1700000000000,view,30`,
        `customer=C3\nts=1700000000000\nactivity=search\nduration_ms=40`,
        `<activity><CustomerId>C4</CustomerId><DateUnixMs>1700000000000</DateUnixMs><Activity>logout</Activity><DurationMs>50</DurationMs></activity>`,
        `<activity><CustomerId>C5</CustomerId>`
      ]
      yield* Effect.scoped(Effect.gen(function*() {
        const producer = yield* Producer.make<string>({ stream, partitionKey: (p) => p.slice(0, 20), data: (p) => p, concurrency: 1 })
        yield* producer.write(payloads)
      }))
      const run = yield* cli("tail", "--stream", stream, "--from", "trim-horizon", "--limit", "5")
      expect(run.stderr).toBe("")
      expect(run.code).toBe(0)
      const lines = run.stdout.split("\n")
      expect(lines.length).toBe(5)
      const records = yield* readAll(stream)
      lines.forEach((line, i) => expect(line.startsWith(`shardId-000000000000 ${records[i].sequenceNumber} `)).toBe(true))
      const values = lines.map((line) => line.split(" ").slice(2).join(" "))
      expect(values.slice(0, 4).map((value) => JSON.parse(value))).toEqual([
        { CustomerId: "C1", DateUnixMs: 1700000000000, Activity: "login", DurationMs: 20 },
        { CustomerId: "C2", DateUnixMs: "1700000000000", Activity: "view", DurationMs: "30" },
        { customer: "C3", ts: "1700000000000", activity: "search", duration_ms: "40" },
        { CustomerId: "C4", DateUnixMs: "1700000000000", Activity: "logout", DurationMs: "50" }
      ])
      expect(values[4]).toMatch(/^error: xml \(line 1, column \d+\): unclosed element <activity>/)

      const raw = yield* cli("tail", "--stream", stream, "--from", "trim-horizon", "--limit", "2", "--format", "raw")
      expect(raw.stdout.split("\n").map((line) => JSON.parse(line.split(" ").slice(2).join(" ")))).toEqual(payloads.slice(0, 2))
    }))

  it.effect("leases: the rows of a lease table", () =>
    Effect.gen(function*() {
      const tableName = unique("leases")
      const store = yield* DynamoDBLeaseStore.make({ tableName })
      const range = { start: "0", end: "340282366920938463463374607431768211455" }
      for (const shard of ["shardId-000000000000", "shardId-000000000001", "shardId-000000000002"]) {
        yield* store.createIfAbsent({
          leaseKey: shard,
          checkpoint: "TRIM_HORIZON",
          hashRange: range,
          parentShardIds: shard.endsWith("2") ? ["shardId-000000000000"] : []
        })
      }
      const first = Option.getOrThrow(yield* store.get("shardId-000000000000"))
      const held = yield* store.acquire(first, "worker-a")
      yield* store.checkpoint(
        { leaseKey: held.leaseKey, owner: "worker-a", counter: held.counter },
        { sequenceNumber: "49590000000000000000000000000000000000000000000000000042", subSequenceNumber: 0 }
      )

      const run = yield* cli("leases", "--lease-table", tableName)
      expect(run.code).toBe(0)
      const lines = run.stdout.split("\n")
      expect(lines[0]).toMatch(/^shard\s+owner\s+counter\s+checkpoint\s+switches\s+parents\s+lag$/)
      expect(lines[1]).toMatch(/^shardId-000000000000\s+worker-a\s+\d+\s+49590000000000000000000000000000000000000000000000000042\s+0\s+-\s+\?$/)
      expect(lines[2]).toMatch(/^shardId-000000000001\s+-\s+\d+\s+TRIM_HORIZON\s+0\s+-\s+\?$/)
      expect(lines[3]).toMatch(/^shardId-000000000002\s+-\s+\d+\s+TRIM_HORIZON\s+0\s+shardId-000000000000\s+\?$/)
      expect(run.stdout).toContain("3 leases; held: worker-a: 1")

      const missing = yield* cli("leases", "--lease-table", unique("no-such-table"))
      expect(missing.code).toBe(1)
      expect(missing.stderr).toMatch(/^tributary: table "no-such-table-\d+-\d+" not found \(ResourceNotFoundException\)$/)
    }))

  it.effect("replay: archived records (a directory, an S3 bucket) and stored dead letters, with their keys and bytes", () =>
    Effect.gen(function*() {
      const now = Date.now()
      const seq = (n: number) => (49590000000000000000000000000000000000000000000000000000n + BigInt(n)).toString()
      const original: Array<SourceRecord> = [0, 1].flatMap((shard) =>
        [0, 1, 2].map((i) => ({
          stream: "source",
          shardId: `shardId-00000000000${shard}`,
          sequenceNumber: seq(i),
          subSequenceNumber: 0,
          partitionKey: `key-${shard}-${i}`,
          arrivalTime: now - 1_000 + i,
          // bytes that are not text, to see them come back as they were
          data: new Uint8Array([0, 255, shard, i, 10, 13])
        }))
      )
      const archived = (store: ObjectStore.ObjectStoreShape) =>
        Effect.scoped(Effect.gen(function*() {
          const sink = yield* Archive.sink({ maxAge: 0 })
          yield* sink.write(original)
        }).pipe(Effect.provideService(ObjectStore.ObjectStore, store)))
      const bytes = (records: ReadonlyArray<{ readonly partitionKey: string; readonly data: Uint8Array }>) =>
        records.map((r) => `${r.partitionKey}:${Buffer.from(r.data).toString("hex")}`).sort()

      // a file-system archive
      const directory = mkdtempSync(join(tmpdir(), "tributary-cli-archive-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(directory, { recursive: true, force: true })))
      yield* archived(yield* ObjectStore.makeFileSystem(directory, { fsync: false }))
      const fromDirectory = unique("replayed")
      yield* StreamAdmin.ensureStream(fromDirectory, { shards: 1 })
      const dry = yield* cli("replay", "--stream", fromDirectory, "--archive-dir", directory, "--dry-run")
      expect(dry.code).toBe(0)
      expect(dry.stdout).toContain(`dry run: 6 records from 2 shards would be put into ${fromDirectory}`)
      expect(yield* readAll(fromDirectory)).toEqual([])
      const replayed = yield* cli("replay", "--stream", fromDirectory, "--archive-dir", directory)
      expect(replayed.stderr).toBe("")
      expect(replayed.code).toBe(0)
      expect(replayed.stdout).toContain("  shardId-000000000000: 3 records\n  shardId-000000000001: 3 records")
      expect(replayed.stdout).toContain(`6 records from 2 shards put into ${fromDirectory}`)
      const back = yield* readAll(fromDirectory)
      expect(bytes(back)).toEqual(bytes(original))
      // in order per source shard
      expect(back.filter((r) => r.partitionKey.startsWith("key-1")).map((r) => r.partitionKey)).toEqual(["key-1-0", "key-1-1", "key-1-2"])

      // the S3 store, a time range and a source stream
      const s3 = yield* S3Client.S3Client
      const bucket = unique("archive")
      yield* s3.createBucket({ Bucket: bucket })
      yield* archived(yield* S3ObjectStore.make({ bucket }))
      const fromBucket = unique("replayed")
      yield* StreamAdmin.ensureStream(fromBucket, { shards: 2 })
      const range = ["--from", new Date(now - 60_000).toISOString(), "--to", new Date(now + 60_000).toISOString()]
      const fromS3 = yield* cli("replay", "--stream", fromBucket, "--archive-bucket", bucket, ...range, "--source-stream", "source")
      expect(fromS3.stderr).toBe("")
      expect(fromS3.stdout).toContain(`6 records from 2 shards put into ${fromBucket}`)
      expect(bytes(yield* readAll(fromBucket))).toEqual(bytes(original))
      const otherStream = yield* cli("replay", "--stream", fromBucket, "--archive-bucket", bucket, "--source-stream", "other", "--dry-run")
      expect(otherStream.stdout).toContain("dry run: 0 records from 0 shards would be put")

      // dead letters in a DynamoDB table
      const tableName = unique("dead-letters")
      const letters: Array<DeadLetter> = original.slice(0, 3).map((record) => ({
        pipeline: "orders",
        stage: "decode",
        reason: "not an order",
        stream: record.stream,
        shardId: record.shardId,
        sequenceNumber: record.sequenceNumber,
        subSequenceNumber: 0,
        partitionKey: `dead-${record.partitionKey}`,
        arrivalTime: record.arrivalTime,
        failedAt: now,
        data: record.data
      }))
      const deadLetterSink = yield* DynamoDBDeadLetters.make({ tableName })
      yield* deadLetterSink.write(letters)
      const fromTable = unique("replayed")
      yield* StreamAdmin.ensureStream(fromTable, { shards: 1 })
      const otherPipeline = yield* cli("replay", "--stream", fromTable, "--dead-letter-table", tableName, "--pipeline", "clicks")
      expect(otherPipeline.stdout).toContain(`0 dead letters put into ${fromTable}`)
      const fromLetters = yield* cli("replay", "--stream", fromTable, "--dead-letter-table", tableName)
      expect(fromLetters.stderr).toBe("")
      expect(fromLetters.code).toBe(0)
      expect(fromLetters.stdout).toContain(`3 dead letters put into ${fromTable}`)
      const lettersBack = yield* readAll(fromTable)
      expect(bytes(lettersBack)).toEqual(bytes(letters))
      expect(lettersBack.map((r) => r.partitionKey)).toEqual(["dead-key-0-0", "dead-key-0-1", "dead-key-0-2"])

      // dead letters in the archive (its dead-letters/ prefix)
      const store = yield* ObjectStore.makeFileSystem(directory, { fsync: false })
      yield* (yield* DeadLetterArchive.sink().pipe(Effect.provideService(ObjectStore.ObjectStore, store))).write(letters)
      const fromArchivedLetters = unique("replayed")
      yield* StreamAdmin.ensureStream(fromArchivedLetters, { shards: 1 })
      const archivedLetters = yield* cli("replay", "--stream", fromArchivedLetters, "--archive-dir", directory, "--dead-letters")
      expect(archivedLetters.stderr).toBe("")
      expect(archivedLetters.stdout).toContain(`3 dead letters from 1 object put into ${fromArchivedLetters}`)
      expect(bytes(yield* readAll(fromArchivedLetters))).toEqual(bytes(letters))
    }).pipe(Effect.scoped))

  it.effect("a missing stream: one clear line on stderr, exit code 1 (in a child process and in process)", () =>
    Effect.gen(function*() {
      const child = yield* spawn("produce", "--stream", "no-such-stream", "--count", "1")
      expect(child.code).toBe(1)
      expect(child.stdout).toBe("")
      expect(child.stderr).toBe(`tributary: stream "no-such-stream" not found (ResourceNotFoundException)\n`)
      const inProcess = yield* cli("tail", "--stream", "no-such-stream", "--limit", "1")
      expect(inProcess).toEqual({ code: 1, stdout: "", stderr: `tributary: stream "no-such-stream" not found (ResourceNotFoundException)` })
    }))
})
