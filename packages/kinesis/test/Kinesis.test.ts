import { describe, expect, it } from "@effect/vitest"
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
  it("maps AWS names to tags and classifies them", () => {
    const cases: Array<[unknown, string, "transient" | "permanent"]> = [
      [sdkError("ProvisionedThroughputExceededException"), "ProvisionedThroughputExceeded", "transient"],
      [sdkError("LimitExceededException"), "LimitExceeded", "transient"],
      [sdkError("ThrottlingException"), "Throttling", "transient"],
      [sdkError("SomethingElse", { $metadata: { httpStatusCode: 429 } }), "Throttling", "transient"],
      [sdkError("ResourceInUseException"), "ResourceInUse", "transient"],
      [sdkError("InternalFailure", { $metadata: { httpStatusCode: 500 } }), "InternalFailure", "transient"],
      [sdkError("ServiceUnavailable", { $metadata: { httpStatusCode: 503 } }), "InternalFailure", "transient"],
      [sdkError("WeirdServerThing", { $metadata: { httpStatusCode: 502 } }), "InternalFailure", "transient"],
      [Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET", $metadata: {} }), "NetworkError", "transient"],
      [Object.assign(new Error("socket hang up"), { $metadata: {} }), "NetworkError", "transient"],
      [Object.assign(new Error("timed out"), { name: "TimeoutError" }), "NetworkError", "transient"],
      [sdkError("ExpiredIteratorException"), "ExpiredIterator", "permanent"],
      [sdkError("ExpiredNextTokenException"), "ExpiredNextToken", "permanent"],
      [sdkError("ResourceNotFoundException"), "ResourceNotFound", "permanent"],
      [sdkError("InvalidArgumentException"), "InvalidArgument", "permanent"],
      [sdkError("ValidationException"), "InvalidArgument", "permanent"],
      [sdkError("AccessDeniedException"), "AccessDenied", "permanent"],
      [sdkError("UnrecognizedClientException"), "AccessDenied", "permanent"],
      [sdkError("ExpiredTokenException"), "AccessDenied", "permanent"],
      [sdkError("KMSDisabledException"), "KmsError", "permanent"],
      [sdkError("KMSAccessDeniedException"), "KmsError", "permanent"],
      [sdkError("KMSOptInRequired"), "KmsError", "permanent"],
      [sdkError("KMSThrottlingException"), "KmsError", "transient"],
      [sdkError("UnknownOperationException"), "UnsupportedOperation", "permanent"],
      [sdkError("Mystery"), "UnknownKinesisError", "permanent"],
      [sdkError("Mystery", { $retryable: {} }), "UnknownKinesisError", "transient"],
      ["a string", "UnknownKinesisError", "permanent"]
    ]
    const mapped = cases.map(([error]) => {
      const e = KinesisError.fromSdkError("Op", error)
      return [e._tag, e.retryability]
    })
    expect(mapped).toEqual(cases.map(([, tag, retryability]) => [tag, retryability]))
    const e = KinesisError.fromSdkError("GetRecords", sdkError("ProvisionedThroughputExceededException"))
    expect([e.operation, e.awsName, e.reason, e.statusCode, e.requestId]).toEqual([
      "GetRecords", "ProvisionedThroughputExceededException", "ProvisionedThroughputExceededException message", 400, "req-1"
    ])
    expect(KinesisError.isKinesisError(e)).toBe(true)
    expect(KinesisError.isThrottling(e)).toBe(true)
    expect(e.message).toBe("Kinesis GetRecords failed with ProvisionedThroughputExceededException (transient): ProvisionedThroughputExceededException message")
  })

  it("tells loopback endpoints", () => {
    expect(["http://127.0.0.1:4567", "http://localhost:1", "http://[::1]:8", "http://127.9.9.9", "https://kinesis.us-east-1.amazonaws.com", "nonsense", undefined]
      .map(Kinesis.isLoopback)).toEqual([true, true, true, true, false, false, false])
  })
})

describe("Kinesis service", () => {
  it.scopedLive("maps the errors the SDK really raises against kinesalite", () =>
    Effect.gen(function*() {
      const kinesis = yield* Kinesis.Kinesis
      const stream = streamName()
      yield* StreamAdmin.ensureStream(stream, { shards: 1 })
      const tagOf = <A>(effect: Effect.Effect<A, KinesisError.KinesisError>) =>
        Effect.map(Effect.flip(effect), (e) => [e._tag, e.retryability, e.awsName])
      expect(yield* tagOf(kinesis.describeStreamSummary({ StreamName: "missing" }))).toEqual(["ResourceNotFound", "permanent", "ResourceNotFoundException"])
      expect(yield* tagOf(kinesis.createStream({ StreamName: stream, ShardCount: 1 }))).toEqual(["ResourceInUse", "transient", "ResourceInUseException"])
      expect(yield* tagOf(kinesis.getRecords({ ShardIterator: "garbage" }))).toEqual(["InvalidArgument", "permanent", "InvalidArgumentException"])
      expect(yield* tagOf(kinesis.updateShardCount({ StreamName: stream, TargetShardCount: 2, ScalingType: "UNIFORM_SCALING" })))
        .toEqual(["UnsupportedOperation", "permanent", "UnknownOperationException"])
      const tooMany = Array.from({ length: 501 }, (_, i) => ({ PartitionKey: `k${i}`, Data: Buffer.from("x") }))
      expect(yield* tagOf(kinesis.putRecords({ StreamName: stream, Records: tooMany }))).toEqual(["InvalidArgument", "permanent", "ValidationException"])
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
        Effect.map(Effect.flip(effect), (e) => `${e._tag}/${e.retryability}/${e.statusCode ?? "-"}`)
      const list = kinesis.listStreams({})
      yield* proxy.setFaults({ rules: { ListStreams: { throttle: 1 } } })
      expect(yield* tagOf(list)).toBe("ProvisionedThroughputExceeded/transient/400")
      yield* proxy.setFaults({ rules: { ListStreams: { internalFailure: 1 } } })
      expect(yield* tagOf(list)).toBe("InternalFailure/transient/500")
      yield* proxy.setFaults({ rules: { ListStreams: { reset: 1 } } })
      expect(yield* tagOf(list)).toBe("NetworkError/transient/-")
      yield* proxy.clearFaults
      const { ShardIterator } = yield* kinesis.getShardIterator({ StreamName: stream, ShardId: "shardId-000000000000", ShardIteratorType: "TRIM_HORIZON" })
      yield* proxy.expireIteratorsNow
      expect(yield* tagOf(kinesis.getRecords({ ShardIterator }))).toBe("ExpiredIterator/permanent/400")
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
