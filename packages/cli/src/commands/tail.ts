/**
 * `tributary tail`: prints the records of every shard of a stream as they arrive, decoded without a
 * schema, one line per record: shard, sequence number, then the value as JSON (or `error: ...` with the
 * reason it does not decode).
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Help from "../internal/help.js"
import type * as LooseDecoder from "../internal/looseDecoder.js"
import * as Opt from "../internal/options.js"

/** The formats of `LooseDecoder` (not imported here: it loads the decoders, which --help does not need). */
const formats: ReadonlyArray<LooseDecoder.Format> = ["auto", "json", "csv", "keyValue", "xml", "apacheLog", "raw"]

/**
 * The options of `tributary tail` (its help lists them).
 *
 * @since 0.1.0
 * @category options
 */
export const options = {
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
  format: Options.choice("format", formats).pipe(
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

/**
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("tail", options, (args) =>
  // what it does is loaded when it runs: `tributary --help` and the other commands start without it
  Effect.flatMap(Effect.promise(() => import("../run/tail.js")), (run) => run.run(args))).pipe(
    Command.withDescription(Help.description(
      summary,
      "Reads every shard of the stream (children after their parents) and prints one line per record: the " +
        "shard, the sequence number, then the payload decoded without a schema, as JSON (every field as written; " +
        "text formats give strings), or \"error: <format>: <reason>\" when it does not decode.",
      "Stops after --limit records, or on Ctrl-C."
    ))
  )
