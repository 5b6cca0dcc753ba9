/**
 * A pipeline is a value: a name, the stages a batch of source records goes through (decode, map, filter,
 * flatMap, sinks) and a retry policy, composed with `pipe`. Running it is an Effect that needs a
 * `RecordSource`, a `DeadLetterSink` and whatever its sinks need, so swapping layers swaps the world.
 *
 * Delivery: every batch is written to its sinks before its shard is checkpointed (at least once); records
 * that cannot be decoded or that a sink rejects permanently go to the dead-letter sink with their reason;
 * every record is counted once as out, dead-lettered or filtered.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Metric from "effect/Metric"
import type { Pipeable } from "effect/Pipeable"
import { pipeArguments } from "effect/Pipeable"
import type * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type { DeadLetter } from "./DeadLetter.js"
import { DeadLetterSink, fromRecord } from "./DeadLetter.js"
import type { DecodedBatch, Decoder } from "./Decoder.js"
import { valueOrigins } from "./Decoder.js"
import type { ShardReader } from "./RecordSource.js"
import { RecordSource } from "./RecordSource.js"
import type { RecordSink } from "./RecordSink.js"
import * as Retry from "./Retry.js"
import type { SourceRecord } from "./SourceRecord.js"
import type { CheckpointError, SourceError } from "./TributaryError.js"
import { isTransient, SinkError } from "./TributaryError.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@tributary/core/Pipeline")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * A pipeline whose current stage emits values of type `A` and whose sinks need the services `R`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Pipeline<out A, out R = never> extends Pipeable {
  readonly [TypeId]: {
    readonly _A: (_: never) => A
    readonly _R: (_: never) => R
  }
  readonly name: string
  readonly steps: ReadonlyArray<Step>
  readonly retrySchedule: Schedule.Schedule<unknown, SinkError>
}

/**
 * @since 0.1.0
 * @category models
 */
export type Step = TransformStep | SinkStep

/**
 * A synchronous stage over a whole batch.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransformStep {
  readonly _tag: "Transform"
  readonly stage: string
  readonly run: (lane: Lane, batch: BatchState) => Lane
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SinkStep {
  readonly _tag: "Sink"
  readonly sink: Effect.Effect<RecordSink<never>, never, unknown>
}

/**
 * The values flowing between stages of one batch; `origins[i]` is the index of the source record
 * `values[i]` came from (null while that is simply `i`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Lane {
  readonly values: ReadonlyArray<unknown>
  readonly origins: ReadonlyArray<number> | null
}

/**
 * Counts of records, each counted once: `recordsIn = recordsOut + deadLettered + filtered`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Counts {
  readonly recordsIn: number
  /** Records that reached the end of the pipeline (all their outputs written). */
  readonly recordsOut: number
  readonly deadLettered: number
  /** Records a filter or flatMap dropped. */
  readonly filtered: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Summary extends Counts {
  readonly batches: number
}

/**
 * @since 0.1.0
 * @category models
 */
export type PipelineError = SinkError | SourceError | CheckpointError

/**
 * Runs a pipeline's stages over batches; the building block of `run`, of Lambda handlers and of batch jobs.
 *
 * @since 0.1.0
 * @category models
 */
export interface Processor {
  /** Processes one batch of one shard: returns once its outputs and dead letters are durable. */
  readonly process: (records: ReadonlyArray<SourceRecord>) => Effect.Effect<Counts, SinkError>
  /** Totals over every batch processed so far. */
  readonly summary: Effect.Effect<Summary>
}

// ---------------------------------------------------------------------------------------------------------
// constructors and stages
// ---------------------------------------------------------------------------------------------------------

/**
 * A pipeline over raw source records.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (name: string): Pipeline<SourceRecord> =>
  fromSteps(name, [], Retry.defaultSinkRetry as Schedule.Schedule<unknown, SinkError>)

/**
 * Decodes raw records; undecodable ones go to the dead-letter sink with the decoder's reason.
 *
 * @since 0.1.0
 * @category stages
 */
export const decode: {
  <B>(decoder: Decoder<B>): <R>(self: Pipeline<SourceRecord, R>) => Pipeline<B, R>
  <R, B>(self: Pipeline<SourceRecord, R>, decoder: Decoder<B>): Pipeline<B, R>
} = dual(2, <R, B>(self: Pipeline<SourceRecord, R>, decoder: Decoder<B>): Pipeline<B, R> =>
  addStep(self, {
    _tag: "Transform",
    stage: "decode",
    run: (lane, batch) => {
      const decoded: DecodedBatch<B> = { values: [], failures: [], failureOrigins: [] }
      decoder.decodeInto(lane.values as ReadonlyArray<SourceRecord>, decoded)
      if (decoded.failures.length === 0) return { values: decoded.values, origins: lane.origins }
      for (let i = 0; i < decoded.failures.length; i++) {
        const failure = decoded.failures[i]
        const at = failure.position === undefined
          ? ""
          : ` (line ${failure.position.line}, column ${failure.position.column})`
        batch.deadLetter(originOf(lane, decoded.failureOrigins[i]), "decode", failure.reason + at, failure.format)
      }
      const origins = valueOrigins(decoded)
      for (let i = 0; i < origins.length; i++) origins[i] = originOf(lane, origins[i])
      return { values: decoded.values, origins }
    }
  }))

/**
 * Transforms each value. A function that throws sends the record to the dead-letter sink.
 *
 * @since 0.1.0
 * @category stages
 */
export const map: {
  <A, B>(f: (a: A) => B): <R>(self: Pipeline<A, R>) => Pipeline<B, R>
  <A, R, B>(self: Pipeline<A, R>, f: (a: A) => B): Pipeline<B, R>
} = dual(2, <A, R, B>(self: Pipeline<A, R>, f: (a: A) => B): Pipeline<B, R> =>
  addStep(self, {
    _tag: "Transform",
    stage: "map",
    run: (lane, batch) => {
      const values = lane.values as ReadonlyArray<A>
      const out = new Array<B>(values.length)
      let threw = false
      for (let i = 0; i < values.length; i++) {
        try {
          out[i] = f(values[i])
        } catch (error) {
          threw = true
          batch.deadLetter(originOf(lane, i), "map", reasonOf(error))
        }
      }
      return threw ? batch.withoutDeadLetters({ values: out, origins: lane.origins }) : { values: out, origins: lane.origins }
    }
  }))

/**
 * Keeps the values that satisfy the predicate; the others count as filtered. A predicate that throws sends
 * the record to the dead-letter sink.
 *
 * @since 0.1.0
 * @category stages
 */
export const filter: {
  <A, B extends A>(refinement: (a: A) => a is B): <R>(self: Pipeline<A, R>) => Pipeline<B, R>
  <A>(predicate: (a: A) => boolean): <R>(self: Pipeline<A, R>) => Pipeline<A, R>
  <A, R, B extends A>(self: Pipeline<A, R>, refinement: (a: A) => a is B): Pipeline<B, R>
  <A, R>(self: Pipeline<A, R>, predicate: (a: A) => boolean): Pipeline<A, R>
} = dual(2, <A, R>(self: Pipeline<A, R>, predicate: (a: A) => boolean): Pipeline<A, R> =>
  addStep(self, {
    _tag: "Transform",
    stage: "filter",
    run: (lane, batch) => {
      const values = lane.values as ReadonlyArray<A>
      const kept: Array<A> = []
      // While nothing is dropped the origins stay those of the input lane; spelled out from the first drop.
      let origins: Array<number> | null = null
      for (let i = 0; i < values.length; i++) {
        let keep = false
        try {
          keep = predicate(values[i])
        } catch (error) {
          batch.deadLetter(originOf(lane, i), "filter", reasonOf(error))
        }
        if (keep) {
          kept.push(values[i])
          if (origins !== null) origins.push(originOf(lane, i))
        } else if (origins === null) {
          origins = []
          for (let j = 0; j < i; j++) origins.push(originOf(lane, j))
        }
      }
      return { values: kept, origins: origins ?? lane.origins }
    }
  }))

/**
 * Turns each value into zero or more values (a record whose values are all dropped counts as filtered).
 * A function that throws sends the record to the dead-letter sink, and none of its values go on.
 *
 * @since 0.1.0
 * @category stages
 */
export const flatMap: {
  <A, B>(f: (a: A) => Iterable<B>): <R>(self: Pipeline<A, R>) => Pipeline<B, R>
  <A, R, B>(self: Pipeline<A, R>, f: (a: A) => Iterable<B>): Pipeline<B, R>
} = dual(2, <A, R, B>(self: Pipeline<A, R>, f: (a: A) => Iterable<B>): Pipeline<B, R> =>
  addStep(self, {
    _tag: "Transform",
    stage: "flatMap",
    run: (lane, batch) => {
      const values = lane.values as ReadonlyArray<A>
      const out: Array<B> = []
      const origins: Array<number> = []
      for (let i = 0; i < values.length; i++) {
        const origin = originOf(lane, i)
        const mark = out.length
        try {
          for (const value of f(values[i])) {
            out.push(value)
            origins.push(origin)
          }
        } catch (error) {
          out.length = mark
          origins.length = mark
          batch.deadLetter(origin, "flatMap", reasonOf(error))
        }
      }
      return { values: out, origins }
    }
  }))

/**
 * Writes the values to a sink (given as a value, or as an Effect such as a `Context.Tag` that provides
 * one), then passes them on, so a pipeline may archive raw records, decode, and write results. Transient
 * failures are retried with the pipeline's retry policy; on a permanent failure the batch is bisected to
 * isolate the records the sink rejects, which go to the dead-letter sink.
 *
 * @since 0.1.0
 * @category sinks
 */
export const to: {
  <A, R2 = never>(
    sink: RecordSink<A> | Effect.Effect<RecordSink<A>, never, R2>
  ): <B extends A, R>(self: Pipeline<B, R>) => Pipeline<B, R | R2>
  <B extends A, R, A, R2 = never>(
    self: Pipeline<B, R>,
    sink: RecordSink<A> | Effect.Effect<RecordSink<A>, never, R2>
  ): Pipeline<B, R | R2>
} = dual(2, <B extends A, R, A, R2>(
  self: Pipeline<B, R>,
  sink: RecordSink<A> | Effect.Effect<RecordSink<A>, never, R2>
): Pipeline<B, R | R2> =>
  addStep(self, {
    _tag: "Sink",
    sink: (Effect.isEffect(sink) ? sink : Effect.succeed(sink)) as Effect.Effect<RecordSink<never>, never, unknown>
  }))

/**
 * Sets how transient sink failures are retried (default `Retry.defaultSinkRetry`). When the schedule is
 * exhausted the pipeline fails with the sink's error, without checkpointing the batch.
 *
 * @since 0.1.0
 * @category options
 */
export const retry: {
  (schedule: Schedule.Schedule<unknown, SinkError>): <A, R>(self: Pipeline<A, R>) => Pipeline<A, R>
  <A, R>(self: Pipeline<A, R>, schedule: Schedule.Schedule<unknown, SinkError>): Pipeline<A, R>
} = dual(2, <A, R>(self: Pipeline<A, R>, schedule: Schedule.Schedule<unknown, SinkError>): Pipeline<A, R> =>
  fromSteps(self.name, self.steps, schedule))

// ---------------------------------------------------------------------------------------------------------
// running
// ---------------------------------------------------------------------------------------------------------

/**
 * Effect metrics of every pipeline, tagged with `pipeline`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const metrics = {
  recordsIn: Metric.counter("tributary_records_in_total", { description: "records read from sources", incremental: true }),
  recordsOut: Metric.counter("tributary_records_out_total", { description: "records whose outputs were written", incremental: true }),
  deadLettered: Metric.counter("tributary_records_dead_lettered_total", { description: "records sent to the dead-letter sink", incremental: true }),
  filtered: Metric.counter("tributary_records_filtered_total", { description: "records dropped by filters", incremental: true }),
  sinkRetries: Metric.counter("tributary_sink_retries_total", { description: "transient sink failures retried", incremental: true })
} as const

/**
 * Prepares a pipeline to process batches: resolves its sinks and the dead-letter sink once.
 *
 * @since 0.1.0
 * @category running
 */
export const processor = <A, R>(self: Pipeline<A, R>): Effect.Effect<Processor, never, DeadLetterSink | R> =>
  Effect.gen(function*() {
    const deadLetters = yield* DeadLetterSink
    const steps: Array<RuntimeStep> = []
    for (const step of self.steps) {
      steps.push(step._tag === "Transform" ? step : { _tag: "Sink", sink: yield* (step.sink as Effect.Effect<RecordSink<unknown>>) })
    }
    const tag = (metric: Metric.Metric.Counter<number>) => Metric.tagged(metric, "pipeline", self.name)
    const counters = {
      recordsIn: tag(metrics.recordsIn),
      recordsOut: tag(metrics.recordsOut),
      deadLettered: tag(metrics.deadLettered),
      filtered: tag(metrics.filtered),
      sinkRetries: tag(metrics.sinkRetries)
    }
    const totals = { batches: 0, recordsIn: 0, recordsOut: 0, deadLettered: 0, filtered: 0 }

    // Transient failures are retried; the retry counter sees each one.
    const withRetry = <E extends SinkError>(write: Effect.Effect<void, E>) =>
      write.pipe(
        Effect.tapError((error) => isTransient(error) ? Metric.increment(counters.sinkRetries) : Effect.void),
        Effect.retry({ schedule: self.retrySchedule, while: isTransient })
      )

    // A permanent failure is narrowed down by halves until the rejected records are alone.
    const writeBisecting = (
      sink: RecordSink<unknown>,
      values: ReadonlyArray<unknown>,
      origins: ReadonlyArray<number> | null,
      batch: BatchState
    ): Effect.Effect<void, SinkError> =>
      withRetry(sink.write(values)).pipe(
        Effect.catchIf((error) => !isTransient(error), (error) => {
          if (values.length === 1) {
            return Effect.sync(() => batch.deadLetter(origins === null ? 0 : origins[0], `sink:${sink.name}`, error.reason))
          }
          const half = values.length >>> 1
          const originsOf = (from: number, to: number) =>
            origins === null ? Array.from({ length: to - from }, (_, i) => from + i) : origins.slice(from, to)
          return Effect.zipRight(
            writeBisecting(sink, values.slice(0, half), originsOf(0, half), batch),
            Effect.suspend(() => writeBisecting(sink, values.slice(half), originsOf(half, values.length), batch))
          )
        })
      )

    const writeDeadLetters = (letters: ReadonlyArray<DeadLetter>) =>
      withRetry(deadLetters.write(letters)).pipe(
        Effect.mapError((error) =>
          new SinkError({
            sink: deadLetters.name,
            reason: `dead letters could not be stored, the batch stays unacknowledged: ${error.reason}`,
            retryability: error.retryability,
            cause: error
          })
        )
      )

    const process = Effect.fn("Pipeline.process")(function*(records: ReadonlyArray<SourceRecord>) {
      const now = yield* Clock.currentTimeMillis
      const batch = new BatchState(records, self.name, now)
      let lane: Lane = { values: records, origins: null }
      for (const step of steps) {
        if (step._tag === "Transform") {
          lane = step.run(lane, batch)
        } else if (lane.values.length > 0) {
          const before = batch.deadLetters.length
          yield* writeBisecting(step.sink, lane.values, lane.origins, batch)
          if (batch.deadLetters.length > before) lane = batch.withoutDeadLetters(lane)
        }
      }
      if (batch.deadLetters.length > 0) yield* writeDeadLetters(batch.deadLetters)
      const counts = batch.count(lane)
      totals.batches++
      totals.recordsIn += counts.recordsIn
      totals.recordsOut += counts.recordsOut
      totals.deadLettered += counts.deadLettered
      totals.filtered += counts.filtered
      yield* Metric.incrementBy(counters.recordsIn, counts.recordsIn)
      yield* Metric.incrementBy(counters.recordsOut, counts.recordsOut)
      if (counts.deadLettered > 0) yield* Metric.incrementBy(counters.deadLettered, counts.deadLettered)
      if (counts.filtered > 0) yield* Metric.incrementBy(counters.filtered, counts.filtered)
      return counts
    })

    return {
      process,
      summary: Effect.sync(() => ({ ...totals }))
    }
  })

/**
 * Processes one shard: each batch in order, checkpointed after it is durable.
 *
 * @since 0.1.0
 * @category running
 */
export const runShard = (processor: Processor, shard: ShardReader): Effect.Effect<void, PipelineError> =>
  shard.batches.pipe(
    Stream.runForEach((records) =>
      Effect.zipRight(
        processor.process(records),
        records.length > 0 ? shard.checkpoint(records[records.length - 1]) : Effect.void
      )
    ),
    Effect.withSpan("Pipeline.runShard", { attributes: { shardId: shard.shardId } })
  )

/**
 * Runs the pipeline over every shard of the `RecordSource`, each shard in its own fiber. Completes when
 * the source ends (a bounded source); fails with the first error no retry could overcome, interrupting
 * the other shards.
 *
 * @since 0.1.0
 * @category running
 */
export const run = <A, R>(
  self: Pipeline<A, R>
): Effect.Effect<Summary, PipelineError, RecordSource | DeadLetterSink | R> =>
  Effect.gen(function*() {
    const source = yield* RecordSource
    const running = yield* processor(self)
    yield* source.shards.pipe(
      Stream.mapEffect((shard) => runShard(running, shard), { concurrency: "unbounded", unordered: true }),
      Stream.runDrain
    )
    return yield* running.summary
  }).pipe(Effect.withSpan("Pipeline.run", { attributes: { pipeline: self.name } }))

// ---------------------------------------------------------------------------------------------------------
// internal
// ---------------------------------------------------------------------------------------------------------

type RuntimeStep = TransformStep | { readonly _tag: "Sink"; readonly sink: RecordSink<unknown> }

const DEAD = 1
const OUT = 2

/**
 * Per-batch bookkeeping: which records were dead-lettered, and the dead letters themselves.
 *
 * @since 0.1.0
 * @category models
 */
export class BatchState {
  readonly status: Uint8Array
  readonly deadLetters: Array<DeadLetter> = []

  constructor(
    readonly records: ReadonlyArray<SourceRecord>,
    readonly pipeline: string,
    readonly now: number
  ) {
    this.status = new Uint8Array(records.length)
  }

  /** Sends a record to the dead letters once; later failures of the same record add nothing. */
  deadLetter(origin: number, stage: string, reason: string, format?: string): void {
    if (this.status[origin] === DEAD) return
    this.status[origin] = DEAD
    this.deadLetters.push(
      fromRecord(this.records[origin], { pipeline: this.pipeline, stage, reason, format, failedAt: this.now })
    )
  }

  /** Drops the values of dead-lettered records, so no later stage sees them. */
  withoutDeadLetters(lane: Lane): Lane {
    const values: Array<unknown> = []
    const origins: Array<number> = []
    for (let i = 0; i < lane.values.length; i++) {
      const origin = originOf(lane, i)
      if (this.status[origin] !== DEAD) {
        values.push(lane.values[i])
        origins.push(origin)
      }
    }
    return { values, origins }
  }

  count(lane: Lane): Counts {
    for (let i = 0; i < lane.values.length; i++) {
      const origin = originOf(lane, i)
      if (this.status[origin] !== DEAD) this.status[origin] = OUT
    }
    let recordsOut = 0
    let deadLettered = 0
    for (let i = 0; i < this.status.length; i++) {
      if (this.status[i] === OUT) recordsOut++
      else if (this.status[i] === DEAD) deadLettered++
    }
    return {
      recordsIn: this.records.length,
      recordsOut,
      deadLettered,
      filtered: this.records.length - recordsOut - deadLettered
    }
  }
}

const originOf = (lane: Lane, i: number): number => lane.origins === null ? i : lane.origins[i]

const reasonOf = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : `thrown: ${String(error)}`

const PipelineProto = {
  [TypeId]: { _A: (_: never) => _, _R: (_: never) => _ },
  pipe() {
    return pipeArguments(this, arguments)
  }
}

const fromSteps = <A, R>(
  name: string,
  steps: ReadonlyArray<Step>,
  retrySchedule: Schedule.Schedule<unknown, SinkError>
): Pipeline<A, R> => Object.assign(Object.create(PipelineProto), { name, steps, retrySchedule })

const addStep = <A, R, B, R2>(self: Pipeline<A, R>, step: Step): Pipeline<B, R2> =>
  fromSteps(self.name, [...self.steps, step], self.retrySchedule)
