import { ListStreamsCommand } from "@aws-sdk/client-kinesis"
import { describe, expect, it, vi } from "@effect/vitest"
import * as FaultProxy from "@tributary/local/FaultProxy"
import * as LocalKinesis from "@tributary/local/LocalKinesis"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Kinesis from "../src/Kinesis.js"
import * as KinesisError from "../src/KinesisError.js"
import * as StreamAdmin from "../src/StreamAdmin.js"
import { Direct, eventually, kinesalite, proxied, streamName } from "./helpers.js"

const sdkError = (name: string, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`${name} message`), { name, $metadata: { httpStatusCode: 400, requestId: "req-1" }, ...extra })

describe("KinesisError.fromSdkError", () => {
  it("is the AWS classification as a KinesisError", () => {
    const e = KinesisError.fromSdkError("GetRecords", sdkError("ProvisionedThroughputExceededException"))
    expect(e).toBeInstanceOf(KinesisError.KinesisError)
    expect([e._tag, e.operation, e.reason, e.retryability, e.awsName, e.description, e.statusCode, e.requestId]).toEqual([
      "KinesisError", "GetRecords", "Throttled", "transient", "ProvisionedThroughputExceededException",
      "ProvisionedThroughputExceededException message", 400, "req-1"
    ])
    expect(KinesisError.isKinesisError(e)).toBe(true)
    expect(KinesisError.isKinesisError(new Error("x"))).toBe(false)
    expect(e.message).toBe(
      "Kinesis GetRecords failed with ProvisionedThroughputExceededException (Throttled, transient): ProvisionedThroughputExceededException message"
    )
  })
})

describe("Kinesis service", () => {
  it.scopedLive("maps the errors the SDK really raises against kinesalite", () =>
    Effect.gen(function*() {
      const kinesis = yield* Kinesis.Kinesis
      const stream = streamName()
      yield* StreamAdmin.ensureStream(stream, { shards: 1 })
      const tagOf = <A>(effect: Effect.Effect<A, KinesisError.KinesisError>) =>
        Effect.map(Effect.flip(effect), (e) => [e._tag, e.reason, e.retryability, e.awsName])
      expect(yield* tagOf(kinesis.describeStreamSummary({ StreamName: "missing" })))
        .toEqual(["KinesisError", "NotFound", "permanent", "ResourceNotFoundException"])
      expect(yield* tagOf(kinesis.createStream({ StreamName: stream, ShardCount: 1 })))
        .toEqual(["KinesisError", "ResourceInUse", "transient", "ResourceInUseException"])
      expect(yield* tagOf(kinesis.getRecords({ ShardIterator: "garbage" })))
        .toEqual(["KinesisError", "InvalidRequest", "permanent", "InvalidArgumentException"])
      expect(yield* tagOf(kinesis.updateShardCount({ StreamName: stream, TargetShardCount: 2, ScalingType: "UNIFORM_SCALING" })))
        .toEqual(["KinesisError", "Unsupported", "permanent", "UnknownOperationException"])
      const tooMany = Array.from({ length: 501 }, (_, i) => ({ PartitionKey: `k${i}`, Data: Buffer.from("x") }))
      expect(yield* tagOf(kinesis.putRecords({ StreamName: stream, Records: tooMany })))
        .toEqual(["KinesisError", "InvalidRequest", "permanent", "ValidationException"])
      const local = yield* LocalKinesis.LocalKinesis
      expect(kinesis.isLocal).toBe(true)
      expect(kinesis.endpoint).toBe(local.endpoint)
      expect(yield* Effect.promise(() => kinesis.client.config.maxAttempts())).toBe(1)
    }).pipe(Effect.provide(kinesalite)))

  it.scopedLive("maps injected throttling, 500s, resets and expired iterators, and a refused connection", () =>
    Effect.gen(function*() {
      const kinesis = yield* Kinesis.Kinesis
      const proxy = yield* FaultProxy.FaultProxy
      const direct = yield* Direct
      const stream = streamName()
      yield* StreamAdmin.ensureStream(stream, { shards: 1 }).pipe(Effect.provideService(Kinesis.Kinesis, direct))
      const tagOf = <A>(effect: Effect.Effect<A, KinesisError.KinesisError>) =>
        Effect.map(Effect.flip(effect), (e) => `${e.reason}/${e.retryability}/${e.statusCode ?? "-"}`)
      const list = kinesis.listStreams({})
      yield* proxy.setFaults({ rules: { ListStreams: { throttle: 1 } } })
      expect(yield* tagOf(list)).toBe("Throttled/transient/400")
      yield* proxy.setFaults({ rules: { ListStreams: { internalFailure: 1 } } })
      expect(yield* tagOf(list)).toBe("ServerError/transient/500")
      yield* proxy.setFaults({ rules: { ListStreams: { reset: 1 } } })
      expect(yield* tagOf(list)).toBe("NetworkError/transient/-")
      yield* proxy.clearFaults
      const { ShardIterator } = yield* kinesis.getShardIterator({ StreamName: stream, ShardId: "shardId-000000000000", ShardIteratorType: "TRIM_HORIZON" })
      yield* proxy.expireIteratorsNow
      expect(yield* tagOf(kinesis.getRecords({ ShardIterator }))).toBe("Expired/permanent/400")
      const refused = yield* Kinesis.make({ endpoint: "http://127.0.0.1:1", region: "us-east-1", credentials: { accessKeyId: "a", secretAccessKey: "b" } })
      expect(yield* tagOf(refused.listStreams({}))).toBe("NetworkError/transient/-")
    }).pipe(Effect.provide(proxied)))

  it.scopedLive("interrupting a call aborts its HTTP request (the proxy sees the connection close)", () =>
    Effect.gen(function*() {
      const kinesis = yield* Kinesis.Kinesis
      const proxy = yield* FaultProxy.FaultProxy
      yield* proxy.setFaults({ rules: { ListStreams: { latency: "3 seconds" } } })
      const fiber = yield* Effect.fork(kinesis.listStreams({}))
      // the request is held at the proxy
      yield* eventually(proxy.stats, (stats) => stats.delayed === 1)
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      // the proxy sees the closed socket on a turn of its event loop
      const stats = yield* eventually(proxy.stats, (stats) => stats.clientAborts > 0)
      expect([stats.requests, stats.clientAborts, stats.forwarded]).toEqual([1, 1, 0])
    }).pipe(Effect.provide(proxied)))

  it.scopedLive("a command's middleware is resolved once per client, not per call (the abort signal rides beside send's options)", () =>
    Effect.gen(function*() {
      const kinesis = yield* Kinesis.Kinesis
      const resolve = vi.spyOn(ListStreamsCommand.prototype, "resolveMiddleware")
      yield* Effect.addFinalizer(() => Effect.sync(() => resolve.mockRestore()))
      for (let i = 0; i < 3; i++) yield* kinesis.listStreams({})
      expect(resolve).toHaveBeenCalledTimes(1)
    }).pipe(Effect.provide(proxied)))

  it.scopedLive("layerConfig reads region and endpoint from the environment and talks HTTP/1.1 to a loopback endpoint", () =>
    Effect.gen(function*() {
      const local = yield* LocalKinesis.LocalKinesis
      const saved = { ...process.env }
      yield* Effect.addFinalizer(() => Effect.sync(() => {
        for (const key of ["AWS_ENDPOINT_URL_KINESIS", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) {
          if (saved[key] === undefined) delete process.env[key]
          else process.env[key] = saved[key]
        }
      }))
      process.env.AWS_ENDPOINT_URL_KINESIS = local.endpoint
      process.env.AWS_REGION = "eu-west-1"
      process.env.AWS_ACCESS_KEY_ID = "from-env"
      process.env.AWS_SECRET_ACCESS_KEY = "from-env"
      const kinesis = yield* Effect.provide(Kinesis.Kinesis, Kinesis.layerConfig())
      expect([kinesis.endpoint, kinesis.isLocal]).toEqual([local.endpoint, true])
      expect(yield* Effect.promise(() => kinesis.client.config.region())).toBe("eu-west-1")
      expect(yield* Effect.promise(() => kinesis.client.config.maxAttempts())).toBe(1)
      // kinesalite answers only HTTP/1.1: this call works only if the loopback endpoint was detected
      yield* kinesis.createStream({ StreamName: "from-env", ShardCount: 1 })
      const listed = yield* kinesis.listStreams({})
      expect(listed.StreamNames).toEqual(["from-env"])
    }).pipe(Effect.provide(LocalKinesis.layerKinesalite())))
})
