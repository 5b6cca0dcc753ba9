/**
 * The text of a page's payloads, all of them before any is parsed (the UTF-8 decoder and the parser each in
 * a loop of their own run faster than the two taking turns per record).
 *
 * A call into the UTF-8 decoder costs far more than decoding a small payload's bytes, so for parsers whose
 * values keep no part of their text (`JSON.parse` copies every string it returns), runs of ASCII payloads
 * are copied side by side and decoded in one call, each payload's text a slice of the run's. The texts are
 * the ones a decode per payload gives: ASCII is its own UTF-8, and a payload that is not UTF-8, or starts
 * with a byte order mark, is not ASCII. Runs that are not all ASCII, and payloads too large for a run, are
 * decoded one by one.
 *
 * @internal
 */
import { isAscii } from "node:buffer"
import type { SourceRecord } from "../SourceRecord.js"

/** The bytes of one run: large enough that a call's cost is spread over many payloads, small enough to keep. */
const runBytes = 16 * 1024

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
  return (records) => {
    const n = records.length
    const texts = new Array<string | undefined>(n)
    run ??= new Uint8Array(runBytes)
    let i = 0
    while (i < n) {
      let bytes = 0
      let j = i
      for (; j < n; j++) {
        const data = records[j].data
        if (bytes + data.length > runBytes) break
        run.set(data, bytes)
        bytes += data.length
      }
      if (j - i > 1 && isAscii(run.subarray(0, bytes))) {
        const text = utf8.decode(run.subarray(0, bytes))
        let from = 0
        for (let k = i; k < j; k++) {
          const to = from + records[k].data.length
          texts[k] = text.slice(from, to)
          from = to
        }
      } else {
        // a payload alone in its run (the rest did not fit), or a run that is not all ASCII
        j = Math.max(j, i + 1)
        for (let k = i; k < j; k++) texts[k] = textOf(records[k].data)
      }
      i = j
    }
    return texts
  }
}
