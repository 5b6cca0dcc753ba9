/**
 * The demo's final checks, from the counts it read back: conservation (every record the gateway wrote is
 * aggregated, dead-lettered, filtered or late), the same count per customer as per activity, and the dead
 * letters being the broken messages. A failed check says which numbers differ and by how much; records
 * posted to the gateway by other clients are counted apart; a shard that did not drain is named with why.
 */
import type * as DeadLetter from "@tributary/core/DeadLetter"
import type { Lease } from "@tributary/core/LeaseStore"
import { count } from "./output.js"

/** What the demo counted. */
export interface Counts {
  /** Records the gateway wrote, whoever posted them. */
  readonly written: number
  /** Of those, the demo producer's (accepted by the gateway), how many were broken on purpose, and how many it rejected. */
  readonly produced: number
  readonly broken: number
  readonly rejected: number
  /** Whether the workers drained, and how many records they had processed when they stopped moving. */
  readonly drained: boolean
  readonly processed: number
  /** The counts merged from the results table, per activity and per customer. */
  readonly aggregated: number
  readonly perCustomer: number
  readonly filtered: number
  readonly late: number
  /** The dead letters (one per record) and their payloads. */
  readonly deadLetters: number
  readonly deadLetterData: ReadonlySet<string>
  /** The payloads of the broken messages the demo produced. */
  readonly brokenData: ReadonlyArray<string>
}

/** Whether the checks hold, the summary line, and a reason per failed check. */
export interface Verdict {
  readonly holds: boolean
  readonly summary: string
  readonly reasons: ReadonlyArray<string>
}

export const check = (c: Counts): Verdict => {
  // records the gateway wrote that the demo's producer did not count: posted by someone else (or a
  // response of the demo's that got lost)
  const others = Math.max(0, c.written - c.produced)
  const missingBroken = c.brokenData.filter((data) => !c.deadLetterData.has(data)).length
  const otherLetters = c.deadLetters - (c.brokenData.length - missingBroken)
  const sameLetters = missingBroken === 0 && otherLetters <= others
  const accounted = c.aggregated + c.deadLetters + c.filtered + c.late
  const holds = c.drained && c.written === accounted && sameLetters && c.perCustomer === c.aggregated
  const summary = `summary: produced ${c.written} (${c.broken} broken, ${c.rejected} rejected by the gateway` +
    `${others === 0 ? "" : `, ${others} posted by other clients`}), ` +
    `aggregated ${c.aggregated} (per customer ${c.perCustomer}), dead letters ${c.deadLetters}, filtered ${c.filtered}, late ${c.late}; ` +
    `dead letters are the broken messages: ${sameLetters}${otherLetters > 0 && sameLetters ? ` (and ${otherLetters} of other clients)` : ""}; ` +
    `conservation ${holds ? "holds" : "FAILS"}`
  const reasons = [
    ...(c.drained ? [] : [`not drained: the workers processed ${count(c.processed)} of ${count(c.written)} records (see above)`]),
    ...(c.written === accounted ? [] : [
      `produced ${c.written} but aggregated ${c.aggregated} + dead letters ${c.deadLetters} + filtered ${c.filtered} + late ${c.late} = ` +
      `${accounted}: ${
        c.written > accounted
          ? `${c.written - accounted} records not accounted for`
          : `${accounted - c.written} more than produced`
      }`
    ]),
    ...(c.perCustomer === c.aggregated ? [] : [
      `per customer ${c.perCustomer}, per activity ${c.aggregated}: ${Math.abs(c.perCustomer - c.aggregated)} apart ` +
      `(each record counts once in both)`
    ]),
    ...(missingBroken === 0 ? [] : [`${missingBroken} of the ${c.brokenData.length} broken messages are not among the dead letters`]),
    ...(otherLetters <= others ? [] : [
      `${otherLetters - others} dead letters are neither broken messages of the demo nor records posted by other clients`
    ])
  ]
  return { holds, summary, reasons }
}

/** Dead letters by record: a batch processed again (after a lease moved) dead-letters its records again. */
export const uniqueLetters = (letters: ReadonlyArray<DeadLetter.DeadLetter>): ReadonlyMap<string, DeadLetter.DeadLetter> => {
  const unique = new Map<string, DeadLetter.DeadLetter>()
  for (const l of letters) unique.set(`${l.shardId}/${l.sequenceNumber}/${l.subSequenceNumber}`, l)
  return unique
}

/**
 * For "not drained": per shard with records left, who holds it, how far behind it is (`lags`, in the
 * order of `leases`: milliseconds, or null when its reader reports no position), and what that means.
 */
export const lagging = (
  leases: ReadonlyArray<Pick<Lease, "leaseKey" | "owner">>,
  lags: ReadonlyArray<number | null>
): Array<string> =>
  leases.flatMap((lease, i) => {
    const lag = lags[i]
    if (lease.owner === null) {
      return [`${lease.leaseKey}: no worker holds its lease (it expired, or is being taken over)`]
    }
    if (lag === null || lag > 1_000) {
      return [
        `${lease.leaseKey}: ${lease.owner} holds it, ${lag === null ? "its reader reports no position" : `${count(lag)} ms behind`}: ` +
        "its reads or its sinks are failing and being retried (run with --verbose for the warnings)"
      ]
    }
    return []
  })

/** The line saying the producer fell short of `--rate` (below 90 % of it), or undefined when it kept up. */
export const rateShortfall = (produced: number, millis: number, rate: number): string | undefined => {
  const achieved = produced / Math.max(0.001, millis / 1000)
  return achieved >= rate * 0.9 ? undefined : (
    `rate: the producer reached ${count(Math.round(achieved))} messages/s of the ${count(rate)}/s asked ` +
    `(--rate): this machine (or the gateway behind it) could not keep up`
  )
}
