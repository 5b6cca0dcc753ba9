/**
 * The Space-Saving summary behind `Aggregate.topK` (Metwally, Agrawal, El Abbadi 2005): at most `capacity`
 * counters in a min-heap on count, an index by value, and the floor that bounds every unmonitored value;
 * adding, merging (Cafaro, Pulimeno, Tempesta 2016) and the top entries. `Aggregate.ts` wires it into an
 * aggregate and its state Schema.
 *
 * @internal
 */

import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { Count } from "./stateSchemas.js"

export const TypeId: unique symbol = Symbol.for("@tributary/core/Aggregate/SpaceSaving")

/** The state of `topK` as the public API sees it (see `Aggregate.SpaceSaving`). */
export interface SpaceSaving {
  readonly [TypeId]: typeof TypeId
  readonly capacity: number
  /**
   * An upper bound of the count of any value without a counter; 0 while no counter was ever evicted or
   * dropped, i.e. while every count is exact.
   */
  readonly floor: number
}

export class Counter {
  constructor(public value: string, public count: number, public error: number, public position: number) {}
}

export class SpaceSavingImpl implements SpaceSaving {
  readonly [TypeId]: typeof TypeId = TypeId
  readonly index = new Map<string, Counter>()
  /** min-heap on count */
  readonly heap: Array<Counter> = []
  floor = 0
  constructor(readonly capacity: number) {}
}

const siftDown = (heap: Array<Counter>, position: number): void => {
  const n = heap.length
  const c = heap[position]
  for (;;) {
    let child = 2 * position + 1
    if (child >= n) break
    if (child + 1 < n && heap[child + 1].count < heap[child].count) child++
    if (heap[child].count >= c.count) break
    heap[position] = heap[child]
    heap[position].position = position
    position = child
  }
  heap[position] = c
  c.position = position
}

const siftUp = (heap: Array<Counter>, position: number): void => {
  const c = heap[position]
  while (position > 0) {
    const parent = (position - 1) >> 1
    if (heap[parent].count <= c.count) break
    heap[position] = heap[parent]
    heap[position].position = position
    position = parent
  }
  heap[position] = c
  c.position = position
}

export const heapify = (heap: Array<Counter>): void => {
  for (let i = 0; i < heap.length; i++) heap[i].position = i
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftDown(heap, i)
}

/** count descending, then value ascending (UTF-16 order): the deterministic order of results */
export const byRank = (a: Counter, b: Counter): number =>
  b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0)

/** Keeps the `capacity` best counters; the count of a dropped one bounds every unmonitored value. */
export const truncate = (s: SpaceSavingImpl): void => {
  if (s.heap.length <= s.capacity) return
  s.heap.sort(byRank)
  for (let i = s.capacity; i < s.heap.length; i++) {
    const dropped = s.heap[i]
    s.index.delete(dropped.value)
    if (dropped.count > s.floor) s.floor = dropped.count
  }
  s.heap.length = s.capacity
}

/**
 * Counts one more `value`: its counter, a free one, or the smallest counter evicted and reused (an object
 * is created only while the summary is not full yet).
 */
export const add = (s: SpaceSavingImpl, value: string): void => {
  const existing = s.index.get(value)
  if (existing !== undefined) {
    existing.count++
    siftDown(s.heap, existing.position)
  } else if (s.heap.length < s.capacity) {
    const c = new Counter(value, 1, 0, s.heap.length)
    s.heap.push(c)
    s.index.set(value, c)
    siftUp(s.heap, c.position)
  } else {
    // Evict the smallest counter and reuse it for the new value
    const c = s.heap[0]
    s.index.delete(c.value)
    // The evicted value had at most c.count (a state read with a larger capacity may have a higher floor)
    if (c.count > s.floor) s.floor = c.count
    c.value = value
    c.error = c.count
    c.count++
    s.index.set(value, c)
    siftDown(s.heap, 0)
  }
}

/**
 * Adds `t` into `s`: a value missing from one summary is credited with that summary's floor (the most it
 * can have had there) in count and error, then the lowest counters are dropped to fit the capacity.
 */
export const merge = (s: SpaceSavingImpl, t: SpaceSavingImpl): void => {
  if (t.heap.length === 0) return
  const selfFloor = s.floor
  for (const c of s.heap) {
    const o = t.index.get(c.value)
    if (o !== undefined) {
      c.count += o.count
      c.error += o.error
    } else {
      c.count += t.floor
      c.error += t.floor
    }
  }
  for (const o of t.heap) {
    if (!s.index.has(o.value)) {
      const c = new Counter(o.value, o.count + selfFloor, o.error + selfFloor, s.heap.length)
      s.heap.push(c)
      s.index.set(o.value, c)
    }
  }
  // A value in neither summary had at most selfFloor + t.floor; truncate raises it to the largest drop
  s.floor = selfFloor + t.floor
  truncate(s)
  heapify(s.heap)
}

/** The counters by count descending, then value ascending. */
export const ranked = (s: SpaceSavingImpl): Array<Counter> => s.heap.slice().sort(byRank)

/** The state as JSON: the floor and the counters, best first (a larger summary is cut down on reading). */
export const stateSchema = (capacity: number) =>
  Schema.transformOrFail(
    Schema.Struct({ floor: Count, counters: Schema.Array(Schema.Tuple(Schema.String, Count, Count)) }),
    Schema.declare((u: unknown): u is SpaceSaving => u instanceof SpaceSavingImpl && u.capacity === capacity, {
      identifier: "SpaceSaving"
    }),
    {
      strict: true,
      decode: (e, _, ast) => {
        const s = new SpaceSavingImpl(capacity)
        s.floor = e.floor
        for (const [value, count, error] of e.counters) {
          if (count < 1 || error > count || s.index.has(value)) {
            return ParseResult.fail(new ParseResult.Type(ast, e, `invalid counter for ${JSON.stringify(value)}`))
          }
          const c = new Counter(value, count, error, s.heap.length)
          s.heap.push(c)
          s.index.set(value, c)
        }
        // A state written with a larger capacity is cut down the way merge does it
        truncate(s)
        heapify(s.heap)
        return ParseResult.succeed(s as SpaceSaving)
      },
      encode: (summary) =>
        ParseResult.succeed({
          floor: summary.floor,
          counters: ranked(summary as SpaceSavingImpl).map((c) => [c.value, c.count, c.error] as const)
        })
    }
  )

/** A counted value of the top k (`Aggregate.TopKEntry`). */
export interface Entry {
  readonly value: string
  /** Estimated count, never below the true count */
  readonly count: number
  /** Maximum over-estimation: the true count is in [count - error, count] */
  readonly error: number
}

/** The members of a top-`k` aggregate over summaries of `capacity` counters. */
export const parts = (k: number, capacity: number) => ({
  empty: (): SpaceSaving => new SpaceSavingImpl(capacity),
  add: (summary: SpaceSaving, value: string): SpaceSaving => {
    add(summary as SpaceSavingImpl, value)
    return summary
  },
  merge: (self: SpaceSaving, that: SpaceSaving): SpaceSaving => {
    merge(self as SpaceSavingImpl, that as SpaceSavingImpl)
    return self
  },
  result: (summary: SpaceSaving): ReadonlyArray<Entry> => {
    const sorted = ranked(summary as SpaceSavingImpl)
    const n = Math.min(k, sorted.length)
    const out = new Array<Entry>(n)
    for (let i = 0; i < n; i++) out[i] = { value: sorted[i].value, count: sorted[i].count, error: sorted[i].error }
    return out
  },
  state: stateSchema(capacity)
})
