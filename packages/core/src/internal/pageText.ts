/**
 * The text of a page's payloads, a run of them at a time, each run turned into text before any of it is
 * parsed (the UTF-8 decoder and the parser each in a loop of their own run faster than the two taking turns
 * per record; and only one run's texts are alive at once).
 *
 * A call into the UTF-8 decoder costs far more than decoding a small payload's bytes, so for parsers whose
 * values keep no part of their text (`JSON.parse` copies every string it returns), runs of ASCII payloads
 * are copied side by side and decoded in one call, each payload's text a slice of the run's. The texts are
 * the ones a decode per payload gives: ASCII is its own UTF-8, and a payload that is not UTF-8, or starts
 * with a byte order mark, is not ASCII. A run that is not all ASCII is halved until its parts are, or are
 * small; small parts, and payloads too large for a run, are decoded one by one.
 *
 * @internal
 */
import { isAscii } from "node:buffer"
import type { SourceRecord } from "../SourceRecord.js"

/** The bytes of one run: large enough that a call's cost is spread over many payloads, small enough to keep. */
const runBytes = 16 * 1024
const runRecords = 1024
/** Fewer payloads than this are decoded one by one (a run that is not all ASCII is halved down to them). */
const minSplit = 16
const maxBackoff = 64

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** A payload's text; undefined when it is not valid UTF-8. */
export const textOf = (data: Uint8Array): string | undefined => {
  try {
    return utf8.decode(data)
  } catch {
    return undefined
  }
}

/**
 * Turns a page's payloads into text a run at a time: `next(records, from)` fills `texts[0 .. to - from)` with
 * the texts of `records[from .. to)` (undefined where a payload is not valid UTF-8) and returns `to`.
 */
export interface Runs {
  readonly texts: Array<string | undefined>
  readonly next: (records: ReadonlyArray<SourceRecord>, from: number) => number
}

/**
 * `sliced`: runs of ASCII payloads decoded at once (only for parsers that keep no part of the text, since a
 * slice holds the run's text); otherwise each payload is decoded alone.
 */
export const make = (sliced: boolean): Runs => {
  // one buffer and one array of texts per decoder, reused: decoding is synchronous, and the texts are copies
  const texts = new Array<string | undefined>(runRecords).fill(undefined)
  const oneByOne = (records: ReadonlyArray<SourceRecord>, from: number, to: number): number => {
    for (let k = from; k < to; k++) texts[k - from] = textOf(records[k].data)
    return to
  }
  if (!sliced) return { texts, next: (records, from) => oneByOne(records, from, Math.min(records.length, from + runRecords)) }
  const run = new Uint8Array(runBytes)
  /** ends[k]: where the run's k-th payload ends in `run` */
  const ends = new Int32Array(runRecords)
  /** Texts of the run's payloads from..to-1 (the run starts at payload `first`); how many were sliced. */
  const fill = (records: ReadonlyArray<SourceRecord>, first: number, from: number, to: number): number => {
    const start = from === first ? 0 : ends[from - first - 1]
    const end = ends[to - first - 1]
    if (to - from >= minSplit && !isAscii(run.subarray(start, end))) {
      // a few payloads that are not ASCII need not cost the whole run its single decode
      const middle = (from + to) >>> 1
      return fill(records, first, from, middle) + fill(records, first, middle, to)
    }
    if (to - from < minSplit) {
      for (let k = from; k < to; k++) texts[k - first] = textOf(records[k].data)
      return 0
    }
    const text = utf8.decode(run.subarray(start, end))
    for (let k = from, at = 0; k < to; k++) {
      const next = ends[k - first] - start
      texts[k - first] = text.slice(at, next)
      at = next
    }
    return to - from
  }
  // Text that is mostly not ASCII would pay for copies it cannot use: after a run mostly decoded one by
  // one, the next payloads (twice as many runs' worth each time, up to `maxBackoff`) are decoded one by one
  let backoff = 0
  /** payloads still to be decoded one by one */
  let alone = 0
  const next = (records: ReadonlyArray<SourceRecord>, from: number): number => {
    const n = records.length
    if (alone > 0) {
      const to = Math.min(n, from + alone, from + runRecords)
      alone -= to - from
      return oneByOne(records, from, to)
    }
    let bytes = 0
    let to = from
    for (; to < n && to - from < runRecords; to++) {
      const data = records[to].data
      if (bytes + data.length > runBytes) break
      run.set(data, bytes)
      bytes += data.length
      ends[to - from] = bytes
    }
    // larger than a run
    if (to === from) return oneByOne(records, from, from + 1)
    const sliced = fill(records, from, from, to)
    backoff = 2 * sliced >= to - from ? 0 : Math.min(maxBackoff, 2 * backoff || 1)
    alone = backoff * (to - from)
    return to
  }
  return { texts, next }
}
