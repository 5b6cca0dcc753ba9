/**
 * Prints a consumer's lease table: shard, owner, counter, checkpoint, owner switches since the last
 * checkpoint, parents, and (with `--stream`) each shard's lag, the age of its oldest unprocessed record.
 *
 *   tsx packages/consumer/src/bin/leases.ts --lease-table orders-app [--stream orders] [--watch 2000]
 *
 * Settings through Effect's `Config`, a flag standing for its variable: `LEASE_TABLE` (required), `STREAM`,
 * `WATCH` (a duration or milliseconds; `WATCH_MS` too). AWS settings are the standard ones
 * (`AWS_ENDPOINT_URL_KINESIS`, `AWS_ENDPOINT_URL_DYNAMODB` for local endpoints).
 */
import { DynamoDBClient, DynamoDBLeaseStore } from "@tributary/dynamodb"
import { Kinesis } from "@tributary/kinesis"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ConfigReaders from "../internal/config.js"
import { argvConfigProvider, exitOnConfigError, runMain } from "../internal/main.js"
import * as LeaseView from "../LeaseView.js"

const settings = Config.all({
  tableName: Config.nonEmptyString("LEASE_TABLE"),
  stream: ConfigReaders.optional(Config.nonEmptyString("STREAM")),
  watch: ConfigReaders.optional(ConfigReaders.duration("WATCH").pipe(Config.orElse(() => ConfigReaders.duration("WATCH_MS"))))
})

const program = Effect.gen(function*() {
  const { stream, tableName, watch } = yield* settings
  const show = Effect.flatMap(LeaseView.rows(stream), (rows) =>
    Effect.sync(() => process.stdout.write(`${new Date().toISOString()}\n${LeaseView.format(rows)}\n\n`)))
  return yield* (watch === undefined ? show : Effect.forever(Effect.zipRight(show, Effect.sleep(watch)))).pipe(
    Effect.provide(Layer.mergeAll(
      Kinesis.layerConfig(),
      DynamoDBLeaseStore.layer({ tableName, createTable: false }).pipe(Layer.provide(DynamoDBClient.layerConfig()))
    ))
  )
})

runMain(program.pipe(exitOnConfigError, Effect.withConfigProvider(argvConfigProvider())))
