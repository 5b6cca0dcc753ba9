/**
 * The lease coordinator example of docs/consumer.md, run against dynalite. The last test checks that each
 * ```ts block of the page appears here or in packages/consumer/test/docs.test.ts (which runs the consumer
 * example) verbatim, whitespace aside and import lines left out, and that the file holding it imports what
 * the block imports (test-utils/DocBlocks.ts of @tributary/core): change an example in both places.
 */
import { expect, it, layer } from "@effect/vitest"
import * as LeaseCoordinator from "@tributary/core/LeaseCoordinator"
import * as LeaseStore from "@tributary/core/LeaseStore"
import * as DocBlocks from "@tributary/core/test-utils/DocBlocks"
import * as LocalDynamoDB from "@tributary/local/LocalDynamoDB"
import { Config, ConfigProvider, Effect, Fiber, FiberMap, Layer, Stream } from "effect"
import { DynamoDBClient, DynamoDBLeaseStore } from "../src/index.js"
import { tableName } from "./helpers.js"

layer(LocalDynamoDB.layerDynalite(), { excludeTestServices: true })("docs/consumer.md", (it) => {
  it.scoped("the runner example: every lease is acquired, processed and checkpointed", () =>
    Effect.gen(function*() {
      const local = yield* LocalDynamoDB.LocalDynamoDB
      const table = tableName("docs")

      // --- the docs' example ---
      // The lease table of this application (created on first use), on the standard AWS settings
      const Leases = DynamoDBLeaseStore.layerConfig({ tableName: Config.string("LEASE_TABLE") }).pipe(
        Layer.provide(DynamoDBClient.layerConfig())
      )

      // The shards to share out (Kinesis' ListShards in a real consumer)
      const listShards = Effect.succeed([
        { shardId: "shardId-000000000000", parentShardIds: [], hashRange: { start: "0", end: "170141183460469231731687303715884105727" } },
        { shardId: "shardId-000000000001", parentShardIds: [], hashRange: { start: "170141183460469231731687303715884105728", end: "340282366920938463463374607431768211455" } }
      ])

      // What a worker does with a shard while it holds the lease
      const processShard = (lease: LeaseCoordinator.OwnedLease) =>
        Effect.gen(function*() {
          yield* Effect.log(`processing ${lease.leaseKey} after ${JSON.stringify(lease.lease.checkpoint)}`)
          // ... read and process records, then store how far it got:
          yield* lease.checkpoint({ sequenceNumber: "49590000000000000000000000000000000000000000000000000042", subSequenceNumber: 0 })
                yield* Effect.never
        })

      const program = Effect.gen(function*() {
        const coordinator = yield* LeaseCoordinator.make({ listShards, initialPosition: "TRIM_HORIZON" })
        // made after the coordinator: at shutdown, the fibers stop before the leases are released
        const running = yield* FiberMap.make<string>()
        yield* coordinator.changes.pipe(
          Stream.runForEach((event) =>
            event._tag === "Acquired"
              ? FiberMap.run(running, event.lease.leaseKey, processShard(event.lease))
              : FiberMap.remove(running, event.leaseKey)
          )
        )
      })
      // --- end of the example ---

      const config = ConfigProvider.fromMap(new Map([
        ["LEASE_TABLE", table],
        ["AWS_ENDPOINT_URL_DYNAMODB", local.endpoint],
        ["AWS_REGION", local.region],
        ["AWS_ACCESS_KEY_ID", "local"],
        ["AWS_SECRET_ACCESS_KEY", "local"]
      ]))
      const checkpoint = { sequenceNumber: "49590000000000000000000000000000000000000000000000000042", subSequenceNumber: 0 }
      const leases = Effect.flatMap(LeaseStore.LeaseStore, (store) => store.list).pipe(
        Effect.provide(Leases),
        Effect.withConfigProvider(config)
      )
      const fiber = yield* Effect.scoped(program).pipe(Effect.provide(Leases), Effect.withConfigProvider(config), Effect.fork)
      // every lease acquired, processed and checkpointed
      while (true) {
        const current = yield* leases.pipe(Effect.orElseSucceed(() => []))
        if (current.length === 2 && current.every((lease) => lease.owner !== null && lease.checkpoint !== "TRIM_HORIZON")) break
        yield* Effect.sleep("20 millis")
      }
      yield* Fiber.interrupt(fiber)
      // then released at shutdown
      expect((yield* leases).map((lease) => [lease.owner, lease.checkpoint])).toStrictEqual([
        [null, checkpoint],
        [null, checkpoint]
      ])
    }))
})

it("docs/consumer.md: every TypeScript example is tested here or in the consumer package's docs test", () => {
  expect(DocBlocks.blocks(DocBlocks.read("consumer.md")).length).toBeGreaterThan(0)
  expect(DocBlocks.problems("consumer.md", {
    files: [import.meta.url, new URL("../../consumer/test/docs.test.ts", import.meta.url)],
    checkImports: true,
    standIns: ["NodeRuntime"]
  })).toStrictEqual([])
})
