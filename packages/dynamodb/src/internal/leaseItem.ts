/**
 * Leases as DynamoDB items, and the expressions of the lease store's conditional writes.
 */
import type { AttributeValue, UpdateItemInput } from "@aws-sdk/client-dynamodb"
import type { HeldLease, Lease, LeaseCheckpoint, LeaseLoad, NewLease, ObservedLease } from "@tributary/core/LeaseStore"
import { checkpointEquals } from "@tributary/core/LeaseStore"
import type { Checkpoint } from "@tributary/core/RecordSource"
import type * as Types from "effect/Types"
import { attributes } from "../LeaseTable.js"

export type Item = Record<string, AttributeValue>

/** Every attribute as an expression name (`#leaseCounter`): some are reserved words, and it reads alike. */
export const names: Record<string, string> = Object.fromEntries(
  Object.values(attributes).map((attribute) => [`#${attribute}`, attribute])
)

/** Only the names an expression uses may be passed (DynamoDB rejects unused ones). */
export const namesOf = (...expressions: ReadonlyArray<string | undefined>): Record<string, string> => {
  const used: Record<string, string> = {}
  for (const expression of expressions) {
    if (expression === undefined) continue
    for (const [name] of expression.matchAll(/#[A-Za-z]+/g)) used[name] = names[name]
  }
  return used
}

const n = (value: number): AttributeValue => ({ N: String(value) })
const s = (value: string): AttributeValue => ({ S: value })

export const keyOf = (leaseKey: string): Item => ({ [attributes.leaseKey]: s(leaseKey) })

export const itemOf = (lease: NewLease): Item => {
  const parents = [...new Set(lease.parentShardIds ?? [])]
  return {
    [attributes.leaseKey]: s(lease.leaseKey),
    [attributes.counter]: n(0),
    [attributes.ownerSwitches]: n(0),
    [attributes.hashKeyStart]: s(lease.hashRange.start),
    [attributes.hashKeyEnd]: s(lease.hashRange.end),
    // an empty string set is not allowed: no parents, no attribute
    ...(parents.length === 0 ? {} : { [attributes.parentShardIds]: { SS: parents } }),
    ...checkpointValues(lease.checkpoint)
  }
}

/** The checkpoint's attributes; the optional ones it lacks are in `absent` (a write must remove them). */
export const checkpointValues = (checkpoint: LeaseCheckpoint): Item => {
  if (typeof checkpoint === "string") {
    return { [attributes.checkpoint]: s(checkpoint), [attributes.subSequenceNumber]: n(0) }
  }
  const item: Item = {
    [attributes.checkpoint]: s(checkpoint.sequenceNumber),
    [attributes.subSequenceNumber]: n(checkpoint.subSequenceNumber)
  }
  if (checkpoint.maxEventTime !== undefined) item[attributes.maxEventTime] = n(checkpoint.maxEventTime)
  if (checkpoint.watermark !== undefined) item[attributes.watermark] = n(checkpoint.watermark)
  if (checkpoint.processed !== undefined) {
    item[attributes.processedSequenceNumber] = s(checkpoint.processed.sequenceNumber)
    item[attributes.processedSubSequenceNumber] = n(checkpoint.processed.subSequenceNumber)
  }
  return item
}

const optionalCheckpointAttributes = [
  attributes.maxEventTime,
  attributes.watermark,
  attributes.processedSequenceNumber,
  attributes.processedSubSequenceNumber
]

/** SET and REMOVE clauses and values that store a checkpoint. */
export const checkpointUpdate = (checkpoint: LeaseCheckpoint) => {
  const values = checkpointValues(checkpoint)
  const set: Array<string> = []
  const expressionValues: Item = {}
  for (const [attribute, value] of Object.entries(values)) {
    set.push(`#${attribute} = :${attribute}`)
    expressionValues[`:${attribute}`] = value
  }
  const remove = optionalCheckpointAttributes.filter((attribute) => !(attribute in values)).map((a) => `#${a}`)
  return { set, remove, values: expressionValues }
}

const sentinels = new Set(["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP", "SHARD_END"])

/** An item as a lease, or why it is not one. */
export const leaseOf = (item: Item): Lease | string => {
  const str = (attribute: string): string | undefined => item[attribute]?.S
  const num = (attribute: string): number | undefined => {
    const value = item[attribute]?.N
    if (value === undefined) return undefined
    const parsed = Number(value)
    return Number.isFinite(parsed) ? parsed : undefined
  }
  const leaseKey = str(attributes.leaseKey)
  if (leaseKey === undefined) return `no ${attributes.leaseKey}`
  const counter = num(attributes.counter)
  if (counter === undefined) return `lease ${leaseKey} has no numeric ${attributes.counter}`
  const at = str(attributes.checkpoint)
  if (at === undefined) return `lease ${leaseKey} has no ${attributes.checkpoint}`
  let checkpoint: LeaseCheckpoint
  if (sentinels.has(at)) {
    checkpoint = at as LeaseCheckpoint
  } else {
    const stored: Types.Mutable<Checkpoint> = { sequenceNumber: at, subSequenceNumber: num(attributes.subSequenceNumber) ?? 0 }
    // the optional fields only when the item has them
    const maxEventTime = num(attributes.maxEventTime)
    const watermark = num(attributes.watermark)
    const processedSequenceNumber = str(attributes.processedSequenceNumber)
    if (maxEventTime !== undefined) stored.maxEventTime = maxEventTime
    if (watermark !== undefined) stored.watermark = watermark
    if (processedSequenceNumber !== undefined) {
      stored.processed = { sequenceNumber: processedSequenceNumber, subSequenceNumber: num(attributes.processedSubSequenceNumber) ?? 0 }
    }
    checkpoint = stored
  }
  const start = str(attributes.hashKeyStart)
  const end = str(attributes.hashKeyEnd)
  if (start === undefined || end === undefined) return `lease ${leaseKey} has no hash key range`
  const lease: Types.Mutable<Lease> = {
    leaseKey,
    owner: str(attributes.owner) ?? null,
    counter,
    checkpoint,
    parentShardIds: [...(item[attributes.parentShardIds]?.SS ?? [])].sort(),
    hashRange: { start, end },
    ownerSwitchesSinceCheckpoint: num(attributes.ownerSwitches) ?? 0
  }
  // -- handoff --
  const handoffTo = str(attributes.handoffTo)
  if (handoffTo !== undefined) lease.handoffTo = handoffTo
  // published load: only when the item has it
  const recordsPerSecond = num(attributes.loadRecordsPerSecond)
  const bytesPerSecond = num(attributes.loadBytesPerSecond)
  if (recordsPerSecond !== undefined && bytesPerSecond !== undefined) lease.load = { recordsPerSecond, bytesPerSecond }
  return lease
}

// ---------------------------------------------------------------------------------------------------------
// conditional writes
// ---------------------------------------------------------------------------------------------------------

/**
 * A conditional UpdateItem of a lease, and how to recognise the lease it makes: the owner and counter a
 * write sets tell who made them, so a write retried after a lost answer can tell its own success from a
 * conflict.
 */
export interface ConditionalWrite {
  readonly input: Pick<UpdateItemInput, "UpdateExpression" | "ConditionExpression" | "ExpressionAttributeValues">
  readonly madeByThisWrite: (lease: Lease) => boolean
}

const heldCondition = "#leaseOwner = :owner AND #leaseCounter = :expected"

const heldValues = (held: HeldLease): Item => ({
  ":owner": { S: held.owner },
  ":expected": { N: String(held.counter) },
  ":next": { N: String(held.counter + 1) }
})

/** Takes the lease as it was observed (its owner and counter unchanged since). */
export const acquireWrite = (observed: ObservedLease, owner: string): ConditionalWrite => ({
  input: {
    UpdateExpression:
      "SET #leaseOwner = :owner, #leaseCounter = :next, #ownerSwitchesSinceCheckpoint = if_not_exists(#ownerSwitchesSinceCheckpoint, :zero) + :switched REMOVE #handoffTo",
    ConditionExpression: observed.owner === null
      ? "#leaseCounter = :expected AND attribute_not_exists(#leaseOwner)"
      : "#leaseCounter = :expected AND #leaseOwner = :observedOwner",
    ExpressionAttributeValues: {
      ":owner": { S: owner },
      ":expected": { N: String(observed.counter) },
      ":next": { N: String(observed.counter + 1) },
      ":zero": { N: "0" },
      ":switched": { N: observed.owner !== owner ? "1" : "0" },
      ...(observed.owner === null ? {} : { ":observedOwner": { S: observed.owner } })
    }
  },
  madeByThisWrite: (lease) => lease.owner === owner && lease.counter === observed.counter + 1
})

/** With a load, the renewal publishes it in the same write. */
export const renewWrite = (held: HeldLease, load?: LeaseLoad): ConditionalWrite => ({
  input: load === undefined
    ? { UpdateExpression: "SET #leaseCounter = :next", ConditionExpression: heldCondition, ExpressionAttributeValues: heldValues(held) }
    : {
      UpdateExpression: "SET #leaseCounter = :next, #loadRecordsPerSecond = :records, #loadBytesPerSecond = :bytes",
      ConditionExpression: heldCondition,
      ExpressionAttributeValues: { ...heldValues(held), ":records": n(load.recordsPerSecond), ":bytes": n(load.bytesPerSecond) }
    },
  madeByThisWrite: (lease) => lease.owner === held.owner && lease.counter === held.counter + 1
})

export const releaseWrite = (held: HeldLease): ConditionalWrite => ({
  input: {
    UpdateExpression: "SET #leaseCounter = :next REMOVE #leaseOwner, #handoffTo",
    ConditionExpression: heldCondition,
    ExpressionAttributeValues: heldValues(held)
  },
  // only the owner writes "no owner" at the next counter
  madeByThisWrite: (lease) => lease.owner === null && lease.counter === held.counter + 1
})

export const checkpointWrite = (held: HeldLease, checkpoint: LeaseCheckpoint): ConditionalWrite => {
  const update = checkpointUpdate(checkpoint)
  const set = ["#leaseCounter = :next", "#ownerSwitchesSinceCheckpoint = :zero", ...update.set].join(", ")
  return {
    input: {
      UpdateExpression: `SET ${set}${update.remove.length === 0 ? "" : ` REMOVE ${update.remove.join(", ")}`}`,
      ConditionExpression: heldCondition,
      ExpressionAttributeValues: { ...heldValues(held), ":zero": { N: "0" }, ...update.values }
    },
    madeByThisWrite: (lease) =>
      lease.owner === held.owner && lease.counter === held.counter + 1 && checkpointEquals(lease.checkpoint, checkpoint)
  }
}

// -- handoff --

/** Marks the lease as asked for, leaving its counter alone (see `LeaseStore.requestHandoff`). */
export const requestHandoffWrite = (observed: HeldLease, requester: string): ConditionalWrite => ({
  input: {
    UpdateExpression: "SET #handoffTo = :requester",
    ConditionExpression: `${heldCondition} AND attribute_not_exists(#handoffTo)`,
    ExpressionAttributeValues: { ":owner": { S: observed.owner }, ":expected": { N: String(observed.counter) }, ":requester": { S: requester } }
  },
  madeByThisWrite: (lease) => lease.owner === observed.owner && lease.counter === observed.counter && lease.handoffTo === requester
})

/** Passes the lease to `to` (see `LeaseStore.handOver`). */
export const handOverWrite = (held: HeldLease, to: string): ConditionalWrite => ({
  input: {
    UpdateExpression:
      "SET #leaseOwner = :to, #leaseCounter = :next, #ownerSwitchesSinceCheckpoint = if_not_exists(#ownerSwitchesSinceCheckpoint, :zero) + :switched REMOVE #handoffTo",
    ConditionExpression: heldCondition,
    ExpressionAttributeValues: {
      ...heldValues(held),
      ":to": { S: to },
      ":zero": { N: "0" },
      ":switched": { N: held.owner !== to ? "1" : "0" }
    }
  },
  madeByThisWrite: (lease) => lease.owner === to && lease.counter === held.counter + 1
})
