/**
 * The `tributary` command: `demo`, `local`, `provision`, `produce`, `tail`, `leases`, `replay` and `synth`
 * (see docs/cli.md).
 *
 * The commands use the Kinesis, DynamoDB and S3 client services of their context when it has them (tests
 * run the commands in process with `main([...])` and clients of their own), else `layer`'s, made from the
 * standard AWS settings (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL_KINESIS`, ...) when a command runs.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as ValidationError from "@effect/cli/ValidationError"
import type { DynamoDBClient } from "@tributary/dynamodb"
import type { Kinesis } from "@tributary/kinesis"
import type { S3Client } from "@tributary/s3"
import * as Cause from "effect/Cause"
import type * as ConfigError from "effect/ConfigError"
import * as Console from "effect/Console"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { createRequire } from "node:module"
import * as Demo from "./commands/demo.js"
import * as Leases from "./commands/leases.js"
import * as Local from "./commands/local.js"
import * as Produce from "./commands/produce.js"
import * as Provision from "./commands/provision.js"
import * as Replay from "./commands/replay.js"
import * as Synth from "./commands/synth.js"
import * as Tail from "./commands/tail.js"
import * as Errors from "./internal/errors.js"
import * as Help from "./internal/help.js"
import { withLogging } from "./internal/logger.js"
import * as Output from "./internal/output.js"

/** Set while a command runs: what @effect/cli prints before that (its own usage errors) is ours to say. */
const inCommand = FiberRef.unsafeMake(false)

type Clients = Kinesis.Kinesis | DynamoDBClient.DynamoDBClient | S3Client.S3Client

/** The AWS packages, loaded when a command needs them: `--help`, `local` and the demo start without the SDK. */
const aws = Effect.promise(() => Promise.all([import("@tributary/kinesis"), import("@tributary/dynamodb"), import("@tributary/s3")]))

/**
 * The clients from the standard AWS settings (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL_KINESIS`, ...).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Clients, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.map(aws, ([{ Kinesis }, { DynamoDBClient }, { S3Client }]) =>
    Layer.mergeAll(Kinesis.layerConfig(), DynamoDBClient.layerConfig(), S3Client.layerConfig()))
)

/** The clients a command runs with: those of its context when there are (tests), else `layer`'s. */
const clients: Layer.Layer<Clients, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.gen(function*() {
    const [{ Kinesis }, { DynamoDBClient }, { S3Client }] = yield* aws
    const given = <I, S>(tag: Context.Tag<I, S>, fromSettings: Layer.Layer<I, ConfigError.ConfigError>) =>
      Effect.map(Effect.serviceOption(tag), Option.match({ onNone: () => fromSettings, onSome: (service) => Layer.succeed(tag, service) }))
    return Layer.mergeAll(
      yield* given(Kinesis.Kinesis, Kinesis.layerConfig()),
      yield* given(DynamoDBClient.DynamoDBClient, DynamoDBClient.layerConfig()),
      yield* given(S3Client.S3Client, S3Client.layerConfig())
    )
  })
)

const tracked = <Name extends string, R, E, A>(command: Command.Command<Name, R, E, A>) =>
  Command.transformHandler(command, (effect) => Effect.locally(effect, inCommand, true))

const subcommands = [
  tracked(Demo.command),
  tracked(Local.command),
  tracked(Command.provide(Provision.command, clients)),
  tracked(Command.provide(Produce.command, clients)),
  tracked(Command.provide(Tail.command, clients)),
  tracked(Command.provide(Leases.command, clients)),
  tracked(Command.provide(Replay.command, clients)),
  tracked(Synth.command)
] as const

const summary = "typed, fault-tolerant stream processing on Amazon Kinesis and DynamoDB, from the command line."

const notes = [
  "`tributary <command> --help` shows a command's options; --verbose logs more.",
  "AWS settings are the SDK's own: AWS_REGION, credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, " +
  "AWS_PROFILE, ...), and AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_S3 (or " +
  "AWS_ENDPOINT_URL) for other endpoints, such as the emulators `tributary local` starts.",
  "Exit codes: 0 done, 1 failed (one line on stderr says why), 2 wrong usage, 130 interrupted."
]

/**
 * The root command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("tributary").pipe(
  Command.withDescription(HelpDoc.p(summary)),
  Command.withSubcommands(subcommands)
)

/** The package's version: package.json is beside src/ and dist/ alike. */
const version = (createRequire(import.meta.url)("../package.json") as { readonly version: string }).version

/**
 * Parses the command line (`["node", "tributary", ...args]`) and runs the command; fails with a
 * `ValidationError` on wrong usage, or with the command's error.
 *
 * @since 0.1.0
 * @category running
 */
export const run = Command.run(command, { name: "tributary", version })

const helps: ReadonlyArray<Help.CommandHelp> = subcommands.map((command) => Help.of(command))

/**
 * The help: of the root (`name` undefined) or of a command.
 *
 * @since 0.1.0
 * @category help
 */
export const help = (name?: string): string => {
  const sub = helps.find((h) => h.name === name)
  return sub === undefined ? Help.renderRoot(summary, helps, notes) : Help.render(sub)
}

const docText = (doc: HelpDoc.HelpDoc): string =>
  HelpDoc.toAnsiText(doc).replace(/\u001b\[[0-9;]*m/g, "").replace(/\s*\n\s*/g, " ").trim()

/** The value given to an option: `--name value` or `--name=value`. */
const valueOf = (args: ReadonlyArray<string>, name: string): string | undefined => {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name) return args[i + 1]
    if (args[i].startsWith(`${name}=`)) return args[i].slice(name.length + 1)
  }
  return undefined
}

/** @effect/cli's account of a usage error, said with the option's name and the form it takes. */
const usageMessage = (error: ValidationError.ValidationError, sub: Help.CommandHelp | undefined, args: ReadonlyArray<string>) => {
  const text = docText(error.error)
  const missing = /^Expected to find option: '(--[\w-]+)'/.exec(text)
  if (missing !== null) {
    return `${sub?.options.find((option) => option.name === missing[1])?.usage ?? missing[1]} is required`
  }
  if (text.startsWith("Expected one of the following cases")) {
    for (const option of sub?.options ?? []) {
      const value = valueOf(args, option.name)
      if (option.choices !== undefined && value !== undefined && !option.choices.includes(value)) {
        return `${option.name}: "${value}" is not one of ${option.choices.join(", ")}`
      }
    }
  }
  const unknown = /^Received unknown argument: '(.*)'$/.exec(text)
  if (unknown !== null) return `unknown option ${unknown[1]}`
  return text
}

/**
 * Runs the command line and answers the exit code: 0, 1 when the command failed (its error printed as one
 * line on stderr: `tributary: <what went wrong>`), 2 on wrong usage (one line too, naming the option and
 * the form it takes). `tributary` alone shows the help; `--verbose` anywhere logs more (see
 * internal/logger.ts). Interruption is not caught.
 *
 * @since 0.1.0
 * @category running
 */
export const main = (argv: ReadonlyArray<string>) =>
  Effect.suspend(() => {
    const args = argv.slice(2)
    const verbose = args.includes("--verbose")
    const rest = args.filter((arg) => arg !== "--verbose")
    const first = rest[0]
    const sub = helps.find((h) => h.name === first)
    const wantsHelp = rest.length === 0 || rest.includes("--help") || rest.includes("-h")
    if (wantsHelp && (first === undefined || first.startsWith("-") || sub !== undefined)) {
      return Effect.as(Output.line(help(sub?.name)), 0)
    }
    if (first !== undefined && !first.startsWith("-") && sub === undefined) {
      return Effect.as(Output.errorLine(`tributary: unknown command "${first}" (tributary --help lists the commands)`), 2)
    }
    const seeHelp = sub === undefined ? "tributary --help" : `tributary ${sub.name} --help`
    return quietParser(run([argv[0] ?? "node", argv[1] ?? "tributary", ...rest])).pipe(
      Effect.as(0),
      Effect.catchAll((error) =>
        ValidationError.isValidationError(error)
          ? Effect.as(Output.errorLine(`tributary: ${usageMessage(error, sub, rest)} (see ${seeHelp})`), 2)
          : Effect.as(Output.errorLine(`tributary: ${Errors.describe(error)}`), Errors.exitCode(error))
      ),
      Effect.catchAllDefect((defect) =>
        Effect.as(Output.errorLine(`tributary: unexpected failure: ${Cause.pretty(Cause.die(defect))}`), 1)
      ),
      withLogging(verbose)
    )
  })

/** @effect/cli prints its usage errors before failing with them: those are said once, by `main`. */
const quietParser = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.console, (console) =>
    Effect.withConsole(effect, {
      ...console,
      error: (...args) => Effect.flatMap(FiberRef.get(inCommand), (running) => running ? console.error(...args) : Effect.void)
    } satisfies Console.Console))
