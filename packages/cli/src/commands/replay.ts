/**
 * `tributary replay`: puts archived raw records (an S3 bucket or a directory, core's `Archive` layout) or
 * stored dead letters (a DynamoDB dead-letter table, or the archive's `dead-letters/`) back into a stream
 * through the Kinesis `Producer`, each with its partition key and bytes.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Help from "../internal/help.js"
import * as Opt from "../internal/options.js"

/**
 * The options of `tributary replay` (its help lists them).
 *
 * @since 0.1.0
 * @category options
 */
export const options = {
  stream: Options.text("stream").pipe(
    Options.withPseudoName("NAME"),
    Options.withDescription("The stream to put the records into.")
  ),
  archiveBucket: Options.text("archive-bucket").pipe(
    Options.withPseudoName("BUCKET"),
    Options.withDescription("Replay from the archive in this S3 bucket."),
    Options.optional
  ),
  archiveDir: Options.text("archive-dir").pipe(
    Options.withPseudoName("DIR"),
    Options.withDescription("Replay from the archive in this directory (a file-system archive)."),
    Options.optional
  ),
  archivePrefix: Options.text("archive-prefix").pipe(
    Options.withPseudoName("PREFIX"),
    Options.withDescription("The archive's key prefix (default raw, or dead-letters with --dead-letters)."),
    Options.optional
  ),
  deadLetters: Options.boolean("dead-letters").pipe(
    Options.withDescription("With an archive: replay its dead letters instead of its raw records.")
  ),
  deadLetterTable: Options.text("dead-letter-table").pipe(
    Options.withPseudoName("TABLE"),
    Options.withDescription("Replay the dead letters stored in this DynamoDB table."),
    Options.optional
  ),
  pipeline: Options.text("pipeline").pipe(
    Options.withPseudoName("NAME"),
    Options.withDescription("Dead letters only: those of this pipeline."),
    Options.optional
  ),
  from: Opt.time("from").pipe(
    Options.withDescription("Records that arrived at or after this time (ISO-8601, or 2h for two hours ago)."),
    Options.optional
  ),
  to: Opt.time("to").pipe(Options.withDescription("Records that arrived before this time."), Options.optional),
  sourceStream: Options.text("source-stream").pipe(
    Options.withPseudoName("NAME"),
    Options.withDescription("Only the records that came from this stream."),
    Options.optional
  ),
  dryRun: Options.boolean("dry-run").pipe(Options.withDescription("Only count what would be put."))
}

/**
 * @since 0.1.0
 * @category help
 */
export const summary = "Put archived records or dead letters back into a stream."

/**
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("replay", options, (args) =>
  // what it does is loaded when it runs: `tributary --help` and the other commands start without it
  Effect.flatMap(Effect.promise(() => import("../run/replay.js")), (run) => run.run(args))).pipe(
    Command.withDescription(Help.description(
      summary,
      "From one of: the raw archive in an S3 bucket (--archive-bucket) or a directory (--archive-dir), in the " +
        "layout of the archive sink; the archive's dead letters (--dead-letters); or a DynamoDB dead-letter table " +
        "(--dead-letter-table). Each record is put with its original partition key and bytes, in order per shard.",
      "--from and --to choose by arrival time (default: everything), --source-stream by the stream the records " +
        "came from, --pipeline the dead letters of one pipeline. Prints the counts; --dry-run only counts."
    ))
  )
