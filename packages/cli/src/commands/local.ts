/**
 * `tributary local`: kinesalite, dynalite and s3rver on this machine's loopback interface, on fixed ports
 * (or chosen ones), until Ctrl-C; prints the environment variables that point the other commands (and any
 * program on the AWS SDK's standard settings) at them.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import { CommandFailed } from "../internal/errors.js"
import * as Help from "../internal/help.js"
import * as Opt from "../internal/options.js"
import * as Output from "../internal/output.js"
import { stopSignal } from "../internal/signals.js"

const port = (name: string, service: string, fallback: number) =>
  Opt.integer(name, 0).pipe(
    Options.withPseudoName("PORT"),
    Options.withDescription(`The port of ${service} on 127.0.0.1 (0: any free port). Default ${fallback}.`),
    Options.withDefault(fallback)
  )

const options = {
  kinesisPort: port("kinesis-port", "kinesalite (Kinesis)", 4567),
  dynamodbPort: port("dynamodb-port", "dynalite (DynamoDB)", 4568),
  s3Port: port("s3-port", "s3rver (S3)", 4569)
}

/**
 * @since 0.1.0
 * @category help
 */
export const summary = "Run kinesalite, dynalite and s3rver on this machine until Ctrl-C."

/**
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("local", options, (args) =>
  Effect.gen(function*() {
    const stop = yield* stopSignal
    // loaded when the command runs: the emulators are dependencies of no other command
    const { LocalDynamoDB, LocalKinesis, LocalS3 } = yield* Effect.promise(() => import("@tributary/local"))
    const inUse = (option: string) => (error: { readonly reason: string }) =>
      /^port \d+ is in use$/.test(error.reason)
        ? Effect.fail(new CommandFailed({ reason: `${error.reason}: choose another with --${option} (0 for any free port)` }))
        : Effect.fail(error)
    const kinesis = yield* LocalKinesis.makeKinesalite({ port: args.kinesisPort }).pipe(Effect.catchTag("LocalAwsError", inUse("kinesis-port")))
    const dynamodb = yield* LocalDynamoDB.makeDynalite({ port: args.dynamodbPort }).pipe(Effect.catchTag("LocalAwsError", inUse("dynamodb-port")))
    const s3 = yield* LocalS3.makeS3rverProcess({ port: args.s3Port }).pipe(Effect.catchTag("LocalAwsError", inUse("s3-port")))
    yield* Output.line(
      [
        `kinesalite ${kinesis.endpoint}, dynalite ${dynamodb.endpoint}, s3rver ${s3.endpoint} (in memory and in ${s3.directory}: gone when this stops)`,
        "",
        "In another terminal, point the AWS settings at them (s3rver accepts only its own key, the others any):",
        "",
        `export AWS_REGION=${kinesis.region} AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER`,
        `export AWS_ENDPOINT_URL_KINESIS=${kinesis.endpoint} AWS_ENDPOINT_URL_DYNAMODB=${dynamodb.endpoint}`,
        `export AWS_ENDPOINT_URL_S3=${s3.endpoint}`,
        "",
        "then, for example: tributary provision --stream orders --lease-table orders-app --bucket orders-archive",
        "Ctrl-C stops them."
      ].join("\n")
    )
    yield* Deferred.await(stop)
    yield* Output.line("stopping kinesalite, dynalite and s3rver")
  }).pipe(Effect.scoped)).pipe(
    Command.withDescription(Help.description(
      summary,
      "Kinesalite and dynalite run in this process, s3rver in a child process of its own; they keep everything " +
        "in memory (s3rver in a temporary directory), which is gone when they stop. The ports are fixed by default, " +
        "so the variables printed stay the same from one run to the next.",
      "Prints the environment variables to export (AWS_REGION, credentials s3rver accepts, AWS_ENDPOINT_URL_KINESIS, " +
        "AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_S3); provision, produce, tail, leases, replay and the demo " +
        "with --target aws then work against them. Ctrl-C stops them."
    ))
  )
