/**
 * The text of a page's payloads, all of them before any is parsed (the UTF-8 decoder and the parser each in
 * a loop of their own run faster than the two taking turns per record).
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
 * Each record's payload as text, undefined where it is not valid UTF-8; `sliced`: runs of ASCII payloads
 * decoded at once (only for parsers that keep no part of the text, since a slice holds the run's text).
 */
export const make = (sliced: boolean): (records: ReadonlyArray<SourceRecord>) => Array<string | undefined> => {
  if (!sliced) {
    return (records) => {
      const texts = new Array<string | undefined>(records.length)
      for (let i = 0; i < records.length; i++) texts[i] = textOf(records[i].data)
      return texts
    }
  }
  // one buffer per decoder, reused: decoding is synchronous, and the texts are copies
  let run: Uint8Array | undefined
  /** ends[k]: where the run's k-th payload ends in `run` */
  let ends: Int32Array | undefined
  /** Texts of the run's payloads from..to-1 (the run starts at payload `first`); how many were sliced. */
  const fill = (
    records: ReadonlyArray<SourceRecord>,
    texts: Array<string | undefined>,
    first: number,
    from: number,
    to: number
  ): number => {
    const start = from === first ? 0 : ends![from - first - 1]
    const end = ends![to - first - 1]
    if (to - from >= minSplit && !isAscii(run!.subarray(start, end))) {
      // a few payloads that are not ASCII need not cost the whole run its single decode
      const middle = (from + to) >>> 1
      return fill(records, texts, first, from, middle) + fill(records, texts, first, middle, to)
    }
    if (to - from < minSplit) {
      for (let k = from; k < to; k++) texts[k] = textOf(records[k].data)
      return 0
    }
    const text = utf8.decode(run!.subarray(start, end))
    for (let k = from, at = 0; k < to; k++) {
      const next = ends![k - first] - start
      texts[k] = text.slice(at, next)
      at = next
    }
    return to - from
  }
  // Text that is mostly not ASCII would pay for copies it cannot use: after a run mostly decoded one by
  // one, the next payloads (twice as many runs' worth each time, up to `maxBackoff`) are decoded one by one
  let backoff = 0
  let oneByOne = 0
  return (records) => {
    const n = records.length
    const texts = new Array<string | undefined>(n)
    run ??= new Uint8Array(runBytes)
    ends ??= new Int32Array(runRecords)
    let i = 0
    while (i < n) {
      if (oneByOne > 0) {
        const to = Math.min(n, i + oneByOne)
        for (let k = i; k < to; k++) texts[k] = textOf(records[k].data)
        oneByOne -= to - i
        i = to
        continue
      }
      let bytes = 0
      let j = i
      for (; j < n && j - i < runRecords; j++) {
        const data = records[j].data
        if (bytes + data.length > runBytes) break
        run.set(data, bytes)
        bytes += data.length
        ends[j - i] = bytes
      }
      if (j === i) {
        // larger than a run
        texts[i] = textOf(records[i].data)
        i++
      } else {
        const sliced = fill(records, texts, i, i, j)
        backoff = 2 * sliced >= j - i ? 0 : Math.min(maxBackoff, 2 * backoff || 1)
        oneByOne = backoff * (j - i)
        i = j
      }
    }
    return texts
  }
}
