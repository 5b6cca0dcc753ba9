/**
 * `tributary leases`: a consumer's lease table (`LeaseView` of @tributary/consumer): who processes which
 * shard, each shard's checkpoint and, with `--stream`, its lag.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Help from "../internal/help.js"
import * as Opt from "../internal/options.js"

/**
 * The options of `tributary leases` (its help lists them).
 *
 * @since 0.1.0
 * @category options
 */
export const options = {
  leaseTable: Options.text("lease-table").pipe(
    Options.withPseudoName("TABLE"),
    Options.withDescription("The consumer's DynamoDB lease table.")
  ),
  stream: Options.text("stream").pipe(
    Options.withPseudoName("NAME"),
    Options.withDescription("The consumer's stream: adds each shard's lag (the age of its oldest unprocessed record)."),
    Options.optional
  ),
  watch: Opt.duration("watch").pipe(
    Options.withDescription("Show the table again every this long, until Ctrl-C."),
    Options.optional
  )
}

/**
 * @since 0.1.0
 * @category help
 */
export const summary = "Show a consumer's lease table."

/**
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("leases", options, (args) =>
  // what it does is loaded when it runs: `tributary --help` and the other commands start without it
  Effect.flatMap(Effect.promise(() => import("../run/leases.js")), (run) => run.run(args))).pipe(
    Command.withDescription(Help.description(
      summary,
      "One row per shard: the worker holding its lease, the lease counter, the checkpoint, how often the owner " +
        "changed since the last checkpoint, the parent shards and, with --stream, the lag (the age of the oldest " +
        "record after the checkpoint); then the leases held per worker.",
      "With --watch, the table is shown again every so often until Ctrl-C."
    ))
  )
