/**
 * What `tributary leases` does (its options and help are in commands/leases.ts).
 */
import { LeaseView } from "@tributary/consumer"
import { LeaseStore } from "@tributary/core/LeaseStore"
import { DynamoDBLeaseStore } from "@tributary/dynamodb"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Output from "../internal/output.js"
import { requireStream, requireTable } from "../internal/resources.js"
import { stopSignal } from "../internal/signals.js"

/** The options of `tributary leases`, parsed (commands/leases.ts). */
export interface Args {
  readonly leaseTable: string
  readonly stream: Option.Option<string>
  readonly watch: Option.Option<Duration.Duration>
}

/** Runs `tributary leases` with its parsed options. */
export const run = (args: Args) =>
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
  }).pipe(Effect.scoped)
