/**
 * `tributary produce`: seed-shaped mixed-format traffic (`Traffic.message`) at a steady rate, through the
 * Kinesis `Producer` or POSTed to a running ingest gateway, with a progress line once a second and a
 * summary; exit code 1 when records were not accepted.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Help from "../internal/help.js"
import * as Opt from "../internal/options.js"

/**
 * The options of `tributary produce` (its help lists them).
 *
 * @since 0.1.0
 * @category options
 */
export const options = {
  stream: Options.text("stream").pipe(Options.withPseudoName("NAME"), Options.withDescription("The stream to write to.")),
  rate: Opt.integer("rate").pipe(
    Options.withPseudoName("N"),
    Options.withDescription("Messages per second. Default 1000."),
    Options.withDefault(1000)
  ),
  count: Opt.integer("count").pipe(
    Options.withPseudoName("N"),
    Options.withDescription("Stop after this many messages."),
    Options.optional
  ),
  duration: Opt.duration("duration").pipe(Options.withDescription("Stop after this long."), Options.optional),
  brokenEvery: Opt.integer("broken-every", 0).pipe(
    Options.withPseudoName("N"),
    Options.withDescription("One message in this many is broken on purpose (a future dead letter); 0 for none. Default 100."),
    Options.withDefault(100)
  ),
  viaGateway: Options.text("via-gateway").pipe(
    Options.withPseudoName("URL"),
    Options.withDescription("POST the messages to a running ingest gateway at this URL instead of writing to Kinesis."),
    Options.optional
  ),
  apiKey: Options.text("api-key").pipe(
    Options.withPseudoName("KEY"),
    Options.withDescription("The gateway's API key (or TRIBUTARY_API_KEY)."),
    Options.withFallbackConfig(Config.string("TRIBUTARY_API_KEY")),
    Options.optional
  )
}

/**
 * @since 0.1.0
 * @category help
 */
export const summary = "Write test traffic to a stream at a steady rate."

/**
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("produce", options, (args) =>
  // what it does is loaded when it runs: `tributary --help` and the other commands start without it
  Effect.flatMap(Effect.promise(() => import("../run/produce.js")), (run) => run.run(args))).pipe(
    Command.withDescription(Help.description(
      summary,
      "Customer activity messages in mixed formats (a quarter each JSON, CSV, key-value text and XML; one in " +
        "--broken-every broken on purpose), through the Kinesis producer, or POSTed to a running ingest gateway " +
        "with --via-gateway. Runs until --count messages or --duration (or Ctrl-C, which stops cleanly).",
      "Prints a progress line once a second (sent, accepted, rate, failures) and a summary; exit code 1 when " +
        "messages were not accepted."
    ))
  )
