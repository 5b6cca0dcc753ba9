import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { ResultsQuery } from "../src/ResultsCache.js"
import { keyA, keyAll, withGateway } from "./helpers.js"

describe("results API", () => {
  it.scopedLive("serves results through a TTL cache, invalidated when told", () =>
    Effect.gen(function*() {
      const calls: Array<ResultsQuery> = []
      let version = 1
      const { server } = yield* withGateway({
        results: {
          pipelines: ["clicks"],
          ttlMillis: 60_000,
          reader: (q) =>
            Effect.suspend(() => {
              calls.push(q)
              if (q.key === "broken") return Effect.fail(new Error("table unavailable"))
              return Effect.succeed([{ key: q.key, start: q.from, value: version }])
            })
        }
      })
      const get = (path: string, key: string = keyAll) =>
        Effect.promise(() =>
          fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${key}` } }).then(async (r) => ({ status: r.status, body: await r.json() as any }))
        )
      const first = yield* get("/v1/results/clicks/user%201?from=1000&to=2000")
      expect(first).toEqual({ status: 200, body: { pipeline: "clicks", key: "user 1", from: 1000, to: 2000, results: [{ key: "user 1", start: 1000, value: 1 }] } })
      version = 2
      expect((yield* get("/v1/results/clicks/user%201?from=1000&to=2000")).body.results[0].value).toBe(1)
      expect(calls.length).toBe(1)
      yield* server.results!.invalidate("clicks")
      expect((yield* get("/v1/results/clicks/user%201?from=1000&to=2000")).body.results[0].value).toBe(2)
      expect(calls.length).toBe(2)
      // a key is decoded once: "100%" and a literal "%41" are what they say
      expect((yield* get("/v1/results/clicks/100%25")).body.key).toBe("100%")
      expect((yield* get("/v1/results/clicks/%2541")).body.key).toBe("%41")
      expect((yield* get("/v1/results/clicks/u?from=soon")).body.error).toMatchObject({ code: "invalid_time", field: "from" })
      expect((yield* get("/v1/results/other/u")).status).toBe(404)
      expect((yield* get("/v1/results/clicks/u", keyA)).status).toBe(403)
      expect((yield* get("/v1/results/clicks/u", "bad")).status).toBe(401)
      const broken = yield* get("/v1/results/clicks/broken")
      expect(broken.status).toBe(503)
      expect(broken.body.error.message).toContain("table unavailable")
    }))
})
