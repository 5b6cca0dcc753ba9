/**
 * A quantity counted per second of virtual time (capacity units consumed, calls made): its peak and mean
 * over a window.
 */
export interface Series {
  readonly add: (atMillis: number, value: number) => void
  /** The largest per-second total among the whole seconds from `fromMillis` to `toMillis`. */
  readonly peak: (fromMillis: number, toMillis: number) => number
  /** The total from `fromMillis` to `toMillis`, divided by the seconds between them. */
  readonly mean: (fromMillis: number, toMillis: number) => number
}

export const make = (): Series => {
  const perSecond: Array<number> = []
  const window = (fromMillis: number, toMillis: number) => {
    const values: Array<number> = []
    for (let second = Math.floor(fromMillis / 1000); second < Math.ceil(toMillis / 1000); second++) values.push(perSecond[second] ?? 0)
    return values
  }
  return {
    add: (atMillis, value) => {
      const second = Math.floor(atMillis / 1000)
      perSecond[second] = (perSecond[second] ?? 0) + value
    },
    peak: (fromMillis, toMillis) => window(fromMillis, toMillis).reduce((a, b) => Math.max(a, b), 0),
    mean: (fromMillis, toMillis) => {
      const values = window(fromMillis, toMillis)
      return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length
    }
  }
}
