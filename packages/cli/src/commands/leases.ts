/**
 * `tributary leases`: a consumer's lease table (`LeaseView` of @tributary/consumer): who processes which
 * shard, each shard's checkpoint and, with `--stream`, its lag.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { LeaseView } from "@tributary/consumer"
import { LeaseStore } from "@tributary/core/LeaseStore"
import { DynamoDBLeaseStore } from "@tributary/dynamodb"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Help from "../internal/help.js"
import * as Opt from "../internal/options.js"
import * as Output from "../internal/output.js"
import { requireStream, requireTable } from "../internal/resources.js"
import { stopSignal } from "../internal/signals.js"

const options = {
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
  Effect.gen(function*() {
    yield* requireTable(args.leaseTable)
    const stream = Option.getOrUndefined(args.stream)
    if (stream !== undefined) yield* requireStream(stream)
    const store = yield* DynamoDBLeaseStore.make({ tableName: args.leaseTable, createTable: false })
    const rows = LeaseView.rows(stream).pipe(Effect.provideService(LeaseStore, store))
    if (Option.isNone(args.watch)) return yield* Effect.flatMap(rows, (table) => Output.line(LeaseView.format(table)))
    const stop = yield* stopSignal
    while (!(yield* Deferred.isDone(stop))) {
      const table = yield* rows
      yield* Output.clearScreen
      yield* Output.line(`${new Date().toISOString()}  ${args.leaseTable}${stream === undefined ? "" : ` (${stream})`}\n${LeaseView.format(table)}\n`)
      yield* Effect.raceFirst(Effect.sleep(args.watch.value), Deferred.await(stop))
    }
  }).pipe(Effect.scoped)).pipe(
    Command.withDescription(Help.description(
      summary,
      "One row per shard: the worker holding its lease, the lease counter, the checkpoint, how often the owner " +
        "changed since the last checkpoint, the parent shards and, with --stream, the lag (the age of the oldest " +
        "record after the checkpoint); then the leases held per worker.",
      "With --watch, the table is shown again every so often until Ctrl-C."
    ))
  )
