/**
 * The approach of packages/core/bench/harness.ts (not imported: it lies outside this package's rootDir):
 * warm both up, then alternate rounds so drift of a noisy machine hits both alike, and report medians of
 * throughput and of the per-round ratio.
 */
export interface Contender {
  /** Untimed preparation before each run (e.g. a fresh stream to write to). */
  readonly setup?: () => Promise<void>
  /** Processes the whole data set once and returns how many records it handled. */
  readonly run: () => Promise<number>
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

// With `--expose-gc`, each run starts on a collected heap, so one run's garbage is not billed to the next.
const collect = (globalThis as { gc?: () => void }).gc

const timed = async (contender: Contender): Promise<number> => {
  await contender.setup?.()
  collect?.()
  const start = performance.now()
  const records = await contender.run()
  return records / ((performance.now() - start) / 1000)
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
  for (let i = 0; i < (options.rounds ?? 5); i++) {
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
  `raw-sdk ${Math.round(result.baseline).toLocaleString("en-US")} rec/s, ratio ${result.ratio.toFixed(3)}`
