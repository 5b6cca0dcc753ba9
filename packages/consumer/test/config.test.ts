import { describe, expect, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as LogLevel from "effect/LogLevel"
import * as Consumer from "../src/Consumer.js"
import * as ConfigReaders from "../src/internal/config.js"
import { argvConfigProvider } from "../src/internal/main.js"

const readWith = <A>(config: Config.Config<A>, entries: ReadonlyArray<readonly [string, string]>) =>
  config.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(entries))))

describe("consumer configuration", () => {
  it.effect("durations as Effect durations or milliseconds; log levels by name or label", () =>
    Effect.gen(function*() {
      const millis = (text: string) => Effect.map(readWith(ConfigReaders.duration("D"), [["D", text]]), Duration.toMillis)
      expect([yield* millis("2 seconds"), yield* millis("1500"), yield* millis("250 millis")]).toStrictEqual([2_000, 1_500, 250])
      expect(String(yield* Effect.flip(millis("soon")))).toContain("expected a duration")
      const level = (text: string) => readWith(ConfigReaders.logLevel("L"), [["L", text]])
      expect([yield* level("Warning"), yield* level("warn"), yield* level("DEBUG")]).toStrictEqual([
        LogLevel.Warning,
        LogLevel.Warning,
        LogLevel.Debug
      ])
      expect(yield* readWith(ConfigReaders.optional(Config.string("UNSET")), [])).toBeUndefined()
    }))

  it.effect("Consumer.config: STREAM required, the coordinator's and the readers' variables optional", () =>
    Effect.gen(function*() {
      expect(String(yield* Effect.flip(readWith(Consumer.config, [])))).toContain("STREAM")
      const options = yield* readWith(Consumer.config, [
        ["STREAM", "orders"],
        ["WORKER_ID", "w1"],
        ["LEASE_DURATION", "2000"],
        ["IDLE_INTERVAL", "50"],
        ["SHUTDOWN_TIMEOUT", "5 seconds"]
      ])
      expect([options.stream, options.workerId, Duration.toMillis(Duration.decode(options.leaseDuration!))]).toStrictEqual([
        "orders",
        "w1",
        2_000
      ])
      const polling = options.reader as Consumer.ReaderOptions
      expect(Duration.toMillis(Duration.decode(polling.idleInterval!))).toBe(50)
      expect([options.takeInterval, polling.maxRecords, options.restartDelay]).toStrictEqual([undefined, undefined, undefined])
    }))

  it.effect("Consumer.config: READER=fan-out reads through the consumer CONSUMER_NAME, which it needs", () =>
    Effect.gen(function*() {
      const fanOut = yield* readWith(Consumer.config, [["STREAM", "orders"], ["READER", "fan-out"], ["CONSUMER_NAME", "orders-app"]])
      expect(fanOut.reader).toStrictEqual({ fanOut: { consumerName: "orders-app" } })
      expect(String(yield* Effect.flip(readWith(Consumer.config, [["STREAM", "orders"], ["READER", "fan-out"]])))).toContain(
        "READER=fan-out needs CONSUMER_NAME"
      )
      expect(String(yield* Effect.flip(readWith(Consumer.config, [["STREAM", "orders"], ["READER", "push"]])))).toContain("READER")
      const polling = yield* readWith(Consumer.config, [["STREAM", "orders"], ["READER", "polling"], ["CONSUMER_NAME", "ignored"]])
      expect(typeof polling.reader === "object" && "fanOut" in polling.reader).toBe(false)
    }))

  it.effect("the scripts' flags stand for variables and win over the environment; empty values are unset", () =>
    Effect.gen(function*() {
      const provider = argvConfigProvider(
        { output: "OUTPUT_FILE" },
        ["--stream", "orders", "--lease-duration=2s", "--output", "out.jsonl", "--worker-id", ""],
        { STREAM: "other", LEASE_TABLE: "leases", WORKER_ID: "from-env", INITIAL_POSITION: "" }
      )
      const read = Config.all([
        Config.string("STREAM"),
        Config.string("LEASE_TABLE"),
        Config.string("LEASE_DURATION"),
        Config.string("OUTPUT_FILE"),
        Config.string("WORKER_ID"),
        ConfigReaders.optional(Config.string("INITIAL_POSITION"))
      ])
      expect(yield* read.pipe(Effect.withConfigProvider(provider))).toStrictEqual([
        "orders",
        "leases",
        "2s",
        "out.jsonl",
        "from-env",
        undefined
      ])
    }))
})
