import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import * as Retry from "../src/Retry.js"
import { SinkError } from "../src/TributaryError.js"

/** The delays (ms) a schedule gives, at most `n` of them: fewer when it ends. */
const delaysOf = (schedule: Schedule.Schedule<unknown>, n: number) =>
  Effect.gen(function*() {
    const driver = yield* Schedule.driver(schedule.pipe(Schedule.delays, Schedule.map(Duration.toMillis)))
    const out: Array<number> = []
    for (let i = 0; i < n; i++) {
      // the driver sleeps each delay: let the TestClock pass it
      const fiber = yield* Effect.fork(Effect.either(driver.next(undefined)))
      yield* TestClock.adjust("1 hour")
      const step = yield* Fiber.join(fiber)
      if (step._tag === "Left") break
      out.push(step.right)
    }
    return out
  })

describe("Retry", () => {
  it.effect("exponential: doubling from base, capped, for `times` retries; jitter within its factors", () =>
    Effect.gen(function*() {
      const plain = Retry.exponential({ base: "100 millis", cap: "1 second", times: 6, jitter: false })
      expect(yield* delaysOf(plain, 10)).toStrictEqual([100, 200, 400, 800, 1000, 1000])
      // equal jitter: between half and all of the capped delay
      const jittered = yield* delaysOf(Retry.exponential({ base: "1 second", cap: "4 seconds", times: 20, jitter: [0.5, 1] }), 20)
      expect(jittered).toHaveLength(20)
      const full = [1000, 2000, ...Array(18).fill(4000)]
      jittered.forEach((delay, i) => {
        expect(delay).toBeGreaterThanOrEqual(full[i] / 2)
        expect(delay).toBeLessThanOrEqual(full[i])
      })
      // without a limit it goes on
      expect(yield* delaysOf(Retry.exponential({ times: Infinity, jitter: false }), 30)).toHaveLength(30)
    }))

  it.effect("transient: retries transient failures only, as many times as the schedule allows", () =>
    Effect.gen(function*() {
      let attempts = 0
      const failing = (retryability: "transient" | "permanent") =>
        Effect.suspend(() => {
          attempts++
          return Effect.fail(new SinkError({ sink: "s", reason: "down", retryability }))
        })
      const schedule = Retry.exponential({ base: "10 millis", times: 3 })
      const transient = yield* Effect.fork(Effect.flip(Retry.transient(schedule)(failing("transient"))))
      yield* TestClock.adjust("1 minute")
      expect((yield* Fiber.join(transient)).retryability).toBe("transient")
      expect(attempts).toBe(4)
      attempts = 0
      expect((yield* Effect.flip(Retry.transient(schedule)(failing("permanent")))).retryability).toBe("permanent")
      expect(attempts).toBe(1)
    }))
  it.effect("afterFirstFailure: retries exactly as the policy would, and runs a succeeding call once", () =>
    Effect.gen(function*() {
      let attempts = 0
      const call = (failures: number) =>
        Effect.suspend(() =>
          ++attempts <= failures ? Effect.fail(new SinkError({ sink: "s", reason: "down", retryability: "transient" })) : Effect.succeed(attempts)
        )
      const policy = Retry.transient(Retry.exponential({ base: "10 millis", times: 3, jitter: false }))
      // fails twice, then succeeds at the third attempt: the first failure counts as the first attempt's
      const retried = yield* Effect.fork(Retry.afterFirstFailure(policy)(call(2)))
      yield* TestClock.adjust("1 minute")
      expect(yield* Fiber.join(retried)).toBe(3)
      attempts = 0
      const exhausted = yield* Effect.fork(Effect.flip(Retry.afterFirstFailure(policy)(call(100))))
      yield* TestClock.adjust("1 minute")
      expect((yield* Fiber.join(exhausted)).reason).toBe("down")
      expect(attempts).toBe(4)
      attempts = 0
      expect(yield* Retry.afterFirstFailure(policy)(call(0))).toBe(1)
      expect(attempts).toBe(1)
    }))

  it.effect("afterFirstFailure: a defect is not retried, and a failure beside a defect is handled as catchAll does", () =>
    Effect.gen(function*() {
      let policies = 0
      const policy = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        Effect.suspend(() => {
          policies++
          return effect
        })
      const died = yield* Effect.exit(Retry.afterFirstFailure(policy)(Effect.die("boom")))
      expect(Exit.isFailure(died) && Cause.isDie(died.cause)).toBe(true)
      expect(policies).toBe(0)
      // a failure and a defect together: catchAll keeps the defect and does not run its handler
      const both = Effect.failCause(Cause.parallel(Cause.fail("down"), Cause.die("boom")))
      const mine = yield* Effect.exit(Retry.afterFirstFailure(policy)(both))
      const theirs = yield* Effect.exit(Effect.catchAll(both, () => Effect.succeed("handled")))
      expect(mine).toStrictEqual(theirs)
      expect(policies).toBe(0)
      // a failure alone reaches the policy, as the first attempt's
      expect(yield* Effect.flip(Retry.afterFirstFailure(policy)(Effect.fail("down")))).toBe("down")
      expect(policies).toBe(1)
    }))
})
