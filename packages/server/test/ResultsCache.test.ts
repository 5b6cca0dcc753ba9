import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import type { ResultsQuery } from "../src/ResultsCache.js"
import * as ResultsCache from "../src/ResultsCache.js"

const query = (key: string, pipeline = "clicks"): ResultsQuery => ({ pipeline, key, from: 0, to: 1_000 })

describe("ResultsCache", () => {
  it.effect("concurrent requests for one answer share one read; answers are kept for the TTL", () =>
    Effect.gen(function*() {
      const calls: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const cache = ResultsCache.make(
        (q) => Effect.zipRight(Effect.sync(() => calls.push(q.key)), Effect.as(Deferred.await(gate), [q.key])),
        { ttlMillis: 1_000 }
      )
      const all = yield* Effect.fork(Effect.all([cache.get(query("a")), cache.get(query("a")), cache.get(query("b"))], {
        concurrency: "unbounded"
      }))
      yield* Effect.yieldNow()
      yield* Deferred.succeed(gate, undefined)
      expect(yield* all.await.pipe(Effect.flatten)).toStrictEqual([["a"], ["a"], ["b"]])
      expect(calls.sort()).toStrictEqual(["a", "b"])
      expect(yield* cache.get(query("a"))).toStrictEqual(["a"])
      expect(calls.length).toBe(2)
      yield* TestClock.adjust("1001 millis")
      yield* cache.get(query("a"))
      expect(calls.length).toBe(3)
    }))

  it.effect("a failed read is not kept; invalidate drops a pipeline's answers, or one key's", () =>
    Effect.gen(function*() {
      let failing = true
      let reads = 0
      const cache = ResultsCache.make((q) =>
        Effect.suspend(() => {
          reads++
          return failing && q.key === "x" ? Effect.fail(new Error("down")) : Effect.succeed([reads])
        })
      )
      expect(String(yield* Effect.flip(cache.get(query("x"))))).toBe("Error: down")
      failing = false
      expect(yield* cache.get(query("x"))).toStrictEqual([2])
      yield* cache.get(query("y"))
      yield* cache.get(query("y", "other"))
      expect(yield* cache.size).toBe(3)
      yield* cache.invalidate("clicks", "x")
      expect(yield* cache.size).toBe(2)
      yield* cache.invalidate("clicks")
      expect(yield* cache.size).toBe(1)
      expect(yield* cache.get(query("y", "other"))).toStrictEqual([4])
    }))
})
