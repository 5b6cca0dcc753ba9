/**
 * Compares a candidate with a baseline in one process: warm both up, then alternate rounds (so drift of a
 * noisy machine hits both alike) and report medians of throughput and of the per-round ratio.
 */
export interface Contender {
  /** Processes the whole data set once and returns how many records it handled. */
  readonly run: () => Promise<number> | number
}

export interface Comparison {
  readonly candidate: number
  readonly baseline: number
  readonly ratio: number
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/**
 * Records per second of CPU time (all threads of this process: GC included). On a shared machine another
 * process's load stretches wall time but not CPU time, so rounds compare fairly.
 */
const timed = async (contender: Contender): Promise<number> => {
  const start = process.cpuUsage()
  const records = await contender.run()
  const used = process.cpuUsage(start)
  return records / ((used.user + used.system) / 1e6)
}

export const compare = async (
  candidate: Contender,
  baseline: Contender,
  options: { readonly rounds?: number; readonly warmup?: number } = {}
): Promise<Comparison> => {
  for (let i = 0; i < (options.warmup ?? 2); i++) {
    await timed(baseline)
    await timed(candidate)
  }
  const candidateRates: Array<number> = []
  const baselineRates: Array<number> = []
  const ratios: Array<number> = []
  for (let i = 0; i < (options.rounds ?? 7); i++) {
    // alternate which goes first, so neither always runs on a freshly collected heap
    let b: number
    let c: number
    if (i % 2 === 0) {
      b = await timed(baseline)
      c = await timed(candidate)
    } else {
      c = await timed(candidate)
      b = await timed(baseline)
    }
    baselineRates.push(b)
    candidateRates.push(c)
    ratios.push(c / b)
  }
  return { candidate: median(candidateRates), baseline: median(baselineRates), ratio: median(ratios) }
}

export const format = (name: string, result: Comparison): string =>
  `bench ${name}: tributary ${Math.round(result.candidate).toLocaleString("en-US")} rec/s, ` +
  `baseline ${Math.round(result.baseline).toLocaleString("en-US")} rec/s, ratio ${result.ratio.toFixed(3)}`
