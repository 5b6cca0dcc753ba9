/**
 * The load of a held lease, for throughput-aware assignment: the runner counts the records and bytes it
 * reads from the shard (`OwnedLease.countRead`), and each renewal turns the counts since the last one into
 * rates, smoothed over about half a minute, which it publishes with the lease (no write of its own).
 * A lease starts from the load its previous owner published, so a move does not make a shard look idle.
 */
import type { LeaseLoad } from "@tributary/core/LeaseStore"
import type { SourceRecord } from "@tributary/core/SourceRecord"

/** The time constant of the smoothing: a sample counts for 1 - e^(-elapsed / this). */
const smoothingMillis = 30_000

export interface LoadMeter {
  /** Records and bytes read from the shard. */
  readonly count: (records: number, bytes: number) => void
  /** The smoothed rates at `now` (this clock), the counts since the last call included. */
  readonly rate: (now: number) => LeaseLoad
}

/** A meter counting from `since`, starting from the load the lease was published with, if any. */
export const make = (since: number, published: LeaseLoad | undefined): LoadMeter => {
  let records = 0
  let bytes = 0
  let from = since
  let smoothed = published
  return {
    count: (r, b) => {
      records += r
      bytes += b
    },
    rate: (now) => {
      const elapsed = now - from
      if (elapsed <= 0 && smoothed !== undefined) return smoothed
      const sample = {
        recordsPerSecond: elapsed <= 0 ? 0 : records * 1000 / elapsed,
        bytesPerSecond: elapsed <= 0 ? 0 : bytes * 1000 / elapsed
      }
      const weight = smoothed === undefined ? 1 : 1 - Math.exp(-elapsed / smoothingMillis)
      const previous = smoothed ?? sample
      smoothed = {
        recordsPerSecond: significant(previous.recordsPerSecond + weight * (sample.recordsPerSecond - previous.recordsPerSecond)),
        bytesPerSecond: significant(previous.bytesPerSecond + weight * (sample.bytesPerSecond - previous.bytesPerSecond))
      }
      records = 0
      bytes = 0
      from = now
      return smoothed
    }
  }
}

/** Three significant digits: plenty for balancing, and a smaller number in every scan of the lease table. */
const significant = (value: number): number => value === 0 ? 0 : Number(value.toPrecision(3))

/** The bytes of a page of records, as the meter counts them. */
export const bytesOf = (records: ReadonlyArray<SourceRecord>): number => {
  let bytes = 0
  for (const record of records) bytes += record.data.byteLength
  return bytes
}
