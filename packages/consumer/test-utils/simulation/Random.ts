/**
 * Seeded randomness for the models of a simulation (latencies, failures, start times, traffic), apart
 * from the coordinators' own `Random` service, so that changing a model does not change the coordinators'
 * shuffles.
 */

/** A generator of numbers in [0, 1): mulberry32, small and good enough for simulations. */
export interface Source {
  readonly next: () => number
}

export const make = (seed: number): Source => {
  let state = seed >>> 0
  return {
    next: () => {
      state = (state + 0x6D2B79F5) >>> 0
      let t = state
      t = Math.imul(t ^ (t >>> 15), t | 1)
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    }
  }
}

/**
 * A latency distribution: log-normal, given by its median and its 99th percentile, in milliseconds (what
 * a service's dashboards show).
 */
export interface Latency {
  readonly median: number
  readonly p99: number
}

/** A sample of the distribution. */
export const latency = (source: Source, { median, p99 }: Latency): number => {
  // z of the 99th percentile of a standard normal
  const sigma = Math.log(p99 / median) / 2.3263
  // Box-Muller
  const u = Math.max(source.next(), Number.MIN_VALUE)
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * source.next())
  return median * Math.exp(sigma * z)
}
