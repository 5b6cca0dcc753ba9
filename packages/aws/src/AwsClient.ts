/**
 * What the Kinesis, DynamoDB and S3 client services share: a client built from SDK settings and destroyed
 * with its scope, settings read through Effect's `Config` (so a `ConfigProvider` can supply them), an HTTP
 * handler fit for local emulators on loopback endpoints, and every call made with an abort signal (an
 * interrupted fiber aborts its HTTP request) and the service's error classification. A client built here
 * keeps the SDK's resolved middleware per command, its calls' signals carried beside `send`'s options
 * (`internal/abortSignals`).
 *
 * A service package describes its client once (`Definition`: how to build it, the SDK commands it wraps,
 * its error classification) and gets `fromClient`, `make`, `layer` and `layerConfig` from `service`.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { isLoopback } from "./AwsSdk.js"
import * as AbortSignals from "./internal/abortSignals.js"
import { LoopbackHandler } from "./LoopbackHandler.js"

/**
 * The part of every client service that does not depend on the commands it wraps.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServiceClient<Client, E> {
  /** The SDK client, for calls the service does not wrap (use `use` to keep the error mapping). */
  readonly client: Client
  /** The configured endpoint, if any (otherwise the SDK's regional endpoint). */
  readonly endpoint: string | undefined
  /** True when the endpoint is on this machine (an emulator): lifts limits meant to protect real AWS. */
  readonly isLocal: boolean
  /** Runs any SDK call with an abort signal and the error mapping. */
  readonly use: <A>(operation: string, f: (client: Client, signal: AbortSignal) => Promise<A>) => Effect.Effect<A, E>
}

/**
 * An SDK command class, such as `PutRecordsCommand`.
 *
 * @since 0.1.0
 * @category models
 */
export type CommandClass = new(input: any) => { readonly input: object }

/**
 * One method per command of `Commands` (an object of command classes, `{ PutRecordsCommand, ... }`): the
 * method `putRecords(input)` sends `PutRecordsCommand` as operation "PutRecords".
 *
 * @since 0.1.0
 * @category models
 */
export type Operations<Commands extends Record<string, CommandClass>, E> = {
  readonly [K in keyof Commands as K extends `${infer Operation}Command` ? Uncapitalize<Operation> : never]: (
    input: ConstructorParameters<Commands[K]>[0]
  ) => Effect.Effect<OutputOf<InstanceType<Commands[K]>>, E>
}

/**
 * The output type of a command instance, as the SDK's `client.send` resolves it.
 *
 * @since 0.1.0
 * @category models
 */
export type OutputOf<Command> = Command extends {
  resolveMiddleware(...args: ReadonlyArray<any>): (args: any) => Promise<{ readonly output: infer Output }>
} ? Output
  : never

/**
 * The client service of an AWS service: the service-independent part and a method per wrapped command.
 *
 * @since 0.1.0
 * @category models
 */
export type Client<SdkClient, Commands extends Record<string, CommandClass>, E> =
  & ServiceClient<SdkClient, E>
  & Operations<Commands, E>

/**
 * How a service's client is built and what it wraps.
 *
 * @since 0.1.0
 * @category models
 */
export interface Definition<SdkClient, ClientConfig extends object, Commands extends Record<string, CommandClass>, E, Extra> {
  /** The service's own endpoint variable, e.g. `AWS_ENDPOINT_URL_KINESIS` (else `AWS_ENDPOINT_URL`). */
  readonly endpointVariable: string
  /** Builds the SDK client. */
  readonly client: (config: ClientConfig) => SdkClient
  /** The wrapped commands, e.g. `{ PutRecordsCommand, GetRecordsCommand }` (see `Operations`). */
  readonly commands: Commands
  /** The service's classification of what the SDK throws. */
  readonly fromSdkError: (operation: string, error: unknown) => E
  /**
   * Settings for a loopback endpoint (an emulator); the caller's win. Default a `LoopbackHandler`: HTTP/1.1,
   * and HTTP/2 only for event streams (the SDK's default HTTP/2 fails against the emulators).
   */
  readonly local?: (() => NoInfer<ClientConfig>) | undefined
  /**
   * Keep the SDK's retries (3 attempts unless configured). Default false: 1 attempt, because the package
   * retries on its own, with backoff and its own classification, which the SDK's retries would stack under
   * and hide (and a conditional write must know it was retried).
   */
  readonly sdkRetries?: boolean | undefined
  /** Methods beyond the commands, made from the service client. */
  readonly extend?: ((client: ServiceClient<SdkClient, E>) => Extra) | undefined
}

/**
 * The standard AWS settings, read through `Config`: the region from `AWS_REGION` (or `AWS_DEFAULT_REGION`,
 * else the SDK's profile chain), static credentials from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
 * `AWS_SESSION_TOKEN` when set (else the SDK's default chain: profiles, SSO, web identity, container and
 * instance roles), the endpoint from the service's variable or `AWS_ENDPOINT_URL`, and `AWS_MAX_ATTEMPTS`.
 * The SDK reads these variables too; they are passed explicitly so that a `ConfigProvider` can supply them.
 *
 * @since 0.1.0
 * @category config
 */
export const settings = (
  definition: Pick<Definition<any, any, any, any, any>, "endpointVariable" | "sdkRetries">
): Config.Config<BaseSettings> =>
  Config.all({
    region: Config.option(Config.nonEmptyString("AWS_REGION").pipe(
      Config.orElse(() => Config.nonEmptyString("AWS_DEFAULT_REGION"))
    )),
    endpoint: Config.option(Config.nonEmptyString(definition.endpointVariable).pipe(
      Config.orElse(() => Config.nonEmptyString("AWS_ENDPOINT_URL"))
    )),
    maxAttempts: Config.option(Config.integer("AWS_MAX_ATTEMPTS")),
    // static keys, as the SDK's environment provider would read them (first in its default chain)
    keys: Config.option(Config.all({
      accessKeyId: Config.nonEmptyString("AWS_ACCESS_KEY_ID"),
      secretAccessKey: Config.nonEmptyString("AWS_SECRET_ACCESS_KEY"),
      sessionToken: Config.option(Config.nonEmptyString("AWS_SESSION_TOKEN"))
    }))
  }).pipe(Config.map(({ endpoint, keys, maxAttempts, region }): BaseSettings => {
    const settings: { -readonly [K in keyof BaseSettings]: BaseSettings[K] } = {}
    if (Option.isSome(region)) settings.region = region.value
    if (Option.isSome(endpoint)) settings.endpoint = endpoint.value
    const attempts = Option.getOrUndefined(maxAttempts) ?? (definition.sdkRetries === true ? undefined : 1)
    if (attempts !== undefined) settings.maxAttempts = attempts
    if (Option.isSome(keys)) {
      const { accessKeyId, secretAccessKey, sessionToken } = keys.value
      settings.credentials = Option.isSome(sessionToken)
        ? { accessKeyId, secretAccessKey, sessionToken: sessionToken.value }
        : { accessKeyId, secretAccessKey }
    }
    return settings
  }))

/**
 * The settings `settings` reads, in the SDK's terms.
 *
 * @since 0.1.0
 * @category models
 */
export interface BaseSettings {
  /** The region, from `AWS_REGION` or `AWS_DEFAULT_REGION`; unset leaves it to the SDK's profile chain. */
  readonly region?: string
  /** The endpoint URL, from the service's variable or `AWS_ENDPOINT_URL`; unset means the service's AWS endpoint. */
  readonly endpoint?: string
  /**
   * The SDK's attempts per call, from `AWS_MAX_ATTEMPTS`; else 1, or unset (the SDK's 3) for a service that
   * keeps the SDK's retries.
   */
  readonly maxAttempts?: number
  /**
   * Static keys, from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`; unset leaves them to
   * the SDK's default chain.
   */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string }
}

/**
 * The endpoint of SDK settings when it is a plain URL.
 *
 * @since 0.1.0
 * @category utils
 */
export const endpointOf = (config: object): string | undefined => {
  const endpoint = (config as { readonly endpoint?: unknown }).endpoint
  return typeof endpoint === "string" ? endpoint : undefined
}

/**
 * A service's `fromClient` (wraps a client built elsewhere, which it does not destroy), `make` (builds a
 * client from SDK settings, destroyed when the scope closes), `layer` and `layerConfig` (the settings of
 * `settings`, then the overrides given).
 *
 * @since 0.1.0
 * @category constructors
 */
export const service = <
  I,
  S extends Client<SdkClient, Commands, E>,
  SdkClient extends { destroy(): void; readonly middlewareStack: { remove(name: string): boolean } },
  ClientConfig extends object,
  Commands extends Record<string, CommandClass>,
  E,
  Extra = {}
>(
  tag: Context.Tag<I, S>,
  definition: Definition<SdkClient, ClientConfig, Commands, E, Extra>
) => {
  const fromClient = (client: SdkClient, endpoint?: string): S => {
    const base: ServiceClient<SdkClient, E> = {
      client,
      endpoint,
      isLocal: isLoopback(endpoint),
      use: (operation, f) =>
        Effect.tryPromise({ try: (signal) => f(client, signal), catch: (error) => definition.fromSdkError(operation, error) })
    }
    return { ...base, ...operations(base.use, definition.commands), ...definition.extend?.(base) } as unknown as S
  }
  const make = (config: ClientConfig = {} as ClientConfig): Effect.Effect<S, never, Scope.Scope> =>
    Effect.map(
      Effect.acquireRelease(
        Effect.sync(() => {
          const client = definition.client({
            ...(definition.sdkRetries === true ? {} : { maxAttempts: 1 }),
            // the resolved middleware of each command class is kept (see internal/abortSignals)
            cacheMiddleware: true,
            ...(isLoopback(endpointOf(config)) ? definition.local?.() ?? { requestHandler: new LoopbackHandler() } : {}),
            ...config
          })
          // Without a logger, the SDK's logger middleware still copies every input and output (all the
          // records of a GetRecords page) to filter sensitive fields for a log line nobody writes.
          if ((config as { readonly logger?: unknown }).logger === undefined) client.middlewareStack.remove("loggerMiddleware")
          AbortSignals.prepare(client as unknown as AbortSignals.PreparableClient)
          return client
        }),
        (client) => Effect.sync(() => client.destroy())
      ),
      (client) => fromClient(client, endpointOf(config))
    )
  const layer = (config?: ClientConfig): Layer.Layer<I> => Layer.scoped(tag, make(config))
  const layerConfig = (overrides?: ClientConfig): Layer.Layer<I, ConfigError.ConfigError> =>
    Layer.scoped(tag, Effect.flatMap(settings(definition), (base) => make({ ...base, ...overrides } as ClientConfig)))
  return { fromClient, make, layer, layerConfig } as const
}

/**
 * A method per command (see `Operations`), each sending its command with `use`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const operations = <Client, E, Commands extends Record<string, CommandClass>>(
  use: ServiceClient<Client, E>["use"],
  commands: Commands
): Operations<Commands, E> => {
  const methods: Record<string, (input: object) => Effect.Effect<unknown, E>> = {}
  for (const [className, Command] of Object.entries(commands)) {
    const operation = className.slice(0, -"Command".length)
    methods[operation[0].toLowerCase() + operation.slice(1)] = (input) =>
      use(operation, (client, abortSignal) => AbortSignals.send(client as unknown as AbortSignals.PreparableClient, new Command(input), abortSignal))
  }
  return methods as unknown as Operations<Commands, E>
}
