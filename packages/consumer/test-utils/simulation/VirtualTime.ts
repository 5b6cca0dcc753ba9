/**
 * Virtual time for simulations of many fibers: a `Clock` whose sleeps wait in a heap of timers, and a
 * `Scheduler` that queues the steps of every fiber. `run` drives both in one synchronous loop: it runs
 * every queued step, and when nothing is left to run, moves the clock to the earliest timer and wakes it.
 * Runs are deterministic (given seeded randomness) and cost nothing while fibers sleep.
 *
 * Effect's `TestClock` does the same for tests of a few fibers, but at every wake-up it reads the status
 * of every fiber of the test and waits for a real `setTimeout`: hundreds of lease coordinators wake up
 * millions of times, which would take hours. This clock is a plain `Clock` service, so the code under
 * simulation runs unchanged.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import type * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"
import * as Scheduler from "effect/Scheduler"

interface Timer {
  readonly at: number
  readonly seq: number
  readonly wake: () => void
  cancelled: boolean
}

/** A binary heap of timers, earliest first (ties in the order they were set). */
class Timers {
  private readonly heap: Array<Timer> = []
  private seq = 0

  add(at: number, wake: () => void): Timer {
    const timer: Timer = { at, seq: this.seq++, wake, cancelled: false }
    const heap = this.heap
    heap.push(timer)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(heap[i], heap[parent])) break
      ;[heap[i], heap[parent]] = [heap[parent], heap[i]]
      i = parent
    }
    return timer
  }

  /** The earliest timer not cancelled, removed. */
  pop(): Timer | undefined {
    const heap = this.heap
    while (heap.length > 0) {
      const top = heap[0]
      const last = heap.pop()!
      if (heap.length > 0) {
        heap[0] = last
        let i = 0
        while (true) {
          const left = 2 * i + 1
          const right = left + 1
          let smallest = i
          if (left < heap.length && before(heap[left], heap[smallest])) smallest = left
          if (right < heap.length && before(heap[right], heap[smallest])) smallest = right
          if (smallest === i) break
          ;[heap[i], heap[smallest]] = [heap[smallest], heap[i]]
          i = smallest
        }
      }
      if (!top.cancelled) return top
    }
    return undefined
  }
}

const before = (a: Timer, b: Timer) => a.at < b.at || (a.at === b.at && a.seq < b.seq)

/** More steps than a fleet of hundreds of workers takes at one instant. */
const maxStepsPerInstant = 20_000_000

/** Options of a run. */
export interface RunOptions {
  /** Where the clock starts (epoch milliseconds). Default 0. */
  readonly start?: number | undefined
}

/**
 * Runs an effect to its end in virtual time and answers its exit. Fails if every fiber waits for
 * something that no timer will bring (a deadlock), or if the fibers keep running without the clock moving.
 * The loop is synchronous but hands the event loop back every few milliseconds, so that a test runner's own
 * messages get through.
 */
export const run = async <A, E>(effect: Effect.Effect<A, E>, options: RunOptions = {}): Promise<Exit.Exit<A, E>> => {
  let now = options.start ?? 0
  const timers = new Timers()
  const queue: Array<Scheduler.Task> = []
  let head = 0
  const scheduler = Scheduler.make((task) => void queue.push(task))

  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => now,
    currentTimeMillis: Effect.sync(() => now),
    unsafeCurrentTimeNanos: () => BigInt(Math.round(now * 1_000_000)),
    currentTimeNanos: Effect.sync(() => BigInt(Math.round(now * 1_000_000))),
    sleep: (duration) => {
      const millis = Duration.toMillis(duration)
      if (!(millis > 0)) return Effect.yieldNow()
      return Effect.async<void>((resume) => {
        const timer = timers.add(now + millis, () => resume(Effect.void))
        return Effect.sync(() => void (timer.cancelled = true))
      })
    }
  }

  // the scheduler is the fiber's from its start to its end (the end interrupts forked children)
  const runtime = Runtime.setFiberRef(Runtime.defaultRuntime, FiberRef.currentScheduler, scheduler)
  const fiber = Runtime.runFork(runtime)(Effect.withClock(effect, clock))
  let handedBack = performance.now()
  while (true) {
    // steps at one instant: a fiber that loops without ever sleeping would hold the clock still forever
    let steps = 0
    while (head < queue.length) {
      queue[head++]()
      if (++steps > maxStepsPerInstant) {
        throw new Error(`virtual time: ${steps} steps at ${now} ms without the clock moving (a fiber loops without sleeping)`)
      }
      // drop what has run, now and then
      if (head > 65_536 && head * 2 > queue.length) {
        queue.splice(0, head)
        head = 0
      }
    }
    queue.length = 0
    head = 0
    const exit = fiber.unsafePoll()
    if (exit !== null) return exit
    const next = timers.pop()
    if (next === undefined) throw new Error(`virtual time: every fiber waits and no timer is set (at ${now} ms)`)
    now = Math.max(now, next.at)
    next.wake()
    if (performance.now() - handedBack > 20) {
      await new Promise((resolve) => setImmediate(resolve))
      handedBack = performance.now()
    }
  }
}
