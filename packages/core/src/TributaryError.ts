/**
 * The error family of @tributary/core. Every failure a pipeline can report is one of these, told apart by
 * `_tag`, and each says whether trying again can help.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Predicate from "effect/Predicate"
import type { ObjectStoreError } from "./Archive.js"
import type { LeaseConflict, LeaseLost, LeaseStoreError } from "./LeaseStore.js"
import type { SourceRecord } from "./SourceRecord.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@tributary/core/TributaryError")

/**
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
  readonly offset: number
  readonly line: number
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
  /** @since 0.1.0 */
  readonly retryability: Retryability = "permanent"
  /** @since 0.1.0 */
  override get message(): string {
    const at = this.position === undefined ? "" : ` (line ${this.position.line}, column ${this.position.column})`
    return `cannot decode ${this.format} record ${this.record.shardId}/${this.record.sequenceNumber}${at}: ${this.reason}`
  }
}

/**
 * A sink could not make a batch durable.
 *
 * @since 0.1.0
 * @category errors
 */
export class SinkError extends Data.TaggedError("SinkError")<{
  readonly sink: string
  readonly reason: string
  readonly retryability: Retryability
  readonly cause?: unknown
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  override get message(): string {
    return `sink ${this.sink} failed (${this.retryability}): ${this.reason}`
  }
}

/**
 * A source could not deliver records.
 *
 * @since 0.1.0
 * @category errors
 */
export class SourceError extends Data.TaggedError("SourceError")<{
  readonly source: string
  readonly reason: string
  readonly retryability: Retryability
  readonly cause?: unknown
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
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
  /** @since 0.1.0 */
  override get message(): string {
    return `checkpoint of ${this.shardId} failed (${this.retryability}): ${this.reason}`
  }
}

/**
 * Every error of @tributary/core: these, and those of the lease store (`LeaseLost`, `LeaseConflict`,
 * `LeaseStoreError`) and of object stores (`ObjectStoreError`), which live beside their services.
 *
 * @since 0.1.0
 * @category models
 */
export type TributaryError =
  | DecodeFailure
  | SinkError
  | SourceError
  | CheckpointError
  | LeaseLost
  | LeaseConflict
  | LeaseStoreError
  | ObjectStoreError

/**
 * @since 0.1.0
 * @category guards
 */
export const isTributaryError = (u: unknown): u is TributaryError => Predicate.hasProperty(u, TypeId)

/**
 * @since 0.1.0
 * @category guards
 */
export const isTransient = (error: { readonly retryability: Retryability }): boolean =>
  error.retryability === "transient"
