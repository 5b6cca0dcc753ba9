/**
 * Per-batch bookkeeping shared by the pipeline's stages: the records of the batch, what became of each
 * one (written, dead-lettered, late, or dropped), the dead letters and the side outputs to write.
 *
 * @internal
 */
import type { DeadLetter } from "../DeadLetter.js"
import { fromRecord } from "../DeadLetter.js"
import type { RecordSink } from "../RecordSink.js"
import type { SourceRecord } from "../SourceRecord.js"
import { capReason, preview } from "./reason.js"

/**
 * The values flowing between stages of one batch; `origins[i]` is the index of the source record
 * `values[i]` came from (null while that is simply `i`; -1 for a value derived from many records, such as
 * a window result).
 *
 * @internal
 */
export interface Lane {
  readonly values: ReadonlyArray<unknown>
  readonly origins: ReadonlyArray<number> | null
}

/** @internal */
export const emptyLane: Lane = { values: [], origins: null }

/** @internal */
export const DERIVED = -1

/** @internal */
export const originOf = (lane: Lane, i: number): number => lane.origins === null ? i : lane.origins[i]

/** What reached a stage: a page of records, a timer tick, or the end of the shard. */
export type BatchEvent = "records" | "tick" | "end"

const OUT = 1
const DEAD = 2
const LATE = 3

/** @internal */
export interface SideOutput {
  readonly values: Array<unknown>
  readonly origins: Array<number>
}

/** @internal */
export class BatchState {
  readonly status: Uint8Array
  readonly deadLetters: Array<DeadLetter> = []
  readonly sideOutputs = new Map<RecordSink<unknown>, SideOutput>()

  constructor(
    readonly shardId: string,
    readonly event: BatchEvent,
    readonly records: ReadonlyArray<SourceRecord>,
    readonly pipeline: string,
    readonly now: number
  ) {
    this.status = new Uint8Array(records.length)
  }

  /**
   * Sends a record to the dead letters once; later failures of the same record add nothing. A derived
   * value (origin -1) is dead-lettered with its JSON as the payload. Reasons are cut to
   * `maxReasonLength`, however long the message of what failed.
   */
  deadLetter(origin: number, stage: string, reason: string, format?: string, value?: unknown): void {
    if (origin === DERIVED) {
      this.deadLetters.push(this.derivedLetter(stage, capReason(reason), value))
      return
    }
    if (this.status[origin] === DEAD) return
    this.status[origin] = DEAD
    this.deadLetters.push(
      fromRecord(this.records[origin], { pipeline: this.pipeline, stage, reason: capReason(reason), format, failedAt: this.now })
    )
  }

  /** A record too late for its windows: to the given sink, or to the dead letters. */
  late(origin: number, value: unknown, reason: string, sink: RecordSink<unknown> | undefined): void {
    if (origin === DERIVED || this.status[origin] === LATE) return
    this.status[origin] = LATE
    if (sink === undefined) {
      this.deadLetters.push(
        fromRecord(this.records[origin], { pipeline: this.pipeline, stage: "window", reason: capReason(reason), failedAt: this.now })
      )
      return
    }
    let output = this.sideOutputs.get(sink)
    if (output === undefined) this.sideOutputs.set(sink, output = { values: [], origins: [] })
    output.values.push(value)
    output.origins.push(origin)
  }

  /** Every record of the lane absorbed by a stateful stage: see `absorbed`. */
  absorbedAll(lane: Lane): void {
    const status = this.status
    if (lane.origins === null) {
      for (let i = 0; i < lane.values.length; i++) if (status[i] === 0) status[i] = OUT
      return
    }
    for (let i = 0; i < lane.origins.length; i++) {
      const origin = lane.origins[i]
      if (origin !== DERIVED && status[origin] === 0) status[origin] = OUT
    }
  }

  /** A record a stateful stage absorbed (its output comes later, e.g. when its window fires). */
  absorbed(origin: number): void {
    if (origin !== DERIVED && this.status[origin] === 0) this.status[origin] = OUT
  }

  /** Drops the values of dead-lettered records, so no later stage sees them. */
  withoutDeadLetters(lane: Lane): Lane {
    const values: Array<unknown> = []
    const origins: Array<number> = []
    for (let i = 0; i < lane.values.length; i++) {
      const origin = originOf(lane, i)
      if (origin === DERIVED || this.status[origin] !== DEAD) {
        values.push(lane.values[i])
        origins.push(origin)
      }
    }
    return { values, origins }
  }

  count(lane: Lane): { recordsIn: number; recordsOut: number; deadLettered: number; late: number; filtered: number } {
    for (let i = 0; i < lane.values.length; i++) {
      const origin = originOf(lane, i)
      if (origin !== DERIVED && this.status[origin] === 0) this.status[origin] = OUT
    }
    let recordsOut = 0
    let deadLettered = 0
    let late = 0
    for (let i = 0; i < this.status.length; i++) {
      const status = this.status[i]
      if (status === OUT) recordsOut++
      else if (status === DEAD) deadLettered++
      else if (status === LATE) late++
    }
    return {
      recordsIn: this.records.length,
      recordsOut,
      deadLettered,
      late,
      filtered: this.records.length - recordsOut - deadLettered - late
    }
  }

  private derivedLetter(stage: string, reason: string, value: unknown): DeadLetter {
    const last = this.records[this.records.length - 1]
    let payload: string
    try {
      payload = JSON.stringify(value) ?? preview(value)
    } catch {
      // a cycle, a BigInt, a value nested too deep for JSON.stringify, a throwing toJSON
      payload = preview(value, 4096)
    }
    return {
      pipeline: this.pipeline,
      stage,
      reason,
      stream: last?.stream ?? "",
      shardId: this.shardId,
      sequenceNumber: last?.sequenceNumber ?? "0",
      subSequenceNumber: last?.subSequenceNumber ?? 0,
      partitionKey: "",
      arrivalTime: this.now,
      failedAt: this.now,
      data: new TextEncoder().encode(payload)
    }
  }
}
