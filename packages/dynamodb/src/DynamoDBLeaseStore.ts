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
import type * as Sdk from "@aws-sdk/client-dynamodb"
import type { Lease, LeaseCheckpoint, NewLease } from "@tributary/core/LeaseStore"
import * as LeaseStore from "@tributary/core/LeaseStore"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import { DynamoDBClient } from "./DynamoDBClient.js"
import type { DynamoDBError, TableNotReady } from "./DynamoDBError.js"
import { isUnknownOutcome } from "./DynamoDBError.js"
import type { Item } from "./internal/leaseItem.js"
import { checkpointUpdate, itemOf, keyOf, leaseOf, namesOf } from "./internal/leaseItem.js"
import * as LeaseTable from "./LeaseTable.js"

/**
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
): Effect.Effect<LeaseStore.LeaseStoreShape, DynamoDBError | TableNotReady, DynamoDBClient> =>
  Effect.gen(function*() {
    const dynamodb = yield* DynamoDBClient
    if (options.createTable !== false) yield* LeaseTable.ensure(options.tableName, options.tableWait)
    return LeaseStore.make(unsafeMake(dynamodb, options))
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<LeaseStore.LeaseStore, DynamoDBError | TableNotReady, DynamoDBClient> =>
  Layer.effect(LeaseStore.LeaseStore, make(options))

/**
 * The options from configuration, e.g. `layerConfig({ tableName: Config.string("LEASE_TABLE") })`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<LeaseStore.LeaseStore, ConfigError.ConfigError | DynamoDBError | TableNotReady, DynamoDBClient> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))

// ---------------------------------------------------------------------------------------------------------
// internal
// ---------------------------------------------------------------------------------------------------------

const unsafeMake = (
  dynamodb: DynamoDBClient["Type"],
  options: Options
): LeaseStore.LeaseStoreShape => {
  const TableName = options.tableName
  const retries = options.retries ?? 3
  const retryBase = Duration.toMillis(Duration.decode(options.retryBase ?? "50 millis"))

  const storeError = (operation: string, leaseKey: string | undefined, error: DynamoDBError) =>
    new LeaseStore.LeaseStoreError({ operation, leaseKey, reason: error.message, retryability: error.retryability, cause: error })

  const malformed = (operation: string, leaseKey: string | undefined, reason: string) =>
    new LeaseStore.LeaseStoreError({ operation, leaseKey, reason: `malformed lease item: ${reason}`, retryability: "permanent" })

  const backoff = (attempt: number) =>
    Effect.flatMap(Random.next, (r) => {
      const full = retryBase * 2 ** attempt
      return Effect.sleep(Duration.millis(Math.round(full / 2 + (full / 2) * r)))
    })

  /** Retries transient failures; tells the handler whether an earlier attempt may have taken effect. */
  const attempt = <A, E = never>(
    operation: string,
    leaseKey: string | undefined,
    call: Effect.Effect<A, DynamoDBError>,
    onError: (error: DynamoDBError, ambiguous: boolean) => Effect.Effect<A, E | LeaseStore.LeaseStoreError> = (
      error
    ) => Effect.fail(storeError(operation, leaseKey, error))
  ): Effect.Effect<A, E | LeaseStore.LeaseStoreError> => {
    const loop = (n: number, ambiguous: boolean): Effect.Effect<A, E | LeaseStore.LeaseStoreError> =>
      Effect.catchAll(call, (error) =>
        error.retryability === "transient" && n < retries
          ? Effect.zipRight(backoff(n), loop(n + 1, ambiguous || isUnknownOutcome(error)))
          : onError(error, ambiguous))
    return loop(0, false)
  }

  const get = (leaseKey: string, operation = "get") =>
    attempt(
      operation,
      leaseKey,
      dynamodb.getItem({ TableName, Key: keyOf(leaseKey), ConsistentRead: true })
    ).pipe(Effect.flatMap((output) => {
      if (output.Item === undefined) return Effect.succeed(Option.none<Lease>())
      const lease = leaseOf(output.Item)
      return typeof lease === "string" ? Effect.fail(malformed(operation, leaseKey, lease)) : Effect.succeed(Option.some(lease))
    }))

  const isLease = (u: Item | Lease | undefined): u is Lease => u !== undefined && typeof u.leaseKey === "string"

  const parsed = (operation: string, leaseKey: string, attributes: Item | undefined) => {
    const lease = attributes === undefined ? `UpdateItem returned no attributes` : leaseOf(attributes)
    return typeof lease === "string" ? Effect.fail(malformed(operation, leaseKey, lease)) : Effect.succeed(lease)
  }

  /**
   * A conditional UpdateItem returning the new lease. A failed condition is `conflict`, unless an earlier
   * attempt may have taken effect and the lease now is what this write makes (`madeByThisWrite`).
   */
  const conditionalUpdate = <E>(
    operation: string,
    leaseKey: string,
    input: Omit<Sdk.UpdateItemInput, "TableName" | "Key" | "ReturnValues" | "ExpressionAttributeNames">,
    conflict: () => E,
    madeByThisWrite: (lease: Lease) => boolean
  ): Effect.Effect<Lease, E | LeaseStore.LeaseStoreError> =>
    attempt<Item | Lease | undefined, E>(
      operation,
      leaseKey,
      dynamodb.updateItem({
        ...input,
        TableName,
        Key: keyOf(leaseKey),
        ExpressionAttributeNames: namesOf(input.UpdateExpression, input.ConditionExpression),
        ReturnValues: "ALL_NEW"
      }).pipe(Effect.map((output) => output.Attributes)),
      (error, ambiguous) => {
        if (error._tag !== "ConditionalCheckFailed") return Effect.fail(storeError(operation, leaseKey, error))
        if (!ambiguous) return Effect.fail(conflict())
        return Effect.flatMap(get(leaseKey, operation), (current) =>
          Option.isSome(current) && madeByThisWrite(current.value) ? Effect.succeed(current.value) : Effect.fail(conflict()))
      }
    ).pipe(Effect.flatMap((written) => isLease(written) ? Effect.succeed(written) : parsed(operation, leaseKey, written)))

  const heldCondition = "#leaseOwner = :owner AND #leaseCounter = :expected"
  const heldValues = (held: LeaseStore.HeldLease) => ({
    ":owner": { S: held.owner },
    ":expected": { N: String(held.counter) },
    ":next": { N: String(held.counter + 1) }
  })
  const lost = (held: LeaseStore.HeldLease, operation: LeaseStore.LeaseLost["operation"]) => () =>
    new LeaseStore.LeaseLost({ leaseKey: held.leaseKey, owner: held.owner, operation, expectedCounter: held.counter })

  const list: Effect.Effect<ReadonlyArray<Lease>, LeaseStore.LeaseStoreError> = Effect.gen(function*() {
    const leases: Array<Lease> = []
    let start: Item | undefined
    do {
      const page: Sdk.ScanOutput = yield* attempt(
        "list",
        undefined,
        dynamodb.scan({
          TableName,
          ConsistentRead: true,
          ...(options.scanPageSize === undefined ? {} : { Limit: options.scanPageSize }),
          ...(start === undefined ? {} : { ExclusiveStartKey: start })
        })
      )
      for (const item of page.Items ?? []) {
        const lease = leaseOf(item)
        if (typeof lease === "string") return yield* malformed("list", item.leaseKey?.S, lease)
        leases.push(lease)
      }
      start = page.LastEvaluatedKey
    } while (start !== undefined)
    return leases
  })

  return {
    list,
    get: (leaseKey) => get(leaseKey),
    createIfAbsent: (lease: NewLease) =>
      attempt(
        "createIfAbsent",
        lease.leaseKey,
        dynamodb.putItem({
          TableName,
          Item: itemOf(lease),
          ConditionExpression: "attribute_not_exists(#leaseKey)",
          ExpressionAttributeNames: namesOf("#leaseKey")
        }).pipe(Effect.as(true)),
        // it exists (possibly because an earlier attempt of this call created it: then another caller could
        // have created it just the same, so "not created by this call" is a fair answer)
        (error) =>
          error._tag === "ConditionalCheckFailed"
            ? Effect.succeed(false)
            : Effect.fail(storeError("createIfAbsent", lease.leaseKey, error))
      ),
    acquire: (observed, owner) => {
      const switched = observed.owner !== owner
      return conditionalUpdate(
        "acquire",
        observed.leaseKey,
        {
          UpdateExpression:
            "SET #leaseOwner = :owner, #leaseCounter = :next, #ownerSwitchesSinceCheckpoint = if_not_exists(#ownerSwitchesSinceCheckpoint, :zero) + :switched",
          ConditionExpression: observed.owner === null
            ? "#leaseCounter = :expected AND attribute_not_exists(#leaseOwner)"
            : "#leaseCounter = :expected AND #leaseOwner = :observedOwner",
          ExpressionAttributeValues: {
            ":owner": { S: owner },
            ":expected": { N: String(observed.counter) },
            ":next": { N: String(observed.counter + 1) },
            ":zero": { N: "0" },
            ":switched": { N: switched ? "1" : "0" },
            ...(observed.owner === null ? {} : { ":observedOwner": { S: observed.owner } })
          }
        },
        () => new LeaseStore.LeaseConflict({ leaseKey: observed.leaseKey, operation: "acquire", expectedCounter: observed.counter }),
        (lease) => lease.owner === owner && lease.counter === observed.counter + 1
      )
    },
    renew: (held) =>
      conditionalUpdate(
        "renew",
        held.leaseKey,
        { UpdateExpression: "SET #leaseCounter = :next", ConditionExpression: heldCondition, ExpressionAttributeValues: heldValues(held) },
        lost(held, "renew"),
        (lease) => lease.owner === held.owner && lease.counter === held.counter + 1
      ),
    release: (held) =>
      conditionalUpdate(
        "release",
        held.leaseKey,
        {
          UpdateExpression: "SET #leaseCounter = :next REMOVE #leaseOwner",
          ConditionExpression: heldCondition,
          ExpressionAttributeValues: heldValues(held)
        },
        lost(held, "release"),
        // only the owner writes "no owner" at the next counter
        (lease) => lease.owner === null && lease.counter === held.counter + 1
      ),
    checkpoint: (held, checkpoint: LeaseCheckpoint) => {
      const update = checkpointUpdate(checkpoint)
      const set = ["#leaseCounter = :next", "#ownerSwitchesSinceCheckpoint = :zero", ...update.set].join(", ")
      return conditionalUpdate(
        "checkpoint",
        held.leaseKey,
        {
          UpdateExpression: `SET ${set}${update.remove.length === 0 ? "" : ` REMOVE ${update.remove.join(", ")}`}`,
          ConditionExpression: heldCondition,
          ExpressionAttributeValues: { ...heldValues(held), ":zero": { N: "0" }, ...update.values }
        },
        lost(held, "checkpoint"),
        (lease) =>
          lease.owner === held.owner && lease.counter === held.counter + 1 &&
          LeaseStore.checkpointEquals(lease.checkpoint, checkpoint)
      )
    },
    delete: (version) =>
      attempt(
        "delete",
        version.leaseKey,
        dynamodb.deleteItem({
          TableName,
          Key: keyOf(version.leaseKey),
          // a lease that is gone is deleted already (also when an earlier attempt of this call deleted it)
          ConditionExpression: "attribute_not_exists(#leaseKey) OR #leaseCounter = :expected",
          ExpressionAttributeNames: namesOf("#leaseKey", "#leaseCounter"),
          ExpressionAttributeValues: { ":expected": { N: String(version.counter) } }
        }).pipe(Effect.asVoid),
        (error) =>
          error._tag === "ConditionalCheckFailed"
            ? Effect.fail(
              new LeaseStore.LeaseConflict({ leaseKey: version.leaseKey, operation: "delete", expectedCounter: version.counter })
            )
            : Effect.fail(storeError("delete", version.leaseKey, error))
      )
  }
}
