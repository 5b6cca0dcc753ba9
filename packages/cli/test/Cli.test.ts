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
import { Environment, LocalDynamoDB, LocalKinesis, LocalS3 } from "@tributary/local"
import { S3Client, S3ObjectStore } from "@tributary/s3"
import { ApiKeys, Gateway } from "@tributary/server"
import type { IngestRecord } from "@tributary/server/Ingest"
import * as Chunk from "effect/Chunk"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { execFile } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import * as Net from "node:net"
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
        // tsx compiles the command first: slow on a busy machine (the test itself allows more)
        timeout: 90_000,
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

/** A port something listens on, for the length of the scope. */
const listening = Effect.acquireRelease(
  Effect.async<Net.Server>((resume) => {
    const server = Net.createServer()
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
).pipe(Effect.map((server) => (server.address() as Net.AddressInfo).port))

/** The standard AWS settings pointing at the emulators, for the length of the scope. */
const awsSettings = Effect.gen(function*() {
  const kinesis = yield* LocalKinesis.LocalKinesis
  const dynamodb = yield* LocalDynamoDB.LocalDynamoDB
  const s3 = yield* LocalS3.LocalS3
  yield* Environment.scoped({
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_ENDPOINT_URL_KINESIS: kinesis.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
    AWS_ENDPOINT_URL_S3: s3.endpoint
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
  it.effect("lists the commands, and every command its options, without boilerplate", () =>
    Effect.gen(function*() {
      const top = yield* cli("--help")
      expect(top.code).toBe(0)
      for (const name of ["demo", "local", "provision", "produce", "tail", "leases", "replay"]) {
        expect(top.stdout).toMatch(new RegExp(`^  ${name} +[A-Z]`, "m"))
      }
      expect(top.stdout).toContain("Put archived records or dead letters back into a stream.")
      expect(top.stdout).toContain("AWS_ENDPOINT_URL_KINESIS")
      expect(top.stdout).toContain("Exit codes: 0 done, 1 failed (one line on stderr says why), 2 wrong usage, 130 interrupted.")
      // no arguments: the same help
      expect((yield* cli()).stdout).toBe(top.stdout)

      const options: Record<string, ReadonlyArray<string>> = {
        demo: ["--duration DURATION", "--rate N", "--job-every DURATION", "--target local | aws", "--bucket BUCKET", "--keep", "--port PORT"],
        local: ["--kinesis-port PORT", "--dynamodb-port PORT", "--s3-port PORT"],
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
        expect(help.stdout).toMatch(new RegExp(`^tributary ${name}: [A-Z]`))
        expect(help.stdout).toContain(`Usage: tributary ${name} `)
        for (const option of [...expected, "--verbose", "-h, --help"]) expect(help.stdout, `${name} --help`).toContain(`\n  ${option}\n`)
        // what @effect/cli says of every option and command says nothing here
        for (const boilerplate of ["A user-defined piece of text", "An integer.", "A true or false value", "This setting is optional", "--wizard", "--completions", "--log-level"]) {
          expect(help.stdout, `${name} --help`).not.toContain(boilerplate)
        }
      }
    }).pipe(Effect.provide(offline)))

  it.effect("wrong usage: exit code 2 and one line naming the option and the form it takes", () =>
    Effect.gen(function*() {
      expect(yield* cli("provision")).toEqual({
        code: 2,
        stdout: "",
        stderr: "tributary: --stream NAME is required (see tributary provision --help)"
      })
      expect(yield* cli("produce", "--stream", "s", "--duration", "soon")).toMatchObject({
        code: 2,
        stderr: `tributary: --duration: "soon" is not a duration (e.g. 500ms, 8s, 2m, 1h) (see tributary produce --help)`
      })
      expect(yield* cli("produce", "--stream", "s", "--rate", "abc")).toMatchObject({
        code: 2,
        stderr: `tributary: --rate: "abc" is not a whole number (e.g. --rate 10) (see tributary produce --help)`
      })
      expect(yield* cli("demo", "--target", "gcp")).toMatchObject({
        code: 2,
        stderr: `tributary: --target: "gcp" is not one of local, aws (see tributary demo --help)`
      })
      expect(yield* cli("tail", "--stream", "s", "--follow")).toMatchObject({
        code: 2,
        stderr: "tributary: unknown option --follow (see tributary tail --help)"
      })
      expect(yield* cli("deploy")).toMatchObject({ code: 2, stderr: `tributary: unknown command "deploy" (tributary --help lists the commands)` })
      const both = yield* cli("produce", "--stream", "s", "--count", "5", "--duration", "1s")
      expect(both).toMatchObject({ code: 2, stderr: "tributary: give --count or --duration, not both" })
      // a demo on AWS needs its bucket: wrong usage too, as docs/cli.md says
      expect(yield* cli("demo", "--target", "aws")).toMatchObject({
        code: 2,
        stderr: "tributary: --target aws needs --bucket BUCKET (the archive's bucket, which must exist)"
      })
    }).pipe(Effect.provide(offline)))
})

describe("startup failures: one line saying what to do", () => {
  it.live("the demo's port in use: exit code 1, before anything starts", () =>
    Effect.gen(function*() {
      const busy = yield* listening
      const run = yield* cli("demo", "--port", String(busy), "--duration", "1s")
      expect(run.code).toBe(1)
      expect(run.stderr).toBe(`tributary: port ${busy} is in use: choose another with --port (or 0 for any free port)`)
      expect(run.stdout).toBe("starting local AWS: kinesalite, dynalite and s3rver, each in a child process")
    }).pipe(Effect.scoped, Effect.provide(offline)), 60_000)

  it.live("a port of tributary local in use: exit code 1", () =>
    Effect.gen(function*() {
      const busy = yield* listening
      const run = yield* cli("local", "--kinesis-port", "0", "--dynamodb-port", String(busy), "--s3-port", "0")
      expect(run).toMatchObject({
        code: 1,
        stderr: `tributary: port ${busy} is in use: choose another with --dynamodb-port (0 for any free port)`
      })
    }).pipe(Effect.scoped, Effect.provide(offline)), 60_000)

  it.live("an endpoint that does not answer: exit code 1, naming the variable to check", () =>
    Effect.gen(function*() {
      yield* Environment.scoped({ AWS_ENDPOINT_URL_KINESIS: "http://127.0.0.1:9", AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "b" })
      const run = yield* cli("tail", "--stream", "orders")
      expect(run).toEqual({
        code: 1,
        stdout: "",
        stderr: "tributary: cannot reach Kinesis at http://127.0.0.1:9 (ECONNREFUSED): check AWS_ENDPOINT_URL_KINESIS"
      })
    }).pipe(Effect.scoped, Effect.provide(offline)), 60_000)
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
    }), 120_000)

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
    }), 60_000)

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
    }).pipe(Effect.scoped), 60_000)

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
    }), 60_000)

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
      expect(lines[0]).toMatch(/^shard\s+owner\s+counter\s+checkpoint\s+processed\s+switches\s+parents\s+lag$/)
      expect(lines[1]).toMatch(/^shardId-000000000000\s+worker-a\s+\d+\s+49590000000000000000000000000000000000000000000000000042\s+-\s+0\s+-\s+\?$/)
      expect(lines[2]).toMatch(/^shardId-000000000001\s+-\s+\d+\s+TRIM_HORIZON\s+-\s+0\s+-\s+\?$/)
      expect(lines[3]).toMatch(/^shardId-000000000002\s+-\s+\d+\s+TRIM_HORIZON\s+-\s+0\s+shardId-000000000000\s+\?$/)
      expect(run.stdout).toContain("3 leases; held: worker-a: 1")

      // a window stage's checkpoint: behind what was processed, with the processed position beside it
      const second = Option.getOrThrow(yield* store.get("shardId-000000000001"))
      const heldBy = yield* store.acquire(second, "worker-b")
      yield* store.checkpoint(
        { leaseKey: heldBy.leaseKey, owner: "worker-b", counter: heldBy.counter },
        {
          sequenceNumber: "49590000000000000000000000000000000000000000000000000007",
          subSequenceNumber: 0,
          processed: { sequenceNumber: "49590000000000000000000000000000000000000000000000000099", subSequenceNumber: 0 }
        }
      )
      const behind = yield* cli("leases", "--lease-table", tableName)
      expect(behind.stdout.split("\n")[2]).toMatch(
        /^shardId-000000000001\s+worker-b\s+\d+\s+49590000000000000000000000000000000000000000000000000007\s+49590000000000000000000000000000000000000000000000000099\s+0\s+-\s+\?$/
      )
      expect(behind.stdout).toContain("1 checkpoint is behind what was processed: a window stage keeps the checkpoint")

      const missing = yield* cli("leases", "--lease-table", unique("no-such-table"))
      expect(missing.code).toBe(1)
      expect(missing.stderr).toMatch(/^tributary: table "no-such-table-\d+-\d+" not found \(ResourceNotFoundException\)$/)
    }), 60_000)

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
    }).pipe(Effect.scoped), 120_000)

  it.effect("the demo on AWS with a bucket that does not exist: one line saying to create it, exit code 1", () =>
    Effect.gen(function*() {
      yield* awsSettings
      const run = yield* cli("demo", "--target", "aws", "--bucket", "no-such-bucket", "--duration", "1s")
      expect(run.code).toBe(1)
      expect(run.stderr).toBe(
        `tributary: bucket "no-such-bucket" not found: create it (tributary provision --stream <any> --bucket no-such-bucket) ` +
          "or name an existing one with --bucket"
      )
    }).pipe(Effect.scoped), 60_000)

  it.effect("local: the emulators on the ports asked, the variables to export, and the commands work against them", () =>
    Effect.gen(function*() {
      const out: Array<string> = []
      const console = yield* Effect.console
      const capture: Console.Console = { ...console, log: (...items) => Effect.sync(() => void out.push(items.join(" "))) }
      const fiber = yield* Cli.main(["node", "tributary", "local", "--kinesis-port", "0", "--dynamodb-port", "0", "--s3-port", "0"]).pipe(
        Effect.withConsole(capture),
        Effect.forkScoped
      )
      // poll for the variables it prints once they all listen
      const printed = yield* Effect.suspend(() => out.join("\n").includes("export AWS_ENDPOINT_URL_S3=") ? Effect.succeed(out.join("\n")) : Effect.fail("not yet")).pipe(
        Effect.retry(Schedule.spaced("50 millis"))
      )
      const variables = Object.fromEntries(
        Array.from(printed.matchAll(/(AWS_[A-Z_0-9]+)=(\S+)/g), (m) => [m[1], m[2]])
      )
      expect(Object.keys(variables).sort()).toEqual([
        "AWS_ACCESS_KEY_ID",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_KINESIS",
        "AWS_ENDPOINT_URL_S3",
        "AWS_REGION",
        "AWS_SECRET_ACCESS_KEY"
      ])
      // the commands read the standard settings: pointed at what it started, they work
      yield* Environment.scoped(variables)
      const stream = unique("local")
      const bucket = unique("local-bucket")
      const configured = Cli.main(["node", "tributary", "provision", "--stream", stream, "--shards", "1", "--bucket", bucket]).pipe(
        Effect.provide(Layer.merge(Cli.layer, NodeContext.layer)),
        Effect.withConsole(capture)
      )
      expect(yield* configured).toBe(0)
      expect(out).toContain(`stream ${stream}: created, 1 shards, ACTIVE`)
      expect(out).toContain(`bucket ${bucket}: created`)
      yield* Fiber.interrupt(fiber)
      // gone with it
      const kinesisPort = Number(new URL(variables.AWS_ENDPOINT_URL_KINESIS).port)
      const closed = yield* Effect.async<boolean>((resume) => {
        const socket = Net.connect(kinesisPort, "127.0.0.1")
        socket.once("connect", () => (socket.destroy(), resume(Effect.succeed(false))))
        socket.once("error", () => resume(Effect.succeed(true)))
      })
      expect(closed).toBe(true)
    }).pipe(Effect.scoped), 60_000)

  it.effect("a missing stream: one clear line on stderr, exit code 1 (in a child process and in process)", () =>
    Effect.gen(function*() {
      const child = yield* spawn("produce", "--stream", "no-such-stream", "--count", "1")
      expect(child.code).toBe(1)
      expect(child.stdout).toBe("")
      expect(child.stderr).toBe(`tributary: stream "no-such-stream" not found (ResourceNotFoundException)\n`)
      const inProcess = yield* cli("tail", "--stream", "no-such-stream", "--limit", "1")
      expect(inProcess).toEqual({ code: 1, stdout: "", stderr: `tributary: stream "no-such-stream" not found (ResourceNotFoundException)` })
    }), 120_000)
})
