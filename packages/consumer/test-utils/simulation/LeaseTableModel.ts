/**
 * The lease table as DynamoDB serves it, for simulations: core's in-memory `LeaseStore` (the same contract
 * as the DynamoDB store), wrapped so that each call
 *
 * - takes time: a log-normal latency per request (a Scan per page of at most 1 MB), half before the write
 *   takes effect and half after;
 * - consumes capacity as DynamoDB counts it: a Scan page reads its items' total size in 4 KB units (half
 *   for an eventually consistent scan), a GetItem 4 KB units of the item, a conditional write 1 KB units of
 *   the item, also when its condition fails;
 * - is throttled when the table's read or write capacity (a token bucket per second) is spent, and fails
 *   now and then with a 500 if asked, as `ProvisionedThroughputExceededException` and
 *   `InternalServerError` reach the DynamoDB store: a `DynamoDBError` retried by the store's own schedule
 *   (3 retries, 50 ms doubling, equal jitter), then a transient `LeaseStoreError` carrying it;
 * - stops reaching the table once its worker process is killed.
 *
 * Item sizes follow DynamoDB's rules (attribute names plus values; numbers of 1 byte per two significant
 * digits plus 1), with the attribute names of `LeaseTable`, and a 56-digit sequence number as checkpoint
 * (a lease that has been checkpointed).
 */
import * as DynamoDBError from "@tributary/dynamodb/DynamoDBError"
import { attributes } from "@tributary/dynamodb/LeaseTable"
import type { Lease, LeaseStoreShape } from "@tributary/core/LeaseStore"
import * as LeaseStore from "@tributary/core/LeaseStore"
import * as Retry from "@tributary/core/Retry"
import * as TokenBucket from "@tributary/core/TokenBucket"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Random from "./Random.js"
import * as Series from "./Series.js"

/**
 * @since 0.1.0
 */
export interface Options {
  /**
   * Read capacity units per second the table serves. Default 40,000: the default maximum of an on-demand
   * table (a new one starts at 12,000 and doubles its previous peak as traffic grows).
   */
  readonly readCapacity?: number | undefined
  /** Write capacity units per second. Default 40,000 (a new on-demand table starts at 4,000). */
  readonly writeCapacity?: number | undefined
  /** Seconds of unused capacity a burst may use. Default 1. */
  readonly burstSeconds?: number | undefined
  /** GetItem, PutItem, UpdateItem, DeleteItem. Default median 4 ms, p99 15 ms. */
  readonly pointLatency?: Random.Latency | undefined
  /** A Scan page of 1 MB (smaller pages take proportionally less, at least a fifth). Default median 60 ms, p99 200 ms. */
  readonly scanLatency?: Random.Latency | undefined
  /** Share of requests failing with a 500 before taking effect. Default 0. */
  readonly failureRate?: number | undefined
  /** Scans read consistently (the DynamoDB store's `list` does). Default true. */
  readonly consistentScans?: boolean | undefined
  readonly seed?: number | undefined
}

/** What the simulation learns from the table as things happen. */
export interface Observer {
  readonly created: (lease: Lease, at: number) => void
  readonly acquired: (before: Lease, after: Lease, at: number) => void
  readonly released: (lease: Lease, at: number) => void
  readonly finished: (lease: Lease, at: number) => void
}

export interface LeaseTableModel {
  /** The store as one worker process sees it: its calls no longer reach the table once it is killed. */
  readonly storeFor: (workerId: string) => LeaseStoreShape
  /** The worker's process dies: none of its calls reach the table any more. */
  readonly kill: (workerId: string) => void
  /** The table itself, at no cost and no delay: to set up and to look. */
  readonly table: LeaseStoreShape
  /** Checkpoint writes made elsewhere (not simulated one by one): they consume write capacity. */
  readonly chargeWrites: (at: number, units: number) => void
  readonly readUnits: Series.Series
  readonly writeUnits: Series.Series
  readonly throttled: Series.Series
  /** Calls per operation, retries included. */
  readonly calls: Map<string, number>
}

const megabyte = 1024 * 1024

export const make = (options: Options, observer: Observer): LeaseTableModel => {
  const table = LeaseStore.unsafeMakeMemory()
  const random = Random.make(options.seed ?? 1)
  const buckets = TokenBucket.make()
  const burst = options.burstSeconds ?? 1
  const readRate = { perSecond: options.readCapacity ?? 40_000, burst: (options.readCapacity ?? 40_000) * burst }
  const writeRate = { perSecond: options.writeCapacity ?? 40_000, burst: (options.writeCapacity ?? 40_000) * burst }
  const pointLatency = options.pointLatency ?? { median: 4, p99: 15 }
  const scanLatency = options.scanLatency ?? { median: 60, p99: 200 }
  const failureRate = options.failureRate ?? 0
  const readFactor = options.consistentScans === false ? 0.5 : 1
  const killed = new Set<string>()
  const readUnits = Series.make()
  const writeUnits = Series.make()
  const throttled = Series.make()
  const calls = new Map<string, number>()
  // the DynamoDB store's retries: `retries` 3, `retryBase` 50 ms, doubling, equal jitter
  const retry = Retry.transient(Retry.exponential({ base: "50 millis", cap: "1 hour", times: 3, jitter: [0.5, 1] }))

  const sdkError = (command: string, name: string, message: string, status: number) =>
    DynamoDBError.fromSdkError(command, { name, message, $metadata: { httpStatusCode: status } })

  /**
   * One request: its latency, then capacity (or throttling), then the call itself, charged whatever its
   * outcome (`units` of the lease it answers, 1 when it fails), retried as the DynamoDB store retries.
   */
  const request = <A, E extends { readonly retryability: "transient" | "permanent" }>(
    command: string,
    kind: "read" | "write",
    units: (result: A | undefined) => number,
    latency: () => number,
    call: Effect.Effect<A, E>
  ): Effect.Effect<A, E | DynamoDBError.DynamoDBError> => {
    const attempt = Effect.gen(function*() {
      calls.set(command, (calls.get(command) ?? 0) + 1)
      yield* Effect.sleep(latency())
      const now = yield* Clock.currentTimeMillis
      if (buckets.tryTake(kind, kind === "read" ? readRate : writeRate, now, 1) > 0) {
        throttled.add(now, 1)
        return yield* sdkError(command, "ProvisionedThroughputExceededException", "The level of configured provisioned throughput for the table was exceeded.", 400)
      }
      if (failureRate > 0 && random.next() < failureRate) return yield* sdkError(command, "InternalServerError", "Internal server error", 500)
      const result = yield* Effect.exit(call)
      // the first unit was taken to get in; the rest as the answer shows
      const cost = units(Exit.isSuccess(result) ? result.value : undefined)
      if (cost > 1) buckets.reserve(kind, kind === "read" ? readRate : writeRate, now, cost - 1)
      ;(kind === "read" ? readUnits : writeUnits).add(now, cost)
      return yield* result
    })
    // retried only once it failed: the schedule is made for the few calls that need it
    return Effect.catchIf(attempt, (error) => error.retryability === "transient", (error) => {
      let first = true
      return retry(Effect.suspend(() => first ? (first = false, Effect.fail(error)) : attempt))
    })
  }

  const storeError = (operation: string, leaseKey: string | undefined) => (error: DynamoDBError.DynamoDBError) =>
    new LeaseStore.LeaseStoreError({ operation, leaseKey, reason: error.message, retryability: error.retryability, cause: error })

  /**
   * A call of the lease store, made of requests: a `DynamoDBError` left after the retries is the store's
   * `LeaseStoreError`.
   */
  const operation = <A, E>(
    workerId: string,
    operation: string,
    leaseKey: string | undefined,
    requests: Effect.Effect<A, E | DynamoDBError.DynamoDBError>
  ): Effect.Effect<A, Exclude<E, DynamoDBError.DynamoDBError> | LeaseStore.LeaseStoreError> =>
    Effect.suspend(() =>
      killed.has(workerId)
        ? Effect.fail(new LeaseStore.LeaseStoreError({ operation, leaseKey, reason: "the worker's process is dead", retryability: "permanent" }))
        : Effect.catchIf(requests, DynamoDBError.isDynamoDBError, (error) => Effect.fail(storeError(operation, leaseKey)(error))) as Effect.Effect<
          A,
          Exclude<E, DynamoDBError.DynamoDBError> | LeaseStore.LeaseStoreError
        >
    )

  const current = (leaseKey: string) => table.get(leaseKey).pipe(Effect.map((found) => found._tag === "Some" ? found.value : undefined))
  const point = () => Random.latency(random, pointLatency)
  /** Units of `unit` bytes of the lease answered (a conditional write changes an item's size by a few bytes). */
  const unitsOf = (unit: number) => (lease: Lease | undefined) => lease === undefined ? 1 : Math.ceil(itemBytes(lease) / unit)
  const writeUnitsOf = unitsOf(1024)
  const update = <E extends { readonly retryability: "transient" | "permanent" }>(
    workerId: string,
    name: string,
    leaseKey: string,
    call: Effect.Effect<Lease, E>
  ) => operation(workerId, name, leaseKey, request("UpdateItem", "write", writeUnitsOf, point, call))
  /** An update that gives the lease a new owner: the observer sees who had it and who has it now. */
  const moving = <E extends { readonly retryability: "transient" | "permanent" }>(
    workerId: string,
    name: string,
    leaseKey: string,
    write: Effect.Effect<Lease, E>
  ) =>
    update(workerId, name, leaseKey, Effect.gen(function*() {
      const before = yield* current(leaseKey)
      const after = yield* write
      if (before !== undefined) observer.acquired(before, after, yield* Clock.currentTimeMillis)
      return after
    }))

  // Not wrapped in `LeaseStore.make`: its spans and argument checks cost more than the model itself and
  // change nothing a coordinator decides.
  const storeFor = (workerId: string): LeaseStoreShape => ({
    list: operation(
      workerId,
      "list",
      undefined,
      Effect.gen(function*() {
        const leases = yield* table.list
        // pages of at most 1 MB, each a request of its own
        let page = 0
        const pages: Array<number> = []
        for (const lease of leases) {
          const size = itemBytes(lease)
          if (page + size > megabyte) {
            pages.push(page)
            page = 0
          }
          page += size
        }
        pages.push(page)
        for (const bytes of pages) {
          const latency = () => Random.latency(random, scanLatency) * Math.max(0.2, bytes / megabyte)
          yield* request("Scan", "read", () => Math.max(1, Math.ceil(bytes / 4096)) * readFactor, latency, Effect.void)
        }
        // what the table holds once the last page came back
        return yield* table.list
      })
    ),
    get: (leaseKey) =>
      operation(workerId, "get", leaseKey, request("GetItem", "read", (found) => found?._tag === "Some" ? unitsOf(4096)(found.value) : 1, point, table.get(leaseKey))),
    createIfAbsent: (lease) =>
      operation(
        workerId,
        "createIfAbsent",
        lease.leaseKey,
        request("PutItem", "write", () => 1, point, Effect.tap(table.createIfAbsent(lease), (created) =>
          created
            ? Effect.flatMap(Effect.zip(current(lease.leaseKey), Clock.currentTimeMillis), ([made, now]) =>
              Effect.sync(() => made !== undefined && observer.created(made, now)))
            : Effect.void))
      ),
    acquire: (observed, owner) => moving(workerId, "acquire", observed.leaseKey, table.acquire(observed, owner)),
    renew: (held, load) => update(workerId, "renew", held.leaseKey, table.renew(held, load)),
    release: (held) =>
      update(workerId, "release", held.leaseKey, Effect.tap(table.release(held), (lease) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => observer.released(lease, now))))),
    checkpoint: (held, checkpoint) =>
      update(workerId, "checkpoint", held.leaseKey, Effect.tap(table.checkpoint(held, checkpoint), (lease) =>
        checkpoint === "SHARD_END"
          ? Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => observer.finished(lease, now)))
          : Effect.void)),
    delete: (version) => operation(workerId, "delete", version.leaseKey, request("DeleteItem", "write", () => 1, point, table.delete(version))),
    requestHandoff: (observed, requester) => update(workerId, "requestHandoff", observed.leaseKey, table.requestHandoff(observed, requester)),
    // a handover moves the lease like an acquisition does
    handOver: (held, to) => moving(workerId, "handOver", held.leaseKey, table.handOver(held, to))
  })

  return {
    storeFor,
    kill: (workerId) => void killed.add(workerId),
    table,
    chargeWrites: (at, units) => {
      buckets.reserve("write", writeRate, at, units)
      writeUnits.add(at, units)
    },
    readUnits,
    writeUnits,
    throttled,
    calls
  }
}

// ---------------------------------------------------------------------------------------------------------
// item sizes
// ---------------------------------------------------------------------------------------------------------

/** A checkpoint as Kinesis sequence numbers are: 56 digits. */
const sequenceNumberDigits = 56

/**
 * The item's size as DynamoDB counts it, with a sequence number as checkpoint. Computed each time (ids
 * are ASCII): cheaper than remembering it for every version of every lease.
 */
export const itemBytes = (lease: Lease): number => {
  let size = fixedBytes + lease.leaseKey.length + lease.hashRange.start.length + lease.hashRange.end.length +
    numberBytes(lease.counter) + numberBytes(lease.ownerSwitchesSinceCheckpoint)
  if (lease.owner !== null) size += attributes.owner.length + lease.owner.length
  if (lease.parentShardIds.length > 0) {
    size += attributes.parentShardIds.length
    for (const parent of lease.parentShardIds) size += parent.length
  }
  // two rates of three significant digits
  if (lease.load !== undefined) size += attributes.loadRecordsPerSecond.length + attributes.loadBytesPerSecond.length + 2 * 3
  return size
}

/** The attribute names every lease item has, a sequence number and its sub-sequence number 0. */
const fixedBytes = attributes.leaseKey.length + attributes.counter.length + attributes.checkpoint.length +
  sequenceNumberDigits + attributes.subSequenceNumber.length + 2 + attributes.ownerSwitches.length +
  attributes.hashKeyStart.length + attributes.hashKeyEnd.length

/** A number's value: 1 byte per two significant digits, plus 1 (integers below 10^8 here). */
const numberBytes = (value: number): number =>
  value < 100 ? 2 : value < 10_000 ? 3 : value < 1_000_000 ? 4 : 5
