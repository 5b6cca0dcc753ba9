/**
 * Dead letters on a Kinesis stream: each dead letter is one JSON record (core's `DeadLetter` Schema, the
 * payload in base64), keyed by the failed record's partition key so the dead letters of a key keep their
 * order. Read them back with `decoder`; replay the original payloads into a stream with `replaySink` once
 * the cause is fixed.
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
 * @since 0.1.0
 * @category models
 */
export type Options = Omit<ProducerOptions<DeadLetter.DeadLetter>, "partitionKey" | "data" | "explicitHashKey">

const encode = Schema.encodeSync(DeadLetter.DeadLetter)

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
    // a dead letter of a derived value (a window result) has no partition key: its shard keeps them together
    partitionKey: (letter) => letter.partitionKey === "" ? letter.shardId || "dead-letter" : letter.partitionKey,
    data: (letter) => JSON.stringify(encode(letter))
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
