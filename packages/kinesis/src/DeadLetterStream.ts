/**
 * Dead letters on a Kinesis stream: each dead letter is one JSON record (core's `DeadLetter` Schema, the
 * payload in base64), keyed by the failed record's partition key so the dead letters of a key keep their
 * order. Read them back with `decoder`; replay the original payloads into a stream with `replaySink` once
 * the cause is fixed.
 *
 * Every dead letter is stored, whatever its size: a record is at most 1 MiB (`maxRecordBytes`), so a
 * payload whose letter would not fit is cut to what does, and the letter then carries `"dataSize"` (the
 * full size in bytes) and `"dataTruncated": true`; a reason longer than `DeadLetter.maxReasonLength`
 * characters is cut too, with `"reasonTruncated": true`.
 *
 * @since 0.1.0
 */
import * as DeadLetter from "@tributary/core/DeadLetter"
import * as Decoder from "@tributary/core/Decoder"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { Kinesis } from "./Kinesis.js"
import type { Producer, ProducerOptions } from "./Producer.js"
import * as Producers from "./Producer.js"

/**
 * The dead-letter stream and how letters are put into it: a producer's options (stream, batching, retries,
 * name), all but the record's partition key, data and explicit hash key, which come from the dead letter.
 *
 * @since 0.1.0
 * @category models
 */
export type Options = Omit<ProducerOptions<DeadLetter.DeadLetter>, "partitionKey" | "data" | "explicitHashKey">

const encode = Schema.encodeSync(DeadLetter.DeadLetter)

const encoder = new TextEncoder()

/**
 * A dead letter as the JSON of one record of at most `maxBytes` with its partition key: the payload cut to
 * what fits when the whole would not (base64 takes 4 bytes per 3).
 */
const fitted = (letter: DeadLetter.DeadLetter, partitionKey: string, maxBytes: number): string => {
  const reasonTruncated = letter.reason.length > DeadLetter.maxReasonLength
  const reason = reasonTruncated ? letter.reason.slice(0, DeadLetter.maxReasonLength) : letter.reason
  const whole = { ...letter, reason }
  const flags = reasonTruncated ? { reasonTruncated: true } : {}
  // a margin for the flags added below
  const room = maxBytes - encoder.encode(partitionKey).length - 256
  const json = JSON.stringify({ ...encode(whole), ...flags })
  // a UTF-16 code unit takes at most 3 bytes of UTF-8: most letters fit without being encoded to count
  if (3 * json.length <= room || encoder.encode(json).length <= room) return json
  const rest = encoder.encode(JSON.stringify({ ...encode({ ...whole, data: new Uint8Array() }), ...flags })).length
  const kept = 3 * Math.floor(Math.max(0, room - rest) / 4)
  return JSON.stringify({
    ...encode({ ...whole, data: letter.data.subarray(0, kept) }),
    ...flags,
    dataSize: letter.data.length,
    dataTruncated: true
  })
}

const partitionKeyOf = (letter: DeadLetter.DeadLetter): string =>
  // a dead letter of a derived value (a window result) has no partition key: its shard keeps them together
  letter.partitionKey === "" ? letter.shardId || "dead-letter" : letter.partitionKey

/**
 * A `RecordSink` of dead letters writing to `options.stream` (scoped: buffered letters are flushed when
 * the scope closes).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options) =>
  Producers.make<DeadLetter.DeadLetter>({
    name: `dead-letters:kinesis:${options.stream}`,
    ...options,
    partitionKey: partitionKeyOf,
    data: (letter) => fitted(letter, partitionKeyOf(letter), options.maxRecordBytes ?? Producers.limits.maxRecordBytes)
  })

/**
 * The `DeadLetterSink` on a Kinesis stream.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<DeadLetter.DeadLetterSink, never, Kinesis> =>
  Layer.scoped(DeadLetter.DeadLetterSink, make(options))

/**
 * Reads the records of a dead-letter stream back as dead letters.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decoder: Decoder.Decoder<DeadLetter.DeadLetter> = Decoder.json(DeadLetter.DeadLetter)

/**
 * A sink that puts each dead letter's original payload, with its original partition key, into a stream:
 * the replay after a fix (run a pipeline over the dead-letter stream with `decoder` and this sink).
 *
 * @since 0.1.0
 * @category constructors
 */
export const replaySink = (options: Options): Effect.Effect<Producer<DeadLetter.DeadLetter>, never, Kinesis | Scope.Scope> =>
  Producers.make<DeadLetter.DeadLetter>({
    name: `replay:kinesis:${options.stream}`,
    ...options,
    partitionKey: (letter) => letter.partitionKey === "" ? letter.shardId || "replay" : letter.partitionKey,
    data: (letter) => letter.data
  })
