/**
 * The `LeaseStore` of @tributary/core on a DynamoDB table (see `LeaseTable` for its layout). Every write is
 * one conditional `UpdateItem` / `PutItem` / `DeleteItem` (no transactions), so it works on DynamoDB Local
 * and dynalite too.
 *
 * Transient failures (throttling, 5xx, resets) are retried a few times with jittered backoff. A retried
 * conditional write whose first attempt may have taken effect (a 5xx, a lost answer) can fail its
 * condition because of its own success; the store then reads the lease and reports success if the lease
 * is exactly what the write would have made (the owner and counter a write sets tell who made them), so
 * a lost answer never turns into a false `LeaseLost`.
 *
 * @since 0.1.0
 */
import { AwsError } from "@tributary/aws"
import type { Lease, LeaseCheckpoint, NewLease } from "@tributary/core/LeaseStore"
import * as LeaseStore from "@tributary/core/LeaseStore"
import * as Retry from "@tributary/core/Retry"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { DynamoDBClientShape } from "./DynamoDBClient.js"
import { DynamoDBClient } from "./DynamoDBClient.js"
import type { DynamoDBError } from "./DynamoDBError.js"
import type { ConditionalWrite, Item } from "./internal/leaseItem.js"
import * as LeaseItem from "./internal/leaseItem.js"
import * as LeaseTable from "./LeaseTable.js"

/**
 * The lease table, whether to create it, and how calls are retried.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The lease table; one per consumer application (like a KCL application name). */
  readonly tableName: string
  /** Create the table when it does not exist (and wait until it is ACTIVE). Default true. */
  readonly createTable?: boolean
  /** Items per Scan page when listing (DynamoDB's own limit is 1 MB per page). Default: no limit. */
  readonly scanPageSize?: number
  /** Retries of a transient failure per operation. Default 3. */
  readonly retries?: number
  /** First retry delay, doubled per retry, with jitter. Default 50 ms. */
  readonly retryBase?: Duration.DurationInput
  /** How long to wait for a new table to be ACTIVE. */
  readonly tableWait?: LeaseTable.WaitOptions
}

/**
 * A lease store on the table, creating the table first unless `createTable` is false.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<LeaseStore.LeaseStoreShape, DynamoDBError | AwsError.NotReady, DynamoDBClient> =>
  Effect.gen(function*() {
    const dynamodb = yield* DynamoDBClient
    if (options.createTable !== false) yield* LeaseTable.ensure(options.tableName, options.tableWait)
    return LeaseStore.make(unsafeMake(dynamodb, options))
  })

/**
 * Provides `LeaseStore` on the table, creating the table first unless `createTable` is false; fails with
 * `DynamoDBError`, or `NotReady` when a new table is not ACTIVE in time.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<LeaseStore.LeaseStore, DynamoDBError | AwsError.NotReady, DynamoDBClient> =>
  Layer.effect(LeaseStore.LeaseStore, make(options))

/**
 * The options from configuration, e.g. `layerConfig({ tableName: Config.string("LEASE_TABLE") })`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<LeaseStore.LeaseStore, ConfigError.ConfigError | DynamoDBError | AwsError.NotReady, DynamoDBClient> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))

// ---------------------------------------------------------------------------------------------------------
// internal
// ---------------------------------------------------------------------------------------------------------

const unsafeMake = (dynamodb: DynamoDBClientShape, options: Options): LeaseStore.LeaseStoreShape => {
  const TableName = options.tableName
  const io = makeIo(dynamodb, options)
  const conditionFailed = AwsError.hasReason("ConditionFailed")

  const list: Effect.Effect<ReadonlyArray<Lease>, LeaseStore.LeaseStoreError> = Effect.gen(function*() {
    const leases: Array<Lease> = []
    let start: Item | undefined
    do {
      const page = yield* io.attempt(
        "list",
        undefined,
        dynamodb.scan({ TableName, ConsistentRead: true, Limit: options.scanPageSize, ExclusiveStartKey: start })
      )
      for (const item of page.Items ?? []) {
        const lease = LeaseItem.leaseOf(item)
        if (typeof lease === "string") return yield* io.malformed("list", item.leaseKey?.S, lease)
        leases.push(lease)
      }
      start = page.LastEvaluatedKey
    } while (start !== undefined)
    return leases
  })

  const lost = (held: LeaseStore.HeldLease, operation: LeaseStore.LeaseLost["operation"]) => () =>
    new LeaseStore.LeaseLost({ leaseKey: held.leaseKey, owner: held.owner, operation, expectedCounter: held.counter })

  return {
    list,
    get: (leaseKey) => io.get(leaseKey),
    createIfAbsent: (lease: NewLease) =>
      io.attempt(
        "createIfAbsent",
        lease.leaseKey,
        dynamodb.putItem({
          TableName,
          Item: LeaseItem.itemOf(lease),
          ConditionExpression: "attribute_not_exists(#leaseKey)",
          ExpressionAttributeNames: LeaseItem.namesOf("#leaseKey")
        }).pipe(Effect.as(true)),
        // it exists (possibly because an earlier attempt of this call created it: then another caller could
        // have created it just the same, so "not created by this call" is a fair answer)
        (error) => conditionFailed(error) ? Effect.succeed(false) : Effect.fail(io.storeError("createIfAbsent", lease.leaseKey, error))
      ),
    acquire: (observed, owner) =>
      io.conditionalUpdate(
        "acquire",
        observed.leaseKey,
        LeaseItem.acquireWrite(observed, owner),
        () => new LeaseStore.LeaseConflict({ leaseKey: observed.leaseKey, operation: "acquire", expectedCounter: observed.counter })
      ),
    renew: (held, load) => io.conditionalUpdate("renew", held.leaseKey, LeaseItem.renewWrite(held, load), lost(held, "renew")),
    release: (held) => io.conditionalUpdate("release", held.leaseKey, LeaseItem.releaseWrite(held), lost(held, "release")),
    checkpoint: (held, checkpoint: LeaseCheckpoint) =>
      io.conditionalUpdate("checkpoint", held.leaseKey, LeaseItem.checkpointWrite(held, checkpoint), lost(held, "checkpoint")),
    delete: (version) =>
      io.attempt(
        "delete",
        version.leaseKey,
        dynamodb.deleteItem({
          TableName,
          Key: LeaseItem.keyOf(version.leaseKey),
          // a lease that is gone is deleted already (also when an earlier attempt of this call deleted it: then
          // this call answers false, as if another had)
          ConditionExpression: "attribute_not_exists(#leaseKey) OR #leaseCounter = :expected",
          ExpressionAttributeNames: LeaseItem.namesOf("#leaseKey", "#leaseCounter"),
          ExpressionAttributeValues: { ":expected": { N: String(version.counter) } },
          ReturnValues: "ALL_OLD"
        }).pipe(Effect.map((output) => output.Attributes !== undefined)),
        (error) =>
          Effect.fail(
            conditionFailed(error)
              ? new LeaseStore.LeaseConflict({ leaseKey: version.leaseKey, operation: "delete", expectedCounter: version.counter })
              : io.storeError("delete", version.leaseKey, error)
          )
      ),
    requestHandoff: (observed, requester) =>
      io.conditionalUpdate(
        "requestHandoff",
        observed.leaseKey,
        LeaseItem.requestHandoffWrite(observed, requester),
        () => new LeaseStore.LeaseConflict({ leaseKey: observed.leaseKey, operation: "requestHandoff", expectedCounter: observed.counter })
      ),
    handOver: (held, to) => io.conditionalUpdate("handOver", held.leaseKey, LeaseItem.handOverWrite(held, to), lost(held, "handOver"))
  }
}

/** The calls every operation is made of: retried, read back, and their errors. */
const makeIo = (dynamodb: DynamoDBClientShape, options: Options) => {
  const TableName = options.tableName
  // equal jitter from `retryBase`, doubling, for `retries` retries
  const schedule = Retry.exponential({
    base: options.retryBase ?? "50 millis",
    cap: "1 hour",
    times: options.retries ?? 3,
    jitter: [0.5, 1]
  })

  const storeError = (operation: string, leaseKey: string | undefined, error: DynamoDBError) =>
    new LeaseStore.LeaseStoreError({ operation, leaseKey, reason: error.message, retryability: error.retryability, cause: error })

  const malformed = (operation: string, leaseKey: string | undefined, reason: string) =>
    new LeaseStore.LeaseStoreError({ operation, leaseKey, reason: `malformed lease item: ${reason}`, retryability: "permanent" })

  /**
   * Retries transient failures; the last failure goes to `onError` with whether an earlier attempt may
   * have taken effect (it failed without a clear answer).
   */
  const attempt = <A, E = never>(
    operation: string,
    leaseKey: string | undefined,
    call: Effect.Effect<A, DynamoDBError>,
    onError: (error: DynamoDBError, ambiguous: boolean) => Effect.Effect<A, E | LeaseStore.LeaseStoreError> = (error) =>
      Effect.fail(storeError(operation, leaseKey, error))
  ): Effect.Effect<A, E | LeaseStore.LeaseStoreError> =>
    Effect.suspend(() => {
      let ambiguous = false
      return call.pipe(
        // set up once a call failed: most succeed at once
        Retry.afterFirstFailure((first) =>
          first.pipe(
            Effect.tapError((error) => Effect.sync(() => void (ambiguous ||= AwsError.isUnknownOutcome(error)))),
            Retry.transient(schedule)
          )
        ),
        Effect.catchAll((error) => onError(error, ambiguous))
      )
    })

  const get = (leaseKey: string, operation = "get") =>
    attempt(operation, leaseKey, dynamodb.getItem({ TableName, Key: LeaseItem.keyOf(leaseKey), ConsistentRead: true })).pipe(
      Effect.flatMap((output) => {
        if (output.Item === undefined) return Effect.succeed(Option.none<Lease>())
        const lease = LeaseItem.leaseOf(output.Item)
        return typeof lease === "string" ? Effect.fail(malformed(operation, leaseKey, lease)) : Effect.succeed(Option.some(lease))
      })
    )

  /**
   * A conditional UpdateItem answering the new lease. A failed condition is `conflict`, unless an earlier
   * attempt may have taken effect and the lease now is the one this write makes.
   */
  const conditionalUpdate = <E>(
    operation: string,
    leaseKey: string,
    write: ConditionalWrite,
    conflict: () => E
  ): Effect.Effect<Lease, E | LeaseStore.LeaseStoreError> =>
    attempt<Lease | string, E>(
      operation,
      leaseKey,
      dynamodb.updateItem({
        ...write.input,
        TableName,
        Key: LeaseItem.keyOf(leaseKey),
        ExpressionAttributeNames: LeaseItem.namesOf(write.input.UpdateExpression, write.input.ConditionExpression),
        ReturnValues: "ALL_NEW"
      }).pipe(Effect.map((output) =>
        output.Attributes === undefined ? "UpdateItem returned no attributes" : LeaseItem.leaseOf(output.Attributes)
      )),
      (error, ambiguous) => {
        if (!AwsError.hasReason("ConditionFailed")(error)) return Effect.fail(storeError(operation, leaseKey, error))
        if (!ambiguous) return Effect.fail(conflict())
        return Effect.flatMap(get(leaseKey, operation), (current) =>
          Option.isSome(current) && write.madeByThisWrite(current.value) ? Effect.succeed(current.value) : Effect.fail(conflict()))
      }
    ).pipe(Effect.flatMap((lease) =>
      typeof lease === "string" ? Effect.fail(malformed(operation, leaseKey, lease)) : Effect.succeed(lease)
    ))

  return { attempt, get, conditionalUpdate, storeError, malformed }
}
