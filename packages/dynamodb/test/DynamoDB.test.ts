import { GetItemCommand } from "@aws-sdk/client-dynamodb"
import { describe, expect, it, layer } from "@effect/vitest"
import * as LeaseStore from "@tributary/core/LeaseStore"
import * as ClientConfig from "@tributary/local/ClientConfig"
import * as FaultProxy from "@tributary/local/FaultProxy"
import * as LocalDynamoDB from "@tributary/local/LocalDynamoDB"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as DynamoDBClient from "../src/DynamoDBClient.js"
import * as DynamoDBError from "../src/DynamoDBError.js"
import * as DynamoDBLeaseStore from "../src/DynamoDBLeaseStore.js"
import * as LeaseTable from "../src/LeaseTable.js"
import { dynalite, tableName } from "./helpers.js"

const sdkError = (name: string, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: 400, requestId: "r-1" }, ...extra })

describe("DynamoDBError.fromSdkError", () => {
  it("is the AWS classification as a DynamoDBError", () => {
    const throttled = DynamoDBError.fromSdkError("Scan", sdkError("ProvisionedThroughputExceededException"))
    expect(throttled).toBeInstanceOf(DynamoDBError.DynamoDBError)
    expect([throttled._tag, throttled.operation, throttled.reason, throttled.retryability, throttled.requestId]).toStrictEqual([
      "DynamoDBError", "Scan", "Throttled", "transient", "r-1"
    ])
    expect(throttled.message).toBe(
      "DynamoDB Scan failed with ProvisionedThroughputExceededException (Throttled, transient): ProvisionedThroughputExceededException happened"
    )
    expect(DynamoDBError.isDynamoDBError(throttled)).toBe(true)
    const conflict = DynamoDBError.fromSdkError("PutItem", sdkError("ConditionalCheckFailedException"))
    expect([conflict.reason, conflict.retryability]).toStrictEqual(["ConditionFailed", "permanent"])
  })
})

layer(dynalite, { excludeTestServices: true })("DynamoDBClient on dynalite", (it) => {
  it.effect("real SDK errors: NotFound, InvalidRequest (a reserved word without #name), ConditionFailed", () =>
    Effect.gen(function*() {
      const dynamodb = yield* DynamoDBClient.DynamoDBClient
      expect(dynamodb.isLocal).toBe(true)
      const missing = yield* Effect.flip(dynamodb.getItem({ TableName: "no-such-table", Key: { leaseKey: { S: "a" } } }))
      expect([missing._tag, missing.reason, missing.retryability, missing.awsName]).toStrictEqual([
        "DynamoDBError",
        "NotFound",
        "permanent",
        "ResourceNotFoundException"
      ])

      const table = tableName()
      yield* LeaseTable.ensure(table)
      const reserved = yield* Effect.flip(dynamodb.updateItem({
        TableName: table,
        Key: { leaseKey: { S: "a" } },
        UpdateExpression: "SET status = :s",
        ExpressionAttributeValues: { ":s": { S: "x" } }
      }))
      expect([reserved.reason, reserved.retryability]).toStrictEqual(["InvalidRequest", "permanent"])

      yield* dynamodb.putItem({ TableName: table, Item: { leaseKey: { S: "a" } } })
      const conflict = yield* Effect.flip(dynamodb.putItem({
        TableName: table,
        Item: { leaseKey: { S: "a" } },
        ConditionExpression: "attribute_not_exists(leaseKey)"
      }))
      expect([conflict.reason, conflict.retryability]).toStrictEqual(["ConditionFailed", "permanent"])
    }))

  it.effect("layerConfig reads the endpoint, region, keys and max attempts from Config", () =>
    Effect.gen(function*() {
      const local = yield* LocalDynamoDB.LocalDynamoDB
      const config = ConfigProvider.fromMap(new Map([
        ["AWS_ENDPOINT_URL_DYNAMODB", local.endpoint],
        ["AWS_ENDPOINT_URL", "http://127.0.0.1:1"],
        ["AWS_REGION", "eu-west-1"],
        ["AWS_ACCESS_KEY_ID", "AKIDLOCAL"],
        ["AWS_SECRET_ACCESS_KEY", "secret"],
        ["AWS_MAX_ATTEMPTS", "2"]
      ]))
      const table = tableName()
      yield* Effect.gen(function*() {
        const dynamodb = yield* DynamoDBClient.DynamoDBClient
        expect(dynamodb.endpoint).toBe(local.endpoint)
        expect(dynamodb.isLocal).toBe(true)
        expect(yield* Effect.promise(() => dynamodb.client.config.region())).toBe("eu-west-1")
        expect((yield* Effect.promise(() => dynamodb.client.config.credentials())).accessKeyId).toBe("AKIDLOCAL")
        expect(yield* Effect.promise(() => dynamodb.client.config.maxAttempts())).toBe(2)
        yield* LeaseTable.ensure(table)
        expect(yield* LeaseTable.status(table)).toBe("ACTIVE")
      }).pipe(Effect.provide(DynamoDBClient.layerConfig()), Effect.withConfigProvider(config))
    }))

  it.effect("LeaseTable.ensure creates an on-demand table keyed by leaseKey, idempotently, also when raced", () =>
    Effect.gen(function*() {
      const dynamodb = yield* DynamoDBClient.DynamoDBClient
      const table = tableName()
      expect(yield* LeaseTable.status(table)).toBeUndefined()
      yield* Effect.all([LeaseTable.ensure(table), LeaseTable.ensure(table), LeaseTable.ensure(table)], {
        concurrency: "unbounded"
      })
      yield* LeaseTable.ensure(table)
      const { Table } = yield* dynamodb.describeTable({ TableName: table })
      expect(Table?.TableStatus).toBe("ACTIVE")
      expect(Table?.KeySchema).toStrictEqual([{ AttributeName: "leaseKey", KeyType: "HASH" }])
      expect(Table?.BillingModeSummary?.BillingMode).toBe("PAY_PER_REQUEST")
      yield* LeaseTable.remove(table)
      yield* LeaseTable.remove(table)
      expect(yield* LeaseTable.status(table)).toBeUndefined()
    }))

  it.effect("a store with createTable: false on a missing table fails with a permanent LeaseStoreError", () =>
    Effect.gen(function*() {
      const store = yield* DynamoDBLeaseStore.make({ tableName: tableName(), createTable: false })
      const error = yield* Effect.flip(store.list)
      expect(error).toBeInstanceOf(LeaseStore.LeaseStoreError)
      expect(error.retryability).toBe("permanent")
      expect((error.cause as DynamoDBError.DynamoDBError).reason).toBe("NotFound")
    }))

  it.effect("items use the documented attribute names (KCL's where they agree)", () =>
    Effect.gen(function*() {
      const dynamodb = yield* DynamoDBClient.DynamoDBClient
      const table = tableName()
      const store = yield* DynamoDBLeaseStore.make({ tableName: table })
      yield* store.createIfAbsent({
        leaseKey: "shardId-000000000002",
        checkpoint: "TRIM_HORIZON",
        parentShardIds: ["shardId-000000000001", "shardId-000000000000"],
        hashRange: { start: "0", end: "170141183460469231731687303715884105727" }
      })
      const [observed] = yield* store.list
      const lease = yield* store.acquire(observed, "worker-a")
      yield* store.checkpoint({ leaseKey: lease.leaseKey, owner: "worker-a", counter: lease.counter }, {
        sequenceNumber: "49590000000000000000000000000000000000000000000000000042",
        subSequenceNumber: 2,
        maxEventTime: 1_700_000_000_000,
        watermark: 1_699_999_990_000,
        processed: { sequenceNumber: "49590000000000000000000000000000000000000000000000000043", subSequenceNumber: 0 }
      })
      const { Item } = yield* dynamodb.use("GetItem", (client, abortSignal) =>
        client.send(new GetItemCommand({ TableName: table, Key: { leaseKey: { S: "shardId-000000000002" } }, ConsistentRead: true }), {
          abortSignal
        }))
      expect({ ...Item, parentShardId: { SS: [...(Item?.parentShardId?.SS ?? [])].sort() } }).toStrictEqual({
        leaseKey: { S: "shardId-000000000002" },
        leaseOwner: { S: "worker-a" },
        leaseCounter: { N: "2" },
        checkpoint: { S: "49590000000000000000000000000000000000000000000000000042" },
        checkpointSubSequenceNumber: { N: "2" },
        checkpointMaxEventTime: { N: "1700000000000" },
        checkpointWatermark: { N: "1699999990000" },
        checkpointProcessedSequenceNumber: { S: "49590000000000000000000000000000000000000000000000000043" },
        checkpointProcessedSubSequenceNumber: { N: "0" },
        ownerSwitchesSinceCheckpoint: { N: "0" },
        parentShardId: { SS: ["shardId-000000000000", "shardId-000000000001"] },
        startingHashKey: { S: "0" },
        endingHashKey: { S: "170141183460469231731687303715884105727" }
      })
    }))

  it.effect("a malformed item fails listing with a permanent LeaseStoreError naming the problem", () =>
    Effect.gen(function*() {
      const dynamodb = yield* DynamoDBClient.DynamoDBClient
      const table = tableName()
      const store = yield* DynamoDBLeaseStore.make({ tableName: table })
      yield* dynamodb.putItem({ TableName: table, Item: { leaseKey: { S: "odd" }, leaseCounter: { S: "one" } } })
      const error = yield* Effect.flip(store.list)
      expect(error.retryability).toBe("permanent")
      expect(error.reason).toContain("malformed lease item")
      expect(error.leaseKey).toBe("odd")
    }))
})

// ---------------------------------------------------------------------------------------------------------
// through the fault proxy: the SDK parses real error answers, resets and lost answers
// ---------------------------------------------------------------------------------------------------------

/** dynalite, a fault proxy in front of it, and the client service talking through the proxy. */
const proxied = Layer.unwrapEffect(
  Effect.map(FaultProxy.FaultProxy, (proxy) => DynamoDBClient.layer({ ...proxy.clientConfig }))
).pipe(
  Layer.provideMerge(Layer.scoped(FaultProxy.FaultProxy, Effect.flatMap(LocalDynamoDB.LocalDynamoDB, (local) => FaultProxy.make(local.endpoint)))),
  Layer.provideMerge(LocalDynamoDB.layerDynalite())
)

/** A store straight on dynalite (no faults), for setting up and checking. */
const direct = (table: string) =>
  Effect.gen(function*() {
    const proxy = yield* FaultProxy.FaultProxy
    const client = yield* DynamoDBClient.make({ ...ClientConfig.make(proxy.target) })
    return yield* DynamoDBLeaseStore.make({ tableName: table }).pipe(Effect.provideService(DynamoDBClient.DynamoDBClient, client))
  })

layer(proxied, { excludeTestServices: true })("DynamoDB through a fault proxy", (it) => {
  it.scoped("throttling, 500 and resets are tagged transient, as the SDK parses them", () =>
    Effect.gen(function*() {
      const proxy = yield* FaultProxy.FaultProxy
      const dynamodb = yield* DynamoDBClient.DynamoDBClient
      const table = tableName()
      yield* direct(table)
      const get = dynamodb.getItem({ TableName: table, Key: { leaseKey: { S: "a" } } })
      yield* proxy.setFaults({ rules: { GetItem: { throttle: 1 } } })
      const throttled = yield* Effect.flip(get)
      expect([throttled.reason, throttled.retryability, throttled.statusCode]).toStrictEqual([
        "Throttled",
        "transient",
        400
      ])
      yield* proxy.setFaults({ rules: { GetItem: { internalFailure: 1 } } })
      const internal = yield* Effect.flip(get)
      expect([internal.reason, internal.retryability, internal.statusCode]).toStrictEqual(["ServerError", "transient", 500])
      yield* proxy.setFaults({ rules: { GetItem: { reset: 1 } }, resetAfterForward: 0 })
      const reset = yield* Effect.flip(get)
      expect([reset.reason, reset.retryability]).toStrictEqual(["NetworkError", "transient"])
      yield* proxy.clearFaults
      expect((yield* get).Item).toBeUndefined()
    }))

  it.scoped("interrupting a call aborts its HTTP request", () =>
    Effect.gen(function*() {
      const proxy = yield* FaultProxy.FaultProxy
      const dynamodb = yield* DynamoDBClient.DynamoDBClient
      const table = tableName()
      yield* direct(table)
      yield* proxy.resetStats
      yield* proxy.setFaults({ rules: { GetItem: { latency: "5 seconds" } } })
      const fiber = yield* Effect.fork(dynamodb.getItem({ TableName: table, Key: { leaseKey: { S: "a" } } }))
      // wait until the proxy holds the request, then interrupt
      while ((yield* proxy.stats).delayed === 0) yield* Effect.sleep("5 millis")
      yield* Fiber.interrupt(fiber)
      while ((yield* proxy.stats).clientAborts === 0) yield* Effect.sleep("5 millis")
      expect((yield* proxy.stats).clientAborts).toBe(1)
      yield* proxy.clearFaults
    }))

  it.scoped("list reads every Scan page (60 leases, pages of 25: 3 Scan calls)", () =>
    Effect.gen(function*() {
      const proxy = yield* FaultProxy.FaultProxy
      const table = tableName()
      const setup = yield* direct(table)
      yield* Effect.forEach(Array.from({ length: 60 }, (_, i) => `shard-${i}`), (leaseKey) =>
        setup.createIfAbsent({ leaseKey, checkpoint: "LATEST", hashRange: { start: "0", end: "1" } }), { concurrency: 8 })
      const store = yield* DynamoDBLeaseStore.make({ tableName: table, scanPageSize: 25, createTable: false })
      yield* proxy.resetStats
      expect((yield* store.list).length).toBe(60)
      expect((yield* proxy.stats).byOperation).toStrictEqual({ Scan: 3 })
    }))

  it.scoped("transient failures are retried: every write succeeds under 40% throttling", () =>
    Effect.gen(function*() {
      const proxy = yield* FaultProxy.FaultProxy
      const table = tableName()
      yield* direct(table)
      const store = yield* DynamoDBLeaseStore.make({ tableName: table, retries: 8, retryBase: "1 millis" })
      yield* proxy.setFaults({ seed: 7, rules: { "*": { throttle: 0.4 } } })
      yield* store.createIfAbsent({ leaseKey: "s", checkpoint: "TRIM_HORIZON", hashRange: { start: "0", end: "1" } })
      let lease = yield* store.acquire({ leaseKey: "s", counter: 0, owner: null }, "worker-a")
      for (let i = 0; i < 20; i++) {
        const held = { leaseKey: "s", owner: "worker-a", counter: lease.counter }
        lease = i % 2 === 0
          ? yield* store.renew(held)
          : yield* store.checkpoint(held, { sequenceNumber: String(1000 + i), subSequenceNumber: 0 })
      }
      expect(lease.counter).toBe(21)
      expect((yield* proxy.stats).throttled).toBeGreaterThan(5)
      yield* proxy.clearFaults
      expect(Option.getOrThrow(yield* store.get("s"))).toStrictEqual(lease)
    }))

  it.scoped("a write whose answer was lost is retried and recognised as done, not reported as LeaseLost", () =>
    Effect.gen(function*() {
      const proxy = yield* FaultProxy.FaultProxy
      const table = tableName()
      const setup = yield* direct(table)
      const store = yield* DynamoDBLeaseStore.make({ tableName: table, retries: 8, retryBase: "1 millis" })
      yield* setup.createIfAbsent({ leaseKey: "s", checkpoint: "TRIM_HORIZON", hashRange: { start: "0", end: "1" } })
      // every other UpdateItem is applied by dynalite, then its answer is lost (the connection is reset)
      yield* proxy.setFaults({ seed: 3, rules: { UpdateItem: { reset: 0.5 } }, resetAfterForward: 1 })
      let lease = yield* store.acquire({ leaseKey: "s", counter: 0, owner: null }, "worker-a")
      for (let i = 0; i < 20; i++) {
        const held = { leaseKey: "s", owner: "worker-a", counter: lease.counter }
        lease = i % 2 === 0
          ? yield* store.renew(held)
          : yield* store.checkpoint(held, { sequenceNumber: String(1000 + i), subSequenceNumber: 0, watermark: i })
      }
      lease = yield* store.release({ leaseKey: "s", owner: "worker-a", counter: lease.counter })
      const stats = yield* proxy.stats
      expect(stats.resetsAfter).toBeGreaterThan(5)
      yield* proxy.clearFaults
      expect(lease).toMatchObject({ owner: null, counter: 22, checkpoint: { sequenceNumber: "1019", watermark: 19 } })
      expect(yield* setup.get("s")).toStrictEqual(yield* store.get("s"))
      // a real conflict after a lost answer is still a conflict
      yield* proxy.setFaults({ rules: { UpdateItem: { reset: 1 } }, resetAfterForward: 0 })
      const stale = yield* Effect.flip(store.renew({ leaseKey: "s", owner: "worker-a", counter: 5 }))
      expect(stale._tag).toBe("LeaseStoreError") // never reached dynalite: the retries ran out
      yield* proxy.setFaults({ seed: 1, rules: { UpdateItem: { reset: 0.5 } }, resetAfterForward: 1 })
      const lost = yield* Effect.flip(store.renew({ leaseKey: "s", owner: "worker-a", counter: 5 }))
      expect(lost._tag).toBe("LeaseLost")
      yield* proxy.clearFaults
    }))
})
