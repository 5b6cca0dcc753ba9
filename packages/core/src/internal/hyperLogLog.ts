/**
 * The HyperLogLog sketch behind `Aggregate.distinctCount`: hashing, the sparse and dense representations,
 * merging and the estimator. `Aggregate.ts` wires it into an aggregate and its state Schema.
 *
 * Two representations, as in HyperLogLog++ (Heule, Nunkesser, Hall 2013), simplified:
 *
 * - sparse (a fresh state): the distinct 32-bit sparse keys of the values seen, in an open-addressing hash
 *   set (a `Uint32Array`, linear probing, at most half full). The count is the number of keys: exact up to
 *   collisions of the 32-bit keys. At most `threshold = 2^precision / 8` keys, so the table (at most
 *   `2^precision / 4` slots of 4 bytes) never takes more memory than the dense registers;
 * - dense: `2^precision` one-byte registers, entered for good when a key beyond `threshold` arrives.
 *
 * A sparse key holds everything a register update needs (HyperLogLog++'s sparse encoding): folding the
 * keys into registers gives exactly the registers a dense pass over the same values would have, so merged
 * states, whatever their modes, equal the state of a single pass.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

// MurmurHash3_x86_32 of the UTF-16LE bytes of a string, run with two seeds in one pass. Lane A picks the
// register, lane B's leading zeros give the rank: 32 + p hash bits, so no large-range correction is needed.
// Results go to module variables to avoid allocating a pair per record.
let hashA = 0
let hashB = 0
const SEED_A = 0
const SEED_B = 0x9747b28c

const fmix32 = (h: number): number => {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

const mixK = (k: number): number => {
  k = Math.imul(k, 0xcc9e2d51)
  k = (k << 15) | (k >>> 17)
  return Math.imul(k, 0x1b873593)
}

const mixH = (h: number, k: number): number => {
  h ^= k
  h = (h << 13) | (h >>> 19)
  return (Math.imul(h, 5) + 0xe6546b64) | 0
}

const hashString = (s: string): void => {
  let h1 = SEED_A
  let h2 = SEED_B
  const n = s.length
  const even = n & ~1
  let i = 0
  for (; i < even; i += 2) {
    const k = mixK(s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16))
    h1 = mixH(h1, k)
    h2 = mixH(h2, k)
  }
  if (i < n) {
    const k = mixK(s.charCodeAt(i))
    h1 ^= k
    h2 ^= k
  }
  hashA = fmix32(h1 ^ (n * 2))
  hashB = fmix32(h2 ^ (n * 2))
}

/** The UTF-16 code units of the two digits of 0..99 as one little-endian 32-bit block ("42" -> 0x00320034) */
const DIGIT_PAIRS = new Int32Array(100)
for (let i = 0; i < 100; i++) DIGIT_PAIRS[i] = (48 + ((i / 10) | 0)) | ((48 + (i % 10)) << 16)
const blocks = new Int32Array(5)

/**
 * Same hash as `hashString(String(x))`. Integers in [0, 2^31), the common case of numeric ids, are hashed
 * from their digits two at a time with no string built (measured about 1.3x faster than `String(x)`).
 */
const hashNumber = (x: number): void => {
  if (!(x >= 0 && x <= 0x7fffffff && (x | 0) === x)) return hashString(String(x))
  let v = x | 0
  let length = 1
  for (let p = 10; p <= v; p *= 10) length++
  // murmur3 takes blocks of two code units from the left: an odd last digit is the tail
  let tail = -1
  if (length & 1) {
    const q = (v / 10) | 0
    tail = 48 + v - q * 10
    v = q
  }
  const n = length >> 1
  for (let b = n - 1; b >= 0; b--) {
    const q = (v / 100) | 0
    blocks[b] = DIGIT_PAIRS[v - q * 100]
    v = q
  }
  let h1 = SEED_A
  let h2 = SEED_B
  for (let b = 0; b < n; b++) {
    const k = mixK(blocks[b])
    h1 = mixH(h1, k)
    h2 = mixH(h2, k)
  }
  if (tail >= 0) {
    const k = mixK(tail)
    h1 ^= k
    h2 ^= k
  }
  hashA = fmix32(h1 ^ (length * 2))
  hashB = fmix32(h2 ^ (length * 2))
}

/**
 * Bits of lane B used for ranks; registers hold 0..RANK_BITS + 1
 *
 * @internal
 */
export const RANK_BITS = 32

/** @internal */
export const TypeId: unique symbol = Symbol.for("@tributary/core/Aggregate/HyperLogLog")

const EMPTY_TABLE = new Uint32Array(0)
const MIN_TABLE = 4
/** 2^32 / golden ratio: Fibonacci hashing of a key to its home slot */
const GOLDEN = 0x9e3779b9

/**
 * The state of `distinctCount`, mutated in place. Every instance has the same fields in the same order
 * (one hidden class whatever the mode).
 *
 * @internal
 */
export class HyperLogLogImpl implements HyperLogLog {
  readonly [TypeId]: typeof TypeId = TypeId
  /** 32 - precision: `hashA >>> shift` is a value's register */
  readonly shift: number
  /** The most keys the sparse representation holds: 2^precision / 8 */
  readonly threshold: number
  /** The 2^precision registers in dense mode; null in sparse mode */
  registers: Uint8Array | null = null
  /** Sparse mode: a set of keys by linear probing, 0 marking a free slot, at most half full; empty when dense */
  table: Uint32Array = EMPTY_TABLE
  /** 32 - log2(table.length): the top bits of `imul(key, GOLDEN)` are the home slot */
  tableShift = 32
  /** Sparse mode: the number of keys in `table` */
  size = 0
  constructor(readonly precision: number) {
    this.shift = 32 - precision
    this.threshold = 1 << (precision - 3)
  }

  get mode(): "sparse" | "dense" {
    return this.registers === null ? "sparse" : "dense"
  }
}

// A sparse key, for precision p (shift = 32 - p), is 32 bits: the register index (p bits), then
// - if lane B has a 1 in its top 31 - p bits: those bits, and a 0 flag bit (the rank is their leading zeros + 1);
// - otherwise (probability 2^-(31 - p)): the rank, and a 1 flag bit.
// So a key is never 0, and (index, rank) is recovered exactly from it, while 31 bits of hash tell keys apart.

const keyRank = (key: number, shift: number): number =>
  (key & 1) === 1 ? (key >>> 1) & ((1 << (shift - 1)) - 1) : Math.clz32(key << (32 - shift)) + 1

/**
 * Whether `key` is a sparse key that `add` can produce for `precision`.
 *
 * @internal
 */
export const isSparseKey = (key: number, precision: number): boolean => {
  if (!(Number.isInteger(key) && key >= 1 && key <= 0xffffffff)) return false
  const shift = 32 - precision
  if ((key & 1) === 1) {
    // ranks of 32 - p and above are flagged; everything above the rank field is the index
    const rank = (key >>> 1) & ((1 << (shift - 1)) - 1)
    return rank >= shift && rank <= RANK_BITS + 1
  }
  // the 31 - p bits of lane B hold a 1
  return (key & ((1 << shift) - 2)) !== 0
}

const setRegister = (registers: Uint8Array, key: number, shift: number): void => {
  const index = key >>> shift
  const rank = keyRank(key, shift)
  if (rank > registers[index]) registers[index] = rank
}

/** Stores `key`, known to be absent, in a table with a free slot. */
const place = (table: Uint32Array, tableShift: number, key: number): void => {
  const mask = table.length - 1
  let i = Math.imul(key, GOLDEN) >>> tableShift
  while (table[i] !== 0) i = (i + 1) & mask
  table[i] = key
}

const grow = (s: HyperLogLogImpl): void => {
  const old = s.table
  const length = Math.max(MIN_TABLE, 2 * old.length)
  const table = new Uint32Array(length)
  const tableShift = 32 - Math.log2(length)
  for (let i = 0; i < old.length; i++) if (old[i] !== 0) place(table, tableShift, old[i])
  s.table = table
  s.tableShift = tableShift
}

/**
 * Switches a sparse state to dense registers (no-op when dense).
 *
 * @internal
 */
export const toDense = (s: HyperLogLogImpl): Uint8Array => {
  if (s.registers !== null) return s.registers
  const registers = new Uint8Array(1 << s.precision)
  const table = s.table
  for (let i = 0; i < table.length; i++) if (table[i] !== 0) setRegister(registers, table[i], s.shift)
  s.registers = registers
  s.table = EMPTY_TABLE
  s.tableShift = 32
  s.size = 0
  return registers
}

/**
 * Adds a valid sparse key, in either mode. A new key beyond `threshold` switches the state to dense.
 *
 * @internal
 */
export const addKey = (s: HyperLogLogImpl, key: number): void => {
  if (s.registers !== null) return setRegister(s.registers, key, s.shift)
  const table = s.table
  let i = 0
  if (table.length !== 0) {
    const mask = table.length - 1
    i = Math.imul(key, GOLDEN) >>> s.tableShift
    for (let k = table[i]; k !== 0; k = table[i]) {
      if (k === key) return
      i = (i + 1) & mask
    }
  }
  // a new key
  if (s.size === s.threshold) return setRegister(toDense(s), key, s.shift)
  if (2 * (s.size + 1) <= table.length) {
    table[i] = key // the free slot that ended the probe
  } else {
    grow(s)
    place(s.table, s.tableShift, key)
  }
  s.size++
}

/**
 * Adds a value: its string form is hashed (integers in [0, 2^31) without building the string). Allocates
 * nothing in dense mode; in sparse mode only when the table doubles or the state switches to dense.
 *
 * @internal
 */
export const add = (s: HyperLogLogImpl, value: string | number): void => {
  if (typeof value === "string") hashString(value)
  else hashNumber(value)
  const shift = s.shift
  const index = hashA >>> shift
  const rank = Math.clz32(hashB) + 1
  const registers = s.registers
  if (registers !== null) {
    if (rank > registers[index]) registers[index] = rank
  } else {
    // rank < shift: lane B has a 1 in its top 31 - p bits (see the sparse key layout above)
    addKey(
      s,
      rank < shift ? ((index << shift) | ((hashB >>> (33 - shift)) << 1)) >>> 0 : ((index << shift) | (rank << 1) | 1) >>> 0
    )
  }
}

/**
 * Merges `that` into `self` (same precision, different states); `that` is not changed and shares nothing
 * with the result.
 *
 * @internal
 */
export const merge = (self: HyperLogLogImpl, that: HyperLogLogImpl): void => {
  const b = that.registers
  if (b === null) {
    const table = that.table
    for (let i = 0; i < table.length; i++) if (table[i] !== 0) addKey(self, table[i])
    return
  }
  const a = toDense(self)
  for (let i = 0; i < a.length; i++) if (b[i] > a[i]) a[i] = b[i]
}

/**
 * The keys of a sparse state, ascending.
 *
 * @internal
 */
export const sparseKeys = (s: HyperLogLogImpl): Array<number> => {
  const keys = new Uint32Array(s.size)
  const table = s.table
  let j = 0
  for (let i = 0; i < table.length; i++) if (table[i] !== 0) keys[j++] = table[i]
  return Array.from(keys.sort())
}

/**
 * A state from registers (taken, not copied): dense, unless every register is 0, which is exactly the empty
 * (sparse) state.
 *
 * @internal
 */
export const fromRegisters = (precision: number, registers: Uint8Array): HyperLogLogImpl => {
  const s = new HyperLogLogImpl(precision)
  for (let i = 0; i < registers.length; i++) {
    if (registers[i] !== 0) {
      s.registers = registers
      break
    }
  }
  return s
}

// Ertl, "New cardinality estimation algorithms for HyperLogLog sketches" (2017): an estimator without
// empirical bias tables that is unbiased from 0 to far beyond 2^32 (also used by Redis).
const sigma = (x: number): number => {
  if (x === 1) return Infinity
  let y = 1
  let z = x
  let prev: number
  do {
    x *= x
    prev = z
    z += x * y
    y += y
  } while (prev !== z)
  return z
}

const tau = (x: number): number => {
  if (x === 0 || x === 1) return 0
  let y = 1
  let z = 1 - x
  let prev: number
  do {
    x = Math.sqrt(x)
    prev = z
    y *= 0.5
    z -= (1 - x) * (1 - x) * y
  } while (prev !== z)
  return z / 3
}

const estimateCardinality = (registers: Uint8Array): number => {
  const m = registers.length
  const histogram = new Float64Array(RANK_BITS + 2)
  for (let i = 0; i < m; i++) histogram[registers[i]]++
  let z = m * tau(1 - histogram[RANK_BITS + 1] / m)
  for (let k = RANK_BITS; k >= 1; k--) z = 0.5 * (z + histogram[k])
  z += m * sigma(histogram[0] / m)
  return Math.round((m * m) / (2 * Math.LN2 * z))
}

/**
 * Sparse: the number of distinct keys; dense: Ertl's estimate from the registers.
 *
 * @internal
 */
export const estimate = (s: HyperLogLogImpl): number =>
  s.registers === null ? s.size : estimateCardinality(s.registers)

// ---------------------------------------------------------------------------------------------------------
// state schema
// ---------------------------------------------------------------------------------------------------------

/** The state of `distinctCount` as the public API sees it (see `Aggregate.HyperLogLog`). */
export interface HyperLogLog {
  readonly [TypeId]: typeof TypeId
  readonly precision: number
  /** `"sparse"` while the state counts exactly, `"dense"` once it estimates */
  readonly mode: "sparse" | "dense"
}

// Checked in one pass, each number then by `decode`: `Schema.Array(Schema.Number)` takes 3 to 4 times longer
const Hashes = Schema.declare(
  (u: unknown): u is ReadonlyArray<number> => Array.isArray(u) && u.every((x) => typeof x === "number"),
  { identifier: "Hashes" }
)

const HllEncoded = <P extends number>(precision: P) =>
  Schema.Union(
    Schema.Struct({ precision: Schema.Literal(precision), hashes: Hashes }),
    Schema.Struct({ precision: Schema.Literal(precision), dense: Schema.String }),
    Schema.Struct({ precision: Schema.Literal(precision), sparse: Schema.String })
  )

/**
 * The state as JSON: `{ precision, hashes }` while sparse, the keys ascending as JSON numbers (at most 11
 * bytes each: 60 bytes of JSON for 3 values). Dense, as base64: `{ precision, sparse }` (3 bytes per
 * non-zero register) while that is smaller than `{ precision, dense }` (one byte per register). Those two
 * are also what states written before the sparse mode existed look like: they decode as dense states (an
 * empty one as an empty sparse state).
 */
export const stateSchema = (p: number) => {
  const m = 1 << p
  return Schema.transformOrFail(
      HllEncoded(p),
      Schema.declare(
        (u: unknown): u is HyperLogLog => u instanceof HyperLogLogImpl && u.precision === p,
        { identifier: "HyperLogLog" }
      ),
      {
        strict: true,
        decode: (e, _, ast) => {
          if ("hashes" in e) {
            const s = new HyperLogLogImpl(p)
            for (const key of e.hashes) {
              if (!isSparseKey(key, p)) {
                return ParseResult.fail(new ParseResult.Type(ast, e, `invalid hash ${key}`))
              }
              // a list longer than the threshold (e.g. written with another one) is read as dense
              addKey(s, key)
            }
            return ParseResult.succeed(s)
          }
          const sparse = "sparse" in e
          const bytes = Encoding.decodeBase64(sparse ? e.sparse : e.dense)
          if (Either.isLeft(bytes)) return ParseResult.fail(new ParseResult.Type(ast, e, "invalid base64"))
          const b = bytes.right
          let registers: Uint8Array
          if (sparse) {
            if (b.length % 3 !== 0) return ParseResult.fail(new ParseResult.Type(ast, e, "invalid sparse registers"))
            registers = new Uint8Array(m)
            for (let i = 0; i < b.length; i += 3) {
              const index = (b[i] << 8) | b[i + 1]
              if (index >= m) return ParseResult.fail(new ParseResult.Type(ast, e, "register index out of range"))
              registers[index] = b[i + 2]
            }
          } else {
            if (b.length !== m) return ParseResult.fail(new ParseResult.Type(ast, e, `expected ${m} registers`))
            registers = b
          }
          for (let i = 0; i < m; i++) {
            if (registers[i] > RANK_BITS + 1) {
              return ParseResult.fail(new ParseResult.Type(ast, e, "register value out of range"))
            }
          }
          return ParseResult.succeed(fromRegisters(p, registers))
        },
        encode: (hll) => {
          const s = hll as HyperLogLogImpl
          const registers = s.registers
          if (registers === null) return ParseResult.succeed({ precision: p, hashes: sparseKeys(s) })
          let nonZero = 0
          for (let i = 0; i < m; i++) if (registers[i] !== 0) nonZero++
          if (3 * nonZero >= m) return ParseResult.succeed({ precision: p, dense: Encoding.encodeBase64(registers) })
          const b = new Uint8Array(3 * nonZero)
          let j = 0
          for (let i = 0; i < m; i++) {
            if (registers[i] !== 0) {
              b[j++] = i >>> 8
              b[j++] = i & 0xff
              b[j++] = registers[i]
            }
          }
          return ParseResult.succeed({ precision: p, sparse: Encoding.encodeBase64(b) })
        }
      }
    )
}

/** The members of a distinct-count aggregate of precision `p`. */
export const parts = (p: number) => ({
  empty: (): HyperLogLog => new HyperLogLogImpl(p),
  add: (state: HyperLogLog, value: string | number): HyperLogLog => {
    add(state as HyperLogLogImpl, value)
    return state
  },
  merge: (self: HyperLogLog, that: HyperLogLog): HyperLogLog => {
    merge(self as HyperLogLogImpl, that as HyperLogLogImpl)
    return self
  },
  result: (state: HyperLogLog): number => estimate(state as HyperLogLogImpl),
  state: stateSchema(p)
})
