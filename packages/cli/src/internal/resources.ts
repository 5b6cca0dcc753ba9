/**
 * Checks that what a command works on exists, failing with a `NotFound` that says so in one line.
 */
import { LeaseTable } from "@tributary/dynamodb"
import { Kinesis, StreamAdmin } from "@tributary/kinesis"
import * as Effect from "effect/Effect"
import { NotFound } from "./errors.js"

/**
 * Fails with `NotFound` when there is no such stream. Transient failures are tried again only a few times
 * (about a second): an endpoint that does not answer is told at once, not after StreamAdmin's long backoff.
 */
export const requireStream = (stream: string) =>
  Effect.flatMap(Kinesis.Kinesis, (kinesis) =>
    StreamAdmin.retryTransient(kinesis.describeStreamSummary({ StreamName: stream }), { times: 3 }).pipe(
      Effect.asVoid,
      Effect.catchIf(
        (error) => error.reason === "NotFound",
        (error) => Effect.fail(new NotFound({ kind: "stream", name: stream, awsName: error.awsName }))
      )
    ))

/** The table's status; `NotFound` when there is no such table. */
export const requireTable = (tableName: string) =>
  Effect.flatMap(LeaseTable.status(tableName), (status) =>
    status === undefined
      ? Effect.fail(new NotFound({ kind: "table", name: tableName, awsName: "ResourceNotFoundException" }))
      : Effect.succeed(status))
