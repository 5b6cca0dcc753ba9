import { expect, layer } from "@effect/vitest"
import * as LeaseStore from "@tributary/core/LeaseStore"
import { DynamoDBLeaseStore } from "@tributary/dynamodb"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as LeaseCoordinator from "../src/LeaseCoordinator.js"
import { emulators, uniqueName } from "./helpers.js"

const shards = Array.from({ length: 4 }, (_, i) => ({
  shardId: `shardId-${String(i).padStart(12, "0")}`,
  parentShardIds: [],
  hashRange: { start: String(i), end: String(i) }
}))

/** Polls (live clock) until `f` holds of the ownership counts, for at most 30 s. */
const eventually = (store: LeaseStore.LeaseStoreShape, f: (counts: Record<string, number>) => boolean) =>
  Effect.gen(function*() {
    let counts: Record<string, number> = {}
    for (let i = 0; i < 600; i++) {
      counts = {}
      for (const lease of yield* store.list) counts[lease.owner ?? ""] = (counts[lease.owner ?? ""] ?? 0) + 1
      if (f(counts)) return counts
      yield* Effect.sleep("50 millis")
    }
    return yield* Effect.dieMessage(`ownership never settled: ${JSON.stringify(counts)}`)
  })

layer(emulators, { excludeTestServices: true })("LeaseCoordinator on DynamoDB (dynalite, live clock)", (it) => {
  it.scoped("two workers split four shards; when one stops, the other takes them all", () =>
    Effect.gen(function*() {
      const store = yield* DynamoDBLeaseStore.make({ tableName: uniqueName("leases") })
      const start = (workerId: string) =>
        Effect.gen(function*() {
          const scope = yield* Scope.make()
          yield* LeaseCoordinator.make({
            workerId,
            listShards: Effect.succeed(shards),
            initialPosition: "TRIM_HORIZON",
            leaseDuration: "600 millis",
            // no runner: a lease asked for goes as soon as the request is seen
            handoffTimeout: 0
          }).pipe(Scope.extend(scope), Effect.provideService(LeaseStore.LeaseStore, store))
          return Scope.close(scope, Exit.void)
        })
      const stop1 = yield* start("w1")
      const stop2 = yield* start("w2")
      expect(yield* eventually(store, (c) => c.w1 === 2 && c.w2 === 2)).toStrictEqual({ w1: 2, w2: 2 })
      yield* stop1
      expect(yield* eventually(store, (c) => c.w2 === 4)).toStrictEqual({ w2: 4 })
      yield* stop2
      expect(yield* eventually(store, (c) => c[""] === 4)).toStrictEqual({ "": 4 })
    }), { timeout: 60_000 })
})
