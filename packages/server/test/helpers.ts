import * as RecordSink from "@tributary/core/RecordSink"
import * as Effect from "effect/Effect"
import * as ApiKeys from "../src/ApiKeys.js"
import * as Gateway from "../src/Gateway.js"
import type { IngestRecord } from "../src/Ingest.js"

export const keyA = "key-for-a"
export const keyAll = "key-for-all"
export const keyLimited = "key-limited"

export const storedKeys: ReadonlyArray<ApiKeys.StoredKey> = [
  { name: "a-writer", sha256: ApiKeys.hash(keyA), streams: ["a"] },
  { name: "admin", sha256: ApiKeys.hash(keyAll), streams: "*", pipelines: "*" },
  { name: "limited", sha256: ApiKeys.hash(keyLimited), streams: ["a"], rateLimit: { perSecond: 0.5, burst: 2 } }
]

/** A gateway over memory sinks for streams "a" and "b". */
export const withGateway = (options: Partial<Gateway.GatewayOptions> = {}) =>
  Effect.gen(function*() {
    const a = yield* RecordSink.memory<IngestRecord>("a")
    const b = yield* RecordSink.memory<IngestRecord>("b")
    const server = yield* Gateway.serve({ keys: storedKeys, sinkFor: Gateway.sinks({ a, b }), ...options })
    const post = (stream: string, body: unknown, init: { key?: string | undefined; headers?: Record<string, string>; raw?: boolean } = {}) =>
      Effect.promise(async () => {
        const headers: Record<string, string> = { ...init.headers }
        const key = "key" in init ? init.key : keyAll
        if (key !== undefined) headers["authorization"] = `Bearer ${key}`
        let payload: BodyInit
        if (init.raw === true) payload = body as BodyInit
        else {
          headers["content-type"] ??= "application/json"
          payload = typeof body === "string" ? body : JSON.stringify(body)
        }
        const response = await fetch(`${server.url}/v1/streams/${stream}/records`, { method: "POST", headers, body: payload })
        const text = await response.text()
        return { status: response.status, headers: response.headers, body: text === "" ? undefined : JSON.parse(text) as any }
      })
    return { server, a, b, post }
  })
