/**
 * The `tributary` command: `demo`, `provision`, `produce`, `tail`, `leases`, `replay` and `synth` (see docs/cli.md).
 *
 * The commands need the Kinesis, DynamoDB and S3 client services; `layer` makes them from the standard AWS
 * settings (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL_KINESIS`, ...). Tests run the commands in process
 * with `main([...])` (or `run`) and clients of their own.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Span from "@effect/cli/HelpDoc/Span"
import * as ValidationError from "@effect/cli/ValidationError"
import { DynamoDBClient } from "@tributary/dynamodb"
import { Kinesis } from "@tributary/kinesis"
import { S3Client } from "@tributary/s3"
import * as Cause from "effect/Cause"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Demo from "./commands/demo.js"
import * as Leases from "./commands/leases.js"
import * as Produce from "./commands/produce.js"
import * as Provision from "./commands/provision.js"
import * as Replay from "./commands/replay.js"
import * as Synth from "./commands/synth.js"
import * as Tail from "./commands/tail.js"
import * as Errors from "./internal/errors.js"
import * as Output from "./internal/output.js"

/**
 * The root command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("tributary").pipe(
  Command.withDescription(HelpDoc.blocks([
    HelpDoc.p("Typed, fault-tolerant stream processing on Amazon Kinesis and DynamoDB, from the command line."),
    HelpDoc.descriptionList([
      [Span.text("demo"), HelpDoc.p(Demo.summary)],
      [Span.text("provision"), HelpDoc.p(Provision.summary)],
      [Span.text("produce"), HelpDoc.p(Produce.summary)],
      [Span.text("tail"), HelpDoc.p(Tail.summary)],
      [Span.text("leases"), HelpDoc.p(Leases.summary)],
      [Span.text("replay"), HelpDoc.p(Replay.summary)],
      [Span.text("synth"), HelpDoc.p(Synth.summary)]
    ]),
    HelpDoc.p("`tributary <command> --help` shows a command's options."),
    HelpDoc.p(
      "AWS settings are the SDK's own: AWS_REGION, credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, " +
        "AWS_PROFILE, ...), and AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_S3 (or " +
        "AWS_ENDPOINT_URL) for other endpoints, such as local emulators."
    ),
    HelpDoc.p("Exit codes: 0 done, 1 failed (one line on stderr says why), 2 wrong usage, 130 interrupted.")
  ])),
  Command.withSubcommands([
    Demo.command,
    Provision.command,
    Produce.command,
    Tail.command,
    Leases.command,
    Replay.command,
    Synth.command
  ])
)

/**
 * Parses the command line (`["node", "tributary", ...args]`) and runs the command; fails with a
 * `ValidationError` (already printed) on wrong usage, or with the command's error.
 *
 * @since 0.1.0
 * @category running
 */
export const run = Command.run(command, { name: "tributary", version: "0.1.0" })

/**
 * The clients the commands use, from the standard AWS settings.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Kinesis.Kinesis | DynamoDBClient.DynamoDBClient | S3Client.S3Client, ConfigError.ConfigError> =
  Layer.mergeAll(Kinesis.layerConfig(), DynamoDBClient.layerConfig(), S3Client.layerConfig())

/**
 * Runs the command line and answers the exit code: 0, 1 when the command failed (its error printed as one
 * line on stderr: `tributary: <what went wrong>`), 2 on wrong usage. `tributary` alone shows the help.
 * Interruption is not caught.
 *
 * @since 0.1.0
 * @category running
 */
export const main = (argv: ReadonlyArray<string>) =>
  run(argv.length <= 2 ? [...argv, "--help"] : argv).pipe(
    Effect.as(0),
    Effect.catchAll((error) =>
      // @effect/cli printed what is wrong with the command line already
      ValidationError.isValidationError(error)
        ? Effect.succeed(2)
        : Effect.as(Output.errorLine(`tributary: ${Errors.describe(error)}`), Errors.exitCode(error))
    ),
    Effect.catchAllDefect((defect) =>
      Effect.as(Output.errorLine(`tributary: unexpected failure: ${Cause.pretty(Cause.die(defect))}`), 1)
    )
  )
