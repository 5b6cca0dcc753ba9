import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Environment from "../src/Environment.js"

describe("Environment.scoped", () => {
  it.effect("sets variables for the scope, then restores the earlier value or removes the new one", () =>
    Effect.gen(function*() {
      process.env.TRIBUTARY_TEST_KEPT = "before"
      delete process.env.TRIBUTARY_TEST_NEW
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Environment.scoped({ TRIBUTARY_TEST_KEPT: "during", TRIBUTARY_TEST_NEW: "added" })
        expect(process.env.TRIBUTARY_TEST_KEPT).toBe("during")
        expect(process.env.TRIBUTARY_TEST_NEW).toBe("added")
      }))
      expect(process.env.TRIBUTARY_TEST_KEPT).toBe("before")
      expect("TRIBUTARY_TEST_NEW" in process.env).toBe(false)
      delete process.env.TRIBUTARY_TEST_KEPT
    }))
})
