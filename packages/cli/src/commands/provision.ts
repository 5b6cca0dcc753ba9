/**
 * `tributary provision`: creates a stream, tables and a bucket, idempotently, and waits until they are
 * ACTIVE. What exists already is left as it is and reported `exists`.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Help from "../internal/help.js"
import * as Opt from "../internal/options.js"

/**
 * The options of `tributary provision` (its help lists them).
 *
 * @since 0.1.0
 * @category options
 */
export const options = {
  stream: Options.text("stream").pipe(Options.withPseudoName("NAME"), Options.withDescription("The Kinesis stream to create.")),
  shards: Opt.integer("shards").pipe(
    Options.withPseudoName("N"),
    Options.withDescription("Shards of a new stream (an existing stream is not resharded). Default 4."),
    Options.withDefault(4)
  ),
  leaseTable: Options.text("lease-table").pipe(
    Options.withPseudoName("TABLE"),
    Options.withDescription("A consumer's DynamoDB lease table (hash key leaseKey)."),
    Options.optional
  ),
  resultsTable: Options.text("results-table").pipe(
    Options.withPseudoName("TABLE"),
    Options.withDescription("A DynamoDB results table (keys pk, sk)."),
    Options.optional
  ),
  deadLetterTable: Options.text("dead-letter-table").pipe(
    Options.withPseudoName("TABLE"),
    Options.withDescription("A DynamoDB dead-letter table (keys pk, sk)."),
    Options.optional
  ),
  bucket: Options.text("bucket").pipe(
    Options.withPseudoName("BUCKET"),
    Options.withDescription("An S3 bucket for the raw archive (in the client's region)."),
    Options.optional
  )
}

/**
 * @since 0.1.0
 * @category help
 */
export const summary = "Create a stream, tables and a bucket, idempotently."

/**
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("provision", options, (args) =>
  // what it does is loaded when it runs: `tributary --help` and the other commands start without it
  Effect.flatMap(Effect.promise(() => import("../run/provision.js")), (run) => run.run(args))).pipe(
    Command.withDescription(Help.description(
      summary,
      "Creates the stream and, when given, a lease table, a results table, a dead-letter table and an S3 bucket, " +
        "all at once, and waits until they are ACTIVE. What exists already is left as it is and reported " +
        "\"exists\" (a stream with another shard count is reported, not resharded; a table with other keys too).",
      "Prints one line per resource: \"stream orders: created, 4 shards, ACTIVE\"."
    ))
  )
