/**
 * A pipeline is a value: a name, the stages a batch of source records goes through (decode, map, filter,
 * flatMap, sinks) and a retry policy, composed with `pipe`. Running it is an Effect that needs a
 * `RecordSource`, a `DeadLetterSink` and whatever its sinks need, so swapping layers swaps the world.
 *
 * Delivery: every batch is written to its sinks before its shard is checkpointed (at least once); records
 * that cannot be decoded or that a sink rejects permanently go to the dead-letter sink with their reason;
 * every record is counted once as out, dead-lettered, late or filtered.
 *
 * @since 0.1.0
 */
import type { Aggregate } from "./Aggregate.js"
import { validate as validateAggregate } from "./Aggregate.js"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { dual } from "effect/Function"
import type { Pipeable } from "effect/Pipeable"
import { pipeArguments } from "effect/Pipeable"
import * as Schedule from "effect/Schedule"
import { DeadLetterSink } from "./DeadLetter.js"
import type { DecodedBatch, Decoder } from "./Decoder.js"
import { valueOrigins } from "./Decoder.js"
import { DERIVED, originOf } from "./internal/batch.js"
import { isoTime, thrownReason } from "./internal/reason.js"
import * as Runner from "./internal/runner.js"
import type { WindowSpec } from "./internal/windowOperator.js"
import { emptyEmitted, WindowOperator } from "./internal/windowOperator.js"
import type { ShardReader } from "./RecordSource.js"
import { RecordSource } from "./RecordSource.js"
import type { RecordSink } from "./RecordSink.js"
import * as Retry from "./Retry.js"
import type { SourceRecord } from "./SourceRecord.js"
import type { InvalidOptions, SinkError } from "./TributaryError.js"
import { DecodeFailure } from "./TributaryError.js"
import type { WindowAssigner, WindowResult } from "./Window.js"

/**
 * The key every pipeline carries (with its phantom types), which `isPipeline` looks for.
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@tributary/core/Pipeline")

/**
 * The type of `TypeId`.
 *
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
  /** Names the pipeline in dead letters (`pipeline`), metrics and spans. */
  readonly name: string
  /** The stages and sinks, in the order they were added. */
  readonly steps: ReadonlyArray<Step>
  /** How transient sink failures are retried (set with `retry`). Default `Retry.defaultSinkRetry`. */
  readonly retrySchedule: Schedule.Schedule<unknown, SinkError>
  /** What happens to a batch whose transient sink failures outlast the retry schedule. */
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
export type Step = Runner.Step

/**
 * A stage over whole batches (see `Step`).
 *
 * @since 0.1.0
 * @category internal
 */
export type TransformStep = Runner.TransformStep

/**
 * The running form of a transform step (see `Step`).
 *
 * @since 0.1.0
 * @category internal
 */
export type Stage = Runner.Stage

/**
 * A step writing to a sink (see `Step`).
 *
 * @since 0.1.0
 * @category internal
 */
export type SinkStep = Runner.SinkStep

/**
 * Counts of records, each counted once: `recordsIn = recordsOut + deadLettered + late + filtered`.
 *
 * @since 0.1.0
 * @category models
 */
export type Counts = Runner.Counts

/**
 * The counts and the batches of a run.
 *
 * @since 0.1.0
 * @category models
 */
export type Summary = Runner.Summary

/**
 * What one batch (or tick, or shard end) produced, and where the shard may now be checkpointed.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome = Runner.Outcome

/**
 * What a run can fail with: a sink or a source no retry could overcome, a checkpoint that could not be
 * stored, or options that cannot work (an invalid aggregate).
 *
 * @since 0.1.0
 * @category models
 */
export type PipelineError = Runner.PipelineError

/**
 * Runs a pipeline's stages over the batches of any number of shards; the building block of `run`, of
 * Lambda handlers and of batch jobs. Each shard's batches must be given in order; different shards may
 * interleave.
 *
 * @since 0.1.0
 * @category models
 */
export type Processor = Runner.Processor

// ---------------------------------------------------------------------------------------------------------
// constructors and stages
// ---------------------------------------------------------------------------------------------------------

/** A stateless stage: the same `run` for every run of the pipeline. */
const stateless = (stage: string, run: Stage["run"]): TransformStep => ({
  _tag: "Transform",
  stage,
  make: Effect.succeed({ run })
})

/**
 * A pipeline over raw source records.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (name: string): Pipeline<SourceRecord> =>
  fromSteps(name, [], Retry.defaultSinkRetry as Schedule.Schedule<unknown, SinkError>, "fail")

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
  addStep(self, stateless("decode", (lane, batch) => {
    const decoded = decodeBatch(decoder, lane.values as ReadonlyArray<SourceRecord>)
    if (decoded.failures.length === 0) return { values: decoded.values, origins: lane.origins }
    for (let i = 0; i < decoded.failures.length; i++) {
      const failure = decoded.failures[i]
      const at = failure.position === undefined
        ? ""
        : ` (line ${failure.position.line}, column ${failure.position.column})`
      batch.deadLetter(originOf(lane, decoded.failureOrigins[i]), "decode", `${failure.reason}${at}`, failure.format)
    }
    const origins = valueOrigins(decoded)
    for (let i = 0; i < origins.length; i++) origins[i] = originOf(lane, origins[i])
    return { values: decoded.values, origins }
  })))

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
  addStep(self, stateless("map", (lane, batch) => {
    const values = lane.values as ReadonlyArray<A>
    const out = new Array<B>(values.length)
    let threw = false
    for (let i = 0; i < values.length; i++) {
      try {
        out[i] = f(values[i])
      } catch (error) {
        threw = true
        batch.deadLetter(originOf(lane, i), "map", thrownReason(error))
      }
    }
    return threw ? batch.withoutDeadLetters({ values: out, origins: lane.origins }) : { values: out, origins: lane.origins }
  })))

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
  addStep(self, stateless("filter", (lane, batch) => {
    const values = lane.values as ReadonlyArray<A>
    // Until the first drop the lane passes through as it is: no copy when everything is kept.
    let kept: Array<A> | null = null
    let origins: Array<number> | null = null
    for (let i = 0; i < values.length; i++) {
      let keep = false
      try {
        keep = predicate(values[i])
      } catch (error) {
        batch.deadLetter(originOf(lane, i), "filter", thrownReason(error))
      }
      if (kept === null) {
        if (keep) continue
        kept = values.slice(0, i)
        origins = []
        for (let j = 0; j < i; j++) origins.push(originOf(lane, j))
      } else if (keep) {
        kept.push(values[i])
        origins!.push(originOf(lane, i))
      }
    }
    return kept === null ? lane : { values: kept, origins }
  })))

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
  addStep(self, stateless("flatMap", (lane, batch) => {
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
        batch.deadLetter(origin, "flatMap", thrownReason(error))
      }
    }
    return { values: out, origins }
  })))

/**
 * Options of `window`.
 *
 * @since 0.1.0
 * @category models
 */
export interface WindowOptions<A, K, S, O, R2> {
  /** `Window.tumbling`, `Window.hopping` or `Window.session`. */
  readonly window: WindowAssigner
  /** Groups values into separate windows (a string or a number). */
  readonly key: (value: A) => K
  /** Epoch milliseconds of each value. Without it, windows run on processing time (the Clock). */
  readonly eventTime?: (value: A) => number
  /**
   * What is computed over the values of each key and window, e.g. `Aggregate.count`, or `Aggregate.stats` of a
   * field through `Aggregate.mapInput`. Made with invalid options, it fails the run with `InvalidOptions`.
   */
  readonly aggregate: Aggregate<A, S, O>
  /** How far out of order values may arrive: the watermark trails the highest event time by this. Default 0. */
  readonly maxOutOfOrderness?: Duration.DurationInput
  /**
   * With `perShard: false`, a shard that delivered nothing for this long stops holding the shared watermark
   * back. Default: never.
   */
  readonly idleTimeout?: Duration.DurationInput
  /** How long after the watermark passed its end a window still takes late values (a late firing). Default 0. */
  readonly allowedLateness?: Duration.DurationInput
  /** "onClose" (default): one result when the watermark passes the end; "onUpdate": a result per change too. */
  readonly emit?: "onClose" | "onUpdate"
  /** With emit "onUpdate": at most one early result per window per interval. Default 0 (every batch). */
  readonly emitAtMostEvery?: Duration.DurationInput
  /** Where values later than the allowed lateness go. Default: the dead-letter sink. */
  readonly late?: RecordSink<A> | Effect.Effect<RecordSink<A>, never, R2>
  /**
   * true (default): each shard has its own windows and watermark, and results are per shard (merge them on
   * read; aggregates are mergeable). Safe when shards move between workers. false: one set of windows over
   * every shard this process reads, with the watermark the minimum over the shards.
   */
  readonly perShard?: boolean
  /** How often time is checked when nothing arrives (processing time, idleness, rate limits). Default 1 s. */
  readonly timerInterval?: Duration.DurationInput
}

/**
 * Aggregates values in windows by key, and emits a `WindowResult` per key and window when the watermark
 * passes the window's end (or on every update). Event time with a watermark per shard (bounded
 * out-of-orderness), allowed lateness with late firings, late values to a late output; processing time
 * when no `eventTime` is given. The shard is checkpointed no further than the earliest record an open
 * window still needs, so a restart rebuilds every open window exactly.
 *
 * @since 0.1.0
 * @category stages
 */
export const window: {
  <A, K, S, O, R2 = never>(
    options: WindowOptions<A, K, S, O, R2>
  ): <R>(self: Pipeline<A, R>) => Pipeline<WindowResult<K, O>, R | R2>
  <A, R, K, S, O, R2 = never>(
    self: Pipeline<A, R>,
    options: WindowOptions<A, K, S, O, R2>
  ): Pipeline<WindowResult<K, O>, R | R2>
} = dual(2, <A, R, K, S, O, R2>(
  self: Pipeline<A, R>,
  options: WindowOptions<A, K, S, O, R2>
): Pipeline<WindowResult<K, O>, R | R2> => {
  const millis = (input: Duration.DurationInput | undefined, fallback: number) =>
    input === undefined ? fallback : Duration.toMillis(Duration.decode(input))
  const spec: WindowSpec<A, K, S, O> = {
    assigner: options.window,
    key: options.key,
    eventTime: options.eventTime,
    aggregate: options.aggregate,
    maxOutOfOrderness: millis(options.maxOutOfOrderness, 0),
    idleTimeout: millis(options.idleTimeout, Infinity),
    allowedLateness: millis(options.allowedLateness, 0),
    emitOnUpdate: options.emit === "onUpdate",
    emitAtMostEvery: millis(options.emitAtMostEvery, 0),
    perShard: options.perShard ?? true
  }
  const needsTicks = spec.eventTime === undefined ||
    (!spec.perShard && Number.isFinite(spec.idleTimeout)) ||
    (spec.emitOnUpdate && spec.emitAtMostEvery > 0)
  const tickEvery = Duration.decode(options.timerInterval ?? "1 second")
  const lateSink: Effect.Effect<RecordSink<A> | undefined, never, R2> = options.late === undefined
    ? Effect.succeed(undefined)
    : sinkEffect(options.late)
  return addStep(self, {
    _tag: "Transform",
    stage: "window",
    // an aggregate made with options that cannot work fails the run before anything is processed
    make: Effect.zipRight(validateAggregate(options.aggregate), Effect.map(lateSink, (late): Stage => {
      const operator = new WindowOperator(spec)
      return {
        startShard: (shardId, resumeFrom, now) => operator.start(shardId, resumeFrom, now),
        stopShard: (shardId) => operator.stop(shardId),
        checkpoint: (shardId) => operator.checkpoint(shardId),
        ...(needsTicks ? { tickEvery } : {}),
        run: (lane, batch) => {
          const emitted = emptyEmitted<K, O>()
          const values = lane.values as ReadonlyArray<A>
          if (batch.event === "records") {
            operator.process(batch.shardId, batch.records, values, lane.origins, batch.now, emitted)
          } else if (batch.event === "tick") {
            operator.tick(batch.shardId, batch.now, emitted)
          } else {
            operator.end(batch.shardId, batch.now, emitted)
          }
          // failed and late values first, so marking the rest absorbed leaves them be
          for (let j = 0; j < emitted.failed.length; j++) {
            batch.deadLetter(originOf(lane, emitted.failed[j]), "window", emitted.failedReasons[j])
          }
          for (const { reason, window } of emitted.failedWindows) {
            batch.deadLetter(DERIVED, "window", `the window's result failed: ${reason}`, undefined, window)
          }
          if (emitted.late.length > 0) {
            const watermark = isoTime(operator.watermarkOf(batch.shardId))
            for (let j = 0; j < emitted.late.length; j++) {
              const i = emitted.late[j]
              const reason = `late: event time ${isoTime(emitted.lateTimes[j])} is more than the allowed lateness ` +
                `(${spec.allowedLateness} ms) behind the watermark ${watermark}`
              batch.late(originOf(lane, i), values[i], reason, late as RecordSink<unknown> | undefined)
            }
          }
          batch.absorbedAll(lane)
          return { values: emitted.results, origins: emitted.results.map(() => DERIVED) }
        }
      }
    }))
  })
})

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
    sink: sinkEffect(sink) as Effect.Effect<RecordSink<never>, never, unknown>
  }))

/**
 * Sets how transient sink failures are retried (default `Retry.defaultSinkRetry`). When the schedule is
 * exhausted the pipeline fails with the sink's error, without checkpointing the batch (the default,
 * `whenExhausted: "fail"`: a worker retries the shard later), or, with `whenExhausted: "dead-letter"`, the
 * values the sink would not take go to the dead-letter sink and processing goes on (Lambda's
 * MaximumRetryAttempts).
 *
 * @since 0.1.0
 * @category options
 */
export const retry: {
  (
    schedule: Schedule.Schedule<unknown, SinkError>,
    options?: { readonly whenExhausted?: "fail" | "dead-letter" }
  ): <A, R>(self: Pipeline<A, R>) => Pipeline<A, R>
  <A, R>(
    self: Pipeline<A, R>,
    schedule: Schedule.Schedule<unknown, SinkError>,
    options?: { readonly whenExhausted?: "fail" | "dead-letter" }
  ): Pipeline<A, R>
} = dual(
  (args) => isPipeline(args[0]),
  <A, R>(
    self: Pipeline<A, R>,
    schedule: Schedule.Schedule<unknown, SinkError>,
    options?: { readonly whenExhausted?: "fail" | "dead-letter" }
  ): Pipeline<A, R> =>
    fromSteps(self.name, self.steps, schedule, options?.whenExhausted ?? self.whenRetriesExhausted)
)

/**
 * Sends records older than `maxAge` (by their arrival time in the stream, against the Clock) to the
 * dead-letter sink instead of processing them (Lambda's MaximumRecordAgeInSeconds): a consumer far behind
 * skips what is too old to matter. Apply it to raw records, before `decode`.
 *
 * @since 0.1.0
 * @category stages
 */
export const maxRecordAge: {
  (maxAge: Duration.DurationInput): <R>(self: Pipeline<SourceRecord, R>) => Pipeline<SourceRecord, R>
  <R>(self: Pipeline<SourceRecord, R>, maxAge: Duration.DurationInput): Pipeline<SourceRecord, R>
} = dual(2, <R>(self: Pipeline<SourceRecord, R>, maxAge: Duration.DurationInput): Pipeline<SourceRecord, R> => {
  const limit = Duration.toMillis(Duration.decode(maxAge))
  return addStep(self, stateless("maxRecordAge", (lane, batch) => {
    const records = lane.values as ReadonlyArray<SourceRecord>
    let young: Array<SourceRecord> | null = null
    let origins: Array<number> | null = null
    for (let i = 0; i < records.length; i++) {
      const age = batch.now - records[i].arrivalTime
      const keep = age <= limit
      if (young === null) {
        if (keep) continue
        young = records.slice(0, i)
        origins = []
        for (let j = 0; j < i; j++) origins.push(originOf(lane, j))
      }
      if (keep) {
        young.push(records[i])
        origins!.push(originOf(lane, i))
      } else {
        batch.deadLetter(originOf(lane, i), "maxRecordAge", `record is ${age} ms old; at most ${limit} ms are processed`)
      }
    }
    return young === null ? lane : { values: young, origins }
  }))
})

/**
 * True for a value made by `make` and the combinators of this module.
 *
 * @since 0.1.0
 * @category guards
 */
export const isPipeline = (u: unknown): u is Pipeline<unknown, unknown> =>
  typeof u === "object" && u !== null && TypeId in u

// ---------------------------------------------------------------------------------------------------------
// running
// ---------------------------------------------------------------------------------------------------------

/**
 * Effect metrics of every pipeline, tagged with `pipeline`: records in, out, dead-lettered, late and
 * filtered, and sink retries.
 *
 * @since 0.1.0
 * @category metrics
 */
export const metrics = Runner.metrics

/**
 * Prepares a pipeline to process batches: resolves its sinks and the dead-letter sink once, and builds
 * the state of its stages. Fails with `InvalidOptions` when a stage was given options that cannot work.
 *
 * @since 0.1.0
 * @category running
 */
export const processor = <A, R>(self: Pipeline<A, R>): Effect.Effect<Processor, InvalidOptions, DeadLetterSink | R> =>
  Runner.processor(self) as Effect.Effect<Processor, InvalidOptions, DeadLetterSink | R>

/**
 * Processes one shard: each batch in order, checkpointed once it is durable (and, with windows, no further
 * than the earliest record an open window still needs). Checkpoints are stored off the read path, at most
 * once per the reader's `checkpointInterval` (the newest wins), and the last one is stored before this
 * returns, however the reading ended (a failed last store follows the reading's failure in the cause). When
 * the shard's stream ends, stages flush what they hold for it.
 *
 * @since 0.1.0
 * @category running
 */
export const runShard: (processor: Processor, shard: ShardReader) => Effect.Effect<void, PipelineError> = Runner.runShard

/**
 * Runs the pipeline over every shard of the `RecordSource`, each shard in its own fiber. Completes when
 * the source ends (a bounded source); fails with the first error no retry could overcome, interrupting
 * the other shards.
 *
 * @since 0.1.0
 * @category running
 */
export const run = <A, R>(self: Pipeline<A, R>): Effect.Effect<Summary, PipelineError, RecordSource | DeadLetterSink | R> =>
  Runner.run(self) as Effect.Effect<Summary, PipelineError, RecordSource | DeadLetterSink | R>

// ---------------------------------------------------------------------------------------------------------
// internal
// ---------------------------------------------------------------------------------------------------------

/** A sink given as a value or as an Effect providing one (a `Context.Tag`, say). */
const sinkEffect = <A, R>(sink: RecordSink<A> | Effect.Effect<RecordSink<A>, never, R>): Effect.Effect<RecordSink<A>, never, R> =>
  Effect.isEffect(sink) ? sink : Effect.succeed(sink)

/**
 * A decoder's batch decode. Tributary's decoders never throw; should another `Decoder` throw anyway, the
 * page is decoded again record by record, so only the records it throws on fail.
 */
const decodeBatch = <B>(decoder: Decoder<B>, records: ReadonlyArray<SourceRecord>): DecodedBatch<B> => {
  const decoded: DecodedBatch<B> = { values: [], failures: [], failureOrigins: [] }
  try {
    decoder.decodeInto(records, decoded)
    return decoded
  } catch {
    const one: DecodedBatch<B> = { values: [], failures: [], failureOrigins: [] }
    for (let i = 0; i < records.length; i++) {
      let result: Either.Either<B, DecodeFailure>
      try {
        result = decoder.decode(records[i])
      } catch (error) {
        const format = decoder.format === "auto" ? "text" : decoder.format
        result = Either.left(new DecodeFailure({ format, reason: `the decoder failed: ${thrownReason(error)}`, record: records[i] }))
      }
      if (Either.isRight(result)) {
        one.values.push(result.right)
      } else {
        one.failures.push(result.left)
        one.failureOrigins.push(i)
      }
    }
    return one
  }
}

const PipelineProto = {
  [TypeId]: { _A: (_: never) => _, _R: (_: never) => _ },
  pipe() {
    return pipeArguments(this, arguments)
  }
}

const fromSteps = <A, R>(
  name: string,
  steps: ReadonlyArray<Step>,
  retrySchedule: Schedule.Schedule<unknown, SinkError>,
  whenRetriesExhausted: "fail" | "dead-letter"
): Pipeline<A, R> => Object.assign(Object.create(PipelineProto), { name, steps, retrySchedule, whenRetriesExhausted })

const addStep = <A, R, B, R2>(self: Pipeline<A, R>, step: Step): Pipeline<B, R2> =>
  fromSteps(self.name, [...self.steps, step], self.retrySchedule, self.whenRetriesExhausted)
