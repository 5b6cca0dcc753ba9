import * as Schema from "effect/Schema"
import * as Effect from "effect/Effect"
import * as MemoryStream from "../src/MemoryStream.js"

export const Activity = Schema.Struct({
  CustomerId: Schema.String,
  DateUnixMs: Schema.Number,
  Activity: Schema.Literal("buy", "sell", "view", "search", "click"),
  DurationMs: Schema.Number
})
export type Activity = typeof Activity.Type

const activities = ["buy", "sell", "view", "search", "click"] as const

/**
 * Seed-shaped JSON messages (~90 bytes), 10% up to 5 s out of order, written into an in-memory stream of
 * `shards` shards the way producers would.
 */
export const makeStream = (count: number, shards: number) =>
  Effect.gen(function*() {
    const stream = yield* MemoryStream.make({ name: "bench", shards })
    const start = 1_416_603_010_000
    // a fixed LCG, so every run measures the same data
    let seed = 42
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648
    for (let page = 0; page < count; page += 500) {
      const entries = []
      for (let i = page; i < Math.min(count, page + 500); i++) {
        const late = random() < 0.1 ? Math.floor(random() * 5_000) : 0
        const message = {
          CustomerId: `c${Math.floor(random() * 10_000)}`,
          DateUnixMs: start + i - late,
          Activity: activities[Math.floor(random() * activities.length)],
          DurationMs: Math.floor(random() * 60_000)
        }
        entries.push({ partitionKey: message.CustomerId, data: JSON.stringify(message) })
      }
      yield* stream.put(entries)
    }
    return stream
  })
