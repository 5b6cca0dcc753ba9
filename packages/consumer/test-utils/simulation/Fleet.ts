/**
 * A fleet of workers sharing one stream through one lease table, simulated in one process: each worker is
 * the real `LeaseCoordinator` (its renewer, take rounds with `LeaseTaker.planTake`, shard sync), given the
 * modelled lease table (`LeaseTableModel`) and shard listing (`StreamModel`), and a stand-in for the
 * pipeline runner that reports what it reads from each held shard (`OwnedLease.countRead`), charges the
 * table for its checkpoints, and checkpoints `SHARD_END` once a closed shard is read to its end. Time is
 * virtual (`VirtualTime`).
 *
 * A script drives the fleet (start, stop, kill workers, reshard), marks when the event under study begins,
 * and waits for the fleet to settle; the fleet watches the table and the workers and reports what the
 * issue asks: time to settle, leases per worker, lease moves, capacity used, ListShards calls, and how long
 * shards went without a worker.
 */
import * as LeaseStore from "@tributary/core/LeaseStore"
import type { Lease } from "@tributary/core/LeaseStore"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as EffectRandom from "effect/Random"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as LeaseCoordinator from "../../src/LeaseCoordinator.js"
import * as LeaseTableModel from "./LeaseTableModel.js"
import * as Random from "./Random.js"
import * as StreamModel from "./StreamModel.js"
import * as VirtualTime from "./VirtualTime.js"

/**
 * @since 0.1.0
 */
export interface Options {
  /** Open shards at the start. */
  readonly shards: number
  /** The coordinators' options (every worker the same); `initialPosition` defaults to TRIM_HORIZON. */
  readonly coordinator?: Omit<LeaseCoordinator.ConfigOptions, "workerId"> | undefined
  readonly table?: LeaseTableModel.Options | undefined
  readonly stream?: Omit<StreamModel.Options, "shards"> | undefined
  /** Records per second of each initial shard, by index; a child has half of its parent's. Default 100. */
  readonly traffic?: ((index: number, shards: number) => number) | undefined
  /** Bytes per record. Default 1,000. */
  readonly recordBytes?: number | undefined
  /** Checkpoints per second of each held shard, charged to the table's write capacity. Default 1. */
  readonly checkpointsPerSecond?: number | undefined
  /** How long after a shard closes its owner reads to its end and checkpoints SHARD_END. Default 2 s. */
  readonly drainMillis?: number | undefined
  readonly seed?: number | undefined
}

/** What a script can do. */
export interface Fleet {
  /** Starts workers, each after a random delay below `spreadMillis`; answers their ids once all started. */
  readonly start: (count: number, spreadMillis?: number) => Effect.Effect<ReadonlyArray<string>>
  /**
   * Puts every shard's lease in the table, owned evenly by `count` new workers, then starts them (within
   * `spreadMillis`, less than a lease duration): each takes its own leases back at once. A fleet that has
   * run for a while, without simulating how it got there.
   */
  readonly startSettled: (count: number, spreadMillis?: number) => Effect.Effect<ReadonlyArray<string>>
  /** Graceful stops, all at once: each worker releases its leases. */
  readonly stop: (workerIds: ReadonlyArray<string>) => Effect.Effect<void>
  /** Kills the workers' processes: nothing of theirs reaches the table any more, their leases expire. */
  readonly kill: (workerIds: ReadonlyArray<string>) => Effect.Effect<void>
  /** Doubles the stream's shards (`UpdateShardCount`): every open shard closes and splits in two. */
  readonly reshard: Effect.Effect<void>
  /** Workers running, in the order they started. */
  readonly live: () => ReadonlyArray<string>
  /** The event under study begins: what is reported is measured from here. */
  readonly mark: Effect.Effect<void>
  /**
   * Waits until no lease was acquired for `quietMillis` and every shard ready to be processed has a
   * worker, for at most `maxMillis` after the mark.
   */
  readonly settle: (options: { readonly quietMillis: number; readonly maxMillis: number }) => Effect.Effect<void>
}

/** What a run measured, from the mark to its end. */
export interface Report {
  /** From the mark to the last lease acquisition; undefined when the fleet did not settle in time. */
  readonly settleMillis: number | undefined
  /** Ready leases per running worker at the end (the table's owners). */
  readonly maxLeasesPerWorker: number
  readonly minLeasesPerWorker: number
  /** Acquisitions by a worker other than the lease's previous holder (a first acquisition is no move). */
  readonly moves: number
  /** Leases stolen back by a worker they were stolen from. */
  readonly stolenBack: number
  readonly peakReadUnits: number
  readonly peakWriteUnits: number
  /** Per second over the quiet period at the end: the steady state. */
  readonly steadyReadUnits: number
  readonly steadyWriteUnits: number
  readonly tableThrottled: number
  readonly peakListShardsCalls: number
  readonly listShardsThrottled: number
  /** Seconds of shards ready to be processed with no running worker holding them, summed over shards. */
  readonly unownedShardSeconds: number
  /** The longest a shard went without a worker (an interval that ended after the mark, or still open). */
  readonly longestUnownedMillis: number
  /** The longest two running workers both held a lease (a steal, until the old owner's next write). */
  readonly longestHeldTwiceMillis: number
  /** The heaviest running worker's load over the mean, in records per second of the shards it holds. */
  readonly maxOverMeanLoad: number
  /** At the end: ready leases no running worker holds, held by several, or held where the table names another. */
  readonly unowned: number
  readonly heldTwice: number
  readonly disagreeing: number
  readonly virtualMillis: number
}

interface Worker {
  readonly id: string
  readonly scope: Scope.CloseableScope
  alive: boolean
  readonly held: Map<string, LeaseCoordinator.OwnedLease>
}

/** Runs a script on a fleet in virtual time and answers what it measured. */
export const run = async (options: Options, script: (fleet: Fleet) => Effect.Effect<void>): Promise<Report> => {
  const exit = await VirtualTime.run(
    simulate(options, script).pipe(
      Effect.withRandom(EffectRandom.make(options.seed ?? 42)),
      // what the coordinators log (failed rounds under throttling) is counted in the report, not printed
      Logger.withMinimumLogLevel(LogLevel.None)
    )
  )
  if (Exit.isFailure(exit)) throw new Error(`simulation failed: ${String(exit.cause)}`)
  return exit.value
}

const simulate = (options: Options, script: (fleet: Fleet) => Effect.Effect<void>) =>
  Effect.gen(function*() {
    const random = Random.make((options.seed ?? 42) + 7)
    const root = yield* Scope.make()
    const workers = new Map<string, Worker>()
    const recordBytes = options.recordBytes ?? 1_000
    const checkpointsPerSecond = options.checkpointsPerSecond ?? 1
    const drainMillis = options.drainMillis ?? 2_000
    const coordinatorOptions = { initialPosition: "TRIM_HORIZON" as const, ...options.coordinator }
    const settings = LeaseCoordinator.settings({ ...coordinatorOptions, workerId: "settings" })
    if (settings._tag === "Left") return yield* Effect.die(settings.left)
    const measuresLoad = settings.right.balance !== "leases"

    // --- what is watched ---
    let markAt = 0
    let lastAcquisition = 0
    let moves = 0
    let stolenBack = 0
    let unownedMillis = 0
    let longestUnowned = 0
    const holders = new Map<string, number>()
    const ready = new Set<string>()
    const finished = new Set<string>()
    const exists = new Set<string>()
    const children = new Map<string, Array<string>>()
    const parentsOf = new Map<string, ReadonlyArray<string>>()
    const unownedSince = new Map<string, number>()
    const heldTwiceSince = new Map<string, number>()
    let longestHeldTwice = 0
    const lastHolder = new Map<string, string>()
    const lastSteal = new Map<string, { readonly from: string; readonly to: string }>()

    const watch = (leaseKey: string, now: number) => {
      const unowned = ready.has(leaseKey) && (holders.get(leaseKey) ?? 0) === 0
      const since = unownedSince.get(leaseKey)
      if (unowned && since === undefined) unownedSince.set(leaseKey, now)
      else if (!unowned && since !== undefined) {
        unownedSince.delete(leaseKey)
        if (now >= markAt) {
          unownedMillis += now - Math.max(since, markAt)
          longestUnowned = Math.max(longestUnowned, now - since)
        }
      }
    }
    const holding = (leaseKey: string, delta: number, now: number) => {
      const count = (holders.get(leaseKey) ?? 0) + delta
      holders.set(leaseKey, count)
      watch(leaseKey, now)
      // two workers at once: a steal, until the old owner's next write finds out
      const since = heldTwiceSince.get(leaseKey)
      if (count > 1 && since === undefined) heldTwiceSince.set(leaseKey, now)
      else if (count <= 1 && since !== undefined) {
        heldTwiceSince.delete(leaseKey)
        if (now >= markAt) longestHeldTwice = Math.max(longestHeldTwice, now - since)
      }
    }
    const becomesReadyIfParentsDone = (leaseKey: string, now: number) => {
      const parents = parentsOf.get(leaseKey) ?? []
      if (parents.every((parent) => finished.has(parent) || !exists.has(parent))) {
        ready.add(leaseKey)
        watch(leaseKey, now)
      }
    }
    const observer: LeaseTableModel.Observer = {
      created: (lease, now) => {
        exists.add(lease.leaseKey)
        parentsOf.set(lease.leaseKey, lease.parentShardIds)
        for (const parent of lease.parentShardIds) children.set(parent, [...(children.get(parent) ?? []), lease.leaseKey])
        becomesReadyIfParentsDone(lease.leaseKey, now)
      },
      acquired: (before, after, now) => {
        lastAcquisition = now
        const previous = lastHolder.get(after.leaseKey)
        const to = after.owner!
        if (previous !== undefined && previous !== to && now >= markAt) moves++
        lastHolder.set(after.leaseKey, to)
        // a steal: from a worker still running and holding it
        if (before.owner !== null && before.owner !== to && workers.get(before.owner)?.alive === true) {
          const last = lastSteal.get(after.leaseKey)
          if (last !== undefined && last.from === to && last.to === before.owner && now >= markAt) stolenBack++
          lastSteal.set(after.leaseKey, { from: before.owner, to })
        }
      },
      released: () => {},
      finished: (lease, now) => {
        finished.add(lease.leaseKey)
        ready.delete(lease.leaseKey)
        watch(lease.leaseKey, now)
        for (const child of children.get(lease.leaseKey) ?? []) if (exists.has(child)) becomesReadyIfParentsDone(child, now)
      }
    }

    const model = LeaseTableModel.make({ seed: (options.seed ?? 42) + 1, ...options.table }, observer)
    const stream = StreamModel.make({ seed: (options.seed ?? 42) + 2, ...options.stream, shards: options.shards })

    // records per second of each shard: a child has half of its parent's
    const rates = new Map<string, number>()
    const rateOf = (shardId: string): number => {
      const known = rates.get(shardId)
      if (known !== undefined) return known
      const parent = stream.parentOf(shardId)
      const rate = parent === undefined ? (options.traffic ?? (() => 100))(Number(shardId.slice(8)), options.shards) : rateOf(parent) / 2
      rates.set(shardId, rate)
      return rate
    }

    // --- workers ---
    const names = new Set<string>()
    const newId = () => {
      while (true) {
        const n = Math.floor(random.next() * 65_536)
        const hex = Math.floor(random.next() * 2 ** 32).toString(16).padStart(8, "0")
        // shaped like the default worker id of a process on EC2: <hostname>:<pid>:<8 hex digits>
        const id = `ip-10-0-${n >> 8}-${n & 255}.ec2.internal:1:${hex}`
        if (!names.has(id)) {
          names.add(id)
          return id
        }
      }
    }

    const launch = (id: string) =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const worker: Worker = { id, scope, alive: true, held: new Map() }
        workers.set(id, worker)
        const coordinator = yield* LeaseCoordinator.make({ ...coordinatorOptions, workerId: id, listShards: stream.listShards }).pipe(
          Scope.extend(scope),
          Effect.provideService(LeaseStore.LeaseStore, model.storeFor(id)),
          Effect.orDie
        )
        yield* coordinator.changes.pipe(
          Stream.runForEach((event) =>
            Effect.flatMap(Clock.currentTimeMillis, (now) =>
              Effect.sync(() => {
                if (!worker.alive) return
                if (event._tag === "Acquired") {
                  worker.held.set(event.lease.leaseKey, event.lease)
                  holding(event.lease.leaseKey, 1, now)
                } else if (worker.held.delete(event.leaseKey)) {
                  holding(event.leaseKey, -1, now)
                }
              }))
          ),
          Effect.forkIn(root)
        )
        // the runner lets a lease go as soon as another worker asks for it (a Consumer first finishes the
        // batch in flight and checkpoints: instant here)
        yield* coordinator.changes.pipe(
          Stream.runForEach((event) =>
            event._tag === "Acquired"
              ? Effect.forkIn(
                Effect.flatMap(event.lease.handoffRequested, () => Effect.ignore(coordinator.release(event.lease.leaseKey))),
                scope
              )
              : Effect.void
          ),
          Effect.forkIn(scope)
        )
        // the runner: what it reads, its checkpoints, the end of closed shards
        const ending = new Set<string>()
        const tick = Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          if (checkpointsPerSecond > 0 && worker.held.size > 0) model.chargeWrites(now, worker.held.size * checkpointsPerSecond)
          for (const [leaseKey, lease] of worker.held) {
            if (measuresLoad) {
              const records = rateOf(leaseKey)
              yield* lease.countRead(records, records * recordBytes)
            }
            const closedAt = stream.closedAt(leaseKey)
            if (closedAt !== undefined && now >= closedAt + drainMillis && !ending.has(leaseKey)) {
              ending.add(leaseKey)
              yield* Effect.forkIn(Effect.ignore(lease.checkpoint("SHARD_END")), scope)
            }
          }
        })
        yield* Effect.forkIn(Effect.forever(Effect.zipRight(Effect.sleep(1_000), tick)), scope)
        return id
      })

    const startAll = (ids: ReadonlyArray<string>, spreadMillis: number) =>
      Effect.forEach(ids, (id) => Effect.zipRight(Effect.sleep(random.next() * spreadMillis), launch(id)), {
        concurrency: "unbounded"
      })

    const close = (worker: Worker) =>
      Effect.gen(function*() {
        yield* Scope.close(worker.scope, Exit.void)
        const now = yield* Clock.currentTimeMillis
        worker.alive = false
        for (const leaseKey of worker.held.keys()) holding(leaseKey, -1, now)
        worker.held.clear()
      })

    const fleet: Fleet = {
      start: (count, spreadMillis = 0) => startAll(Array.from({ length: count }, newId), spreadMillis),
      startSettled: (count, spreadMillis = 5_000) =>
        Effect.gen(function*() {
          const ids = Array.from({ length: count }, newId)
          const shards = yield* Effect.orDie(stream.listShards)
          const now = yield* Clock.currentTimeMillis
          for (const [i, shard] of shards.entries()) {
            yield* Effect.orDie(model.table.createIfAbsent({
              leaseKey: shard.shardId,
              checkpoint: "TRIM_HORIZON",
              parentShardIds: shard.parentShardIds,
              hashRange: shard.hashRange
            }))
            const created = yield* Effect.orDie(model.table.get(shard.shardId))
            if (created._tag === "None") continue
            observer.created(created.value, now)
            const owner = ids[i % ids.length]
            yield* Effect.orDie(model.table.acquire(created.value, owner))
            lastHolder.set(shard.shardId, owner)
          }
          return yield* startAll(ids, spreadMillis)
        }),
      stop: (ids) =>
        Effect.forEach(ids, (id) => {
          const worker = workers.get(id)
          return worker === undefined || !worker.alive ? Effect.void : close(worker)
        }, { concurrency: "unbounded", discard: true }),
      kill: (ids) =>
        Effect.forEach(ids, (id) =>
          Effect.gen(function*() {
            const worker = workers.get(id)
            if (worker === undefined || !worker.alive) return
            const now = yield* Clock.currentTimeMillis
            model.kill(id)
            worker.alive = false
            for (const leaseKey of worker.held.keys()) holding(leaseKey, -1, now)
            worker.held.clear()
            // its finalizers run, but none of its writes reach the table
            yield* Scope.close(worker.scope, Exit.void)
          }), { discard: true }),
      reshard: stream.doubleShards,
      live: () => Array.from(workers.values()).filter((worker) => worker.alive).map((worker) => worker.id),
      mark: Effect.map(Clock.currentTimeMillis, (now) => {
        markAt = now
        lastAcquisition = now
      }),
      settle: ({ maxMillis, quietMillis }) =>
        Effect.gen(function*() {
          while (true) {
            const now = yield* Clock.currentTimeMillis
            if (now - markAt >= maxMillis) return
            if (now - lastAcquisition >= quietMillis && unownedSince.size === 0) return
            yield* Effect.sleep(1_000)
          }
        })
    }

    yield* script(fleet)

    // --- the report ---
    const end = yield* Clock.currentTimeMillis
    for (const [leaseKey, since] of unownedSince) {
      unownedMillis += end - Math.max(since, markAt)
      longestUnowned = Math.max(longestUnowned, end - since)
      void leaseKey
    }
    const live = Array.from(workers.values()).filter((worker) => worker.alive)
    const leases = yield* Effect.orDie(model.table.list)
    const byKey = new Map<string, Lease>(leases.map((lease) => [lease.leaseKey, lease]))
    const counts = new Map<string, number>(live.map((worker) => [worker.id, 0]))
    const loads = new Map<string, number>(live.map((worker) => [worker.id, 0]))
    for (const leaseKey of ready) {
      const owner = byKey.get(leaseKey)?.owner
      if (owner !== null && owner !== undefined && counts.has(owner)) {
        counts.set(owner, counts.get(owner)! + 1)
        loads.set(owner, loads.get(owner)! + rateOf(leaseKey))
      }
    }
    let heldTwice = 0
    let disagreeing = 0
    for (const leaseKey of ready) if ((holders.get(leaseKey) ?? 0) > 1) heldTwice++
    for (const worker of live) {
      for (const leaseKey of worker.held.keys()) if (byKey.get(leaseKey)?.owner !== worker.id) disagreeing++
    }
    const loadValues = [...loads.values()]
    const meanLoad = loadValues.reduce((a, b) => a + b, 0) / Math.max(1, loadValues.length)
    const settled = end - lastAcquisition
    const quiet = Math.max(1_000, Math.min(settled, 60_000))
    const report: Report = {
      settleMillis: unownedSince.size === 0 && settled > 0 ? lastAcquisition - markAt : undefined,
      maxLeasesPerWorker: Math.max(0, ...counts.values()),
      minLeasesPerWorker: counts.size === 0 ? 0 : Math.min(...counts.values()),
      moves,
      stolenBack,
      peakReadUnits: model.readUnits.peak(markAt, end),
      peakWriteUnits: model.writeUnits.peak(markAt, end),
      steadyReadUnits: model.readUnits.mean(end - quiet, end),
      steadyWriteUnits: model.writeUnits.mean(end - quiet, end),
      tableThrottled: model.throttled.mean(markAt, end) * (end - markAt) / 1000,
      peakListShardsCalls: stream.calls.peak(markAt, end),
      listShardsThrottled: stream.throttled.mean(markAt, end) * (end - markAt) / 1000,
      unownedShardSeconds: unownedMillis / 1000,
      longestUnownedMillis: longestUnowned,
      longestHeldTwiceMillis: Math.max(longestHeldTwice, ...Array.from(heldTwiceSince.values(), (since) => end - since)),
      maxOverMeanLoad: meanLoad === 0 ? 1 : Math.max(...loadValues) / meanLoad,
      unowned: unownedSince.size,
      heldTwice,
      disagreeing,
      virtualMillis: end
    }
    // stop what is left: the run ends with every scope closed
    yield* Effect.forEach(live, close, { concurrency: "unbounded", discard: true })
    yield* Scope.close(root, Exit.void)
    return report
  })
