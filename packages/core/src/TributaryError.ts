/**
 * The error family of @tributary/core. Every failure a pipeline can report is one of these, told apart by
 * `_tag`, and each says whether trying again can help. The errors of the lease store (`LeaseLost`,
 * `LeaseConflict`, `LeaseStoreError`) and of object stores (`ObjectStoreError`) live beside their services
 * and belong to the family too (`isTributaryError`).
 *
 * `SinkError` and `SourceError` keep what caused them in `cause`, typed where the sink or source knows it
 * (a Kinesis producer's `SinkError<KinesisError>`), so a caller can tell a throttled stream from a missing
 * one: `Effect.catchTag("SinkError", (e) => e.cause?.reason === "Throttled" ? ... : Effect.fail(e))`.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Predicate from "effect/Predicate"
import type { SourceRecord } from "./SourceRecord.js"

/**
 * The key every error of the family carries, which `isTributaryError` looks for.
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@tributary/core/TributaryError")

/**
 * The type of `TypeId`.
 *
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * Whether a failed operation may succeed if repeated (throttling, timeouts, a 5xx) or never will (bad
 * credentials, a validation error, an oversized item).
 *
 * @since 0.1.0
 * @category models
 */
export type Retryability = "transient" | "permanent"

/**
 * Where a payload's syntax is wrong (1-based line and column, 0-based offset in the decoded text).
 *
 * @since 0.1.0
 * @category models
 */
export interface TextPosition {
  /** 0-based index of the offending character in the decoded text. */
  readonly offset: number
  /** 1-based line of the offending character. */
  readonly line: number
  /** 1-based column of the offending character in its line. */
  readonly column: number
}

/**
 * A record whose payload could not be turned into the expected value. It carries the record itself so
 * it can go to the dead-letter sink untouched.
 *
 * @since 0.1.0
 * @category errors
 */
export class DecodeFailure extends Data.TaggedError("DecodeFailure")<{
  readonly format: string
  readonly reason: string
  readonly position?: TextPosition
  readonly record: SourceRecord
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /**
   * Always "permanent": decoding the same bytes again fails the same way.
   *
   * @since 0.1.0
   */
  readonly retryability: Retryability = "permanent"
  /**
   * Names the format, the record (shard/sequence number), the position if known and the reason.
   *
   * @since 0.1.0
   */
  override get message(): string {
    const at = this.position === undefined ? "" : ` (line ${this.position.line}, column ${this.position.column})`
    return `cannot decode ${this.format} record ${this.record.shardId}/${this.record.sequenceNumber}${at}: ${this.reason}`
  }
}

/**
 * A sink could not make a batch durable. `Cause` is the type of `cause` where the sink knows it (the
 * service's error, e.g. `KinesisError`, whose `reason` says what went wrong).
 *
 * @since 0.1.0
 * @category errors
 */
export class SinkError<out Cause = unknown> extends Data.TaggedError("SinkError")<{
  readonly sink: string
  readonly reason: string
  readonly retryability: Retryability
  readonly cause?: Cause
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /**
   * Names the sink, the retryability and the reason.
   *
   * @since 0.1.0
   */
  override get message(): string {
    return `sink ${this.sink} failed (${this.retryability}): ${this.reason}`
  }
}

/**
 * A source could not deliver records. `Cause` is the type of `cause` where the source knows it (the
 * service's error, e.g. `KinesisError`).
 *
 * @since 0.1.0
 * @category errors
 */
export class SourceError<out Cause = unknown> extends Data.TaggedError("SourceError")<{
  readonly source: string
  readonly reason: string
  readonly retryability: Retryability
  readonly cause?: Cause
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /**
   * Names the source, the retryability and the reason.
   *
   * @since 0.1.0
   */
  override get message(): string {
    return `source ${this.source} failed (${this.retryability}): ${this.reason}`
  }
}

/**
 * A checkpoint could not be stored (for a lease-based checkpointer: the lease was lost, so this worker must
 * stop processing the shard).
 *
 * @since 0.1.0
 * @category errors
 */
export class CheckpointError extends Data.TaggedError("CheckpointError")<{
  readonly shardId: string
  readonly reason: string
  readonly retryability: Retryability
  readonly cause?: unknown
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /**
   * Names the shard, the retryability and the reason.
   *
   * @since 0.1.0
   */
  override get message(): string {
    return `checkpoint of ${this.shardId} failed (${this.retryability}): ${this.reason}`
  }
}

/**
 * Options that cannot work (a negative size, a cron expression that does not parse, a renewal interval
 * longer than the lease): the constructor that was given them fails with this, naming the option.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidOptions extends Data.TaggedError("InvalidOptions")<{
  /** What was being made, e.g. "Archive.sink". */
  readonly of: string
  /** The option, e.g. "maxBytes". */
  readonly option: string
  /** What is wrong with it. */
  readonly reason: string
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** Repeating with the same options fails the same way. */
  readonly retryability: Retryability = "permanent"
  /**
   * Reads `<of>: <option> <reason>`, e.g. "Archive.sink: maxBytes must be a positive integer, got 0".
   *
   * @since 0.1.0
   */
  override get message(): string {
    return `${this.of}: ${this.option} ${this.reason}`
  }
}

/**
 * The first option that cannot work as an `InvalidOptions`, or undefined: each check is an option and why it
 * is invalid (undefined when it is fine), e.g. `checkOptions("Archive.sink", [["maxBytes", reasonOrUndefined]])`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const checkOptions = (
  of: string,
  checks: ReadonlyArray<readonly [option: string, reason: string | undefined]>
): InvalidOptions | undefined => {
  for (const [option, reason] of checks) {
    if (reason !== undefined) return new InvalidOptions({ of, option, reason })
  }
  return undefined
}

/**
 * Any error of the family: the classes above and those of the lease store and object stores.
 *
 * @since 0.1.0
 * @category models
 */
export interface TributaryError {
  readonly [TypeId]: TypeId
  readonly _tag: string
  /** Whether trying the failed operation again can help. */
  readonly retryability: Retryability
  /** A human-readable account of the failure, built from the error's fields. */
  readonly message: string
}

/**
 * True for any error of the family, including those of the lease store and object stores.
 *
 * @since 0.1.0
 * @category guards
 */
export const isTributaryError = (u: unknown): u is TributaryError => Predicate.hasProperty(u, TypeId)

/**
 * True when an error's `retryability` is "transient", i.e. retrying may succeed: the errors
 * `Retry.transient` retries.
 *
 * @since 0.1.0
 * @category guards
 */
export const isTransient = (error: { readonly retryability: Retryability }): boolean =>
  error.retryability === "transient"
