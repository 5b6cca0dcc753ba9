import { describe, expect, it } from "@effect/vitest"
import { DynamoDBClient } from "@tributary/dynamodb"
import { Kinesis, StreamAdmin } from "@tributary/kinesis"
import { LocalDynamoDB, LocalKinesis, LocalS3 } from "@tributary/local"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import * as Deferred from "effect/Deferred"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as Demo from "../src/Demo.js"
import { parseDuration } from "../src/internal/duration.js"
import { activities, message } from "../src/Traffic.js"

const root = fileURLToPath(new URL("..", import.meta.url))

/** `tributary demo ...` as a user runs it; rejects on a non-zero exit code, with the end of its report. */
const demo = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  promisify(execFile)(process.execPath, ["--import", "tsx", "src/bin/tributary.ts", "demo", ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    timeout: 150_000
  }).catch((error: Error & { readonly stdout?: string }) => {
    // the summary says which check failed and why
    const report = (error.stdout ?? "").split("\n").filter((line) => !line.startsWith("[")).slice(-15).join("\n")
    throw new Error(`${error.message}\n--- the demo's report, progress lines left out ---\n${report}`)
  })

const checksHold = (stdout: string) => {
  expect(stdout).toContain("drained: every produced record was processed")
  expect(stdout).toContain("workers stopped: 0 of 4 leases still owned")
  expect(stdout).toMatch(/summary: produced [1-9]\d* .*dead letters are the broken messages: true; conservation holds/)
  // every record counts once per activity and once per customer
  const summary = /aggregated (\d+) \(per customer (\d+)\)/.exec(stdout)
  expect(summary?.[1]).toBe(summary?.[2])
  expect(stdout).toMatch(/results per customer: \d+ windows of 100 customers/)
  expect(stdout).toMatch(
    /re-aggregation job: [1-9]\d* scheduled runs succeeded .*; last run succeeded, [1-9]\d* records from the archive; batch table aggregated (\d+) \(stream table \1\)/
  )
}

describe("Demo", () => {
  it("messages: a quarter per format, about 1% broken, from every customer, every activity", () => {
    const all = Array.from({ length: 4000 }, (_, i) => message(i, 1_700_000_000_000))
    expect(all.filter((m) => m.broken).length).toBe(40)
    expect(all.filter((m) => m.data.startsWith("{")).length).toBeGreaterThan(900)
    expect(all.filter((m) => m.data.startsWith("<")).length).toBeGreaterThan(900)
    expect(all.filter((m) => m.data.startsWith("customer=")).length).toBeGreaterThan(900)
    expect(all.filter((m) => m.data.startsWith("CustomerId,")).length).toBeGreaterThan(900)
    const customers = new Set(all.map((m) => m.partitionKey.split("-")[0]))
    expect(customers.size).toBe(100)
    expect(new Set(all.filter((m) => m.broken).map((m) => m.partitionKey.split("-")[0])).size).toBeGreaterThan(10)
    for (const activity of activities) expect(all.some((m) => m.data.includes(activity))).toBe(true)
    expect(parseDuration("8s").toString()).toBe(parseDuration("8 seconds").toString())
  })

  it("runs end to end on embedded local AWS: gateway, two workers, results per activity and customer, job", async () => {
    const { stdout } = await demo(["--duration", "8s", "--job-every", "2s"])
    expect(stdout).toMatch(/gateway: http:\/\/127\.0\.0\.1:\d+/)
    expect(stdout).toMatch(/dashboard: http:\/\/127\.0\.0\.1:\d+\/dashboard/)
    expect(stdout).toContain("archive: s3://tributary-demo-archive/raw")
    expect(stdout).toMatch(/\[\d+s\] produced \d+ \/ in \d+ \/ out \d+ \/ dead letters \d+ \/ lag (\d+ ms|\?)/)
    checksHold(stdout)
  }, 180_000)

  it.live("records posted by someone else to the advertised gateway are counted apart, and the checks hold", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const stop = yield* Deferred.make<void>()
      const running = yield* Demo.run({ rate: 500, stop, print: (line) => void lines.push(line) }).pipe(Effect.fork)
      const seen = (pattern: RegExp) =>
        Effect.suspend(() => {
          const match = lines.map((line) => pattern.exec(line)).find((m) => m !== null)
          return match === undefined ? Effect.fail("not yet") : Effect.succeed(match)
        }).pipe(Effect.retry(Schedule.spaced("100 millis")))
      const gateway = (yield* seen(/^gateway: (http:\/\/\S+) /))[1]
      // one record that decodes, one that does not, with the key the demo prints
      const response = yield* Effect.promise(() =>
        fetch(`${gateway}/v1/streams/activities/records`, {
          method: "POST",
          headers: { authorization: "Bearer demo-key", "content-type": "application/json" },
          body: JSON.stringify({
            records: [
              { partitionKey: "by-hand", data: JSON.stringify({ CustomerId: "C7", DateUnixMs: Date.now(), Activity: "login", DurationMs: 5 }) },
              { partitionKey: "by-hand", data: "{not json" }
            ]
          })
        })
      )
      expect(response.status).toBe(200)
      yield* seen(/produced \d+ \/ in [1-9]/)
      yield* Deferred.succeed(stop, undefined)
      expect(yield* Fiber.join(running)).toBe(true)
      const summary = lines.find((line) => line.startsWith("summary: "))
      expect(summary).toMatch(/, 2 posted by other clients\), .*dead letters are the broken messages: true \(and 1 of other clients\); conservation holds$/)
    }), 120_000)

  it.live("runs on AWS by configuration (endpoints from AWS_ENDPOINT_URL_*), then deletes its stream and tables", () =>
    Effect.gen(function*() {
      const kinesis = yield* LocalKinesis.LocalKinesis
      const dynamodb = yield* LocalDynamoDB.LocalDynamoDB
      const s3 = yield* LocalS3.LocalS3
      const { stdout } = yield* Effect.promise(() =>
        demo(["--target", "aws", "--bucket", "my-archive", "--duration", "6s", "--job-every", "2s"], {
          AWS_REGION: "eu-west-1",
          // s3rver checks the key; the others take any
          AWS_ACCESS_KEY_ID: "S3RVER",
          AWS_SECRET_ACCESS_KEY: "S3RVER",
          AWS_ENDPOINT_URL_KINESIS: kinesis.endpoint,
          AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
          AWS_ENDPOINT_URL_S3: s3.endpoint
        })
      )
      checksHold(stdout)
      const names = /stream (tributary-demo-\d+) \(4 shards\), tables (\S+), (\S+), (\S+)\n/.exec(stdout)
      expect(names).not.toBeNull()
      expect(stdout).toContain(`archive: s3://my-archive/demo/${names![1].slice("tributary-demo-".length)}/raw`)
      expect(stdout).toContain(`deleted stream ${names![1]}`)
      // nothing is left behind
      const stream = yield* StreamAdmin.describe(names![1]).pipe(Effect.flip)
      expect(stream._tag === "KinesisError" && stream.reason).toBe("NotFound")
      const client = yield* DynamoDBClient.DynamoDBClient
      for (const table of names!.slice(2)) {
        const missing = yield* client.describeTable({ TableName: table.replace(/,$/, "") }).pipe(Effect.flip)
        expect(missing.reason).toBe("NotFound")
      }
    }).pipe(
      Effect.provide(Layer.mergeAll(
        Layer.unwrapEffect(Effect.map(LocalKinesis.LocalKinesis, (local) => Kinesis.layer({ ...local.clientConfig }))),
        Layer.unwrapEffect(Effect.map(LocalDynamoDB.LocalDynamoDB, (local) => DynamoDBClient.layer({ ...local.clientConfig })))
      ).pipe(Layer.provideMerge(Layer.mergeAll(
        LocalKinesis.layerKinesalite(),
        LocalDynamoDB.layerDynalite(),
        LocalS3.layerS3rverProcess({ buckets: ["my-archive"] })
      ))))
    ), 180_000)
})
