import { describe, expect, it } from "@effect/vitest"
import { Aggregate, DeadLetter, Decoder } from "@tributary/core"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as KinesisEvent from "../src/KinesisEvent.js"
import * as Lambda from "../src/Lambda.js"
import { capturedLogs, records, table } from "./helpers.js"

const Reading = Schema.Struct({ device: Schema.String, celsius: Schema.Number })
type Reading = typeof Reading.Type

const climate = Aggregate.struct({
  n: Aggregate.count,
  total: Aggregate.sum.pipe(Aggregate.mapInput((r: Reading) => r.celsius)),
  mean: Aggregate.mean.pipe(Aggregate.mapInput((r: Reading) => r.celsius)),
  median: Aggregate.quantile(0.5).pipe(Aggregate.mapInput((r: Reading) => r.celsius))
})
type Result = Lambda.TumblingWindowResult<string, Aggregate.Aggregate.Output<typeof climate>>

const window = { start: Date.UTC(2026, 0, 1, 12), end: Date.UTC(2026, 0, 1, 12, 5) }

const setup = (maxStateBytes?: number) => {
  const results = table((r: Result) => `${r.shardId}|${r.key}|${r.start}|${r.segment}`)
  const logs = capturedLogs()
  const handler = Lambda.tumblingWindowHandler({
    decoder: Decoder.json(Reading),
    key: (r) => r.device,
    aggregate: climate,
    sink: results.sink,
    layer: Layer.merge(DeadLetter.layerMemory, logs.layer),
    retry: Schedule.recurs(1),
    ...(maxStateBytes === undefined ? {} : { maxStateBytes })
  })
  return { handler, results, logs: logs.lines }
}

const readings = (n: number, devices = 7) =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ device: `d${i % devices}`, celsius: (i * 37) % 101 / 4 }))

const event = (
  recs: ReturnType<typeof records>,
  state: { [key: string]: unknown } | undefined,
  flags: { final?: boolean; early?: boolean } = {}
) =>
  KinesisEvent.tumblingWindowEvent({
    stream: "events",
    shardId: "shardId-000000000000",
    records: recs,
    window,
    state,
    isFinalInvokeForWindow: flags.final ?? false,
    isWindowTerminatedEarly: flags.early ?? false
  })

const byKey = (items: Iterable<Result>) =>
  Object.fromEntries(Array.from(items, (r) => [r.key, { count: r.count, value: r.value }]).sort(([a], [b]) => a < b ? -1 : 1))

describe("Lambda.tumblingWindowHandler", () => {
  it("carries the state across 3 invocations to the same results as a single pass", async () => {
    const all = records([...readings(300), "{broken"])
    const single = setup()
    await single.handler(event(all, undefined, { final: true }))

    const split = setup()
    const first = await split.handler(event(all.slice(0, 100), undefined))
    expect(first.batchItemFailures).toEqual([])
    expect(split.results.items.size).toBe(0)
    // the state travels as JSON, as Lambda carries it
    const second = await split.handler(event(all.slice(100, 200), JSON.parse(JSON.stringify(first.state))))
    const third = await split.handler(event(all.slice(200), JSON.parse(JSON.stringify(second.state)), { final: true }))
    expect(third).toEqual({ state: {}, batchItemFailures: [] })

    expect(byKey(split.results.items.values())).toEqual(byKey(single.results.items.values()))
    const counts = Array.from(split.results.items.values(), (r) => r.count)
    expect(counts.reduce((a, b) => a + b, 0)).toBe(300)
    const d0 = split.results.items.get(`shardId-000000000000|d0|${window.start}|0`)!
    expect(d0).toMatchObject({ start: window.start, end: window.end, segment: 0, terminatedEarly: false, firing: "onTime" })
    expect(d0.value.n).toBe(43)
    await single.handler.dispose()
    await split.handler.dispose()
  })

  it("does not count twice records delivered again with the state that already holds them", async () => {
    const { handler, results } = setup()
    const all = records(readings(60))
    const first = await handler(event(all.slice(0, 40), undefined))
    // Lambda redelivers from record 20 (a retry after a partial failure) with the newer state
    const again = await handler(event(all.slice(20), first.state, { final: true }))
    expect(again.batchItemFailures).toEqual([])
    expect(Array.from(results.items.values(), (r) => r.count).reduce((a, b) => a + b, 0)).toBe(60)
    await handler.dispose()
  })

  it("answers a failed final write with the state it was given and a failure at its first record", async () => {
    const { handler, results } = setup()
    const all = records(readings(50))
    const first = await handler(event(all.slice(0, 25), undefined))
    results.failNext(2) // one attempt and one retry inside the invocation
    const failed = await handler(event(all.slice(25), first.state, { final: true }))
    expect(failed).toEqual({ state: first.state, batchItemFailures: [{ itemIdentifier: all[25].sequenceNumber }] })
    expect(results.items.size).toBe(0)
    const retried = await handler(event(all.slice(25), failed.state, { final: true }))
    expect(retried.batchItemFailures).toEqual([])
    expect(Array.from(results.items.values(), (r) => r.count).reduce((a, b) => a + b, 0)).toBe(50)
    // a final invocation without records has no item to name: it fails, and Lambda retries it
    results.failNext(2)
    await expect(handler(event([], first.state, { final: true }))).rejects.toBeDefined()
    await handler.dispose()
  })

  it("ends the window early when the state would pass 1 MiB, as Lambda does, and loses nothing", async () => {
    const { handler, logs, results } = setup()
    // ~220 bytes of state per device: 3,000 devices (~0.66 MB) after one batch, 6,000 (over 1 MiB) after two
    const batch = (from: number) =>
      records(
        Array.from({ length: 3_000 }, (_, i) => JSON.stringify({ device: `device-${(from + i) % 6_000}`, celsius: i % 30 })),
        { firstSequence: 10n ** 40n + BigInt(from) * 1000n }
      )
    const first = await handler(event(batch(0), undefined))
    expect(Buffer.byteLength(JSON.stringify(first.state))).toBeLessThanOrEqual(1_048_576)
    expect(results.items.size).toBe(0)
    const second = await handler(event(batch(3_000), first.state))
    const state = second.state as { tributary: { segment: number; groups: Array<unknown> } }
    expect(state.tributary.segment).toBe(1)
    expect(state.tributary.groups).toHaveLength(0)
    const early = Array.from(results.items.values())
    expect(early.every((r) => r.segment === 0 && r.terminatedEarly)).toBe(true)
    expect(early.reduce((a, r) => a + r.count, 0)).toBe(6_000)
    expect(logs.some((line) => line.startsWith("WARN") && /window state of \d+ bytes exceeds 1048576; ending segment 0/.test(line))).toBe(true)
    const third = await handler(event(batch(6_000), second.state, { final: true }))
    expect(third).toEqual({ state: {}, batchItemFailures: [] })
    const all = Array.from(results.items.values())
    expect(all.filter((r) => r.segment === 1).every((r) => !r.terminatedEarly)).toBe(true)
    // merged over segments, every device has exactly what it was sent
    const merged = new Map<string, number>()
    for (const r of all) merged.set(r.key, (merged.get(r.key) ?? 0) + r.count)
    expect(merged.size).toBe(6_000)
    expect(Array.from(merged.values()).reduce((a, b) => a + b, 0)).toBe(9_000)
    expect(merged.get("device-0")).toBe(2)
    // an event Lambda itself marks as terminated early is a final invocation, flagged
    const marked = setup()
    await marked.handler(event(records(readings(7)), undefined, { early: true }))
    expect(Array.from(marked.results.items.values()).every((r) => r.terminatedEarly)).toBe(true)
    await handler.dispose()
    await marked.handler.dispose()
  }, 30_000)

  it("fails on a state it did not write, and on an event without a window", async () => {
    const { handler } = setup()
    await expect(handler(event(records(readings(1)), { "1": 282, "2": 715 }))).rejects.toThrow(/state cannot be read/)
    await expect(handler({ Records: [] } as never)).rejects.toThrow(/TumblingWindowInSeconds/)
    await handler.dispose()
  })
})
