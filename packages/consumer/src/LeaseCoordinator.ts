/**
 * Which shards this worker processes, decided with the other workers of the same application through a
 * `LeaseStore`, the way the Kinesis Client Library does it: every worker creates leases for new shards,
 * renews the leases it holds, takes leases whose owner stopped renewing (their counter did not move for a
 * lease duration, judged on this worker's own clock), and steals one lease at a time from the most loaded
 * worker until every worker holds its even share. A child shard's lease is taken only once all its parents
 * reached SHARD_END, so records of a key are processed in order across resharding.
 *
 * Unlike the KCL, a worker whose scope closes releases its leases at once, so the others take them at their
 * next take round instead of waiting for them to expire. A steal is a handoff: the thief asks the owner
 * (a mark on the lease), the owner finishes its batch in flight, checkpoints and passes the lease to it,
 * and the thief starts at once; a lease whose owner has not started on it yet is not stolen. A take round
 * runs every take interval and as soon as a lease held by another worker could have expired, so a crashed
 * worker's shards are taken within a lease duration and a take interval of its last renewal.
 *
 * The coordinator only decides; a runner subscribes to `changes` and starts processing a shard (a scoped
 * fiber) when its lease is acquired, stops it when the lease is lost, and checkpoints through the
 * `OwnedLease` it was given. It depends on nothing but the `LeaseStore` and the `Clock`, so the
 * `TestClock` drives it in tests, and many coordinators can run in one process.
 *
 * Its parts: the held leases and their writes (`internal/heldLeases`), the renewer (`internal/renewer`),
 * the take round (`internal/takeRound`) around the pure take decision (`LeaseTaker.planTake`), and shard
 * sync (`internal/shardSync`).
 *
 * Finished leases are deleted once their shards expired and their children started (`cleanupLeases`).
 *
 * It counts leases taken, lost, released and cleaned up, failed renewals, and the leases held (`metrics`,
 * tagged with `application` and `worker`), where it already logs those events.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import { hostname } from "node:os"
import type { LeaseStoreError } from "@tributary/core/LeaseStore"
import { LeaseStore } from "@tributary/core/LeaseStore"
import type { InvalidOptions } from "@tributary/core/TributaryError"
import { checkOptions } from "@tributary/core/TributaryError"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as ConfigReaders from "./internal/config.js"
import * as Handoff from "./internal/handoff.js"
import * as HeldLeases from "./internal/heldLeases.js"
import { renewAll } from "./internal/renewer.js"
import * as ShardSync from "./internal/shardSync.js"
import * as TakeRound from "./internal/takeRound.js"
import type * as LeaseTaker from "./LeaseTaker.js"

// ---------------------------------------------------------------------------------------------------------
// models
// ---------------------------------------------------------------------------------------------------------

/**
 * A shard as the coordinator needs to know it (from Kinesis' ListShards, for instance).
 *
 * @since 0.1.0
 * @category models
 */
export type ShardInfo = ShardSync.ShardInfo

/**
 * Where a consumer starts in a shard that has no checkpoint (see `ConfigOptions.initialPosition`).
 *
 * @since 0.1.0
 * @category models
 */
export type InitialPosition = "TRIM_HORIZON" | "LATEST" | { readonly atTimestamp: Date | number }

/**
 * The options of a coordinator but the shards: what configuration can give (see `config`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ConfigOptions {
  /** Unique per worker. Default: `<hostname>:<pid>:<8 random hex digits>`. */
  readonly workerId?: string | undefined
  /**
   * Names the application in the metrics (tag `application`): the lease table's name is a good choice (one
   * table per consumer application, like a KCL application name). Default `"default"`.
   */
  readonly application?: string | undefined
  /** A lease whose counter did not move for this long is expired and may be taken. Default 10 seconds. */
  readonly leaseDuration?: Duration.DurationInput | undefined
  /** How often held leases are renewed. Default a third of the lease duration. */
  readonly renewInterval?: Duration.DurationInput | undefined
  /**
   * How often the lease table is scanned to take expired leases and steal (a round also runs as soon as a
   * lease held by another worker could have expired). Default the lease duration.
   */
  readonly takeInterval?: Duration.DurationInput | undefined
  /** How often new shards are looked for. Default 1 minute (also right after a lease reaches SHARD_END). */
  readonly shardSyncInterval?: Duration.DurationInput | undefined
  /**
   * Where a shard without a leased parent starts: "LATEST" (default, like the KCL), "TRIM_HORIZON", or
   * `{ atTimestamp }` (a `Date` or epoch milliseconds: the first record that arrived at or after it).
   * With LATEST, closed shards without a leased ancestor get no lease (nothing in them comes after LATEST).
   * A shard whose parent has a lease starts at TRIM_HORIZON (AT_TIMESTAMP while the parent has not
   * started either).
   */
  readonly initialPosition?: InitialPosition | undefined
  /** Never hold more leases than this. Default: no limit. */
  readonly maxLeasesPerWorker?: number | undefined
  /** Leases stolen per take round. Default 1. */
  readonly maxLeasesToStealAtOneTime?: number | undefined
  /**
   * Release every held lease when the coordinator's scope closes, so other workers take them at once.
   * Default true; false behaves like the KCL (the leases expire).
   */
  readonly releaseOnShutdown?: boolean | undefined
  /**
   * Once another worker asked for a lease, how long the runner has to finish its batch and let the lease go
   * (`OwnedLease.handoffRequested`) before the coordinator hands it over anyway. Default 30 seconds.
   */
  readonly handoffTimeout?: Duration.DurationInput | undefined
  /**
   * Delete a finished lease once its shard expired (ListShards no longer lists it: it is older than the
   * stream's retention) and all its children started, at each shard sync, like the KCL. Default true.
   */
  readonly cleanupLeases?: boolean | undefined
  /**
   * What the take rounds even out between workers: `"leases"` (default: the same number each, like the
   * KCL 2.x), or the throughput each worker reads, `"records"` or `"bytes"` per second. With a throughput
   * balance, every renewal publishes its lease's load as measured by the runner (`OwnedLease.countRead`,
   * which a `Consumer` calls for every page under such a balance), and workers take and steal leases to bring each worker near
   * the mean load, without a leader (see `LeaseTaker`). Every worker of an application should use the same
   * balance.
   */
  readonly balance?: LeaseTaker.Balance | undefined
}

/**
 * A coordinator's options: the configurable ones and how to list the stream's shards.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<E = never, R = never> extends ConfigOptions {
  /** The stream's shards, open and closed (ListShards). Called at start and every `shardSyncInterval`. */
  readonly listShards: Effect.Effect<ReadonlyArray<ShardInfo>, E, R>
  /**
   * The leases of the table this coordinator shares out, by key; the others it leaves alone (neither takes,
   * counts, nor cleans up). Default: every lease. A consumer of several streams keeps to its streams' keys.
   */
  readonly manages?: ((leaseKey: string) => boolean) | undefined
}

/**
 * The options in force, defaults filled in.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  /** This worker's id, the owner written in the leases it holds. */
  readonly workerId: string
  /** The application's name in the metrics (tag `application`). */
  readonly application: string
  /** How long a lease's counter may stand still before the lease is expired and may be taken. */
  readonly leaseDuration: Duration.Duration
  /** How often held leases are renewed; shorter than `leaseDuration`. */
  readonly renewInterval: Duration.Duration
  /** How often take rounds scan the lease table to take expired leases and steal. */
  readonly takeInterval: Duration.Duration
  /** How often the shards are listed to create leases for new ones. */
  readonly shardSyncInterval: Duration.Duration
  /** Where a shard without a leased parent starts; AT_TIMESTAMP's time is in epoch milliseconds. */
  readonly initialPosition: "TRIM_HORIZON" | "LATEST" | { readonly atTimestamp: number }
  /** The most leases this worker holds; `Infinity` for no limit. */
  readonly maxLeasesPerWorker: number
  /** How many leases one take round steals at most. */
  readonly maxLeasesToStealAtOneTime: number
  /** Whether the held leases are released when the coordinator's scope closes. */
  readonly releaseOnShutdown: boolean
  /** How long an owner asked for a lease has to hand it over before the lease passes to the asker anyway. */
  readonly handoffTimeout: Duration.Duration
  /** Whether finished leases are deleted once their shards expired and their children started. */
  readonly cleanupLeases: boolean
  /** What the take rounds even out between workers. */
  readonly balance: LeaseTaker.Balance
}

/**
 * Why a lease is no longer held: `taken` (another worker acquired it, found at a renewal or checkpoint),
 * `expired` (renewals failed for a whole lease duration: others may have taken it), `deleted` (the lease
 * is gone), `finished` (checkpointed at SHARD_END and handed back), `released` (`release` was called),
 * `shutdown` (the coordinator's scope closed), `handedOver` (passed to the worker that asked for it).
 *
 * @since 0.1.0
 * @category models
 */
export type LostReason = HeldLeases.LostReason

/**
 * How a lease was taken (see `LeaseTaker.TakeReason`): `unowned`, `expired`, `stolen` or `reclaimed`.
 *
 * @since 0.1.0
 * @category models
 */
export type TakeReason = LeaseTaker.TakeReason

/**
 * A lease this worker holds: process its shard from `lease.checkpoint` on, checkpoint through
 * `checkpoint`, stop when `lost` completes.
 *
 * @since 0.1.0
 * @category models
 */
export type OwnedLease = HeldLeases.OwnedLease

/**
 * A change of the set of held leases.
 *
 * @since 0.1.0
 * @category models
 */
export type LeaseEvent = HeldLeases.LeaseEvent

/**
 * A running coordinator: the leases it holds, their changes, and ways to release, sync and take now.
 *
 * @since 0.1.0
 * @category models
 */
export interface LeaseCoordinatorShape {
  /** This worker's id, the owner written in the leases it holds. */
  readonly workerId: string
  /** The options in force, defaults filled in. */
  readonly settings: Settings
  /** The leases held now. */
  readonly owned: Effect.Effect<ReadonlyMap<string, OwnedLease>>
  /**
   * `Acquired` for every lease held when the stream is run, then `Acquired` and `Lost` as they happen;
   * ends after the `Lost` events of the shutdown, when the coordinator's scope closes.
   */
  readonly changes: Stream.Stream<LeaseEvent>
  /**
   * Hands one lease over now: to the worker that asked for it (`OwnedLease.handoffRequested`), if one did;
   * else it may be taken again at a later take round, by any worker.
   */
  readonly release: (leaseKey: string) => Effect.Effect<void, LeaseStoreError>
  /** Creates leases for new shards now, instead of at the next sync. */
  readonly syncShards: Effect.Effect<void>
  /** Runs a take round now, instead of at the next take interval. */
  readonly takeLeases: Effect.Effect<void>
}

/**
 * The tag of a running coordinator, which `layer` and `layerConfig` provide.
 *
 * @since 0.1.0
 * @category tags
 */
export class LeaseCoordinator extends Context.Tag("@tributary/consumer/LeaseCoordinator")<
  LeaseCoordinator,
  LeaseCoordinatorShape
>() {}

// ---------------------------------------------------------------------------------------------------------
// metrics
// ---------------------------------------------------------------------------------------------------------

/**
 * Effect metrics of every coordinator, tagged with `application` (the `application` option) and `worker`
 * (the worker id). A lease is taken once and leaves once, lost or released: over a coordinator's life,
 * `taken = lost + released + held`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const metrics = {
  /** Leases acquired, tagged `reason` (a `TakeReason`): `unowned`, `expired`, `stolen` or `reclaimed`. */
  taken: Metric.counter("tributary_leases_taken_total", { description: "leases taken, by reason", incremental: true }),
  /**
   * Leases no longer held against this worker's will, tagged `reason`: `taken` (another worker acquired
   * it: a steal, or after this one stopped renewing), `expired` (renewals failed for a lease duration) or
   * `deleted`.
   */
  lost: Metric.counter("tributary_leases_lost_total", { description: "leases lost, by reason", incremental: true }),
  /**
   * Leases this worker let go, tagged `reason`: `finished` (SHARD_END), `released` (`release`, as a
   * consumer does after a shard failed), `shutdown` (the coordinator stopped; with `releaseOnShutdown:
   * false` the leases are left to expire instead) or `handedOver` (to a worker that asked for it).
   */
  released: Metric.counter("tributary_leases_released_total", { description: "leases let go, by reason", incremental: true }),
  /** Renewals that failed without the lease being found taken (throttling, a network error). */
  renewalFailures: Metric.counter("tributary_lease_renewal_failures_total", {
    description: "lease renewals that failed",
    incremental: true
  }),
  /** Leases held now; 0 once the coordinator stopped. */
  held: Metric.gauge("tributary_leases_held", { description: "leases held" }),
  /**
   * Finished leases this worker deleted: their shards expired (older than the stream's retention) and
   * their children started (`cleanupLeases`).
   */
  cleaned: Metric.counter("tributary_leases_cleaned_total", { description: "finished leases deleted", incremental: true })
} as const

// ---------------------------------------------------------------------------------------------------------
// constructors
// ---------------------------------------------------------------------------------------------------------

/**
 * A worker id unique per process: `<hostname>:<pid>:<8 random hex digits>`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultWorkerId = (): string => `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`

/**
 * Fills in defaults and checks the options: `InvalidOptions` for options that cannot work (a duration that
 * is not positive, a renewal interval not shorter than the lease, an empty worker id).
 *
 * @since 0.1.0
 * @category constructors
 */
export const settings = (options: ConfigOptions): Either.Either<Settings, InvalidOptions> => {
  const leaseDuration = Duration.decode(options.leaseDuration ?? "10 seconds")
  const leaseMillis = Duration.toMillis(leaseDuration)
  const resolved: Settings = {
    workerId: options.workerId ?? defaultWorkerId(),
    application: options.application ?? "default",
    leaseDuration,
    renewInterval: Duration.decode(options.renewInterval ?? Duration.millis(leaseMillis / 3)),
    takeInterval: Duration.decode(options.takeInterval ?? leaseDuration),
    shardSyncInterval: Duration.decode(options.shardSyncInterval ?? "1 minute"),
    initialPosition: initialPositionOf(options.initialPosition ?? "LATEST"),
    maxLeasesPerWorker: options.maxLeasesPerWorker ?? Number.POSITIVE_INFINITY,
    maxLeasesToStealAtOneTime: options.maxLeasesToStealAtOneTime ?? 1,
    releaseOnShutdown: options.releaseOnShutdown ?? true,
    handoffTimeout: Duration.decode(options.handoffTimeout ?? "30 seconds"),
    cleanupLeases: options.cleanupLeases ?? true,
    balance: options.balance ?? "leases"
  }
  const positive = (duration: Duration.Duration) =>
    Duration.isFinite(duration) && Duration.toMillis(duration) > 0
      ? undefined
      : `must be a positive finite duration, got ${Duration.format(duration)}`
  const checks: ReadonlyArray<readonly [string, string | undefined]> = [
    ["leaseDuration", positive(resolved.leaseDuration)],
    ["renewInterval", positive(resolved.renewInterval)],
    ["takeInterval", positive(resolved.takeInterval)],
    ["shardSyncInterval", positive(resolved.shardSyncInterval)],
    [
      "handoffTimeout",
      Duration.isFinite(resolved.handoffTimeout) && Duration.toMillis(resolved.handoffTimeout) >= 0
        ? undefined
        : `must be a finite duration, got ${Duration.format(resolved.handoffTimeout)}`
    ],
    [
      "renewInterval",
      Duration.greaterThanOrEqualTo(resolved.renewInterval, resolved.leaseDuration)
        ? "must be shorter than leaseDuration (a lease would expire between renewals)"
        : undefined
    ],
    ["workerId", resolved.workerId.length === 0 ? "must not be empty" : undefined],
    [
      "initialPosition",
      typeof resolved.initialPosition === "string" || Number.isFinite(resolved.initialPosition.atTimestamp)
        ? undefined
        : "atTimestamp must be a valid time"
    ],
    ["application", resolved.application.length === 0 ? "must not be empty" : undefined],
    ["maxLeasesPerWorker", resolved.maxLeasesPerWorker >= 1 ? undefined : "must be at least 1"],
    [
      "maxLeasesToStealAtOneTime",
      Number.isInteger(resolved.maxLeasesToStealAtOneTime) && resolved.maxLeasesToStealAtOneTime >= 1
        ? undefined
        : "must be a positive integer"
    ],
    [
      "balance",
      ["leases", "records", "bytes"].includes(resolved.balance) ? undefined : `must be "leases", "records" or "bytes"`
    ]
  ]
  const invalid = checkOptions("LeaseCoordinator", checks)
  return invalid === undefined ? Either.right(resolved) : Either.left(invalid)
}

/**
 * The options from configuration, every one optional (unset: the default):
 *
 * | variable | option |
 * | --- | --- |
 * | `WORKER_ID` | `workerId` |
 * | `APPLICATION` | `application` |
 * | `LEASE_DURATION` | `leaseDuration` (an Effect duration, `10 seconds`, or milliseconds) |
 * | `RENEW_INTERVAL` | `renewInterval` |
 * | `TAKE_INTERVAL` | `takeInterval` |
 * | `SHARD_SYNC_INTERVAL` | `shardSyncInterval` |
 * | `INITIAL_POSITION` | `initialPosition` (`TRIM_HORIZON`, `LATEST` or `AT_TIMESTAMP`) |
 * | `INITIAL_TIMESTAMP` | AT_TIMESTAMP's time, ISO 8601 or epoch milliseconds (alone, it means AT_TIMESTAMP) |
 * | `MAX_LEASES_PER_WORKER` | `maxLeasesPerWorker` |
 * | `MAX_LEASES_TO_STEAL_AT_ONE_TIME` | `maxLeasesToStealAtOneTime` |
 * | `RELEASE_ON_SHUTDOWN` | `releaseOnShutdown` (`true` or `false`) |
 * | `HANDOFF_TIMEOUT` | `handoffTimeout` |
 * | `CLEANUP_LEASES` | `cleanupLeases` (`true` or `false`) |
 * | `BALANCE` | `balance` (`leases`, `records` or `bytes`) |
 *
 * `Config.nested(LeaseCoordinator.config, "ORDERS")` reads `ORDERS_LEASE_DURATION` and so on.
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<ConfigOptions> = Config.all({
  workerId: ConfigReaders.optional(Config.nonEmptyString("WORKER_ID")),
  application: ConfigReaders.optional(Config.nonEmptyString("APPLICATION")),
  leaseDuration: ConfigReaders.optional(ConfigReaders.duration("LEASE_DURATION")),
  renewInterval: ConfigReaders.optional(ConfigReaders.duration("RENEW_INTERVAL")),
  takeInterval: ConfigReaders.optional(ConfigReaders.duration("TAKE_INTERVAL")),
  shardSyncInterval: ConfigReaders.optional(ConfigReaders.duration("SHARD_SYNC_INTERVAL")),
  initialPosition: ConfigReaders.initialPosition("INITIAL_POSITION", "INITIAL_TIMESTAMP"),
  maxLeasesPerWorker: ConfigReaders.optional(Config.integer("MAX_LEASES_PER_WORKER")),
  maxLeasesToStealAtOneTime: ConfigReaders.optional(Config.integer("MAX_LEASES_TO_STEAL_AT_ONE_TIME")),
  releaseOnShutdown: ConfigReaders.optional(Config.boolean("RELEASE_ON_SHUTDOWN")),
  handoffTimeout: ConfigReaders.optional(ConfigReaders.duration("HANDOFF_TIMEOUT")),
  cleanupLeases: ConfigReaders.optional(Config.boolean("CLEANUP_LEASES")),
  balance: ConfigReaders.optional(Config.literal("leases", "records", "bytes")("BALANCE"))
})

/**
 * Starts a coordinator: it syncs shards and runs a take round at once, then renews, takes and syncs in
 * background fibers until the scope closes (then, by default, it releases every lease it holds). Fails
 * with `InvalidOptions` for options that cannot work.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E, R>(
  options: Options<E, R>
): Effect.Effect<LeaseCoordinatorShape, InvalidOptions, LeaseStore | Scope.Scope | R> =>
  Effect.gen(function*() {
    const config = yield* settings(options)
    const store = yield* LeaseStore
    const { workerId } = config
    const scope = yield* Effect.scope
    // the shards are listed from background fibers and from `syncShards`: with the caller's services
    const listShards = Effect.provide(options.listShards, yield* Effect.context<R>())
    const annotate = <A, E2, R2>(effect: Effect.Effect<A, E2, R2>) => Effect.annotateLogs(effect, "workerId", workerId)
    const counters = countersOf(config.application, workerId)
    const manages = options.manages ?? (() => true)

    const leaseMillis = Duration.toMillis(config.leaseDuration)
    const renewMillis = Duration.toMillis(config.renewInterval)
    const takeMillis = Duration.toMillis(config.takeInterval)
    const handoffMillis = Duration.toMillis(config.handoffTimeout)

    // the children of a shard that reached its end are created and taken at once
    let afterShardEnd: Effect.Effect<void> = Effect.void
    const held = yield* HeldLeases.make({
      workerId,
      store,
      leaseMillis,
      renewMillis,
      dropped: counters.dropped,
      held: counters.held,
      afterShardEnd: Effect.suspend(() => afterShardEnd),
      handoffMillis,
      scope
    })

    const syncLock = yield* Effect.makeSemaphore(1)
    const syncShards: Effect.Effect<void> = syncLock.withPermits(1)(
      ShardSync.syncShards({
        store,
        listShards,
        initialPosition: config.initialPosition,
        manages,
        cleanup: config.cleanupLeases ? { cleaned: counters.cleaned } : undefined
      })
    ).pipe(logFailures("shard sync failed"), Effect.withSpan("LeaseCoordinator.syncShards", { root: true }), annotate)

    const takeLock = yield* Effect.makeSemaphore(1)
    const taker = TakeRound.make({
      workerId,
      store,
      held,
      leaseMillis,
      // a new owner has a lease duration to start on a shard before it may be stolen again
      startingMillis: leaseMillis,
      maxLeasesPerWorker: config.maxLeasesPerWorker,
      maxLeasesToStealAtOneTime: config.maxLeasesToStealAtOneTime,
      balance: config.balance,
      taken: counters.taken,
      requestHandoff: Handoff.make({
        workerId,
        store,
        held,
        // a handover is picked up within a twentieth of a renew interval (at least 10 ms, at most 250 ms)
        pollMillis: Math.min(250, Math.max(10, renewMillis / 20)),
        // the owner sees the request at its next write, and has the handoff timeout to let go
        waitMillis: 2 * renewMillis + handoffMillis,
        taken: counters.taken,
        scope
      }),
      manages
    })
    const takeLeases: Effect.Effect<void> = takeLock.withPermits(1)(taker.run).pipe(
      logFailures("take round failed"),
      Effect.withSpan("LeaseCoordinator.takeLeases", { root: true }),
      annotate
    )
    afterShardEnd = Effect.zipRight(syncShards, takeLeases)
    // a take interval after the last round ended, or as soon as a watched lease could have expired
    const takeLoop = Effect.forever(Effect.gen(function*() {
      const due = Math.min(taker.lastEndedAt() + takeMillis, taker.nextExpiry() ?? Number.POSITIVE_INFINITY)
      const now = yield* Clock.currentTimeMillis
      // another round may run meanwhile (a shard end, `takeLeases`): look again after the sleep
      // whole milliseconds: a clock with fractions (a simulation's) would otherwise wake a hair too early,
      // again and again
      if (now < due) yield* Effect.sleep(Duration.millis(Math.ceil(due - now)))
      else yield* takeLeases
    }))

    const renewals = renewAll({
      held,
      store,
      publishLoad: config.balance !== "leases",
      renewalFailures: counters.renewalFailures,
      scope,
      renewMillis,
      leaseMillis
    })

    // Registered before the loops are forked, so it runs after they are interrupted (finalizers run in
    // reverse order).
    yield* Effect.addFinalizer(() => annotate(held.close(config.releaseOnShutdown)))

    const every = (interval: Duration.Duration, effect: Effect.Effect<void>) =>
      Effect.forever(Effect.zipRight(Effect.sleep(interval), effect))
    // every round is a trace of its own (see Pipeline.runShard): a worker's life would be one endless trace
    yield* Effect.forkScoped(annotate(every(
      config.renewInterval,
      logFailures("renewals failed")(renewals).pipe(Effect.withSpan("LeaseCoordinator.renewLeases", { root: true }))
    )))
    yield* Effect.forkScoped(Effect.zipRight(
      afterShardEnd,
      Effect.zipRight(Effect.forkScoped(every(config.shardSyncInterval, syncShards)), takeLoop)
    ))

    return {
      workerId,
      settings: config,
      owned: held.owned,
      changes: held.changes,
      release: held.release,
      syncShards,
      takeLeases
    }
  })

/**
 * The coordinator as a layer providing `LeaseCoordinator`: it runs while the layer is alive and releases
 * its leases (by default) when the layer closes. Fails with `InvalidOptions` for options that cannot work.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <E, R>(options: Options<E, R>): Layer.Layer<LeaseCoordinator, InvalidOptions, LeaseStore | R> =>
  Layer.scoped(LeaseCoordinator, make(options))

/**
 * The coordinator with its options from configuration (default: `config`, the documented variables), e.g.
 * `LeaseCoordinator.layerConfig(listShards)` or `LeaseCoordinator.layerConfig(listShards, { leaseDuration:
 * Config.duration("FAILOVER_TIME") })`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = <E, R>(
  listShards: Effect.Effect<ReadonlyArray<ShardInfo>, E, R>,
  options: Config.Config.Wrap<ConfigOptions> = config
): Layer.Layer<LeaseCoordinator, ConfigError.ConfigError | InvalidOptions, LeaseStore | R> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(options), (read) => layer({ ...read, listShards })))

// ---------------------------------------------------------------------------------------------------------
// internal
// ---------------------------------------------------------------------------------------------------------

const initialPositionOf = (position: InitialPosition): Settings["initialPosition"] =>
  typeof position === "string"
    ? position
    : { atTimestamp: typeof position.atTimestamp === "number" ? position.atTimestamp : position.atTimestamp.getTime() }

/** The lease metrics of one coordinator, tagged once: application, worker, then reason. */
const countersOf = (application: string, workerId: string) => {
  const tag = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>) =>
    metric.pipe(Metric.tagged("application", application), Metric.tagged("worker", workerId))
  const byReason = (metric: Metric.Metric.Counter<number>, value: string) => Metric.tagged(tag(metric), "reason", value)
  return {
    taken: {
      unowned: byReason(metrics.taken, "unowned"),
      expired: byReason(metrics.taken, "expired"),
      stolen: byReason(metrics.taken, "stolen"),
      reclaimed: byReason(metrics.taken, "reclaimed")
    },
    dropped: {
      taken: byReason(metrics.lost, "taken"),
      expired: byReason(metrics.lost, "expired"),
      deleted: byReason(metrics.lost, "deleted"),
      finished: byReason(metrics.released, "finished"),
      released: byReason(metrics.released, "released"),
      shutdown: byReason(metrics.released, "shutdown"),
      handedOver: byReason(metrics.released, "handedOver")
    },
    renewalFailures: tag(metrics.renewalFailures),
    held: tag(metrics.held),
    cleaned: tag(metrics.cleaned)
  }
}

/** Background rounds never fail: a failure is logged and the next round tries again. */
const logFailures = (message: string) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<void, never, R> =>
  Effect.catchAllCause(Effect.asVoid(effect), (cause) =>
    Cause.isInterruptedOnly(cause) ? Effect.failCause(cause as Cause.Cause<never>) : Effect.logWarning(message, cause))
