/**
 * Leases, KCL style: one lease per shard says which worker processes the shard (`owner`) and how far it got
 * (`checkpoint`). Every write is conditional on the lease's `counter` (the version the writer last saw) and
 * increments it, so two workers can never both believe they took the same lease, and a worker whose lease
 * was taken finds out at its next write (`LeaseLost`) instead of overwriting the new owner's progress.
 *
 * `LeaseStore` is the abstract service; `layerMemory` keeps leases in memory with exactly the semantics of
 * the DynamoDB store of `@tributary/dynamodb` (the same contract tests run against both), for tests.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as Types from "effect/Types"
import type { Checkpoint, Position } from "./RecordSource.js"
import { isSequenceNumber } from "./SequenceNumber.js"
import type { Retryability } from "./TributaryError.js"
import { TypeId as ErrorTypeId } from "./TributaryError.js"

// ---------------------------------------------------------------------------------------------------------
// models
// ---------------------------------------------------------------------------------------------------------

/**
 * Where a lease stands when no record has been checkpointed yet, or that its shard is done:
 * `TRIM_HORIZON` (the oldest record kept), `LATEST` (only records added from now on), `AT_TIMESTAMP`
 * (records that arrived at or after the consumer's configured timestamp, which the lease does not store,
 * like the KCL's), `SHARD_END` (the shard was closed by a split or merge and every record of it was
 * processed: its children may start).
 *
 * @since 0.1.0
 * @category models
 */
export type Sentinel = "TRIM_HORIZON" | "LATEST" | "AT_TIMESTAMP" | "SHARD_END"

/**
 * What a lease stores as progress: a checkpoint (resume after it) or a sentinel. Narrow it with
 * `typeof checkpoint === "string"`.
 *
 * @since 0.1.0
 * @category models
 */
export type LeaseCheckpoint = Checkpoint | Sentinel

/**
 * An inclusive range of 128-bit hash keys, as decimal strings (they do not fit in a number).
 *
 * @since 0.1.0
 * @category models
 */
export interface HashRange {
  /** The lowest hash key of the shard. */
  readonly start: string
  /** The highest hash key of the shard. */
  readonly end: string
}

/**
 * One shard's lease.
 *
 * @since 0.1.0
 * @category models
 */
export interface Lease {
  /** The shard id. */
  readonly leaseKey: string
  /** The worker that holds the lease; null when nobody does (new, released or finished). */
  readonly owner: string | null
  /** Incremented by every write; every write is conditional on it. A lease whose counter does not move is not renewed. */
  readonly counter: number
  /** How far the shard was processed: the last checkpoint, or a sentinel. */
  readonly checkpoint: LeaseCheckpoint
  /**
   * The shards this one was split or merged from (sorted: DynamoDB keeps them as a set): it is processed
   * only after all of them reach SHARD_END.
   */
  readonly parentShardIds: ReadonlyArray<string>
  /** The range of partition-key hashes the shard owns. */
  readonly hashRange: HashRange
  /** Acquisitions by a different owner since the last checkpoint: a lease that keeps moving without progress is stuck. */
  readonly ownerSwitchesSinceCheckpoint: number

  // -- handoff (see `requestHandoff`) --
  /**
   * The worker that asked the owner to hand the lease over (absent when nobody did): the owner finishes
   * its batch in flight, checkpoints and passes the lease to it (`handOver`). Cleared whenever the lease
   * changes hands.
   */
  readonly handoffTo?: string | undefined
  // --- published load (throughput-aware assignment) ---
  /**
   * The shard's throughput as its owner last measured it, published with a renewal by workers that balance
   * by throughput (absent until one did). It stays when the lease changes owner, so the new owner and the
   * other workers know what the shard weighs before the new owner measured it.
   */
  readonly load?: LeaseLoad | undefined
}

/**
 * A shard's throughput as read by its owner: records and bytes per second, averaged over the last minute
 * or so.
 *
 * @since 0.1.0
 * @category models
 */
export interface LeaseLoad {
  /** Records read from the shard per second, smoothed over about half a minute. */
  readonly recordsPerSecond: number
  /** Bytes of record data read from the shard per second, smoothed the same way. */
  readonly bytesPerSecond: number
}

/**
 * A lease to create for a newly found shard: no owner, counter 0.
 *
 * @since 0.1.0
 * @category models
 */
export interface NewLease {
  /** The shard id. */
  readonly leaseKey: string
  /** Usually `TRIM_HORIZON` or `LATEST`. */
  readonly checkpoint: LeaseCheckpoint
  /** The shards this one was split or merged from, without repeats. Default none. */
  readonly parentShardIds?: ReadonlyArray<string> | undefined
  /** The range of partition-key hashes the shard owns. */
  readonly hashRange: HashRange
}

/**
 * The version of a lease a conditional write expects.
 *
 * @since 0.1.0
 * @category models
 */
export interface LeaseVersion {
  /** The shard id. */
  readonly leaseKey: string
  /** The lease's counter as last read or written. */
  readonly counter: number
}

/**
 * A lease as observed by a worker that wants to take it: the write succeeds only if nobody wrote it since.
 * A `Lease` read from the store is one.
 *
 * @since 0.1.0
 * @category models
 */
export interface ObservedLease extends LeaseVersion {
  /** The owner seen, null for an unowned lease; the write fails if it changed. */
  readonly owner: string | null
}

/**
 * A lease as held by its owner: renewals, releases and checkpoints succeed only while the lease is still
 * this owner's and unchanged since the owner's last write.
 *
 * @since 0.1.0
 * @category models
 */
export interface HeldLease extends LeaseVersion {
  /** The worker that holds the lease. */
  readonly owner: string
}

// ---------------------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------------------

/**
 * A renewal, release or checkpoint failed its condition: the lease was taken by another worker (or
 * changed, or deleted) since this owner's last write. The owner must stop processing the shard: whatever
 * it did since its last checkpoint will be done again by the new owner.
 *
 * @since 0.1.0
 * @category errors
 */
export class LeaseLost extends Data.TaggedError("LeaseLost")<{
  readonly leaseKey: string
  readonly owner: string
  readonly operation: "renew" | "release" | "checkpoint" | "handOver"
  /** The counter the write expected. */
  readonly expectedCounter: number
}> {
  /** @since 0.1.0 */
  readonly [ErrorTypeId] = ErrorTypeId
  /**
   * Always "permanent": retrying the same write with the same counter fails again.
   *
   * @since 0.1.0
   */
  readonly retryability: Retryability = "permanent"
  /**
   * Names the lease, the owner, the expected counter and the operation.
   *
   * @since 0.1.0
   */
  override get message(): string {
    return `lease ${this.leaseKey} is no longer held by ${this.owner} at counter ${this.expectedCounter} (${this.operation})`
  }
}

/**
 * An acquisition, a handoff request or a deletion failed its condition: the lease changed since it was
 * observed (another worker took or renewed it first, or asked for it first), or does not exist.
 *
 * @since 0.1.0
 * @category errors
 */
export class LeaseConflict extends Data.TaggedError("LeaseConflict")<{
  readonly leaseKey: string
  readonly operation: "acquire" | "requestHandoff" | "delete"
  /** The counter the write expected. */
  readonly expectedCounter: number
}> {
  /** @since 0.1.0 */
  readonly [ErrorTypeId] = ErrorTypeId
  /**
   * Always "permanent": the same write fails again; read the lease anew before trying.
   *
   * @since 0.1.0
   */
  readonly retryability: Retryability = "permanent"
  /**
   * Names the lease, the expected counter and the operation.
   *
   * @since 0.1.0
   */
  override get message(): string {
    return `lease ${this.leaseKey} changed since counter ${this.expectedCounter} was observed (${this.operation})`
  }
}

/**
 * The store itself failed (throttling, a network error, a malformed item, an invalid argument).
 *
 * @since 0.1.0
 * @category errors
 */
export class LeaseStoreError extends Data.TaggedError("LeaseStoreError")<{
  readonly operation: string
  readonly leaseKey?: string | undefined
  readonly reason: string
  readonly retryability: Retryability
  readonly cause?: unknown
}> {
  /** @since 0.1.0 */
  readonly [ErrorTypeId] = ErrorTypeId
  /**
   * Names the operation, the lease if any, the retryability and the reason.
   *
   * @since 0.1.0
   */
  override get message(): string {
    const lease = this.leaseKey === undefined ? "" : ` of lease ${this.leaseKey}`
    return `lease store ${this.operation}${lease} failed (${this.retryability}): ${this.reason}`
  }
}

/**
 * Any failure of a `LeaseStore` operation.
 *
 * @since 0.1.0
 * @category errors
 */
export type LeaseError = LeaseLost | LeaseConflict | LeaseStoreError

/**
 * True for a `LeaseLost`, `LeaseConflict` or `LeaseStoreError`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isLeaseError = (u: unknown): u is LeaseError =>
  Predicate.hasProperty(u, ErrorTypeId) && Predicate.hasProperty(u, "_tag") &&
  (u._tag === "LeaseLost" || u._tag === "LeaseConflict" || u._tag === "LeaseStoreError")

// ---------------------------------------------------------------------------------------------------------
// service
// ---------------------------------------------------------------------------------------------------------

/**
 * The operations of a lease store. Every write is conditional on the lease's counter and increments it;
 * wrap an implementation with `make` for spans and argument checks.
 *
 * @since 0.1.0
 * @category models
 */
export interface LeaseStoreShape {
  /** Every lease, in no particular order (strongly consistent). */
  readonly list: Effect.Effect<ReadonlyArray<Lease>, LeaseStoreError>
  /** The lease of a shard (strongly consistent), or `Option.none()` when there is none. */
  readonly get: (leaseKey: string) => Effect.Effect<Option.Option<Lease>, LeaseStoreError>
  /** Creates the lease with no owner and counter 0 unless it exists (then nothing changes). True if this call created it. */
  readonly createIfAbsent: (lease: NewLease) => Effect.Effect<boolean, LeaseStoreError>
  /**
   * Takes an unowned, expired or stolen lease: conditional on the counter and owner observed. Increments
   * `ownerSwitchesSinceCheckpoint` when the owner changes, and clears a handoff request.
   */
  readonly acquire: (observed: ObservedLease, owner: string) => Effect.Effect<Lease, LeaseConflict | LeaseStoreError>
  /**
   * Increments the counter: tells other workers the owner is alive. Conditional on owner and counter. With
   * `load`, the same write also stores the shard's measured load (`Lease.load`); without, the lease keeps
   * the load it has. The lease returned (like that of every write) carries `handoffTo`: how an owner learns
   * it was asked for it.
   */
  readonly renew: (held: HeldLease, load?: LeaseLoad) => Effect.Effect<Lease, LeaseLost | LeaseStoreError>
  /**
   * Clears the owner (and a handoff request) so another worker can take the lease at once. Conditional
   * on owner and counter.
   */
  readonly release: (held: HeldLease) => Effect.Effect<Lease, LeaseLost | LeaseStoreError>
  /**
   * Stores progress (and resets `ownerSwitchesSinceCheckpoint`). Conditional on owner and counter, like
   * every write: a worker whose lease was taken cannot overwrite the new owner's checkpoint.
   */
  readonly checkpoint: (
    held: HeldLease,
    checkpoint: LeaseCheckpoint
  ) => Effect.Effect<Lease, LeaseLost | LeaseStoreError>
  /**
   * Deletes the lease if its counter is still the one given: true if this call deleted it, false if it did
   * not exist (deleted already).
   */
  readonly delete: (version: LeaseVersion) => Effect.Effect<boolean, LeaseConflict | LeaseStoreError>

  // -- handoff --
  /**
   * Asks the owner of a lease to hand it over to `requester`: sets `handoffTo`, conditional on the owner
   * and counter observed and on no request being pending. It leaves the counter alone: a request is no
   * sign of life of the owner (a crashed owner's lease still expires), and the owner's own writes do not
   * fail because of it.
   */
  readonly requestHandoff: (
    observed: HeldLease,
    requester: string
  ) => Effect.Effect<Lease, LeaseConflict | LeaseStoreError>
  /**
   * Passes a held lease to another worker in one write: owner `to`, counter + 1, owner switches + 1, the
   * request cleared. Conditional on owner and counter.
   */
  readonly handOver: (held: HeldLease, to: string) => Effect.Effect<Lease, LeaseLost | LeaseStoreError>
}

/**
 * The lease table the consumer's workers share; provide it with `layerMemory` or the DynamoDB layer of
 * `@tributary/dynamodb`.
 *
 * @since 0.1.0
 * @category tags
 */
export class LeaseStore extends Context.Tag("@tributary/core/LeaseStore")<LeaseStore, LeaseStoreShape>() {}

/**
 * Wraps an implementation: every operation gets a span (`LeaseStore.acquire`, ...) and its arguments are
 * validated the same way for every store (finite numbers, decimal sequence numbers, non-empty owners),
 * so an invalid checkpoint fails with a permanent `LeaseStoreError` before it reaches the backend.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (impl: LeaseStoreShape): LeaseStoreShape => ({
  list: Effect.withSpan(impl.list, "LeaseStore.list"),
  get: Effect.fn("LeaseStore.get")(function*(leaseKey: string) {
    yield* Effect.annotateCurrentSpan("leaseKey", leaseKey)
    return yield* impl.get(leaseKey)
  }),
  createIfAbsent: Effect.fn("LeaseStore.createIfAbsent")(function*(lease: NewLease) {
    yield* Effect.annotateCurrentSpan("leaseKey", lease.leaseKey)
    yield* invalid("createIfAbsent", lease.leaseKey, validateNewLease(lease))
    return yield* impl.createIfAbsent(lease)
  }),
  acquire: Effect.fn("LeaseStore.acquire")(function*(observed: ObservedLease, owner: string) {
    yield* Effect.annotateCurrentSpan("leaseKey", observed.leaseKey)
    yield* invalid("acquire", observed.leaseKey, validateOwner(owner) ?? validateCounter(observed.counter))
    return yield* impl.acquire(observed, owner)
  }),
  renew: Effect.fn("LeaseStore.renew")(function*(held: HeldLease, load?: LeaseLoad) {
    yield* Effect.annotateCurrentSpan("leaseKey", held.leaseKey)
    yield* invalid(
      "renew",
      held.leaseKey,
      validateOwner(held.owner) ?? validateCounter(held.counter) ?? (load === undefined ? undefined : validateLoad(load))
    )
    return yield* impl.renew(held, load)
  }),
  release: Effect.fn("LeaseStore.release")(function*(held: HeldLease) {
    yield* Effect.annotateCurrentSpan("leaseKey", held.leaseKey)
    yield* invalid("release", held.leaseKey, validateOwner(held.owner) ?? validateCounter(held.counter))
    return yield* impl.release(held)
  }),
  checkpoint: Effect.fn("LeaseStore.checkpoint")(function*(held: HeldLease, checkpoint: LeaseCheckpoint) {
    yield* Effect.annotateCurrentSpan("leaseKey", held.leaseKey)
    yield* invalid(
      "checkpoint",
      held.leaseKey,
      validateOwner(held.owner) ?? validateCounter(held.counter) ?? validateCheckpoint(checkpoint)
    )
    return yield* impl.checkpoint(held, checkpoint)
  }),
  delete: Effect.fn("LeaseStore.delete")(function*(version: LeaseVersion) {
    yield* Effect.annotateCurrentSpan("leaseKey", version.leaseKey)
    yield* invalid("delete", version.leaseKey, validateCounter(version.counter))
    return yield* impl.delete(version)
  }),
  requestHandoff: Effect.fn("LeaseStore.requestHandoff")(function*(observed: HeldLease, requester: string) {
    yield* Effect.annotateCurrentSpan("leaseKey", observed.leaseKey)
    yield* invalid(
      "requestHandoff",
      observed.leaseKey,
      validateOwner(observed.owner) ?? validateOwner(requester) ?? validateCounter(observed.counter) ??
        (requester === observed.owner ? "the requester already owns the lease" : undefined)
    )
    return yield* impl.requestHandoff(observed, requester)
  }),
  handOver: Effect.fn("LeaseStore.handOver")(function*(held: HeldLease, to: string) {
    yield* Effect.annotateCurrentSpan("leaseKey", held.leaseKey)
    yield* invalid("handOver", held.leaseKey, validateOwner(held.owner) ?? validateOwner(to) ?? validateCounter(held.counter))
    return yield* impl.handOver(held, to)
  })
})

/**
 * A store in memory, with the semantics of the DynamoDB store (the same contract tests run against both).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<LeaseStoreShape> = Effect.sync(() => make(unsafeMakeMemory()))

/**
 * A fresh in-memory store each time the layer is built.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<LeaseStore> = Layer.effect(LeaseStore, makeMemory)

// ---------------------------------------------------------------------------------------------------------
// memory
// ---------------------------------------------------------------------------------------------------------

/**
 * The in-memory store without the `make` wrapper (no spans, no argument validation): for building other
 * test stores on. Each operation is atomic.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unsafeMakeMemory = (): LeaseStoreShape => {
  const leases = new Map<string, Lease>()
  // a held write goes through only while the lease is the holder's and unchanged since its last write
  const holds = (lease: Lease | undefined, held: HeldLease): lease is Lease =>
    lease !== undefined && lease.owner === held.owner && lease.counter === held.counter
  const write = (lease: Lease): Lease => {
    leases.set(lease.leaseKey, lease)
    return lease
  }
  const lost = (held: HeldLease, operation: LeaseLost["operation"]) =>
    new LeaseLost({ leaseKey: held.leaseKey, owner: held.owner, operation, expectedCounter: held.counter })
  // a lease that changes hands loses its handoff request
  const withoutRequest = ({ handoffTo: _, ...lease }: Lease): Lease => lease
  return {
    list: Effect.sync(() => Array.from(leases.values())),
    get: (leaseKey) => Effect.sync(() => Option.fromNullable(leases.get(leaseKey))),
    createIfAbsent: (lease) =>
      Effect.sync(() => {
        if (leases.has(lease.leaseKey)) return false
        write({
          leaseKey: lease.leaseKey,
          owner: null,
          counter: 0,
          checkpoint: copyCheckpoint(lease.checkpoint),
          parentShardIds: [...(lease.parentShardIds ?? [])].sort(),
          hashRange: { start: lease.hashRange.start, end: lease.hashRange.end },
          ownerSwitchesSinceCheckpoint: 0
        })
        return true
      }),
    acquire: (observed, owner) =>
      Effect.suspend(() => {
        const lease = leases.get(observed.leaseKey)
        if (lease === undefined || lease.counter !== observed.counter || lease.owner !== observed.owner) {
          return Effect.fail(
            new LeaseConflict({ leaseKey: observed.leaseKey, operation: "acquire", expectedCounter: observed.counter })
          )
        }
        return Effect.succeed(write({
          ...withoutRequest(lease),
          owner,
          counter: lease.counter + 1,
          ownerSwitchesSinceCheckpoint: lease.ownerSwitchesSinceCheckpoint + (lease.owner === owner ? 0 : 1)
        }))
      }),
    renew: (held, load) =>
      Effect.suspend(() => {
        const lease = leases.get(held.leaseKey)
        if (!holds(lease, held)) return Effect.fail(lost(held, "renew"))
        const counter = lease.counter + 1
        return Effect.succeed(write(
          load === undefined
            ? { ...lease, counter }
            // published load: a copy of the two rates, as a database would store them
            : { ...lease, counter, load: { recordsPerSecond: load.recordsPerSecond, bytesPerSecond: load.bytesPerSecond } }
        ))
      }),
    release: (held) =>
      Effect.suspend(() => {
        const lease = leases.get(held.leaseKey)
        return holds(lease, held)
          ? Effect.succeed(write({ ...withoutRequest(lease), owner: null, counter: lease.counter + 1 }))
          : Effect.fail(lost(held, "release"))
      }),
    checkpoint: (held, checkpoint) =>
      Effect.suspend(() => {
        const lease = leases.get(held.leaseKey)
        return holds(lease, held)
          ? Effect.succeed(write({
            ...lease,
            counter: lease.counter + 1,
            checkpoint: copyCheckpoint(checkpoint),
            ownerSwitchesSinceCheckpoint: 0
          }))
          : Effect.fail(lost(held, "checkpoint"))
      }),
    delete: (version) =>
      Effect.suspend(() => {
        const lease = leases.get(version.leaseKey)
        if (lease === undefined) return Effect.succeed(false)
        if (lease.counter !== version.counter) {
          return Effect.fail(
            new LeaseConflict({ leaseKey: version.leaseKey, operation: "delete", expectedCounter: version.counter })
          )
        }
        leases.delete(version.leaseKey)
        return Effect.succeed(true)
      }),
    requestHandoff: (observed, requester) =>
      Effect.suspend(() => {
        const lease = leases.get(observed.leaseKey)
        return holds(lease, observed) && lease.handoffTo === undefined
          ? Effect.succeed(write({ ...lease, handoffTo: requester }))
          : Effect.fail(
            new LeaseConflict({ leaseKey: observed.leaseKey, operation: "requestHandoff", expectedCounter: observed.counter })
          )
      }),
    handOver: (held, to) =>
      Effect.suspend(() => {
        const lease = leases.get(held.leaseKey)
        return holds(lease, held)
          ? Effect.succeed(write({
            ...withoutRequest(lease),
            owner: to,
            counter: lease.counter + 1,
            ownerSwitchesSinceCheckpoint: lease.ownerSwitchesSinceCheckpoint + (lease.owner === to ? 0 : 1)
          }))
          : Effect.fail(lost(held, "handOver"))
      })
  }
}

// Stored checkpoints are copies with only the fields a checkpoint has, as a database would return them.
const copyCheckpoint = (checkpoint: LeaseCheckpoint): LeaseCheckpoint => {
  if (typeof checkpoint === "string") return checkpoint
  const { maxEventTime, processed, watermark } = checkpoint
  const copy: Types.Mutable<Checkpoint> = { sequenceNumber: checkpoint.sequenceNumber, subSequenceNumber: checkpoint.subSequenceNumber }
  if (maxEventTime !== undefined) copy.maxEventTime = maxEventTime
  if (watermark !== undefined) copy.watermark = watermark
  if (processed !== undefined) copy.processed = { sequenceNumber: processed.sequenceNumber, subSequenceNumber: processed.subSequenceNumber }
  return copy
}

// ---------------------------------------------------------------------------------------------------------
// utils
// ---------------------------------------------------------------------------------------------------------

/**
 * True when the lease's shard is closed and fully processed.
 *
 * @since 0.1.0
 * @category utils
 */
export const isShardEnd = (lease: Pick<Lease, "checkpoint">): boolean => lease.checkpoint === "SHARD_END"

/**
 * The checkpoint to resume after, or undefined when the lease holds a sentinel.
 *
 * @since 0.1.0
 * @category utils
 */
export const resumeFrom = (lease: Pick<Lease, "checkpoint">): Checkpoint | undefined =>
  typeof lease.checkpoint === "string" ? undefined : lease.checkpoint

/**
 * Structural equality of two lease checkpoints (absent optional fields are equal, present ones compare
 * by value).
 *
 * @since 0.1.0
 * @category utils
 */
export const checkpointEquals = (a: LeaseCheckpoint, b: LeaseCheckpoint): boolean => {
  if (typeof a === "string" || typeof b === "string") return a === b
  return positionEquals(a, b) && a.maxEventTime === b.maxEventTime && a.watermark === b.watermark &&
    (a.processed === undefined ? b.processed === undefined : b.processed !== undefined && positionEquals(a.processed, b.processed))
}

/**
 * Why a checkpoint cannot be stored, or undefined when it can: sequence numbers must be decimal strings,
 * sub-sequence numbers non-negative integers, event times and watermarks finite numbers.
 *
 * @since 0.1.0
 * @category utils
 */
export const validateCheckpoint = (checkpoint: LeaseCheckpoint): string | undefined => {
  if (typeof checkpoint === "string") {
    return checkpoint === "TRIM_HORIZON" || checkpoint === "LATEST" || checkpoint === "AT_TIMESTAMP" || checkpoint === "SHARD_END"
      ? undefined
      : `unknown sentinel ${JSON.stringify(checkpoint)}`
  }
  return validatePosition("checkpoint", checkpoint) ??
    (checkpoint.processed === undefined ? undefined : validatePosition("checkpoint.processed", checkpoint.processed)) ??
    validateFinite("checkpoint.maxEventTime", checkpoint.maxEventTime) ??
    validateFinite("checkpoint.watermark", checkpoint.watermark)
}

const positionEquals = (a: Position, b: Position): boolean =>
  a.sequenceNumber === b.sequenceNumber && a.subSequenceNumber === b.subSequenceNumber

const validatePosition = (name: string, position: Position): string | undefined =>
  !isSequenceNumber(position.sequenceNumber)
    ? `${name}.sequenceNumber must be a decimal string, got ${JSON.stringify(position.sequenceNumber)}`
    : !Number.isSafeInteger(position.subSequenceNumber) || position.subSequenceNumber < 0
    ? `${name}.subSequenceNumber must be a non-negative integer, got ${position.subSequenceNumber}`
    : undefined

const validateFinite = (name: string, value: number | undefined): string | undefined =>
  value === undefined || Number.isFinite(value) ? undefined : `${name} must be a finite number, got ${value}`

// published load
const validateLoad = (load: LeaseLoad): string | undefined => {
  const { bytesPerSecond, recordsPerSecond } = load
  return Number.isFinite(recordsPerSecond) && recordsPerSecond >= 0 && Number.isFinite(bytesPerSecond) && bytesPerSecond >= 0
    ? undefined
    : `load must be finite non-negative rates, got ${JSON.stringify(load)}`
}

const validateOwner = (owner: string): string | undefined =>
  typeof owner === "string" && owner.length > 0 ? undefined : "owner must be a non-empty string"

const validateCounter = (counter: number): string | undefined =>
  Number.isSafeInteger(counter) && counter >= 0 ? undefined : `counter must be a non-negative integer, got ${counter}`

const decimal = /^[0-9]{1,39}$/

const validateNewLease = (lease: NewLease): string | undefined => {
  if (typeof lease.leaseKey !== "string" || lease.leaseKey.length === 0) return "leaseKey must be a non-empty string"
  if (!decimal.test(lease.hashRange.start) || !decimal.test(lease.hashRange.end)) {
    return `hashRange must be two decimal strings, got ${JSON.stringify(lease.hashRange)}`
  }
  const parents = lease.parentShardIds ?? []
  if (parents.some((parent) => typeof parent !== "string" || parent.length === 0)) {
    return "parentShardIds must be non-empty strings"
  }
  if (new Set(parents).size !== parents.length) return "parentShardIds must not repeat"
  return validateCheckpoint(lease.checkpoint)
}

const invalid = (operation: string, leaseKey: string, reason: string | undefined): Effect.Effect<void, LeaseStoreError> =>
  reason === undefined
    ? Effect.void
    : Effect.fail(new LeaseStoreError({ operation, leaseKey, reason: `invalid argument: ${reason}`, retryability: "permanent" }))
