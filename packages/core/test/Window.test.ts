import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import * as Aggregate from "../src/Aggregate.js"
import * as Pipeline from "../src/Pipeline.js"
import * as Window from "../src/Window.js"
import { brief, type Event, ev, harness, shardRecords } from "./fixtures/events.js"

const sum = Aggregate.sum.pipe(Aggregate.mapInput((e: Event) => e.v))
const S0 = "shardId-0"
const S1 = "shardId-1"

describe("Window assigners", () => {
  it("tumbling windows are aligned to the epoch plus the offset", () => {
    expect(Window.windowsOf(Window.tumbling("10 seconds"), 12_345)).toStrictEqual([{ start: 10_000, end: 20_000 }])
    expect(Window.windowsOf(Window.tumbling("10 seconds", { offset: "3 seconds" }), 12_345)).toStrictEqual([{ start: 3_000, end: 13_000 }])
    expect(Window.windowsOf(Window.tumbling("10 seconds"), -1)).toStrictEqual([{ start: -10_000, end: 0 }])
  })

  it("a hopping window puts a record in size / slide windows", () => {
    expect(Window.windowsOf(Window.hopping("10 seconds", "5 seconds"), 12_000)).toStrictEqual([
      { start: 5_000, end: 15_000 },
      { start: 10_000, end: 20_000 }
    ])
    expect(Window.windowsOf(Window.hopping("10 seconds", "3 seconds"), 12_000)).toHaveLength(4)
    expect(() => Window.hopping("1 second", "2 seconds")).toThrow(RangeError)
  })

  it("a session starts at the record and lasts the gap", () => {
    expect(Window.windowsOf(Window.session("30 seconds"), 5)).toStrictEqual([{ start: 5, end: 30_005 }])
  })
})

describe("Pipeline.window", () => {
  it.effect("tumbling: fires when the watermark passes the end, out-of-order records included", () =>
    Effect.gen(function*() {
      const { processor, results } = yield* harness(Pipeline.window({
        window: Window.tumbling(10),
        key: (e) => e.k,
        eventTime: (e) => e.t,
        aggregate: sum,
        maxOutOfOrderness: 5
      }))
      yield* processor.process(S0, shardRecords(S0, [ev("a", 1), ev("b", 3), ev("a", 12), ev("a", 8, 10)]))
      // watermark 12 - 5 = 7: nothing closed; the record at 8 was out of order but not late
      expect(yield* results.items).toStrictEqual([])
      yield* processor.process(S0, shardRecords(S0, [ev("a", 16)], 4))
      expect(brief(yield* results.items)).toStrictEqual([
        { key: "a", start: 0, end: 10, value: 11, count: 2, firing: "onTime" },
        { key: "b", start: 0, end: 10, value: 1, count: 1, firing: "onTime" }
      ])
    }))

  it.effect("late records within the allowed lateness cause a late firing; later ones go to dead letters", () =>
    Effect.gen(function*() {
      const { deadLetters, processor, results } = yield* harness(Pipeline.window({
        window: Window.tumbling(10),
        key: (e) => e.k,
        eventTime: (e) => e.t,
        aggregate: sum,
        allowedLateness: 10
      }))
      yield* processor.process(S0, shardRecords(S0, [ev("a", 1), ev("a", 15)]))
      // [0,10) fired at watermark 15
      const late = yield* processor.process(S0, shardRecords(S0, [ev("a", 2, 5)], 2))
      expect(late).toMatchObject({ recordsIn: 1, recordsOut: 1, late: 0 })
      const tooLate = yield* processor.process(S0, shardRecords(S0, [ev("a", 21), ev("a", 3, 100)], 3))
      expect(tooLate).toMatchObject({ recordsIn: 2, recordsOut: 1, late: 1 })
      expect(brief(yield* results.items)).toStrictEqual([
        { key: "a", start: 0, end: 10, value: 1, count: 1, firing: "onTime" },
        { key: "a", start: 0, end: 10, value: 6, count: 2, firing: "late" },
        { key: "a", start: 10, end: 20, value: 1, count: 1, firing: "onTime" }
      ])
      const letters = yield* deadLetters.items
      expect(letters).toHaveLength(1)
      expect(letters[0].stage).toBe("window")
      expect(letters[0].reason).toContain("more than the allowed lateness (10 ms)")
      expect(JSON.parse(new TextDecoder().decode(letters[0].data))).toStrictEqual(ev("a", 3, 100))
    }))

  it.effect("late records go to the late output of the user's choice", () =>
    Effect.gen(function*() {
      const { RecordSink } = yield* Effect.promise(() => import("../src/index.js"))
      const lateSink = yield* RecordSink.memory<Event>("late")
      const { processor, results } = yield* harness(Pipeline.window({
        window: Window.tumbling(10),
        key: (e) => e.k,
        eventTime: (e) => e.t,
        aggregate: sum,
        late: lateSink
      }))
      yield* processor.process(S0, shardRecords(S0, [ev("a", 25), ev("a", 5)]))
      expect(yield* lateSink.items).toStrictEqual([ev("a", 5)])
      expect(yield* results.items).toStrictEqual([])
    }))

  it.effect("hopping: the highest, lowest and average over the last 10 s, every second", () =>
    Effect.gen(function*() {
      const { processor, results } = yield* harness(Pipeline.window({
        window: Window.hopping("10 seconds", "1 second"),
        key: (e) => e.k,
        eventTime: (e) => e.t,
        aggregate: Aggregate.struct({ min: Aggregate.min, max: Aggregate.max, mean: Aggregate.mean }).pipe(
          Aggregate.mapInput((e: Event) => e.v)
        )
      }))
      yield* processor.process(S0, shardRecords(S0, [ev("t1", 500, 20), ev("t1", 9_500, 30), ev("t1", 10_500, 25)]))
      yield* processor.endShard(S0)
      const emitted = yield* results.items
      const window0 = emitted.find((r) => r.start === 0)!
      expect(window0.value).toStrictEqual({ min: 20, max: 30, mean: 25 })
      const window1 = emitted.find((r) => r.start === 1_000)!
      expect(window1.value).toStrictEqual({ min: 25, max: 30, mean: 27.5 })
      // 20 windows contain one of the records: starts from -9 s to 10 s
      expect(emitted.map((r) => r.start)).toStrictEqual(Array.from({ length: 20 }, (_, i) => (i - 9) * 1_000))
    }))

  it.effect("session: windows grow while records keep coming and merge when one bridges two", () =>
    Effect.gen(function*() {
      const { processor, results } = yield* harness(Pipeline.window({
        window: Window.session(10),
        key: (e: Event) => e.k,
        eventTime: (e) => e.t,
        aggregate: Aggregate.count,
        maxOutOfOrderness: 100
      }))
      yield* processor.process(S0, shardRecords(S0, [ev("u", 0), ev("u", 5), ev("u", 30), ev("u", 22)]))
      yield* processor.process(S0, shardRecords(S0, [ev("u", 14)], 4))
      yield* processor.process(S0, shardRecords(S0, [ev("u", 60), ev("v", 61)], 5))
      yield* processor.endShard(S0)
      expect(brief(yield* results.items)).toStrictEqual([
        { key: "u", start: 0, end: 40, value: 5, count: 5, firing: "onTime" },
        { key: "u", start: 60, end: 70, value: 1, count: 1, firing: "onTime" },
        { key: "v", start: 61, end: 71, value: 1, count: 1, firing: "onTime" }
      ])
    }))

  it.effect("emit on update: an early result per batch, then the final one", () =>
    Effect.gen(function*() {
      const { processor, results } = yield* harness(Pipeline.window({
        window: Window.tumbling(10),
        key: (e) => e.k,
        eventTime: (e) => e.t,
        aggregate: sum,
        emit: "onUpdate"
      }))
      yield* processor.process(S0, shardRecords(S0, [ev("a", 1), ev("a", 2)]))
      yield* processor.process(S0, shardRecords(S0, [ev("a", 3)], 2))
      yield* processor.process(S0, shardRecords(S0, [ev("a", 11)], 3))
      expect(brief(yield* results.items).map((r) => [r.start, r.value, r.firing])).toStrictEqual([
        [0, 2, "update"],
        [0, 3, "update"],
        [0, 3, "onTime"],
        [10, 1, "update"]
      ])
    }))

  it.effect("emit on update at most once per interval, the rest on a timer", () =>
    Effect.gen(function*() {
      const { processor, results } = yield* harness(Pipeline.window({
        window: Window.tumbling(1_000_000),
        key: (e) => e.k,
        eventTime: (e) => e.t,
        aggregate: sum,
        emit: "onUpdate",
        emitAtMostEvery: "1 second"
      }))
      expect(processor.tickEvery).toBeDefined()
      yield* processor.process(S0, shardRecords(S0, [ev("a", 1)]))
      yield* TestClock.adjust("200 millis")
      yield* processor.process(S0, shardRecords(S0, [ev("a", 2)], 1))
      yield* processor.tick(S0)
      expect((yield* results.items).map((r) => r.value)).toStrictEqual([1])
      yield* TestClock.adjust("1 second")
      yield* processor.tick(S0)
      expect((yield* results.items).map((r) => r.value)).toStrictEqual([1, 2])
    }))

  it.effect("an idle shard stops holding back a shared watermark after the idle timeout", () =>
    Effect.gen(function*() {
      const { processor, results } = yield* harness(Pipeline.window({
        window: Window.tumbling(10),
        key: (e) => e.k,
        eventTime: (e) => e.t,
        aggregate: sum,
        perShard: false,
        idleTimeout: "30 seconds"
      }))
      yield* processor.startShard(S0)
      yield* processor.startShard(S1)
      yield* processor.process(S1, shardRecords(S1, [ev("a", 1)]))
      yield* processor.process(S0, shardRecords(S0, [ev("a", 2), ev("a", 50)]))
      // shard 1 is at 1: the shared watermark stays there
      expect(yield* results.items).toStrictEqual([])
      yield* TestClock.adjust("31 seconds")
      yield* processor.tick(S0)
      // both idle: nothing says how far time went
      expect(yield* results.items).toStrictEqual([])
      yield* processor.process(S0, shardRecords(S0, [ev("a", 60)], 2))
      const [result] = yield* results.items
      expect(result).toMatchObject({ key: "a", start: 0, end: 10, value: 2, count: 2, shards: [S0, S1] })
    }))

  it.effect("processing time: windows follow the Clock", () =>
    Effect.gen(function*() {
      const { processor, results } = yield* harness(Pipeline.window({
        window: Window.tumbling("1 minute"),
        key: (e: Event) => e.k,
        aggregate: Aggregate.count
      }))
      yield* processor.process(S0, shardRecords(S0, [ev("a", 0), ev("a", 0), ev("b", 0)]))
      yield* TestClock.adjust("59 seconds")
      yield* processor.tick(S0)
      expect(yield* results.items).toStrictEqual([])
      yield* TestClock.adjust("1 second")
      yield* processor.tick(S0)
      expect(brief(yield* results.items)).toStrictEqual([
        { key: "a", start: 0, end: 60_000, value: 2, count: 2, firing: "onTime" },
        { key: "b", start: 0, end: 60_000, value: 1, count: 1, firing: "onTime" }
      ])
    }))

  it.effect("a shard stopped and started again (its lease came back) rebuilds from its checkpoint alone", () =>
    Effect.gen(function*() {
      const { processor, results } = yield* harness(Pipeline.window({
        window: Window.tumbling(10),
        key: (e: Event) => e.k,
        eventTime: (e) => e.t,
        aggregate: sum
      }))
      const records = shardRecords(S0, [ev("a", 1), ev("a", 2), ev("a", 3), ev("a", 11)])
      const first = yield* processor.process(S0, records.slice(0, 2))
      yield* processor.stopShard(S0)
      // back from another worker, which had processed nothing: resume where this one had checkpointed
      yield* processor.startShard(S0, first.checkpoint)
      yield* processor.process(S0, records)
      expect(brief(yield* results.items)).toStrictEqual([{ key: "a", start: 0, end: 10, value: 3, count: 3, firing: "onTime" }])
    }))

  it.effect("drops window state once a window can no longer fire", () =>
    Effect.gen(function*() {
      const { processor } = yield* harness(Pipeline.window({
        window: Window.tumbling(10),
        key: (e) => e.k,
        eventTime: (e) => e.t,
        aggregate: sum,
        allowedLateness: 20
      }))
      // 1,000 windows over time; only those within the lateness horizon stay
      for (let i = 0; i < 100; i++) {
        yield* processor.process(S0, shardRecords(S0, Array.from({ length: 10 }, (_, j) => ev(`k${j}`, (i * 10 + j) * 10)), i * 10))
      }
      const [last] = shardRecords(S0, [ev("x", 10_000)], 1000)
      const outcome = yield* processor.process(S0, [last])
      // watermark 10,000: alive are the windows ending after 9,980, the earliest holding the record at
      // 9,980 (the 999th); the checkpoint stops just before it, with the event time seen up to there
      const [before] = shardRecords(S0, [ev("x", 0)], 997)
      expect(outcome.checkpoint).toStrictEqual({
        sequenceNumber: before.sequenceNumber,
        subSequenceNumber: 0,
        processed: { sequenceNumber: last.sequenceNumber, subSequenceNumber: 0 },
        maxEventTime: 9_970,
        watermark: 10_000
      })
    }))
})
