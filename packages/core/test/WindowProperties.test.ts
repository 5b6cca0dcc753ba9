/**
 * The window stage against a reference that folds all records per window in one pass, over random event
 * sequences, random batch boundaries and random restarts from checkpoints.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fc from "fast-check"
import * as Aggregate from "../src/Aggregate.js"
import * as Pipeline from "../src/Pipeline.js"
import * as SequenceNumber from "../src/SequenceNumber.js"
import type { SourceRecord } from "../src/SourceRecord.js"
import * as Window from "../src/Window.js"
import type { WindowResult } from "../src/Window.js"
import { type Event, harness, shardRecords } from "./fixtures/events.js"

const SHARD = "shardId-0"

interface Scenario {
  readonly assigner: Window.WindowAssigner
  readonly maxOutOfOrderness: number
  readonly allowedLateness: number
  readonly events: ReadonlyArray<Event>
}

interface Final {
  readonly sum: number
  readonly count: number
}

/** Folds every record into its windows, deciding lateness by the watermark just before each record. */
const reference = (scenario: Scenario) => {
  const finals = new Map<string, Final & { key: string; start: number; end: number }>()
  const sessions = new Map<string, Array<{ start: number; end: number; sum: number; count: number }>>()
  const late: Array<number> = []
  let maxEventTime = -Infinity
  scenario.events.forEach((event, index) => {
    const lateBefore = maxEventTime - scenario.maxOutOfOrderness - scenario.allowedLateness
    const assigner = scenario.assigner
    if (assigner._tag === "Session") {
      const list = sessions.get(event.k) ?? []
      let start = event.t
      let end = event.t + assigner.gap
      let merged = true
      const touching = new Set<(typeof list)[number]>()
      while (merged) {
        merged = false
        for (const session of list) {
          if (session.end <= lateBefore || touching.has(session)) continue
          if (session.start <= end && start <= session.end) {
            touching.add(session)
            start = Math.min(start, session.start)
            end = Math.max(end, session.end)
            merged = true
          }
        }
      }
      if (end <= lateBefore) {
        late.push(index)
      } else {
        const session = { start, end, sum: event.v, count: 1 }
        for (const other of touching) {
          session.sum += other.sum
          session.count += other.count
        }
        sessions.set(event.k, [...list.filter((s) => !touching.has(s)), session])
      }
    } else {
      const windows = Window.windowsOf(assigner, event.t).filter((w) => w.end > lateBefore)
      if (windows.length === 0) late.push(index)
      for (const w of windows) {
        const id = `${event.k}|${w.start}|${w.end}`
        const final = finals.get(id) ?? { key: event.k, start: w.start, end: w.end, sum: 0, count: 0 }
        finals.set(id, { ...final, sum: final.sum + event.v, count: final.count + 1 })
      }
    }
    maxEventTime = Math.max(maxEventTime, event.t)
  })
  for (const [key, list] of sessions) {
    for (const s of list) finals.set(`${key}|${s.start}|${s.end}`, { key, start: s.start, end: s.end, sum: s.sum, count: s.count })
  }
  return { finals, late }
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  assigner: fc.oneof(
    fc.integer({ min: 5, max: 40 }).map((size) => Window.tumbling(size)),
    fc.tuple(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 4 })).map(([slide, n]) =>
      Window.hopping(slide * n, slide, { offset: 1 })
    ),
    fc.integer({ min: 3, max: 25 }).map((gap) => Window.session(gap))
  ),
  maxOutOfOrderness: fc.integer({ min: 0, max: 15 }),
  allowedLateness: fc.integer({ min: 0, max: 20 }),
  events: fc.array(
    fc.tuple(fc.constantFrom("a", "b", "c"), fc.integer({ min: -25, max: 8 })),
    { minLength: 1, maxLength: 80 }
  ).map((steps) => {
    // time mostly moves forward, sometimes jumps back: out of order, and now and then late
    let clock = 100
    return steps.map(([k, jitter], i) => {
      clock += Math.max(0, jitter) + 1
      return { k, t: jitter < 0 ? clock + jitter : clock, v: i + 1 }
    })
  })
})

/** Random batch boundaries over `n` records. */
const cuts = (n: number) => fc.array(fc.integer({ min: 1, max: Math.max(1, n) }), { minLength: 1, maxLength: 8 })

const batchesOf = <A>(items: ReadonlyArray<A>, sizes: ReadonlyArray<number>): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  let at = 0
  for (let i = 0; at < items.length; i++) {
    const size = sizes[i % sizes.length]
    out.push(items.slice(at, at + size))
    at += size
  }
  return out
}

const windowStage = (s: Scenario) =>
  Pipeline.window({
    window: s.assigner,
    key: (e: Event) => e.k,
    eventTime: (e) => e.t,
    aggregate: Aggregate.sum.pipe(Aggregate.mapInput((e: Event) => e.v)),
    maxOutOfOrderness: s.maxOutOfOrderness,
    allowedLateness: s.allowedLateness
  })

const lastPerWindow = (results: ReadonlyArray<WindowResult<string, number>>) => {
  const last = new Map<string, Final>()
  for (const r of results) last.set(`${r.key}|${r.start}|${r.end}`, { sum: r.value, count: r.count })
  return last
}

/** Every reference window's last emission matches it; anything else emitted was merged into a later one. */
const expectMatches = (
  results: ReadonlyArray<WindowResult<string, number>>,
  expected: ReturnType<typeof reference>["finals"]
) => {
  const last = lastPerWindow(results)
  for (const [id, final] of expected) expect([id, last.get(id)]).toStrictEqual([id, { sum: final.sum, count: final.count }])
  for (const id of last.keys()) {
    if (expected.has(id)) continue
    const [key, start, end] = id.split("|")
    const covering = [...expected.values()].some((f) => f.key === key && f.start <= Number(start) && f.end >= Number(end))
    expect([id, covering]).toStrictEqual([id, true])
  }
}

const lateIndices = (records: ReadonlyArray<SourceRecord>, letters: ReadonlyArray<{ sequenceNumber: string }>) =>
  [...new Set(letters.map((l) => records.findIndex((r) => r.sequenceNumber === l.sequenceNumber)))].sort((a, b) => a - b)

describe("Pipeline.window properties", () => {
  it.effect("emits what a one-pass fold per window computes, and the same late records", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(scenario.chain((s) => fc.tuple(fc.constant(s), cuts(s.events.length))), ([s, sizes]) =>
          Effect.runPromise(Effect.gen(function*() {
            const { deadLetters, processor, results } = yield* harness(windowStage(s))
            const records = shardRecords(SHARD, s.events)
            for (const batch of batchesOf(records, sizes)) yield* processor.process(SHARD, batch)
            yield* processor.endShard(SHARD)
            const expected = reference(s)
            expectMatches(yield* results.items, expected.finals)
            expect(lateIndices(records, yield* deadLetters.items)).toStrictEqual(expected.late)
            // each window fires on time exactly once
            const onTime = (yield* results.items).filter((r) => r.firing === "onTime").map((r) => `${r.key}|${r.start}|${r.end}`)
            if (s.assigner._tag !== "Session") expect(new Set(onTime).size).toBe(onTime.length)
          }))
        ),
        { numRuns: Number(process.env.PROPERTY_RUNS ?? 300) }
      )
    ))

  it.effect("restarting from the reported checkpoint at random points emits what an uncut run emits", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          scenario.chain((s) =>
            fc.tuple(fc.constant(s), cuts(s.events.length), fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 4 }))
          ),
          ([s, sizes, crashes]) =>
            Effect.runPromise(Effect.gen(function*() {
              const records = shardRecords(SHARD, s.events)
              const { RecordSink } = yield* Effect.promise(() => import("../src/index.js"))
              const results = yield* RecordSink.memory<WindowResult<string, number>>("results")
              const letters: Array<{ sequenceNumber: string }> = []
              let checkpoint: Pipeline.Outcome["checkpoint"]
              let next = 0
              // each crash loses the processor (its windows) mid-stream; the next one resumes from the checkpoint
              for (let attempt = 0; attempt <= crashes.length; attempt++) {
                const run = yield* harness(windowStage(s))
                yield* run.processor.startShard(SHARD, checkpoint)
                next = checkpoint === undefined
                  ? 0
                  : records.findIndex((r) => SequenceNumber.compare(r.sequenceNumber, checkpoint!.sequenceNumber) > 0)
                if (next === -1) next = records.length
                let crashed = false
                let processed = 0
                for (const batch of batchesOf(records.slice(next), sizes)) {
                  const outcome = yield* run.processor.process(SHARD, batch)
                  if (outcome.checkpoint !== undefined) checkpoint = outcome.checkpoint
                  if (attempt < crashes.length && ++processed > crashes[attempt]) {
                    crashed = true
                    break
                  }
                }
                if (!crashed) yield* run.processor.endShard(SHARD)
                yield* results.write(yield* run.results.items)
                letters.push(...(yield* run.deadLetters.items))
                if (!crashed) break
              }
              const expected = reference(s)
              expectMatches(yield* results.items, expected.finals)
              expect(lateIndices(records, letters)).toStrictEqual(expected.late)
            }))
        ),
        { numRuns: Number(process.env.PROPERTY_RUNS ?? 300) }
      )
    ))
})
