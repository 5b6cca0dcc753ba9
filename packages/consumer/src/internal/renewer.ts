/**
 * The renewer: every renew interval, each held lease is renewed (its counter moved, conditional on owner
 * and counter) in a fiber of its own, so a hung call delays no other lease. A lease written shortly before
 * (a checkpoint moves the counter too) skips the round when the next round still comes in good time, so a
 * busy shard's checkpoints stand in for its renewals; not when renewals publish the load. A lease whose
 * renewals keep failing is dropped as `expired` before others may take it: when the next renewal would
 * come too late.
 */
import type { LeaseStoreShape } from "@tributary/core/LeaseStore"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import type { HeldLeases, Holder } from "./heldLeases.js"

/** One round: renews every held lease. */
export const renewAll = (options: {
  readonly held: HeldLeases
  readonly store: LeaseStoreShape
  /** Each renewal publishes the lease's measured load (throughput-aware assignment). */
  readonly publishLoad: boolean
  /** Counted once per failed renewal that did not find the lease taken. */
  readonly renewalFailures: Metric.Metric.Counter<number>
  /** Where the renewals run. */
  readonly scope: Scope.Scope
  /** How often rounds run, and how long a lease lasts unrenewed: a lease skips a round only with time to spare. */
  readonly renewMillis: number
  readonly leaseMillis: number
}): Effect.Effect<void> => {
  const { held, store } = options

  const renewOne = (holder: Holder): Effect.Effect<void> =>
    holder.lock.withPermits(1)(Effect.gen(function*() {
      if (holder.state !== "held") return
      const load = options.publishLoad ? holder.meter.rate(yield* Clock.currentTimeMillis) : undefined
      const result = yield* Effect.either(held.write(holder, "renew", (version) => store.renew(version, load)))
      if (result._tag === "Right") return
      if (result.left._tag === "LeaseLost") {
        // stolen by a worker with fewer leases, or taken after this one failed to renew: no fault
        return yield* Effect.logInfo(`lease lost (${holder.state})`).pipe(Effect.annotateLogs("leaseKey", holder.leaseKey))
      }
      yield* Effect.logWarning("lease renewal failed", result.left).pipe(Effect.annotateLogs("leaseKey", holder.leaseKey))
      yield* Metric.increment(options.renewalFailures)
      if (held.expiresBeforeNextRenewal(holder, yield* Clock.currentTimeMillis)) yield* held.drop(holder, "expired")
    }))

  // A lease whose renewal (or checkpoint) is still stuck when it is about to expire is dropped without
  // waiting for it.
  return Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    for (const holder of (yield* held.holders).values()) {
      if (holder.renewing) {
        if (held.expiresBeforeNextRenewal(holder, now)) yield* held.drop(holder, "expired")
        continue
      }
      // renewed at the next round instead, it would still have half its duration left
      if (!options.publishLoad && now - holder.renewedAt + options.renewMillis <= options.leaseMillis / 2) continue
      holder.renewing = true
      yield* Effect.forkIn(
        Effect.ensuring(renewOne(holder), Effect.sync(() => void (holder.renewing = false))),
        options.scope
      )
    }
  })
}
