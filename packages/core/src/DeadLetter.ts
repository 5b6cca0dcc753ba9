/**
 * A dead letter is a record the pipeline could not process, kept with everything needed to understand and
 * replay it: the raw payload, where it came from, which stage failed and why.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Reason from "./internal/reason.js"
import type { MemorySink, RecordSink } from "./RecordSink.js"
import * as Sink from "./RecordSink.js"
import type { SourceRecord } from "./SourceRecord.js"

/**
 * The schema of a dead letter; it encodes `data` as base64, for sinks that store JSON (the dead-letter
 * archive, a dead-letter stream).
 *
 * @since 0.1.0
 * @category schemas
 */
export const DeadLetter = Schema.Struct({
  pipeline: Schema.String,
  /**
   * "decode", "map", "filter", "flatMap", "window" (a late record, an event time out of range, a key,
   * event time or aggregate that threw), "maxRecordAge" or "sink:<name>"
   */
  stage: Schema.String,
  reason: Schema.String,
  /** The format a decoder read the payload as, for decode failures. */
  format: Schema.optional(Schema.String),
  stream: Schema.String,
  shardId: Schema.String,
  sequenceNumber: Schema.String,
  subSequenceNumber: Schema.Number,
  partitionKey: Schema.String,
  arrivalTime: Schema.Number,
  /** When the failure happened, epoch milliseconds. */
  failedAt: Schema.Number,
  data: Schema.Uint8ArrayFromBase64
})

/**
 * The longest `reason` a pipeline writes, in characters: a longer one (the message of an exception, a
 * Schema's issues) is cut, and says how much it left out.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxReasonLength: number = Reason.maxReasonLength

/**
 * A record the pipeline could not process: the source record's fields and payload, with the pipeline,
 * stage and reason of the failure.
 *
 * @since 0.1.0
 * @category models
 */
export interface DeadLetter extends Schema.Schema.Type<typeof DeadLetter> {}

/**
 * The dead letter of a source record that failed in `failure.stage` of a pipeline, with its payload
 * untouched.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromRecord = (
  record: SourceRecord,
  failure: {
    readonly pipeline: string
    readonly stage: string
    readonly reason: string
    readonly format?: string | undefined
    readonly failedAt: number
  }
): DeadLetter => ({
  pipeline: failure.pipeline,
  stage: failure.stage,
  reason: failure.reason,
  ...(failure.format === undefined ? {} : { format: failure.format }),
  stream: record.stream,
  shardId: record.shardId,
  sequenceNumber: record.sequenceNumber,
  subSequenceNumber: record.subSequenceNumber,
  partitionKey: record.partitionKey,
  arrivalTime: record.arrivalTime,
  failedAt: failure.failedAt,
  data: record.data
})

/**
 * Where every pipeline sends what it cannot process. A dead-letter sink that fails permanently stops the
 * pipeline (before its checkpoint), since there is no safe place left for the record.
 *
 * @since 0.1.0
 * @category tags
 */
export class DeadLetterSink extends Context.Tag("@tributary/core/DeadLetterSink")<
  DeadLetterSink,
  RecordSink<DeadLetter>
>() {}

/**
 * Provides `DeadLetterSink` with the given sink.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (sink: RecordSink<DeadLetter>): Layer.Layer<DeadLetterSink> => Layer.succeed(DeadLetterSink, sink)

/**
 * Dead letters kept in memory, for tests: read them back through `MemoryDeadLetters`.
 *
 * @since 0.1.0
 * @category tags
 */
export class MemoryDeadLetters extends Context.Tag("@tributary/core/MemoryDeadLetters")<
  MemoryDeadLetters,
  MemorySink<DeadLetter>
>() {}

/**
 * Provides `DeadLetterSink` with a fresh in-memory sink (named `dead-letters`), and the same sink as
 * `MemoryDeadLetters` to read them back.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<DeadLetterSink | MemoryDeadLetters> = Layer.effectContext(
  Effect.map(
    Sink.memory<DeadLetter>("dead-letters"),
    (sink) => Context.make(MemoryDeadLetters, sink).pipe(Context.add(DeadLetterSink, sink))
  )
)
