import { describe, expect, it } from "@effect/vitest"
import * as RecordSink from "@tributary/core/RecordSink"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Gateway from "../src/Gateway.js"
import type { IngestRecord } from "../src/Ingest.js"
import * as Server from "../src/Server.js"
import { keyAll, storedKeys } from "./helpers.js"

describe("Server", () => {
  it.scopedLive("layerConfig: the address and the limits from the documented variables", () =>
    Effect.gen(function*() {
      const a = yield* RecordSink.memory<IngestRecord>("a")
      const config = ConfigProvider.fromMap(new Map([
        ["HOST", "127.0.0.1"],
        ["PORT", "0"],
        ["RATE_LIMIT_PER_SECOND", "0.001"],
        ["RATE_LIMIT_BURST", "1"]
      ]))
      // built in the test's scope: the server runs until the test ends
      const context = yield* Layer.build(Server.layerConfig({ keys: storedKeys, sinkFor: Gateway.sinks({ a }) })).pipe(
        Effect.withConfigProvider(config)
      )
      const server = Context.get(context, Server.Server)
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      const post = () =>
        Effect.promise(() =>
          fetch(`${server.url}/v1/streams/a/records`, {
            method: "POST",
            headers: { authorization: `Bearer ${keyAll}`, "content-type": "application/json" },
            body: JSON.stringify({ records: [{ partitionKey: "k", data: "x" }] })
          }).then((response) => response.status)
        )
      // a burst of one, refilled once in 1,000 seconds
      expect([yield* post(), yield* post()]).toStrictEqual([200, 429])
      expect((yield* a.items).length).toBe(1)
    }))

  it.effect("config: every variable optional, the rate limit as a pair", () =>
    Effect.gen(function*() {
      const read = (entries: ReadonlyArray<readonly [string, string]>) =>
        Server.config.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(entries))))
      expect(yield* read([])).toStrictEqual({
        port: undefined,
        host: undefined,
        rateLimit: undefined,
        maxBodyBytes: undefined,
        writeTimeout: undefined,
        resultsTtlMillis: undefined
      })
      const some = yield* read([["PORT", "8080"], ["WRITE_TIMEOUT", "5 seconds"], ["RESULTS_TTL_MILLIS", "500"]])
      expect([some.port, String(some.writeTimeout), some.resultsTtlMillis]).toStrictEqual([8080, "Duration(5s)", 500])
      expect(String(yield* Effect.flip(read([["PORT", "http"]])))).toContain("PORT")
      // a burst under one request would refuse every request
      const burst = String(yield* Effect.flip(read([["RATE_LIMIT_PER_SECOND", "10"], ["RATE_LIMIT_BURST", "0.5"]])))
      expect([burst.includes("RATE_LIMIT_BURST"), burst.includes("at least 1")]).toStrictEqual([true, true])
      expect(String(yield* Effect.flip(read([["RATE_LIMIT_PER_SECOND", "-1"], ["RATE_LIMIT_BURST", "5"]])))).toContain("RATE_LIMIT_PER_SECOND")
    }))
})
