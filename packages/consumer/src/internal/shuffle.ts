/**
 * A shuffle for take rounds: Fisher-Yates driven by a small generator seeded from Effect's `Random`, so a
 * seeded `Random` still decides the order (tests and simulations replay it), at one draw per round.
 * `Random.shuffle` draws an Effect per element: about a millisecond per thousand leases, every round.
 */
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"

export const shuffle = <A>(items: ReadonlyArray<A>): Effect.Effect<Array<A>> =>
  Effect.map(Random.nextInt, (seed) => {
    const out = items.slice()
    // mulberry32
    let state = seed >>> 0
    const next = () => {
      state = (state + 0x6D2B79F5) >>> 0
      let t = state
      t = Math.imul(t ^ (t >>> 15), t | 1)
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    }
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1))
      const swap = out[i]
      out[i] = out[j]
      out[j] = swap
    }
    return out
  })
