/**
 * What the producer sends: entries (one user record, or a KPL aggregate of several), the tickets the
 * writes wait on, and the pure steps between a write's items and PutRecords calls (checking every limit,
 * aggregating per shard, cutting calls).
 */
import type * as Sdk from "@aws-sdk/client-kinesis"
import type { SinkError } from "@tributary/core/TributaryError"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Exit from "effect/Exit"
import * as Aggregation from "../Aggregation.js"
import { maxHashKey } from "./shardMap.js"

/** An item that can never be stored; the cause of the permanent `SinkError` of its write. */
export class InvalidRecord extends Data.TaggedError("InvalidRecord")<{
  /** Index of the item in its write. */
  readonly index: number
  readonly reason: string
}> {
  override get message(): string {
    return `item ${this.index}: ${this.reason}`
  }
}

/** What one `write` waits for: all of its user records stored, or the first failure. */
export class Ticket {
  private remaining: number
  private done = false
  constructor(count: number, readonly deferred: Deferred.Deferred<void, SinkError>) {
    this.remaining = count
  }
  succeedOne(): void {
    if (this.done) return
    if (--this.remaining === 0) {
      this.done = true
      Deferred.unsafeDone(this.deferred, Exit.void)
    }
  }
  fail(error: SinkError): void {
    if (this.done) return
    this.done = true
    Deferred.unsafeDone(this.deferred, Exit.fail(error))
  }
}

/** A Kinesis record to send: one user record, or an aggregate of several (`members`). */
export interface Entry {
  readonly partitionKey: string
  explicitHashKey: string | undefined
  readonly data: Uint8Array
  /** Data and partition key bytes: what counts toward the limits. */
  readonly bytes: number
  /** User records inside, and their data bytes. */
  readonly users: number
  readonly userBytes: number
  ticket: Ticket | undefined
  readonly members: ReadonlyArray<Entry> | undefined
  /** Predicted shard index in the shard map (-1: unknown) and hash key. */
  shard: number
  hash: bigint | undefined
}

export const forEachTicket = (entry: Entry, f: (ticket: Ticket) => void): void => {
  if (entry.members !== undefined) {
    for (const member of entry.members) forEachTicket(member, f)
  } else if (entry.ticket !== undefined) {
    f(entry.ticket)
  }
}

export const toRequestEntry = (entry: Entry): Sdk.PutRecordsRequestEntry =>
  entry.explicitHashKey === undefined
    ? { PartitionKey: entry.partitionKey, Data: entry.data }
    : { PartitionKey: entry.partitionKey, Data: entry.data, ExplicitHashKey: entry.explicitHashKey }

/** The limits an item is checked against. */
export interface ItemLimits {
  readonly maxPartitionKeyLength: number
  readonly maxRecordBytes: number
}

/** How an item becomes a record. */
export interface RecordOf<A> {
  readonly partitionKey: (item: A) => string
  readonly data: (item: A) => Uint8Array | string
  readonly explicitHashKey?: ((item: A) => string | undefined) | undefined
}

/** Turns items into entries, checking every limit; the first invalid item fails the whole write. */
export const prepare = <A>(items: ReadonlyArray<A>, recordOf: RecordOf<A>, limits: ItemLimits): Array<Entry> | InvalidRecord => {
  const out: Array<Entry> = new Array(items.length)
  for (let i = 0; i < items.length; i++) {
    let partitionKey: string
    let raw: Uint8Array | string
    let explicitHashKey: string | undefined
    try {
      partitionKey = recordOf.partitionKey(items[i])
      raw = recordOf.data(items[i])
      explicitHashKey = recordOf.explicitHashKey?.(items[i])
    } catch (error) {
      return new InvalidRecord({ index: i, reason: `cannot make the record: ${error instanceof Error ? error.message : String(error)}` })
    }
    if (typeof partitionKey !== "string" || partitionKey.length < 1 || partitionKey.length > limits.maxPartitionKeyLength) {
      return new InvalidRecord({ index: i, reason: `the partition key must have 1 to ${limits.maxPartitionKeyLength} characters` })
    }
    if (explicitHashKey !== undefined && (!decimal.test(explicitHashKey) || BigInt(explicitHashKey) > maxHashKey)) {
      return new InvalidRecord({ index: i, reason: `the explicit hash key ${explicitHashKey} is not a decimal from 0 to 2^128-1` })
    }
    const data = typeof raw === "string" ? encoder.encode(raw) : raw
    const bytes = data.length + (hasOnlyAscii(partitionKey) ? partitionKey.length : Buffer.byteLength(partitionKey, "utf8"))
    if (bytes > limits.maxRecordBytes) {
      return new InvalidRecord({
        index: i,
        reason: `the record has ${bytes} bytes with its partition key; at most ${limits.maxRecordBytes} are allowed`
      })
    }
    out[i] = {
      partitionKey,
      explicitHashKey,
      data,
      bytes,
      users: 1,
      userBytes: data.length,
      ticket: undefined,
      members: undefined,
      shard: -1,
      hash: undefined
    }
  }
  return out
}

/** KPL aggregation: entries bound for the same (predicted) shard share Kinesis records of `maxBytes`. */
export const aggregate = (entries: ReadonlyArray<Entry>, maxBytes: number): Array<Entry> => {
  const open = new Map<number, { aggregator: Aggregation.Aggregator; members: Array<Entry> }>()
  const out: Array<Entry> = []
  const close = (group: { aggregator: Aggregation.Aggregator; members: Array<Entry> }) => {
    if (group.members.length === 1) out.push(group.members[0])
    else out.push(aggregatedEntry(group.members, group.aggregator.bytes()))
  }
  for (const entry of entries) {
    // a record too large to share a Kinesis record goes alone
    if (entry.data.length + entry.partitionKey.length + 64 > maxBytes) {
      out.push(entry)
      continue
    }
    let group = open.get(entry.shard)
    if (group === undefined) open.set(entry.shard, group = { aggregator: new Aggregation.Aggregator(maxBytes), members: [] })
    if (!group.aggregator.add(entry.partitionKey, entry.explicitHashKey, entry.data)) {
      close(group)
      group = { aggregator: new Aggregation.Aggregator(maxBytes), members: [] }
      open.set(entry.shard, group)
      group.aggregator.add(entry.partitionKey, entry.explicitHashKey, entry.data)
    }
    group.members.push(entry)
  }
  for (const group of open.values()) close(group)
  return out
}

/** Cuts entries into calls of at most `maxRecords` and `maxBytes`. */
export const cutCalls = (entries: ReadonlyArray<Entry>, maxRecords: number, maxBytes: number): Array<Array<Entry>> => {
  const out: Array<Array<Entry>> = []
  let current: Array<Entry> = []
  let bytes = 0
  for (const entry of entries) {
    if (current.length > 0 && (current.length >= maxRecords || bytes + entry.bytes > maxBytes)) {
      out.push(current)
      current = []
      bytes = 0
    }
    current.push(entry)
    bytes += entry.bytes
  }
  if (current.length > 0) out.push(current)
  return out
}

const aggregatedEntry = (members: ReadonlyArray<Entry>, data: Uint8Array): Entry => {
  const first = members[0]
  let userBytes = 0
  for (const member of members) userBytes += member.userBytes
  return {
    partitionKey: first.partitionKey,
    // the aggregate must land on the shard its members were grouped for: the first member's hash key
    explicitHashKey: first.explicitHashKey ?? (first.hash === undefined ? undefined : first.hash.toString()),
    data,
    bytes: data.length + Buffer.byteLength(first.partitionKey, "utf8"),
    users: members.length,
    userBytes,
    ticket: undefined,
    members,
    shard: first.shard,
    hash: first.hash
  }
}

const encoder = new TextEncoder()
const decimal = /^[0-9]{1,39}$/

const hasOnlyAscii = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false
  return true
}
