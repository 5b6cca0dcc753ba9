/**
 * How a pipeline runs: its steps made into a `Processor` once per run (sinks resolved, stage state built),
 * batches taken through every step (sinks retried, permanent failures bisected down to the records a sink
 * rejects, dead letters stored), the checkpoint each batch allows, one shard's loop and the run over a
 * source's shards. `Pipeline.ts` holds the pipeline value and its stages, and re-exports what is public here.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"
import type { DeadLetter } from "../DeadLetter.js"
import { DeadLetterSink } from "../DeadLetter.js"
import * as MetricSeries from "../MetricSeries.js"
import type { Checkpoint, Position, ShardReader } from "../RecordSource.js"
import { RecordSource } from "../RecordSource.js"
import type { RecordSink } from "../RecordSink.js"
import * as Retry from "../Retry.js"
import * as SequenceNumber from "../SequenceNumber.js"
import type { SourceRecord } from "../SourceRecord.js"
import type { CheckpointError, InvalidOptions, SourceError } from "../TributaryError.js"
import { isTransient, SinkError } from "../TributaryError.js"
import type { BatchEvent, Lane } from "./batch.js"
import { BatchState, emptyLane, originOf } from "./batch.js"
import * as Checkpointer from "./checkpointer.js"
import { thrownReason } from "./reason.js"

/** What running needs of a pipeline (every `Pipeline` is one). */
export interface Runnable {
  readonly name: string
  readonly steps: ReadonlyArray<Step>
  readonly retrySchedule: Schedule.Schedule<unknown, SinkError>
  readonly whenRetriesExhausted: "fail" | "dead-letter"
}

/**
 * How a pipeline is held: its steps, in order. Exported for the runners of other packages; the stage types
 * work on internal batch representations and are not an extension point (build pipelines with the
 * combinators).
 *
 * @since 0.1.0
 * @category internal
 */
export type Step = TransformStep | SinkStep

/**
 * A stage over whole batches. `make` builds the stage's state for one run (and may read services, e.g. a
 * side-output sink).
 *
 * @since 0.1.0
 * @category internal
 */
export interface TransformStep {
  readonly _tag: "Transform"
  readonly stage: string
  /** Fails when the stage was given options that cannot work (an invalid aggregate). */
  readonly make: Effect.Effect<Stage, InvalidOptions, unknown>
}

/**
 * The running form of a transform step.
 *
 * @since 0.1.0
 * @category internal
 */
export interface Stage {
  /** Runs over a page of records, or over an empty lane on a timer tick or at the end of a shard. */
  readonly run: (lane: Lane, batch: BatchState) => Lane
  /** Called when a shard starts, with the checkpoint it resumes after. */
  readonly startShard?: (shardId: string, resumeFrom: Checkpoint | undefined, now: number) => void
  /** Called when this process stops processing a shard (its lease moved): drop what is held for it. */
  readonly stopShard?: (shardId: string) => void
  /**
   * How far the shard may be checkpointed given what the stage still holds (undefined: not at all yet).
   * Stages without it hold nothing back.
   */
  readonly checkpoint?: (shardId: string) => Checkpoint | undefined
  /** Set when the stage must see time pass without records (processing time, idleness, rate limits). */
  readonly tickEvery?: Duration.Duration
}

/**
 * @since 0.1.0
 * @category internal
 */
export interface SinkStep {
  readonly _tag: "Sink"
  readonly sink: Effect.Effect<RecordSink<never>, never, unknown>
}

/**
 * Counts of records, each counted once: `recordsIn = recordsOut + deadLettered + late + filtered`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Counts {
  readonly recordsIn: number
  /** Records that reached the end of the pipeline, or were absorbed into a window. */
  readonly recordsOut: number
  readonly deadLettered: number
  /** Records behind their windows' allowed lateness, sent to the late output. */
  readonly late: number
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
 * What one batch (or tick, or shard end) produced.
 *
 * @since 0.1.0
 * @category models
 */
export interface Outcome extends Counts {
  /** Where the shard may now be checkpointed; undefined: leave the checkpoint where it is. */
  readonly checkpoint: Checkpoint | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export type PipelineError = SinkError | SourceError | CheckpointError | InvalidOptions

/**
 * Runs a pipeline's stages over the batches of any number of shards; the building block of `run`, of
 * Lambda handlers and of batch jobs. Each shard's batches must be given in order; different shards may
 * interleave.
 *
 * @since 0.1.0
 * @category models
 */
export interface Processor {
  /** Registers a shard before its first batch (again for a shard already started: nothing happens). */
  readonly startShard: (shardId: string, resumeFrom?: Checkpoint) => Effect.Effect<void>
  /**
   * Forgets a shard this process no longer processes (its lease moved to another worker): stages drop what
   * they hold for it, and a later `startShard` begins afresh from the checkpoint it is given.
   */
  readonly stopShard: (shardId: string) => Effect.Effect<void>
  /** Processes one page of one shard: returns once its outputs and dead letters are durable. */
  readonly process: (shardId: string, records: ReadonlyArray<SourceRecord>) => Effect.Effect<Outcome, SinkError>
  /** Lets time pass for the shard's stages (processing-time windows, idleness). */
  readonly tick: (shardId: string) => Effect.Effect<Outcome, SinkError>
  /** The shard ended: stages flush what it held (windows fire). */
  readonly endShard: (shardId: string) => Effect.Effect<Outcome, SinkError>
  /** How often `tick` is needed; undefined when no stage needs time to pass. */
  readonly tickEvery: Duration.Duration | undefined
  /** Totals over every batch processed so far. */
  readonly summary: Effect.Effect<Summary>
}

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
  late: Metric.counter("tributary_records_late_total", { description: "records behind their windows' allowed lateness", incremental: true }),
  filtered: Metric.counter("tributary_records_filtered_total", { description: "records dropped by filters", incremental: true }),
  sinkRetries: Metric.counter("tributary_sink_retries_total", { description: "transient sink failures retried", incremental: true })
} as const

/**
 * Prepares a pipeline to process batches: resolves its sinks and the dead-letter sink once, and builds
 * the state of its stages.
 *
 * @since 0.1.0
 * @category running
 */
export const processor = (self: Runnable): Effect.Effect<Processor, InvalidOptions, DeadLetterSink | unknown> =>
  Effect.gen(function*() {
    const deadLetters = yield* DeadLetterSink
    const steps: Array<RuntimeStep> = []
    for (const step of self.steps) {
      steps.push(
        step._tag === "Transform"
          ? { _tag: "Stage", name: step.stage, stage: yield* (step.make as Effect.Effect<Stage, InvalidOptions>) }
          : { _tag: "Sink", sink: yield* (step.sink as Effect.Effect<RecordSink<unknown>>) }
      )
    }
    const stages = steps.flatMap((step) => step._tag === "Stage" ? [step.stage] : [])
    const holders = stages.filter((stage) => stage.checkpoint !== undefined)
    const ticks = stages.flatMap((stage) => stage.tickEvery === undefined ? [] : [stage.tickEvery])
    const tag = (metric: Metric.Metric.Counter<number>) => MetricSeries.make(metric, { pipeline: self.name })
    const counters = {
      recordsIn: yield* tag(metrics.recordsIn),
      recordsOut: yield* tag(metrics.recordsOut),
      deadLettered: yield* tag(metrics.deadLettered),
      late: yield* tag(metrics.late),
      filtered: yield* tag(metrics.filtered),
      sinkRetries: yield* tag(metrics.sinkRetries)
    }
    const totals = { batches: 0, recordsIn: 0, recordsOut: 0, deadLettered: 0, late: 0, filtered: 0 }

    // Transient failures are retried; the counter sees each retry the schedule allows.
    const schedule = self.retrySchedule.pipe(Schedule.tapOutput(() => counters.sinkRetries.update(1)))
    // (a write that succeeds at once, nearly every one, builds no retry state)
    const withRetry = <E extends SinkError>(write: Effect.Effect<void, E>) =>
      Retry.afterFirstFailure(Retry.transient(schedule))(write)

    // A permanent failure is narrowed down by halves until the rejected values are alone. What follows a
    // failure (the retries, then dead letters or halves) is set up once the write failed: a write that
    // succeeds at once runs through one handler.
    const writeBisecting = (
      sink: RecordSink<unknown>,
      values: ReadonlyArray<unknown>,
      origins: ReadonlyArray<number> | null,
      batch: BatchState,
      traced: boolean
    ): Effect.Effect<void, SinkError> => {
      const write = traced
        ? Effect.withSpan(sink.write(values), "RecordSink.write", { attributes: { sink: sink.name, values: values.length }, captureStackTrace: false })
        : sink.write(values)
      return Retry.afterFirstFailure((attempt: Effect.Effect<void, SinkError>) =>
        Retry.transient(schedule)(attempt).pipe(
          Effect.catchIf((error) => isTransient(error) && self.whenRetriesExhausted === "dead-letter", (error) =>
            Effect.sync(() => {
              const reason = `retries exhausted: ${error.reason}`
              for (let i = 0; i < values.length; i++) {
                batch.deadLetter(origins === null ? i : origins[i], `sink:${sink.name}`, reason, undefined, values[i])
              }
            })),
          Effect.catchIf((error) => !isTransient(error), (error) => {
            if (values.length === 1) {
              return Effect.sync(() =>
                batch.deadLetter(origins === null ? 0 : origins[0], `sink:${sink.name}`, error.reason, undefined, values[0])
              )
            }
            const half = values.length >>> 1
            const originsOf = (from: number, to: number) =>
              origins === null ? Array.from({ length: to - from }, (_, i) => from + i) : origins.slice(from, to)
            return Effect.zipRight(
              writeBisecting(sink, values.slice(0, half), originsOf(0, half), batch, traced),
              Effect.suspend(() => writeBisecting(sink, values.slice(half), originsOf(half, values.length), batch, traced))
            )
          })
        )
      )(write)
    }

    const writeDeadLetters = (letters: ReadonlyArray<DeadLetter>, traced: boolean) =>
      withRetry(
        traced
          ? Effect.withSpan(deadLetters.write(letters), "DeadLetterSink.write", {
            attributes: { sink: deadLetters.name, letters: letters.length },
            captureStackTrace: false
          })
          : deadLetters.write(letters)
      ).pipe(
        Effect.mapError((error) =>
          new SinkError({
            sink: deadLetters.name,
            reason: `dead letters could not be stored, the batch stays unacknowledged: ${error.reason}`,
            retryability: error.retryability,
            cause: error
          })
        )
      )

    // Where the shard may be checkpointed: the earliest position a stage still holds, else the batch's end.
    const checkpointOf = (shardId: string, records: ReadonlyArray<SourceRecord>): Checkpoint | undefined => {
      if (holders.length === 0) {
        const last = records[records.length - 1]
        return last === undefined ? undefined : { sequenceNumber: last.sequenceNumber, subSequenceNumber: last.subSequenceNumber }
      }
      let earliest: Checkpoint | undefined
      for (const stage of holders) {
        const held = stage.checkpoint!(shardId)
        if (held === undefined) return undefined
        if (earliest === undefined || comparePosition(held, earliest) < 0) earliest = held
      }
      return earliest
    }

    const handle = (shardId: string, event: BatchEvent, records: ReadonlyArray<SourceRecord>) =>
      Effect.tracerWith((tracer) =>
        tracer === untraced
          ? processBatch(shardId, event, records, false)
          : Effect.withSpan(processBatch(shardId, event, records, true), "Pipeline.process", { captureStackTrace: false })
      )

    // A page's steps, the sink writes between them. Plain combinators, not an `Effect.gen` made per page: a
    // generator function made per page keeps the page alive past V8's young-generation collections (it is
    // promoted, and freed only by a full collection; see docs/consumer.md).
    const runSteps = (from: number, lane: Lane, batch: BatchState, traced: boolean): Effect.Effect<Lane, SinkError> => {
      for (let i = from; i < steps.length; i++) {
        const step = steps[i]
        if (step._tag === "Stage") {
          try {
            lane = step.stage.run(lane, batch)
          } catch (error) {
            // Stages fail records one at a time; this is the backstop for a fault of the stage itself, so
            // that even then the shard moves on, the page's records dead-lettered with the reason.
            const reason = `the ${step.name} stage failed for the whole page: ${thrownReason(error)}`
            for (let k = 0; k < lane.values.length; k++) {
              batch.deadLetter(originOf(lane, k), step.name, reason, undefined, lane.values[k])
            }
            return Effect.zipRight(Effect.logError(reason), runSteps(i + 1, emptyLane, batch, traced))
          }
        } else if (lane.values.length > 0) {
          const before = batch.deadLetters.length
          const written = lane
          return Effect.flatMap(
            writeBisecting(step.sink, written.values, written.origins, batch, traced),
            () => runSteps(i + 1, batch.deadLetters.length > before ? batch.withoutDeadLetters(written) : written, batch, traced)
          )
        }
      }
      return Effect.succeed(lane)
    }

    // What the page produced, once its side outputs and dead letters are written (without an effect for
    // what a page does not have).
    const finish = (batch: BatchState, lane: Lane, traced: boolean): Effect.Effect<Outcome, SinkError> => {
      const { event, records, shardId } = batch
      const outcome = (): Effect.Effect<Outcome> => {
        const counts = batch.count(lane)
        if (event === "records") totals.batches++
        totals.recordsIn += counts.recordsIn
        totals.recordsOut += counts.recordsOut
        totals.deadLettered += counts.deadLettered
        totals.late += counts.late
        totals.filtered += counts.filtered
        if (counts.recordsIn > 0) {
          counters.recordsIn.unsafeUpdate(counts.recordsIn)
          counters.recordsOut.unsafeUpdate(counts.recordsOut)
          if (counts.deadLettered > 0) counters.deadLettered.unsafeUpdate(counts.deadLettered)
          if (counts.late > 0) counters.late.unsafeUpdate(counts.late)
          if (counts.filtered > 0) counters.filtered.unsafeUpdate(counts.filtered)
        }
        const result: Outcome = { ...counts, checkpoint: checkpointOf(shardId, records) }
        return traced ? Effect.as(Effect.annotateCurrentSpan({ shardId, event, ...counts }), result) : Effect.succeed(result)
      }
      // side outputs first: their rejected values become dead letters too
      const stored = () => batch.deadLetters.length > 0 ? Effect.flatMap(writeDeadLetters(batch.deadLetters, traced), outcome) : outcome()
      if (batch.sideOutputs.size === 0) return stored()
      return Effect.flatMap(
        Effect.forEach(batch.sideOutputs, ([sink, output]) => writeBisecting(sink, output.values, output.origins, batch, traced), { discard: true }),
        stored
      )
    }

    const processBatch = (shardId: string, event: BatchEvent, records: ReadonlyArray<SourceRecord>, traced: boolean) =>
      Effect.clockWith((clock) => {
        const batch = new BatchState(shardId, event, records, self.name, clock.unsafeCurrentTimeMillis())
        const lane: Lane = event === "records" ? { values: records, origins: null } : emptyLane
        return Effect.flatMap(runSteps(0, lane, batch, traced), (out) => finish(batch, out, traced))
      })

    const running: Processor = {
      startShard: (shardId, resumeFrom) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          for (const stage of stages) stage.startShard?.(shardId, resumeFrom, now)
        }),
      stopShard: (shardId) =>
        Effect.sync(() => {
          for (const stage of stages) stage.stopShard?.(shardId)
        }),
      process: (shardId, records) => handle(shardId, "records", records),
      tick: (shardId) => handle(shardId, "tick", []),
      endShard: (shardId) => handle(shardId, "end", []),
      tickEvery: ticks.length === 0 ? undefined : ticks.reduce((a, b) => Duration.min(a, b)),
      summary: Effect.sync(() => ({ ...totals }))
    }
    return running
  })

/**
 * Processes one shard: each batch in order, its checkpoint offered once it is durable (and, with windows,
 * no further than the earliest record an open window still needs). Checkpoints are stored off the read
 * path (`internal/checkpointer`: one write in flight, the latest wins, at most once per the reader's
 * `checkpointInterval`), and what was offered is stored before this returns, also when the reading
 * failed (its failure then comes first in the cause, a failed last store after it); a failed checkpoint
 * stops the reading. When the shard's stream ends, stages flush what they hold for it.
 *
 * @since 0.1.0
 * @category running
 */
export const runShard = (processor: Processor, shard: ShardReader): Effect.Effect<void, PipelineError> =>
  Effect.gen(function*() {
    const traced = (yield* Effect.tracer) !== untraced
    const interval = shard.checkpointInterval === undefined ? 0 : Duration.toMillis(Duration.decode(shard.checkpointInterval))
    const checkpointer = yield* Checkpointer.make(shard.checkpoint, interval)
    let offered = shard.resumeFrom
    // the batch's span says what it checkpointed
    const store = (checkpoint: Checkpoint | undefined): Effect.Effect<void, CheckpointError> => {
      if (checkpoint === undefined || (offered !== undefined && sameCheckpoint(offered, checkpoint))) {
        return traced ? Effect.annotateCurrentSpan("checkpoint", "unchanged") : Effect.void
      }
      offered = checkpoint
      const offer = checkpointer.offer(checkpoint)
      return traced ? Effect.zipRight(Effect.annotateCurrentSpan("checkpoint", checkpoint.sequenceNumber), offer) : offer
    }
    yield* processor.startShard(shard.shardId, shard.resumeFrom)
    // Each batch is a trace of its own (processing, sink writes, checkpoint), linked to the shard's span: a
    // shard's span lasts as long as its lease, and one trace per shard would grow without bound.
    const shardSpan = yield* Effect.option(Effect.currentSpan)
    const batchSpan = {
      root: true,
      // made per page: no stack trace to capture
      captureStackTrace: false,
      attributes: { shardId: shard.shardId },
      links: Option.toArray(Option.map(shardSpan, (span): Tracer.SpanLink => ({ _tag: "SpanLink", span, attributes: {} })))
    }
    const inBatchSpan = <A, E>(effect: Effect.Effect<A, E>) => traced ? Effect.withSpan(effect, "Pipeline.batch", batchSpan) : effect
    // undefined: a tick
    const handle = (records: ReadonlyArray<SourceRecord> | undefined) =>
      inBatchSpan(Effect.flatMap(
        records === undefined ? processor.tick(shard.shardId) : processor.process(shard.shardId, records),
        (outcome) => store(outcome.checkpoint)
      ))
    const eachPage = processor.tickEvery === undefined
      ? shard.pull === undefined ? Stream.runForEach(shard.batches, handle) : pullEach(shard.pull, handle)
      : Stream.runForEach(
        Stream.merge(shard.batches, Stream.tick(processor.tickEvery).pipe(Stream.as(undefined)), { haltStrategy: "left" }),
        handle
      )
    const reading = Effect.zipRight(
      eachPage,
      inBatchSpan(Effect.flatMap(processor.endShard(shard.shardId), (flushed) => store(flushed.checkpoint)))
    )
    const read = yield* Effect.exit(Effect.raceFirst(reading, checkpointer.failed))
    if (Exit.isFailure(read) && Cause.isInterruptedOnly(read.cause)) return yield* read
    // what was processed is stored, also when the reading failed (a source error, the worker stopping, a
    // sink failing beyond its retries): the reading's failure comes first, then the flush's if it failed
    // too (a caller that stopped the reading must know the last checkpoint was not stored)
    const stored = yield* Effect.exit(checkpointer.flush)
    if (Exit.isSuccess(read) || Exit.isSuccess(stored)) return yield* Exit.isFailure(read) ? read : stored
    return yield* Cause.contains(read.cause, stored.cause) ? read : Exit.failCause(Cause.sequential(read.cause, stored.cause))
  }).pipe(Effect.scoped, Effect.withSpan("Pipeline.runShard", { attributes: { shardId: shard.shardId } }))

/**
 * Runs the pipeline over every shard of the `RecordSource`, each shard in its own fiber. Completes when
 * the source ends (a bounded source); fails with the first error no retry could overcome, interrupting
 * the other shards.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (
  self: Runnable
): Effect.Effect<Summary, PipelineError, RecordSource | DeadLetterSink | unknown> =>
  Effect.gen(function*() {
    const source = yield* RecordSource
    const running = yield* processor(self)
    yield* source.shards.pipe(
      // every shard the source hands over together is registered before any of them runs, so a window
      // shared by shards never advances on the first shard alone
      Stream.mapChunksEffect((shards) =>
        Effect.as(Effect.forEach(shards, (shard) => running.startShard(shard.shardId, shard.resumeFrom)), shards)
      ),
      Stream.mapEffect((shard) => runShard(running, shard), { concurrency: "unbounded", unordered: true }),
      Stream.runDrain
    )
    return yield* running.summary
  }).pipe(Effect.withSpan("Pipeline.run", { attributes: { pipeline: self.name } }))

// ---------------------------------------------------------------------------------------------------------
// internal
// ---------------------------------------------------------------------------------------------------------

/**
 * The tracer Effect runs with when none is installed: its spans go nowhere, so the spans made per page
 * (`Pipeline.batch`, `Pipeline.process`, the sink writes) are made only under another tracer.
 */
const untraced = Effect.runSync(Effect.tracer)

/**
 * Each page of a reader's `pull`, handed to `f` in order until the pull ends: a loop of plain effects, where
 * `Stream.runForEach` over `batches` would keep every page alive past V8's young-generation collections.
 */
const pullEach = <E>(
  open: NonNullable<ShardReader["pull"]>,
  f: (records: ReadonlyArray<SourceRecord>) => Effect.Effect<void, E>
): Effect.Effect<void, E | SourceError> =>
  Effect.scoped(Effect.flatMap(open, (pull) => {
    const next: Effect.Effect<void, E | SourceError> = Effect.matchEffect(pull, {
      onFailure: (end) => Option.isNone(end) ? Effect.void : Effect.fail(end.value),
      onSuccess: (records) => Effect.zipRight(f(records), next)
    })
    return next
  }))

type RuntimeStep =
  | { readonly _tag: "Stage"; readonly name: string; readonly stage: Stage }
  | { readonly _tag: "Sink"; readonly sink: RecordSink<unknown> }

const comparePosition = (a: Position, b: Position): number =>
  SequenceNumber.compare(a.sequenceNumber, b.sequenceNumber) || a.subSequenceNumber - b.subSequenceNumber

const sameCheckpoint = (a: Checkpoint, b: Checkpoint): boolean =>
  comparePosition(a, b) === 0 && a.maxEventTime === b.maxEventTime && a.watermark === b.watermark &&
  (a.processed === b.processed ||
    (a.processed !== undefined && b.processed !== undefined && comparePosition(a.processed, b.processed) === 0))

