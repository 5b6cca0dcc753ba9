/**
 * Prints a consumer's lease table: shard, owner, counter, checkpoint, owner switches since the last
 * checkpoint, parents, and (with `--stream`) each shard's lag, the age of its oldest unprocessed record.
 *
 *   tsx packages/consumer/src/bin/leases.ts --lease-table orders-app [--stream orders] [--watch 2000]
 *
 * Arguments fall back to `LEASE_TABLE`, `STREAM` and `WATCH_MS`; AWS settings are the SDK's own
 * (`AWS_ENDPOINT_URL_KINESIS`, `AWS_ENDPOINT_URL_DYNAMODB` for local endpoints).
 */
import { DynamoDBClient, DynamoDBLeaseStore } from "@tributary/dynamodb"
import { Kinesis } from "@tributary/kinesis"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { arg, runMain } from "../internal/main.js"
import * as LeaseView from "../LeaseView.js"

const tableName = arg("lease-table", "LEASE_TABLE")
if (tableName === undefined) {
  process.stderr.write("missing --lease-table (or LEASE_TABLE)\n")
  process.exit(2)
}
const stream = arg("stream", "STREAM")
const watch = arg("watch", "WATCH_MS")

const show = Effect.flatMap(LeaseView.rows(stream), (rows) =>
  Effect.sync(() => process.stdout.write(`${new Date().toISOString()}\n${LeaseView.format(rows)}\n\n`)))

const program = watch === undefined ? show : Effect.forever(Effect.zipRight(show, Effect.sleep(Duration.millis(Number(watch)))))

runMain(program.pipe(
  Effect.provide(Layer.mergeAll(
    Kinesis.layerConfig(),
    DynamoDBLeaseStore.layer({ tableName, createTable: false }).pipe(Layer.provide(DynamoDBClient.layerConfig()))
  ))
))
