/**
 * The state machine behind `Pipeline.window`: assigns records to windows, folds them into aggregates,
 * tracks watermarks, fires and purges windows, and says how far back each shard must be re-read to
 * rebuild every window still alive. Plain synchronous code over whole batches; one instance per run.
 *
 * Determinism matters for restarts: a record is late or not by the watermark *at its position* (the
 * watermark of a shard advances record by record), so replaying a shard from a checkpoint makes the same
 * decisions whatever the batch boundaries.
 *
 * @internal
 */
import type { Aggregate } from "../Aggregate.js"
import type { Checkpoint, Position } from "../RecordSource.js"
import * as SequenceNumber from "../SequenceNumber.js"
import type { SourceRecord } from "../SourceRecord.js"
import type { WindowAssigner, WindowResult } from "../Window.js"
import { lastStart } from "../Window.js"
import { maxTime, preview, thrownReason } from "./reason.js"

// read in the hot loop: a local constant is cheaper there than an imported binding
const latestTime = maxTime

/** @internal */
export interface WindowSpec<A, K, S, O> {
  readonly assigner: WindowAssigner
  readonly key: (value: A) => K
  /** Undefined: processing time (the batch's clock time). */
  readonly eventTime: ((value: A) => number) | undefined
  readonly aggregate: Aggregate<A, S, O>
  readonly maxOutOfOrderness: number
  readonly idleTimeout: number
  readonly allowedLateness: number
  readonly emitOnUpdate: boolean
  readonly emitAtMostEvery: number
  readonly perShard: boolean
}

/**
 * What one call produced: results to write; the (lane) indices of late values and their event times; the
 * indices of values that failed (their key, event time or aggregate threw, or their event time is not one a
 * `Date` can hold) and why; windows whose result could not be read, and why.
 */
export interface Emitted<K, O> {
  readonly results: Array<WindowResult<K, O>>
  readonly late: Array<number>
  readonly lateTimes: Array<number>
  readonly failed: Array<number>
  readonly failedReasons: Array<string>
  readonly failedWindows: Array<{ readonly window: { readonly key: K; readonly start: number; readonly end: number }; readonly reason: string }>
}

/** @internal */
export const emptyEmitted = <K, O>(): Emitted<K, O> => ({
  results: [],
  late: [],
  lateTimes: [],
  failed: [],
  failedReasons: [],
  failedWindows: []
})

/** Where a shard must be re-read from to rebuild a window, and the shard's event-time high mark there. */
interface Resume {
  /** The record before the window's first record of that shard; undefined: the shard's beginning. */
  readonly after: Position | undefined
  readonly maxEventTime: number
}

class Input {
  maxEventTime = -Infinity
  lastActivity: number
  finished = false
  /**
   * The watermark of the checkpoint this shard resumed from. Windows past their lateness by then had
   * written their final results; a replay rebuilds them only in part, so they must not emit again. And
   * later checkpoints must not report less.
   */
  resumedWatermark = -Infinity
  /**
   * The last record processed when the checkpoint resumed from was taken: records up to it had their fate
   * decided (and written) then, so a replay that finds one of them late leaves it be.
   */
  processedBeforeResume: Position | undefined = undefined
  /** The last record processed, the resume point of the next one. */
  last: Position | undefined = undefined
  constructor(readonly shardId: string, readonly partition: Partition<unknown, unknown>, now: number) {
    this.lastActivity = now
  }
}

class WindowState<K, S> {
  fired = false
  dirty = false
  alive = true
  lastEmit = -Infinity
  count = 0
  /** The shard of the last record folded in: saves a map lookup per record in the common case. */
  lastShardId = ""
  /** shard id -> resume point of its first record in this window */
  readonly resumes = new Map<string, Resume>()
  constructor(readonly key: K, public start: number, public end: number, public state: S) {}
}

/** A min-heap of (time, window) timers; stale entries (a session that grew or merged away) are skipped. */
class Timers<K, S> {
  private readonly times: Array<number> = []
  private readonly windows: Array<WindowState<K, S>> = []

  get size(): number {
    return this.times.length
  }

  push(time: number, window: WindowState<K, S>): void {
    let i = this.times.length
    this.times.push(time)
    this.windows.push(window)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (this.times[parent] <= time) break
      this.swap(i, parent)
      i = parent
    }
  }

  /** Removes and returns the windows whose timer is at or before `time`. */
  popUntil(time: number, into: Array<WindowState<K, S>>, timeOf: (w: WindowState<K, S>) => number): void {
    while (this.times.length > 0 && this.times[0] <= time) {
      const at = this.times[0]
      const window = this.windows[0]
      const lastTime = this.times.pop()!
      const lastWindow = this.windows.pop()!
      if (this.times.length > 0) {
        this.times[0] = lastTime
        this.windows[0] = lastWindow
        this.siftDown(0)
      }
      if (window.alive && timeOf(window) === at) into.push(window)
    }
  }

  private siftDown(i: number): void {
    const n = this.times.length
    for (;;) {
      const left = 2 * i + 1
      const right = left + 1
      let smallest = i
      if (left < n && this.times[left] < this.times[smallest]) smallest = left
      if (right < n && this.times[right] < this.times[smallest]) smallest = right
      if (smallest === i) return
      this.swap(i, smallest)
      i = smallest
    }
  }

  private swap(a: number, b: number): void {
    const t = this.times[a]
    this.times[a] = this.times[b]
    this.times[b] = t
    const w = this.windows[a]
    this.windows[a] = this.windows[b]
    this.windows[b] = w
  }
}

/** The windows that share one watermark: one shard's (per-shard windows) or all shards'. */
class Partition<K, S> {
  watermark = -Infinity
  readonly inputs = new Map<string, Input>()
  /** key -> window start -> window (tumbling, hopping), or key -> sessions sorted by start */
  readonly byKey = new Map<K, Map<number, WindowState<K, S>> | Array<WindowState<K, S>>>()
  readonly fireTimers = new Timers<K, S>()
  readonly purgeTimers = new Timers<K, S>()
  readonly dirty = new Set<WindowState<K, S>>()
  /** key -> its newest tumbling window */
  readonly recent = new Map<K, WindowState<K, S>>()
  live = 0
}

/** @internal */
export class WindowOperator<A, K, S, O> {
  private readonly partitions = new Map<string, Partition<K, S>>()
  private readonly inputs = new Map<string, Input>()

  constructor(readonly spec: WindowSpec<A, K, S, O>) {}

  /** Registers a shard, restoring its event-time high mark from the checkpoint it resumes after. */
  start(shardId: string, resume: Checkpoint | undefined, now: number): void {
    if (this.inputs.has(shardId)) return
    const input = this.inputOf(shardId, now)
    if (resume !== undefined) {
      input.last = resume
      if (resume.maxEventTime !== undefined) {
        input.maxEventTime = Math.max(input.maxEventTime, resume.maxEventTime)
        this.raiseWatermark(input)
      }
      if (resume.watermark !== undefined) input.resumedWatermark = resume.watermark
      input.processedBeforeResume = resume.processed
    }
  }

  /**
   * Forgets a shard. Per-shard windows go with it (a replay from its checkpoint rebuilds them wherever the
   * shard is processed next); windows shared with other shards keep what the shard already added.
   */
  stop(shardId: string): void {
    const input = this.inputs.get(shardId)
    if (input === undefined) return
    this.inputs.delete(shardId)
    input.partition.inputs.delete(shardId)
    if (this.spec.perShard) this.partitions.delete(shardId)
  }

  /**
   * Folds one batch of a shard. `values[i]` came from `records[origins[i]]` (origins null: from
   * `records[i]`); the indices of late values go to `emitted.late`.
   */
  process(
    shardId: string,
    records: ReadonlyArray<SourceRecord>,
    values: ReadonlyArray<A>,
    origins: ReadonlyArray<number> | null,
    now: number,
    emitted: Emitted<K, O>
  ): void {
    const input = this.inputOf(shardId, now)
    const partition = input.partition as Partition<K, S>
    const { eventTime, key: keyOf, maxOutOfOrderness } = this.spec
    const single = partition.inputs.size === 1
    const processingTime = eventTime === undefined
    if (processingTime) this.advanceProcessingTime(partition, now)
    for (let i = 0; i < values.length; i++) {
      const value = values[i]
      const origin = origins === null ? i : origins[i]
      let time: number
      // A record whose key, event time or aggregate throws fails alone: nothing of it was added (an
      // aggregate's `add` throws before changing its state), and the loop goes on with the next.
      try {
        time = processingTime ? now : eventTime(value)
        if (typeof time !== "number" || !(time >= -latestTime && time <= latestTime)) {
          emitted.failed.push(i)
          emitted.failedReasons.push(
            `event time ${preview(time)} is not a time a Date can hold (epoch milliseconds within ±${maxTime})`
          )
          continue
        }
        if (!this.add(partition, input, keyOf(value), time, value, records, origin) && !this.replayed(input, records[origin])) {
          emitted.late.push(i)
          emitted.lateTimes.push(time)
        }
      } catch (error) {
        emitted.failed.push(i)
        emitted.failedReasons.push(thrownReason(error))
        continue
      }
      if (time > input.maxEventTime) {
        input.maxEventTime = time
        if (single && !processingTime) partition.watermark = Math.max(partition.watermark, time - maxOutOfOrderness)
      }
    }
    if (records.length > 0) input.last = records[records.length - 1]
    if (values.length > 0) input.lastActivity = now
    if (!single && !processingTime) this.recomputeWatermark(partition, now)
    this.fire(partition, now, emitted)
  }

  /** Time passes without records: processing-time windows close, idle shards stop holding others back. */
  tick(shardId: string, now: number, emitted: Emitted<K, O>): void {
    const partition = this.inputOf(shardId, now).partition as Partition<K, S>
    if (this.spec.eventTime === undefined) this.advanceProcessingTime(partition, now)
    else this.recomputeWatermark(partition, now)
    this.fire(partition, now, emitted)
  }

  /** The shard ended (or a bounded source drained): it no longer holds the watermark back. */
  end(shardId: string, now: number, emitted: Emitted<K, O>): void {
    const input = this.inputOf(shardId, now)
    input.finished = true
    const partition = input.partition as Partition<K, S>
    this.recomputeWatermark(partition, now)
    this.fire(partition, now, emitted)
  }

  /**
   * Where the shard can be checkpointed: just before the earliest record some live window still needs,
   * or after its last record. Undefined when a live window needs the shard from its very beginning.
   */
  checkpoint(shardId: string): Checkpoint | undefined {
    const input = this.inputs.get(shardId)
    if (input === undefined || input.last === undefined) return undefined
    let earliest: Resume | undefined
    let needsBeginning = false
    const partition = input.partition as Partition<K, S>
    for (const windows of partition.byKey.values()) {
      for (const window of windows.values()) {
        const resume = window.resumes.get(shardId)
        if (resume === undefined) continue
        if (resume.after === undefined) needsBeginning = true
        else if (earliest === undefined || comparePositions(resume.after, earliest.after!) < 0) earliest = resume
      }
    }
    if (needsBeginning) return undefined
    const at = earliest ?? { after: input.last, maxEventTime: input.maxEventTime }
    // while a replay rebuilds, the watermark and progress are behind those the resumed checkpoint recorded
    const watermark = Math.max(partition.watermark, input.resumedWatermark)
    const processed = input.processedBeforeResume !== undefined &&
        comparePositions(input.processedBeforeResume, input.last) > 0
      ? input.processedBeforeResume
      : input.last
    return {
      sequenceNumber: at.after!.sequenceNumber,
      subSequenceNumber: at.after!.subSequenceNumber,
      ...(earliest === undefined ? {} : { processed: positionOf(processed) }),
      ...(Number.isFinite(at.maxEventTime) ? { maxEventTime: at.maxEventTime } : {}),
      ...(Number.isFinite(watermark) ? { watermark } : {})
    }
  }

  private replayed(input: Input, record: Position): boolean {
    return input.processedBeforeResume !== undefined && comparePositions(record, input.processedBeforeResume) <= 0
  }

  /** Windows currently kept in memory, over all partitions. */
  get liveWindows(): number {
    let live = 0
    for (const partition of this.partitions.values()) live += partition.live
    return live
  }

  watermarkOf(shardId: string): number {
    return this.inputs.get(shardId)?.partition.watermark ?? -Infinity
  }

  // -------------------------------------------------------------------------------------------------------

  private inputOf(shardId: string, now: number): Input {
    let input = this.inputs.get(shardId)
    if (input === undefined) {
      const partitionKey = this.spec.perShard ? shardId : ""
      let partition = this.partitions.get(partitionKey)
      if (partition === undefined) this.partitions.set(partitionKey, partition = new Partition<K, S>())
      input = new Input(shardId, partition as Partition<unknown, unknown>, now)
      partition.inputs.set(shardId, input)
      this.inputs.set(shardId, input)
    }
    return input
  }

  private raiseWatermark(input: Input): void {
    const partition = input.partition
    if (partition.inputs.size === 1 && this.spec.eventTime !== undefined) {
      partition.watermark = Math.max(partition.watermark, input.maxEventTime - this.spec.maxOutOfOrderness)
    }
  }

  /** The minimum over the partition's inputs that are neither finished nor idle; never goes back. */
  private recomputeWatermark(partition: Partition<K, S>, now: number): void {
    let lowest = Infinity
    let waiting = false
    for (const input of partition.inputs.values()) {
      if (input.finished) continue
      if (now - input.lastActivity >= this.spec.idleTimeout) {
        waiting = true
        continue
      }
      lowest = Math.min(lowest, input.maxEventTime - this.spec.maxOutOfOrderness)
    }
    // every unfinished input idle: nothing says how far time went, so the watermark stays
    if (lowest === Infinity && waiting) return
    partition.watermark = Math.max(partition.watermark, lowest)
  }

  private advanceProcessingTime(partition: Partition<K, S>, now: number): void {
    partition.watermark = Math.max(partition.watermark, now)
  }

  /** Adds a value to each of its windows not past its lateness; false (late) when all of them are. */
  private add(
    partition: Partition<K, S>,
    input: Input,
    key: K,
    time: number,
    value: A,
    records: ReadonlyArray<SourceRecord>,
    origin: number
  ): boolean {
    const assigner = this.spec.assigner
    if (assigner._tag === "Session") return this.addToSession(partition, input, key, time, value, records, origin)
    const lateBefore = partition.watermark - this.spec.allowedLateness
    // most records of a key fall in the key's newest tumbling window: skip computing the start and the
    // lookup by start (a tumbling window [start, end) is the one window holding the times in it)
    const recent = assigner._tag === "Tumbling" ? partition.recent.get(key) : undefined
    if (recent !== undefined && time >= recent.start && time < recent.end && recent.alive && recent.end > lateBefore) {
      this.fold(partition, recent, input, value, records, origin)
      return true
    }
    let windows = partition.byKey.get(key) as Map<number, WindowState<K, S>> | undefined
    const size = assigner.size
    const step = assigner._tag === "Tumbling" ? size : assigner.slide
    const first = lastStart(assigner, time)
    let late = true
    for (let start = first; start > time - size; start -= step) {
      const end = start + size
      if (end <= lateBefore) break // earlier windows end even earlier
      late = false
      if (windows === undefined) partition.byKey.set(key, windows = new Map())
      let window = windows.get(start)
      if (window === undefined) {
        window = new WindowState<K, S>(key, start, end, this.spec.aggregate.empty())
        windows.set(start, window)
        partition.fireTimers.push(end, window)
        partition.live++
      }
      if (assigner._tag === "Tumbling" && (recent === undefined || !recent.alive || start >= recent.start)) {
        partition.recent.set(key, window)
      }
      this.fold(partition, window, input, value, records, origin)
    }
    return !late
  }

  private addToSession(
    partition: Partition<K, S>,
    input: Input,
    key: K,
    time: number,
    value: A,
    records: ReadonlyArray<SourceRecord>,
    origin: number
  ): boolean {
    const gap = (this.spec.assigner as { readonly gap: number }).gap
    let sessions = partition.byKey.get(key) as Array<WindowState<K, S>> | undefined
    let start = time
    let end = time + gap
    // sessions are disjoint and sorted; the new window [time, time + gap) merges with every one it touches,
    // except sessions past their lateness: they are gone, whether or not a batch end purged them yet
    const lateBefore = partition.watermark - this.spec.allowedLateness
    const touching: Array<WindowState<K, S>> = []
    if (sessions !== undefined) {
      for (const session of sessions) {
        if (session.end <= lateBefore) continue
        if (session.start <= end && start <= session.end) {
          touching.push(session)
          start = Math.min(start, session.start)
          end = Math.max(end, session.end)
        }
      }
    }
    if (end <= lateBefore) return false
    // the value is added first: if the aggregate throws, no session was created, merged or extended
    const aggregate = this.spec.aggregate
    let target: WindowState<K, S>
    if (touching.length === 0) {
      target = new WindowState<K, S>(key, start, end, aggregate.add(aggregate.empty(), value))
    } else {
      target = touching[0]
      target.state = aggregate.add(target.state, value)
    }
    if (sessions === undefined) partition.byKey.set(key, sessions = [])
    let needsTimer = touching.length === 0
    if (touching.length === 0) {
      partition.live++
      insertSorted(sessions, target)
    } else {
      const wasFired = target.fired
      for (let i = 1; i < touching.length; i++) this.absorbSession(partition, sessions, target, touching[i])
      if (target.end !== end) {
        // a record extended the session: it fires (again) at its new end; earlier timers are now stale
        target.fired = false
        needsTimer = true
      } else if (wasFired && !target.fired) {
        needsTimer = true
      }
    }
    target.start = start
    target.end = end
    if (needsTimer) partition.fireTimers.push(end, target)
    this.folded(partition, target, input, records, origin)
    return true
  }

  private absorbSession(
    partition: Partition<K, S>,
    sessions: Array<WindowState<K, S>>,
    into: WindowState<K, S>,
    from: WindowState<K, S>
  ): void {
    into.state = this.spec.aggregate.merge(into.state, from.state)
    into.count += from.count
    for (const [shardId, resume] of from.resumes) {
      const mine = into.resumes.get(shardId)
      if (mine === undefined || isEarlier(resume, mine)) into.resumes.set(shardId, resume)
    }
    into.fired = into.fired && from.fired
    from.alive = false
    partition.dirty.delete(from)
    partition.live--
    sessions.splice(sessions.indexOf(from), 1)
  }

  private fold(
    partition: Partition<K, S>,
    window: WindowState<K, S>,
    input: Input,
    value: A,
    records: ReadonlyArray<SourceRecord>,
    origin: number
  ): void {
    window.state = this.spec.aggregate.add(window.state, value)
    this.folded(partition, window, input, records, origin)
  }

  /** The bookkeeping of a value added to a window. */
  private folded(
    partition: Partition<K, S>,
    window: WindowState<K, S>,
    input: Input,
    records: ReadonlyArray<SourceRecord>,
    origin: number
  ): void {
    window.count++
    // The first record of a shard in a window is its earliest (records arrive in shard order): a replay
    // that must include it starts after the record before it.
    if (window.lastShardId !== input.shardId) {
      window.lastShardId = input.shardId
      if (!window.resumes.has(input.shardId)) {
        const after = origin === 0 ? input.last : records[origin - 1]
        window.resumes.set(input.shardId, { after, maxEventTime: input.maxEventTime })
      }
    }
    if (window.fired || this.spec.emitOnUpdate) {
      window.dirty = true
      partition.dirty.add(window)
    }
  }

  /** Fires windows the watermark passed, re-emits updated ones, and drops those past their lateness. */
  private fire(partition: Partition<K, S>, now: number, emitted: Emitted<K, O>): void {
    const due: Array<WindowState<K, S>> = []
    partition.fireTimers.popUntil(partition.watermark, due, (w) => w.end)
    due.sort(byEndThenStart)
    for (const window of due) {
      if (window.fired) continue
      window.fired = true
      window.dirty = false
      partition.dirty.delete(window)
      window.lastEmit = now
      this.emit(window, "onTime", emitted)
      partition.purgeTimers.push(window.end + this.spec.allowedLateness, window)
    }
    if (partition.dirty.size > 0) {
      for (const window of [...partition.dirty].sort(byEndThenStart)) {
        if (!window.alive) continue
        if (!window.fired && now - window.lastEmit < this.spec.emitAtMostEvery) continue
        window.dirty = false
        partition.dirty.delete(window)
        window.lastEmit = now
        this.emit(window, window.fired ? "late" : "update", emitted)
      }
    }
    const expired: Array<WindowState<K, S>> = []
    partition.purgeTimers.popUntil(partition.watermark, expired, (w) => w.end + this.spec.allowedLateness)
    for (const window of expired) this.purge(partition, window)
  }

  private purge(partition: Partition<K, S>, window: WindowState<K, S>): void {
    if (!window.fired) return
    window.alive = false
    if (partition.recent.get(window.key) === window) partition.recent.delete(window.key)
    partition.dirty.delete(window)
    partition.live--
    const windows = partition.byKey.get(window.key)
    if (windows === undefined) return
    if (Array.isArray(windows)) {
      windows.splice(windows.indexOf(window), 1)
      if (windows.length === 0) partition.byKey.delete(window.key)
    } else {
      windows.delete(window.start)
      if (windows.size === 0) partition.byKey.delete(window.key)
    }
  }

  private emit(window: WindowState<K, S>, firing: WindowResult<K, O>["firing"], emitted: Emitted<K, O>): void {
    // a window all of whose values failed to be added holds nothing to tell
    if (window.count === 0 || this.closedBeforeResume(window)) return
    try {
      emitted.results.push(this.resultOf(window, firing))
    } catch (error) {
      emitted.failedWindows.push({ window: { key: window.key, start: window.start, end: window.end }, reason: thrownReason(error) })
    }
  }

  /** A window every shard of which had closed it for good before the checkpoint it resumed from. */
  private closedBeforeResume(window: WindowState<K, S>): boolean {
    const closesAt = window.end + this.spec.allowedLateness
    for (const shardId of window.resumes.keys()) {
      if (closesAt > this.inputs.get(shardId)!.resumedWatermark) return false
    }
    return true
  }

  private resultOf(window: WindowState<K, S>, firing: WindowResult<K, O>["firing"]): WindowResult<K, O> {
    return {
      key: window.key,
      start: window.start,
      end: window.end,
      value: this.spec.aggregate.result(window.state),
      count: window.count,
      shards: [...window.resumes.keys()].sort(),
      firing
    }
  }
}

const byEndThenStart = (a: WindowState<unknown, unknown>, b: WindowState<unknown, unknown>) =>
  a.end - b.end || a.start - b.start

const insertSorted = <K, S>(sessions: Array<WindowState<K, S>>, session: WindowState<K, S>): void => {
  let i = sessions.length
  while (i > 0 && sessions[i - 1].start > session.start) i--
  sessions.splice(i, 0, session)
}

const positionOf = (p: Position): Position => ({ sequenceNumber: p.sequenceNumber, subSequenceNumber: p.subSequenceNumber })

const comparePositions = (a: Position, b: Position): number =>
  SequenceNumber.compare(a.sequenceNumber, b.sequenceNumber) || a.subSequenceNumber - b.subSequenceNumber

const isEarlier = (a: Resume, b: Resume): boolean =>
  a.after === undefined ? b.after !== undefined : b.after !== undefined && comparePositions(a.after, b.after) < 0
