/**
 * Benchmarks against a baseline in one process: warm both up, then alternate rounds (so drift of a noisy
 * machine hits both alike, and neither always runs on a freshly collected heap) and report medians of
 * throughput and of the per-round ratio.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 * @category models
 */
export interface Contender {
  /** Untimed preparation before each run (e.g. a fresh stream to write to). */
  readonly setup?: () => Promise<void>
  /** Processes the whole data set once and returns how many records it handled. */
  readonly run: () => Promise<number> | number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Comparison {
  readonly candidate: number
  readonly baseline: number
  readonly ratio: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly rounds?: number
  readonly warmup?: number
  /**
   * "cpu" (default): records per second of this process's CPU time (all threads, GC included): another
   * process's load stretches wall time but not CPU time, so rounds compare fairly on a shared machine.
   * "wall": per second of elapsed time, for work that waits on I/O.
   */
  readonly clock?: "cpu" | "wall"
}

// With `--expose-gc`, each run starts on a collected heap, so one run's garbage is not billed to the next.
const collect = (globalThis as { gc?: () => void }).gc

const timed = async (contender: Contender, clock: "cpu" | "wall"): Promise<number> => {
  await contender.setup?.()
  collect?.()
  if (clock === "wall") {
    const start = performance.now()
    const records = await contender.run()
    return records / ((performance.now() - start) / 1000)
  }
  const start = process.cpuUsage()
  const records = await contender.run()
  const used = process.cpuUsage(start)
  return records / ((used.user + used.system) / 1e6)
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/**
 * @since 0.1.0
 * @category running
 */
export const compare = async (candidate: Contender, baseline: Contender, options: Options = {}): Promise<Comparison> => {
  const clock = options.clock ?? "cpu"
  for (let i = 0; i < (options.warmup ?? 2); i++) {
    await timed(baseline, clock)
    await timed(candidate, clock)
  }
  const candidateRates: Array<number> = []
  const baselineRates: Array<number> = []
  const ratios: Array<number> = []
  for (let i = 0; i < (options.rounds ?? 7); i++) {
    let b: number
    let c: number
    if (i % 2 === 0) {
      b = await timed(baseline, clock)
      c = await timed(candidate, clock)
    } else {
      c = await timed(candidate, clock)
      b = await timed(baseline, clock)
    }
    baselineRates.push(b)
    candidateRates.push(c)
    ratios.push(c / b)
  }
  return { candidate: median(candidateRates), baseline: median(baselineRates), ratio: median(ratios) }
}

/**
 * `bench <name>: tributary <x> rec/s, <baseline label> <y> rec/s, ratio <r>`
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (name: string, result: Comparison, baselineLabel = "baseline"): string =>
  `bench ${name}: tributary ${Math.round(result.candidate).toLocaleString("en-US")} rec/s, ` +
  `${baselineLabel} ${Math.round(result.baseline).toLocaleString("en-US")} rec/s, ratio ${result.ratio.toFixed(3)}`
