/**
 * The HTTP/2 proxy in front of kinesis-mock, with the real SDK: SubscribeToShard fails on the bare emulator
 * and works through the proxy; an aborted subscription is released at once; refusals and cut streams reach
 * the SDK as AWS's would.
 */
import {
  CreateStreamCommand,
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  PutRecordsCommand,
  RegisterStreamConsumerCommand,
  SubscribeToShardCommand,
  type SubscribeToShardEventStream
} from "@aws-sdk/client-kinesis"
import { describe, expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Http2Proxy from "../src/Http2Proxy.js"
import * as LocalKinesis from "../src/LocalKinesis.js"

const shardId = "shardId-000000000000"
let names = 0

/** A 1-shard stream with `records` records and a registered consumer; its ARN. */
const setup = (client: KinesisClient, records: number) =>
  Effect.promise(async () => {
    const stream = `s${++names}`
    await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }))
    let arn: string | undefined
    while (arn === undefined) {
      const summary = (await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }))).StreamDescriptionSummary!
      if (summary.StreamStatus === "ACTIVE") arn = summary.StreamARN
      else await new Promise((resolve) => setTimeout(resolve, 20))
    }
    if (records > 0) {
      await client.send(new PutRecordsCommand({
        StreamName: stream,
        Records: Array.from({ length: records }, (_, i) => ({ PartitionKey: `k${i}`, Data: Buffer.from(`r${i}`) }))
      }))
    }
    const consumer = (await client.send(new RegisterStreamConsumerCommand({ StreamARN: arn, ConsumerName: `c${names}` }))).Consumer!
    while ((await client.send(new DescribeStreamConsumerCommand({ ConsumerARN: consumer.ConsumerARN }))).ConsumerDescription!.ConsumerStatus !== "ACTIVE") {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    return consumer.ConsumerARN!
  })

/** Subscribes from the shard's start; the SDK's iterator of events and the abort controller. */
const subscribe = async (client: KinesisClient, consumerArn: string) => {
  const controller = new AbortController()
  const output = await client.send(
    new SubscribeToShardCommand({ ConsumerARN: consumerArn, ShardId: shardId, StartingPosition: { Type: "TRIM_HORIZON" } }),
    { abortSignal: controller.signal }
  )
  const events = output.EventStream![Symbol.asyncIterator]()
  return { events, controller }
}

/** The data of the first event, or the name of what the SDK threw. */
const firstEvent = (client: KinesisClient, consumerArn: string) =>
  Effect.promise(async () => {
    try {
      const { controller, events } = await subscribe(client, consumerArn)
      const next = await events.next()
      controller.abort()
      const event = (next.value as SubscribeToShardEventStream).SubscribeToShardEvent
      return (event?.Records ?? []).map((r) => Buffer.from(r.Data!).toString())
    } catch (error) {
      return (error as Error).name
    }
  })

/** Subscribes until it works (the emulator takes up to a second to release an aborted subscription). */
const firstEventEventually = (client: KinesisClient, consumerArn: string) =>
  Effect.gen(function*() {
    let refused = 0
    while (true) {
      const outcome = yield* firstEvent(client, consumerArn)
      if (outcome !== "ResourceInUseException") return { outcome, refused }
      refused++
      yield* Effect.sleep("200 millis")
    }
  })

const clientOf = (local: LocalKinesis.LocalKinesisShape) => new KinesisClient({ ...local.clientConfig, maxAttempts: 1 })

describe("Http2Proxy", () => {
  layer(LocalKinesis.layerKinesisMock({ http2Proxy: false }), { timeout: 90_000, excludeTestServices: true })("bare kinesis-mock", (it) => {
    it.scoped("SubscribeToShard through the SDK fails: the emulator resets the stream on the SDK's graceful GOAWAY", () =>
      Effect.gen(function*() {
        const client = clientOf(yield* LocalKinesis.LocalKinesis)
        const consumerArn = yield* setup(client, 3)
        const outcome = yield* firstEvent(client, consumerArn)
        // if this starts to pass, kinesis-mock was fixed and the proxy's GOAWAY repair can go
        expect(outcome).not.toEqual(["r0", "r1", "r2"])
        expect(outcome).toBe("Error")
      }), { timeout: 60_000 })
  })

  layer(Http2Proxy.layerKinesis().pipe(Layer.provideMerge(LocalKinesis.layerKinesisMock())), { timeout: 90_000, excludeTestServices: true })("in front of kinesis-mock", (it) => {
    it.scoped("the SDK's subscription receives the records; HTTP/1.1 calls pass through", () =>
      Effect.gen(function*() {
        const client = clientOf(yield* LocalKinesis.LocalKinesis)
        const proxy = yield* Http2Proxy.Http2Proxy
        const consumerArn = yield* setup(client, 3)
        expect(yield* firstEvent(client, consumerArn)).toEqual(["r0", "r1", "r2"])
        const stats = yield* proxy.stats
        // one HTTP/2 connection of the SDK's, its GOAWAY dropped; the calls of the setup over HTTP/1.1
        expect(stats.http2Connections).toBe(1)
        expect(stats.goawaysDropped).toBe(1)
        expect(stats.connections).toBeGreaterThan(stats.http2Connections)
      }), { timeout: 60_000 })

    it.scoped("an aborted subscription is cancelled upstream, so the next one is accepted at once", () =>
      Effect.gen(function*() {
        const client = clientOf(yield* LocalKinesis.LocalKinesis)
        const proxy = yield* Http2Proxy.Http2Proxy
        const consumerArn = yield* setup(client, 2)
        const before = yield* proxy.stats
        expect(yield* firstEvent(client, consumerArn)).toEqual(["r0", "r1"])
        // without the cancel the emulator would refuse every subscription for 5 minutes
        const again = yield* firstEventEventually(client, consumerArn)
        expect(again.outcome).toEqual(["r0", "r1"])
        expect((yield* proxy.stats).cancelledOnClose - before.cancelledOnClose).toBeGreaterThanOrEqual(1)
      }), { timeout: 60_000 })

    it.scoped("refuses the next subscriptions with the AWS error the SDK parses, without forwarding them", () =>
      Effect.gen(function*() {
        const client = clientOf(yield* LocalKinesis.LocalKinesis)
        const proxy = yield* Http2Proxy.Http2Proxy
        const consumerArn = yield* setup(client, 1)
        yield* proxy.refuse({ name: "LimitExceededException" })
        yield* proxy.refuse({ name: "ResourceInUseException", message: "busy" })
        const refused = yield* Effect.promise(() => subscribe(client, consumerArn).then(() => undefined, (error) => error))
        expect(refused.name).toBe("LimitExceededException")
        expect(refused.$metadata.httpStatusCode).toBe(400)
        expect(refused.$metadata.requestId).toMatch(/^http2-proxy-/)
        const busy = yield* Effect.promise(() => subscribe(client, consumerArn).then(() => undefined, (error) => error))
        expect([busy.name, busy.message]).toEqual(["ResourceInUseException", "busy"])
        // the emulator never saw them: the next subscription is its first
        expect(yield* firstEvent(client, consumerArn)).toEqual(["r0"])
        expect((yield* proxy.stats).refused).toBe(2)
      }), { timeout: 60_000 })

    it.scoped("cuts a subscription under way: the SDK's iterator fails, and the emulator released it", () =>
      Effect.gen(function*() {
        const client = clientOf(yield* LocalKinesis.LocalKinesis)
        const proxy = yield* Http2Proxy.Http2Proxy
        const consumerArn = yield* setup(client, 1)
        const { events } = yield* Effect.promise(() => subscribe(client, consumerArn))
        yield* Effect.promise(() => events.next())
        expect(yield* proxy.resetStreams).toBe(1)
        const failed = yield* Effect.promise(() => events.next().then(() => "no error", (error: Error & { code?: string }) => error.code ?? error.name))
        expect(failed).toBe("ERR_HTTP2_STREAM_ERROR")
        expect((yield* firstEventEventually(client, consumerArn)).outcome).toEqual(["r0"])
      }), { timeout: 60_000 })
  })
})
