/**
 * `tributary demo`: the end-to-end demo of `Demo.run`, on embedded local AWS by default.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import { CommandFailed, UsageError } from "../internal/errors.js"
import * as Help from "../internal/help.js"
import * as Opt from "../internal/options.js"
import * as Output from "../internal/output.js"
import { stopSignal } from "../internal/signals.js"

const options = {
  duration: Opt.duration("duration").pipe(
    Options.withDescription("Stop after this long, then drain, print the summary and check it (default: until Ctrl-C)."),
    Options.optional
  ),
  rate: Opt.integer("rate").pipe(
    Options.withPseudoName("N"),
    Options.withDescription("Messages per second POSTed to the gateway. Default 2000."),
    Options.withDefault(2000)
  ),
  jobEvery: Opt.duration("job-every").pipe(
    Options.withDescription("How often the re-aggregation job runs over the last complete minute of the archive. Default 30s."),
    Options.withDefault(Duration.seconds(30))
  ),
  target: Options.choice("target", ["local", "aws"]).pipe(
    Options.withDescription(
      "local: embedded kinesalite, dynalite and s3rver. aws: the clients of the AWS settings (real AWS, or the " +
        "endpoints AWS_ENDPOINT_URL_* name); needs --bucket. Default local."
    ),
    Options.withDefault("local" as const)
  ),
  bucket: Options.text("bucket").pipe(
    Options.withPseudoName("BUCKET"),
    Options.withDescription("With --target aws: the archive's bucket, which must exist."),
    Options.optional
  ),
  keep: Options.boolean("keep").pipe(
    Options.withDescription("With --target aws: keep the stream and tables (deleted at the end otherwise).")
  ),
  port: Opt.integer("port", 0).pipe(
    Options.withPseudoName("PORT"),
    Options.withDescription("The gateway's port. Default 0: any free port (the URL is printed)."),
    Options.withDefault(0)
  )
}

/**
 * @since 0.1.0
 * @category help
 */
export const summary = "Run the end-to-end demo, on embedded local AWS by default."

/**
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("demo", options, (args) =>
  Effect.gen(function*() {
    if (args.target === "aws" && Option.isNone(args.bucket)) {
      return yield* new UsageError({ reason: "--target aws needs --bucket BUCKET (the archive's bucket, which must exist)" })
    }
    const stop = yield* stopSignal
    // said at once: the rest takes a few seconds
    yield* Output.line(
      args.target === "local"
        ? "starting local AWS: kinesalite, dynalite and s3rver, each in a child process"
        : "checking the AWS settings: Kinesis, DynamoDB and the archive's bucket"
    )
    // loaded when the demo runs, not for every command (the gateway, the emulators, the consumers)
    const Demo = yield* Effect.promise(() => import("../Demo.js"))
    const runSync = Runtime.runSync(yield* Effect.runtime<never>())
    const holds = yield* Demo.run({
      duration: Option.getOrUndefined(args.duration),
      rate: args.rate,
      jobEvery: args.jobEvery,
      print: (line) => runSync(Output.line(line)),
      // rewritten in place on a terminal
      progress: (line) => runSync(Output.progress(line)),
      stop,
      target: args.target,
      ...(Option.isSome(args.bucket) ? { bucket: args.bucket.value } : {}),
      keep: args.keep,
      port: args.port
    })
    if (!holds) return yield* new CommandFailed({ reason: "the demo's final checks failed (see the summary)" })
  }).pipe(Effect.scoped)).pipe(
    Command.withDescription(Help.description(
      summary,
      "Kinesalite, dynalite and s3rver run in child processes (or, with --target aws, the AWS settings say where " +
        "to run); the ingest gateway takes POSTed messages in mixed formats, two workers share a 4-shard stream " +
        "through a DynamoDB lease table and write per-minute results to DynamoDB, the raw records go to the " +
        "archive and a job re-aggregates it every --job-every.",
      "At the end (after --duration, or on Ctrl-C) the demo drains, prints a summary and checks that every " +
        "message was aggregated or dead-lettered: exit code 0 when the checks hold, 1 otherwise. A second " +
        "Ctrl-C exits at once (130)."
    ))
  )
