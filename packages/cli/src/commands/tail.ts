/**
 * `tributary tail`: prints the records of every shard of a stream as they arrive, decoded without a
 * schema, one line per record: shard, sequence number, then the value as JSON (or `error: ...` with the
 * reason it does not decode).
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { ShardReader, StreamSource } from "@tributary/kinesis"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { parseTime } from "../internal/duration.js"
import { UsageError } from "../internal/errors.js"
import * as Help from "../internal/help.js"
import * as LooseDecoder from "../internal/looseDecoder.js"
import * as Opt from "../internal/options.js"
import * as Output from "../internal/output.js"
import { requireStream } from "../internal/resources.js"
import { stopSignal } from "../internal/signals.js"

const options = {
  stream: Options.text("stream").pipe(Options.withPseudoName("NAME"), Options.withDescription("The stream to read.")),
  from: Options.text("from").pipe(
    Options.withPseudoName("latest|trim-horizon|TIME"),
    Options.withDescription(
      "Where to start in each shard: latest (new records only), trim-horizon (the oldest record kept), or a " +
        "time (at-timestamp: an ISO-8601 time such as 2024-05-01T10:00:00Z, or 15m for 15 minutes ago). Default latest."
    ),
    Options.withDefault("latest")
  ),
  limit: Opt.integer("limit").pipe(
    Options.withPseudoName("N"),
    Options.withDescription("Stop after this many records."),
    Options.optional
  ),
  format: Options.choice("format", LooseDecoder.formats).pipe(
    Options.withDescription(
      "How to decode the payloads: auto (each record sniffed), json, csv, keyValue, xml, apacheLog, or raw " +
        "(the payload as a JSON string). Default auto."
    ),
    Options.withDefault("auto" as const)
  )
}

/**
 * @since 0.1.0
 * @category help
 */
export const summary = "Print a stream's records as they arrive, decoded."

const initialPosition = (from: string): Effect.Effect<StreamSource.InitialPosition, UsageError> => {
  const text = from.trim().toLowerCase()
  if (text === "latest") return Effect.succeed({ type: "LATEST" })
  if (text === "trim-horizon" || text === "trim_horizon") return Effect.succeed({ type: "TRIM_HORIZON" })
  const at = text.startsWith("at-timestamp") ? from.trim().slice("at-timestamp".length).replace(/^[=:\s]+/, "") : from
  return Option.match(parseTime(at, Date.now()), {
    onNone: () =>
      Effect.fail(new UsageError({ reason: `--from: "${from}" is not latest, trim-horizon or a time (e.g. 2024-05-01T10:00:00Z, 15m)` })),
    onSome: (timestamp) => Effect.succeed(ShardReader.StartingPosition.atTimestamp(timestamp) as StreamSource.InitialPosition)
  })
}

/**
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("tail", options, (args) =>
  Effect.gen(function*() {
    const position = yield* initialPosition(args.from)
    yield* requireStream(args.stream)
    const stop = yield* stopSignal
    const render = LooseDecoder.make(args.format)
    const limit = Option.getOrUndefined(args.limit)
    const source = yield* StreamSource.make({
      stream: args.stream,
      initialPosition: position,
      follow: true,
      reader: { idleInterval: "250 millis" }
    })
    let printed = 0
    const printing = source.shards.pipe(
      Stream.flatMap((reader) => reader.batches, { concurrency: "unbounded" }),
      Stream.runForEachWhile((records) =>
        Effect.gen(function*() {
          const take = limit === undefined ? records : records.slice(0, limit - printed)
          const values = render(take)
          const lines = new Array<string>(take.length)
          for (let i = 0; i < take.length; i++) lines[i] = `${take[i].shardId} ${take[i].sequenceNumber} ${values[i]}`
          if (lines.length > 0) yield* Output.line(lines.join("\n"))
          printed += take.length
          return limit === undefined || printed < limit
        })
      )
    )
    yield* Effect.raceFirst(printing, Deferred.await(stop))
  }).pipe(Effect.scoped)).pipe(
    Command.withDescription(Help.description(
      summary,
      "Reads every shard of the stream (children after their parents) and prints one line per record: the " +
        "shard, the sequence number, then the payload decoded without a schema, as JSON (every field as written; " +
        "text formats give strings), or \"error: <format>: <reason>\" when it does not decode.",
      "Stops after --limit records, or on Ctrl-C."
    ))
  )
