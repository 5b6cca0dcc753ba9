/**
 * Where the archive keeps its objects: keys partitioned by the arrival hour (UTC),
 *
 *     <prefix>/yyyy/mm/dd/hh/<stream>-<shardId>-<first sequence>-<last sequence>[-<digest>].jsonl.gz
 *
 * and the key prefixes that cover a time range. Shared by the raw archive and the dead-letter archive.
 */
import { invalidKeyReason } from "../ObjectStore.js"
import type * as Sequence from "../SequenceNumber.js"
import { isSequenceNumber } from "../SequenceNumber.js"

/** Where an archive object sits and what it holds, as its key says. */
export interface ObjectName {
  /** The start of the hour (UTC, epoch milliseconds) its records arrived in. */
  readonly hour: number
  /** `<stream>-<shardId>`: the shard the records come from. */
  readonly label: string
  readonly first: Sequence.SequenceNumber
  readonly last: Sequence.SequenceNumber
  /** Dead-letter objects only: a digest telling apart letters of the same records. */
  readonly digest?: string | undefined
}

export const extension = ".jsonl.gz"
export const contentType = "application/gzip"
export const hour = 3_600_000
export const day = 24 * hour
/** 9999-12-31T23:59:59.999Z: four-digit years only. */
export const maxArrivalTime = 253_402_300_799_999
/** Kinesis stream names and shard ids. */
export const namePattern = /^[A-Za-z0-9_.-]{1,128}$/

const rawKeyPattern = /^(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\/([^/]+)-(\d+)-(\d+)\.jsonl\.gz$/
const deadLetterKeyPattern = /^(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\/([^/]+)-(\d+)-(\d+)-([0-9a-f]{16})\.jsonl\.gz$/

/** `<prefix>/yyyy/mm/dd/hh/<label>-<first>-<last>[-<digest>].jsonl.gz` */
export const objectKey = (prefix: string, name: ObjectName): string =>
  `${prefixPath(prefix)}${hourPath(name.hour)}/${name.label}-${name.first}-${name.last}` +
  `${name.digest === undefined ? "" : `-${name.digest}`}${extension}`

/** A key read back, or undefined for keys of another shape; `deadLetters` expects the digest. */
export const parseKey = (prefix: string, key: string, deadLetters = false): ObjectName | undefined => {
  const base = prefixPath(prefix)
  if (!key.startsWith(base)) return undefined
  const match = (deadLetters ? deadLetterKeyPattern : rawKeyPattern).exec(key.slice(base.length))
  if (match === null) return undefined
  const start = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]), Number(match[4]))
  return {
    hour: start,
    label: match[5],
    first: match[6],
    last: match[7],
    ...(deadLetters ? { digest: match[8] } : {})
  }
}

/**
 * The key prefixes that together cover the arrival times [from, to): whole years, months or days where
 * the range covers them, hours at its edges, so a long range costs few listings.
 */
export const prefixesFor = (prefix: string, from: number, to: number): ReadonlyArray<string> => {
  const base = prefixPath(prefix)
  const out: Array<string> = []
  if (!(to > from)) return out
  const start = Math.max(from, 0)
  const end = Math.min(to, maxArrivalTime + 1)
  const covers = (lo: number, hi: number) => start <= lo && hi <= end
  const overlaps = (lo: number, hi: number) => lo < end && start < hi
  for (let year = new Date(start).getUTCFullYear(); year <= new Date(end - 1).getUTCFullYear(); year++) {
    const y0 = Date.UTC(year, 0, 1)
    const y1 = Date.UTC(year + 1, 0, 1)
    const yPath = `${base}${pad(year, 4)}/`
    if (covers(y0, y1)) {
      out.push(yPath)
      continue
    }
    for (let month = 0; month < 12; month++) {
      const m0 = Date.UTC(year, month, 1)
      const m1 = Date.UTC(year, month + 1, 1)
      if (!overlaps(m0, m1)) continue
      const mPath = `${yPath}${pad(month + 1, 2)}/`
      if (covers(m0, m1)) {
        out.push(mPath)
        continue
      }
      for (let d0 = m0; d0 < m1; d0 += day) {
        if (!overlaps(d0, d0 + day)) continue
        const dPath = `${mPath}${pad(new Date(d0).getUTCDate(), 2)}/`
        if (covers(d0, d0 + day)) {
          out.push(dPath)
          continue
        }
        for (let h0 = d0; h0 < d0 + day; h0 += hour) {
          if (overlaps(h0, h0 + hour)) out.push(`${dPath}${pad(new Date(h0).getUTCHours(), 2)}/`)
        }
      }
    }
  }
  return out
}

/** A prefix without leading or trailing `/` ("" for none). */
export const normalizePrefix = (prefix: string): string => prefix.replace(/^\/+|\/+$/g, "")

/** Why a (normalized) prefix cannot start keys, or undefined. */
export const invalidPrefixReason = (prefix: string): string | undefined => {
  const invalid = prefix.length === 0 ? undefined : invalidKeyReason(prefix)
  return invalid === undefined ? undefined : `${JSON.stringify(prefix)} is not a valid key prefix: ${invalid}`
}

/** The prefix as the start of keys: "" or `<prefix>/`. */
export const prefixPath = (prefix: string): string => {
  const normalized = normalizePrefix(prefix)
  return normalized.length === 0 ? "" : `${normalized}/`
}

export const hourOf = (time: number): number => Math.floor(time / hour) * hour

const hourPath = (hourStart: number): string => {
  const d = new Date(hourStart)
  return `${pad(d.getUTCFullYear(), 4)}/${pad(d.getUTCMonth() + 1, 2)}/${pad(d.getUTCDate(), 2)}/${pad(d.getUTCHours(), 2)}`
}

const pad = (n: number, width: number): string => String(n).padStart(width, "0")

/** The shard id of a `<stream>-<shardId>` label: Kinesis shard ids are `shardId-<digits>`. */
export const shardIdOf = (label: string): string => {
  const at = label.lastIndexOf("-shardId-")
  if (at >= 0) return label.slice(at + 1)
  const dash = label.lastIndexOf("-")
  return dash < 0 ? label : label.slice(dash + 1)
}

/** A stream or shard name as a key component: Kinesis names as they are, other characters as `_`. */
export const nameComponent = (name: string): string =>
  name.length === 0 ? "_" : namePattern.test(name) ? name : name.slice(0, 128).replace(/[^A-Za-z0-9_.-]/g, "_")

/** A sequence number as a key component ("0" for one that is not decimal). */
export const safeSequence = (sequenceNumber: string): string => isSequenceNumber(sequenceNumber) ? sequenceNumber : "0"

export const timeOf = (time: number | Date): number => typeof time === "number" ? time : time.getTime()
