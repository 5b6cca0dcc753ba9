/**
 * A client made by this package reads GetRecords answers itself (`internal/getRecordsAnswer`): the output
 * must be what the SDK's own deserializer makes of the same answer, member for member.
 */
import { GetRecordsCommand, GetShardIteratorCommand, KinesisClient } from "@aws-sdk/client-kinesis"
import { describe, expect, it, layer } from "@effect/vitest"
import * as ClientConfig from "@tributary/local/ClientConfig"
import * as LocalKinesis from "@tributary/local/LocalKinesis"
import * as Effect from "effect/Effect"
import { Readable } from "node:stream"
import * as Aggregation from "../src/Aggregation.js"
import * as GetRecordsAnswer from "../src/internal/getRecordsAnswer.js"
import * as Kinesis from "../src/Kinesis.js"
import * as StreamAdmin from "../src/StreamAdmin.js"
import { kinesalite, streamName } from "./helpers.js"

/** What a client answers when every call gets `body` (status 200): the SDK's reading, or this package's. */
const answerWith = (body: string, installed: boolean) => {
  const handler = {
    metadata: { handlerProtocol: "http/1.1" },
    handle: async () => ({
      response: {
        statusCode: 200,
        headers: { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": "req-1" },
        body: Readable.from([Buffer.from(body)])
      }
    }),
    updateHttpClientConfig: () => undefined,
    httpHandlerConfigs: () => ({})
  }
  const client = new KinesisClient({
    endpoint: "http://127.0.0.1:9",
    region: "us-east-1",
    credentials: { accessKeyId: "a", secretAccessKey: "b" },
    requestHandler: handler as never,
    maxAttempts: 1
  })
  if (installed) GetRecordsAnswer.install(client)
  return client.send(new GetRecordsCommand({ ShardIterator: "it" }))
}

/** Both readings of one body, side by side; a reading that throws answers its error's name and message. */
const bothReadings = (body: string) =>
  Effect.promise(async () => {
    const outcome = (promise: Promise<unknown>) => promise.then((output) => output, (error: Error) => `${error.name}: ${error.message.split("\n")[0]}`)
    return { sdk: await outcome(answerWith(body, false)), ours: await outcome(answerWith(body, true)) }
  })

const seconds = 1_764_900_000.123

/** Whether the client's protocol reads answers through this package (its method replaced on the instance). */
const installedOn = (client: KinesisClient) => Object.hasOwn(client.config.protocol as object, "deserializeResponse")

describe("GetRecords answers", () => {
  it("are read here only on a client with Kinesis' JSON 1.1 protocol", () => {
    const settings = { endpoint: "http://127.0.0.1:9", region: "us-east-1", credentials: { accessKeyId: "a", secretAccessKey: "b" } }
    const plain = new KinesisClient(settings)
    expect(installedOn(plain)).toBe(false)
    expect(installedOn(GetRecordsAnswer.install(plain))).toBe(true)
    const deserializeResponse = async () => ({})
    const other = { getShapeId: () => "smithy.protocols#rpcv2Cbor", setSerdeContext: () => undefined, deserializeResponse }
    const custom = GetRecordsAnswer.install(new KinesisClient({ ...settings, protocol: other as never }))
    expect((custom.config.protocol as unknown as typeof other).deserializeResponse).toBe(deserializeResponse)
  })

  it.effect("read as the SDK reads them: records, timestamps (number or string), children, unknown members, nulls", () =>
    Effect.gen(function*() {
      const bodies = [
        {
          Records: [
            { SequenceNumber: "49600000000000000001", ApproximateArrivalTimestamp: seconds, Data: Buffer.from("{\"a\":1}").toString("base64"), PartitionKey: "k1" },
            { SequenceNumber: "49600000000000000002", ApproximateArrivalTimestamp: "1764900001.5", Data: Buffer.from([0, 255, 128, 7]).toString("base64"), PartitionKey: "k2", EncryptionType: "KMS", Unknown: 1 },
            { SequenceNumber: "49600000000000000003", ApproximateArrivalTimestamp: 1764900002, Data: "", PartitionKey: "k3", EncryptionType: null }
          ],
          NextShardIterator: "next",
          MillisBehindLatest: 1234,
          Extra: { ignored: true }
        },
        {
          Records: [],
          MillisBehindLatest: 0,
          ChildShards: [
            { ShardId: "shardId-000000000001", ParentShards: ["shardId-000000000000"], HashKeyRange: { StartingHashKey: "0", EndingHashKey: "170141183460469231731687303715884105727" } },
            { ShardId: "shardId-000000000002", ParentShards: ["shardId-000000000000"], HashKeyRange: { StartingHashKey: "170141183460469231731687303715884105728", EndingHashKey: "340282366920938463463374607431768211455" } }
          ]
        },
        { Records: null, NextShardIterator: null, MillisBehindLatest: null, ChildShards: null },
        {}
      ]
      for (const body of bodies) {
        const { ours, sdk } = yield* bothReadings(JSON.stringify(body))
        expect(ours).toEqual(sdk)
      }
      // the values themselves, not only their agreement
      const { ours } = yield* bothReadings(JSON.stringify(bodies[0]))
      const output = ours as { Records: Array<{ Data: Uint8Array; ApproximateArrivalTimestamp: Date }>; $metadata: { requestId?: string } }
      expect(output.Records.map((r) => [r.ApproximateArrivalTimestamp.getTime(), Array.from(r.Data).length])).toEqual([
        [1_764_900_000_123, 7],
        [1_764_900_001_500, 4],
        [1_764_900_002_000, 0]
      ])
      expect(output.Records[1].Data).toEqual(new Uint8Array([0, 255, 128, 7]))
      expect(output.$metadata.requestId).toBe("req-1")
    }))

  it.effect("refused as the SDK refuses them: bad base64, a timestamp that is not a number", () =>
    Effect.gen(function*() {
      const record = (fields: Record<string, unknown>) =>
        JSON.stringify({ Records: [{ SequenceNumber: "1", ApproximateArrivalTimestamp: seconds, Data: "YQ==", PartitionKey: "k", ...fields }] })
      for (const body of [record({ Data: "YQ=" }), record({ Data: "Y*==" }), record({ ApproximateArrivalTimestamp: "soon" }), record({ ApproximateArrivalTimestamp: true })]) {
        const { ours, sdk } = yield* bothReadings(body)
        expect(typeof sdk).toBe("string")
        expect(typeof ours).toBe("string")
        expect((ours as string).split(":")[0]).toBe((sdk as string).split(":")[0])
      }
    }))
})

describe("GetRecords answers from kinesalite", () => {
  layer(kinesalite, { timeout: 60_000, excludeTestServices: true })((it) => {
    it.scoped("a client of this package reads the same page as a plain SDK client: plain, binary and KPL-aggregated records", () =>
      Effect.gen(function*() {
        const kinesis = yield* Kinesis.Kinesis
        const local = yield* LocalKinesis.LocalKinesis
        const plain = new KinesisClient({ ...ClientConfig.make(local.endpoint), maxAttempts: 1 })
        yield* Effect.addFinalizer(() => Effect.sync(() => plain.destroy()))
        const stream = streamName("answer")
        yield* StreamAdmin.ensureStream(stream, { shards: 1 })
        const aggregated = Aggregation.encode([
          { partitionKey: "a1", data: Buffer.from("one") },
          { partitionKey: "a2", data: Buffer.from("two") }
        ])
        yield* kinesis.putRecords({
          StreamName: stream,
          Records: [
            { PartitionKey: "p", Data: Buffer.from("{\"CustomerId\":\"c1\",\"Activity\":\"buy\"}") },
            { PartitionKey: "b", Data: new Uint8Array(Array.from({ length: 256 }, (_, i) => i)) },
            { PartitionKey: "a1", Data: aggregated }
          ]
        })
        const iterator = (client: KinesisClient) =>
          Effect.promise(() =>
            client.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: "shardId-000000000000", ShardIteratorType: "TRIM_HORIZON" }))
          ).pipe(Effect.map((out) => out.ShardIterator!))
        const ours = yield* kinesis.getRecords({ ShardIterator: yield* iterator(kinesis.client) })
        const plainIterator = yield* iterator(plain)
        const sdk = yield* Effect.promise(() => plain.send(new GetRecordsCommand({ ShardIterator: plainIterator })))
        expect(ours.Records).toEqual(sdk.Records)
        expect(ours.Records!.length).toBe(3)
        expect(Aggregation.decode(ours.Records![2].Data!)?.map((r) => Buffer.from(r.data).toString())).toEqual(["one", "two"])
        expect(ours.Records![1].Data).toEqual(new Uint8Array(Array.from({ length: 256 }, (_, i) => i)))
        expect(typeof ours.NextShardIterator).toBe("string")
        expect(typeof ours.MillisBehindLatest).toBe("number")
        expect(ours.$metadata.httpStatusCode).toBe(200)
        expect(installedOn(kinesis.client)).toBe(true)
      }))
  })
})
