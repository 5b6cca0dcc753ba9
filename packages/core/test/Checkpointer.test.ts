import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as DeadLetter from "../src/DeadLetter.js"
import * as Checkpointer from "../src/internal/checkpointer.js"
import * as Pipeline from "../src/Pipeline.js"
import type { Checkpoint } from "../src/RecordSource.js"
import * as RecordSink from "../src/RecordSink.js"
import * as SourceRecord from "../src/SourceRecord.js"
import { CheckpointError, SourceError } from "../src/TributaryError.js"

const at = (n: number): Checkpoint => ({ sequenceNumber: String(n), subSequenceNumber: 0 })

/** A store whose writes take `millis` each (TestClock), recording when each started and what it stored. */
const slowStore = (millis: number, failOn?: number) => {
  const started: Array<[at: number, sequenceNumber: string]> = []
  const stored: Array<string> = []
  let inFlight = 0
  let maxInFlight = 0
  const write = (checkpoint: Checkpoint) =>
    Effect.gen(function*() {
      started.push([yield* Clock.currentTimeMillis, checkpoint.sequenceNumber])
      maxInFlight = Math.max(maxInFlight, ++inFlight)
      yield* Effect.sleep(millis).pipe(Effect.ensuring(Effect.sync(() => inFlight--)))
      if (Number(checkpoint.sequenceNumber) === failOn) {
        return yield* Effect.fail(new CheckpointError({ shardId: "s", reason: "LeaseLost", retryability: "permanent" }))
      }
      stored.push(checkpoint.sequenceNumber)
    })
  return { write, started, stored, maxInFlight: () => maxInFlight }
}

describe("checkpointer (TestClock)", () => {
  it.scoped("offer returns at once; one write in flight; what is offered meanwhile coalesces, the latest winning", () =>
    Effect.gen(function*() {
      const store = slowStore(100)
      const checkpointer = yield* Checkpointer.make(store.write, 0)
      yield* checkpointer.offer(at(1))
      yield* Effect.yieldNow()
      // the write of 1 is in flight; 2, 3 and 4 arrive meanwhile: only 4 is written after it
      for (const n of [2, 3, 4]) yield* checkpointer.offer(at(n))
      expect(store.stored).toStrictEqual([])
      yield* TestClock.adjust("100 millis")
      expect(store.stored).toStrictEqual(["1"])
      yield* TestClock.adjust("100 millis")
      expect(store.stored).toStrictEqual(["1", "4"])
      expect(store.started).toStrictEqual([[0, "1"], [100, "4"]])
      expect(store.maxInFlight()).toBe(1)
    }))

  it.scoped("with an interval, writes start at most once per interval; a waiting checkpoint is written when it passes", () =>
    Effect.gen(function*() {
      const store = slowStore(10)
      const checkpointer = yield* Checkpointer.make(store.write, 1000)
      yield* checkpointer.offer(at(1))
      yield* TestClock.adjust("300 millis")
      yield* checkpointer.offer(at(2))
      yield* TestClock.adjust("300 millis")
      yield* checkpointer.offer(at(3))
      // nothing more is offered: 3 is still written, at 1 s
      yield* TestClock.adjust("2 seconds")
      expect(store.started).toStrictEqual([[0, "1"], [1000, "3"]])
      yield* checkpointer.offer(at(4))
      yield* TestClock.adjust("10 millis")
      // the interval since the last write has passed: written at once
      expect(store.started.at(-1)).toStrictEqual([2600, "4"])
    }))

  it.scoped("flush writes what waits without waiting for the interval, and returns once it is stored", () =>
    Effect.gen(function*() {
      const store = slowStore(50)
      const checkpointer = yield* Checkpointer.make(store.write, 60_000)
      yield* checkpointer.offer(at(1))
      yield* TestClock.adjust("50 millis")
      yield* checkpointer.offer(at(2))
      const flushed = yield* Effect.fork(checkpointer.flush)
      yield* TestClock.adjust("50 millis")
      expect(yield* flushed.await).toStrictEqual(Exit.void)
      expect(store.started).toStrictEqual([[0, "1"], [50, "2"]])
      expect(store.stored).toStrictEqual(["1", "2"])
    }))

  it.scoped("a failed write completes `failed`, fails the next offer and flush, and nothing after it is written", () =>
    Effect.gen(function*() {
      const store = slowStore(10, 2)
      const checkpointer = yield* Checkpointer.make(store.write, 0)
      const failed = yield* Effect.fork(checkpointer.failed)
      yield* checkpointer.offer(at(1))
      yield* TestClock.adjust("10 millis")
      yield* checkpointer.offer(at(2))
      yield* TestClock.adjust("10 millis")
      const failure = yield* Effect.flip(Fiber.join(failed))
      expect(failure.reason).toBe("LeaseLost")
      expect((yield* Effect.exit(checkpointer.offer(at(3))))._tag).toBe("Failure")
      expect((yield* Effect.exit(checkpointer.flush))._tag).toBe("Failure")
      yield* TestClock.adjust("1 second")
      expect(store.stored).toStrictEqual(["1"])
      expect(store.started.map(([, n]) => n)).toStrictEqual(["1", "2"])
    }))

  it.scoped("closing the scope interrupts a write in flight", () =>
    Effect.gen(function*() {
      const entered = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      const write = () =>
        Effect.zipRight(Deferred.succeed(entered, undefined), Effect.never).pipe(
          Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
        )
      yield* Effect.scoped(Effect.gen(function*() {
        const checkpointer = yield* Checkpointer.make(write, 0)
        yield* checkpointer.offer(at(1))
        yield* Deferred.await(entered)
      }))
      expect(yield* Deferred.isDone(interrupted)).toBe(true)
    }))
})

describe("runShard's checkpoints (TestClock)", () => {
  const page = (n: number) => [
    SourceRecord.make({ stream: "s", shardId: "s", sequenceNumber: String(n), partitionKey: "k", arrivalTime: 0, data: new Uint8Array() })
  ]
  const broken = new SourceError({ source: "s", reason: "broken", retryability: "permanent" })
  /**
   * Two pages, the second once the first one's checkpoint is stored, then the source fails; checkpoints
   * wait an hour between writes.
   */
  const run = (failOn?: number) =>
    Effect.gen(function*() {
      const stored: Array<string> = []
      const firstStored = yield* Deferred.make<void>()
      const write = (checkpoint: Checkpoint) =>
        Number(checkpoint.sequenceNumber) === failOn
          ? Effect.fail(new CheckpointError({ shardId: "s", reason: "LeaseLost", retryability: "permanent" }))
          : Effect.zipRight(Effect.sync(() => stored.push(checkpoint.sequenceNumber)), Deferred.succeed(firstStored, undefined))
      const processor = yield* Pipeline.processor(Pipeline.make("p").pipe(Pipeline.to(RecordSink.drain)))
      const exit = yield* Effect.exit(Pipeline.runShard(processor, {
        shardId: "s",
        batches: Stream.make(page(1)).pipe(
          Stream.concat(Stream.fromEffect(Effect.as(Deferred.await(firstStored), page(2)))),
          Stream.concat(Stream.fail(broken))
        ),
        checkpoint: write,
        checkpointInterval: "1 hour"
      }))
      return { exit, stored }
    }).pipe(Effect.provide(DeadLetter.layerMemory))

  it.effect("the checkpoint waiting for its interval is stored when the reading fails, before runShard returns", () =>
    Effect.gen(function*() {
      const { exit, stored } = yield* run()
      expect(exit).toStrictEqual(Exit.fail(broken))
      expect(stored).toStrictEqual(["1", "2"])
    }))

  it.effect("a last store that fails too follows the reading's failure in the cause", () =>
    Effect.gen(function*() {
      const { exit, stored } = yield* run(2)
      expect(stored).toStrictEqual(["1"])
      expect(Exit.isFailure(exit) && Chunk.toReadonlyArray(Cause.failures(exit.cause)).map((e) => e._tag)).toStrictEqual([
        "SourceError",
        "CheckpointError"
      ])
    }))
})

describe("runShard over a reader's pull", () => {
  const page = (n: number) => [
    SourceRecord.make({ stream: "s", shardId: "s", sequenceNumber: String(n), partitionKey: "k", arrivalTime: 0, data: new Uint8Array([n]) })
  ]
  const broken = new SourceError({ source: "s", reason: "broken", retryability: "permanent" })
  const unused = new SourceError({ source: "s", reason: "batches read although the reader has a pull", retryability: "permanent" })

  /** A reader whose pull gives `pages` then ends (or fails with `failure`); its batches must not be read. */
  const reader = (pages: ReadonlyArray<number>, failure?: SourceError) =>
    Effect.sync(() => {
      const log: Array<string> = []
      let next = 0
      const pull = Effect.suspend(() =>
        next < pages.length
          ? Effect.succeed(page(pages[next++]))
          : Effect.fail(failure === undefined ? Option.none() : Option.some(failure))
      )
      const stored: Array<string> = []
      const shard = {
        shardId: "s",
        batches: Stream.fail(unused),
        pull: Effect.as(Effect.acquireRelease(Effect.sync(() => log.push("open")), () => Effect.sync(() => log.push("close"))), pull),
        checkpoint: (checkpoint: Checkpoint) => Effect.sync(() => void stored.push(checkpoint.sequenceNumber))
      }
      return { shard, log, stored }
    })

  it.effect("takes every page in order, checkpoints the last, and closes what the pull opened", () =>
    Effect.gen(function*() {
      const sink = yield* RecordSink.memory<SourceRecord.SourceRecord>()
      const processor = yield* Pipeline.processor(Pipeline.make("p").pipe(Pipeline.to(sink)))
      const { log, shard, stored } = yield* reader([1, 2, 3])
      yield* Pipeline.runShard(processor, shard)
      expect((yield* sink.items).map((r) => r.sequenceNumber)).toStrictEqual(["1", "2", "3"])
      expect(stored.at(-1)).toBe("3")
      expect(log).toStrictEqual(["open", "close"])
    }).pipe(Effect.provide(DeadLetter.layerMemory)))

  it.effect("fails with the pull's failure, after storing the checkpoint of what was processed", () =>
    Effect.gen(function*() {
      const processor = yield* Pipeline.processor(Pipeline.make("p").pipe(Pipeline.to(RecordSink.drain)))
      const { log, shard, stored } = yield* reader([1, 2], broken)
      const exit = yield* Effect.exit(Pipeline.runShard(processor, shard))
      expect(Exit.isFailure(exit) && Chunk.toReadonlyArray(Cause.failures(exit.cause)).map(Cause.originalError)).toStrictEqual([broken])
      expect(stored.at(-1)).toBe("2")
      expect(log).toStrictEqual(["open", "close"])
    }).pipe(Effect.provide(DeadLetter.layerMemory)))

  it.effect("reads the batches when a stage needs timer ticks (they are merged into the stream)", () =>
    Effect.gen(function*() {
      // a processor whose stages need ticks (a window's timer, say)
      const processor = { ...yield* Pipeline.processor(Pipeline.make("p").pipe(Pipeline.to(RecordSink.drain))), tickEvery: Duration.seconds(1) }
      const { shard } = yield* reader([1])
      const exit = yield* Effect.exit(Pipeline.runShard(processor, shard))
      expect(Exit.isFailure(exit) && Chunk.toReadonlyArray(Cause.failures(exit.cause)).map(Cause.originalError)).toStrictEqual([unused])
    }).pipe(Effect.provide(DeadLetter.layerMemory)))
})
