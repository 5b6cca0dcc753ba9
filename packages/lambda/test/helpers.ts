import { RecordSink } from "@tributary/core"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import { SinkError } from "@tributary/core/TributaryError"
import * as Kinesis from "@tributary/kinesis/Kinesis"
import * as LocalKinesis from "@tributary/local/LocalKinesis"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"

/**
 * A results table in memory: items stored by a deterministic key (a second put of a key overwrites it,
 * like a DynamoDB PutItem), with every put counted and failures injected on demand.
 */
export const table = <A>(keyOf: (a: A) => string, name = "results") => {
  const items = new Map<string, A>()
  const puts = new Map<string, number>()
  let failNext = 0
  let failWhen: ((batch: ReadonlyArray<A>) => boolean) | undefined
  let failures = 0
  const sink = RecordSink.make<A>(name, (batch) =>
    Effect.suspend(() => {
      if (failNext > 0 || failWhen?.(batch) === true) {
        if (failNext > 0) failNext--
        failures++
        return Effect.fail(new SinkError({ sink: name, reason: "injected throttling", retryability: "transient" }))
      }
      for (const item of batch) {
        const key = keyOf(item)
        items.set(key, item)
        puts.set(key, (puts.get(key) ?? 0) + 1)
      }
      return Effect.void
    }))
  return {
    sink,
    items,
    puts,
    get failures() {
      return failures
    },
    failNext: (times: number) => void (failNext = times),
    failWhen: (predicate: ((batch: ReadonlyArray<A>) => boolean) | undefined) => void (failWhen = predicate)
  }
}

/** Records of one shard with made-up, growing sequence numbers. */
export const records = (
  payloads: ReadonlyArray<string | Uint8Array>,
  options: { readonly shardId?: string; readonly stream?: string; readonly firstSequence?: bigint; readonly arrivalTime?: number } = {}
): Array<SourceRecord> =>
  payloads.map((payload, i) => ({
    stream: options.stream ?? "events",
    shardId: options.shardId ?? "shardId-000000000000",
    sequenceNumber: String((options.firstSequence ?? 49590338271490256608559692538361571095921575989136588898n) + BigInt(i) * 1000n),
    subSequenceNumber: 0,
    partitionKey: `pk-${i % 7}`,
    arrivalTime: options.arrivalTime ?? 1_767_268_800_000 + i,
    data: typeof payload === "string" ? new TextEncoder().encode(payload) : payload
  }))

/** kinesalite embedded, and the Kinesis service talking to it. */
export const kinesalite = Layer.unwrapEffect(
  Effect.map(LocalKinesis.LocalKinesis, (local) => Kinesis.layer({ ...local.clientConfig }))
).pipe(Layer.provideMerge(LocalKinesis.layerKinesalite()))

let streams = 0
export const streamName = (prefix = "lambda") => `${prefix}-${process.pid}-${++streams}`

/** Puts values into a stream in PutRecords calls of 500, returning the sequence numbers in put order. */
export const putAll = (stream: string, values: ReadonlyArray<{ readonly key: string; readonly data: string | Uint8Array }>) =>
  Effect.gen(function*() {
    const kinesis = yield* Kinesis.Kinesis
    const sequences: Array<string> = []
    for (let i = 0; i < values.length; i += 500) {
      const out = yield* kinesis.putRecords({
        StreamName: stream,
        Records: values.slice(i, i + 500).map((v) => ({
          PartitionKey: v.key,
          Data: typeof v.data === "string" ? Buffer.from(v.data) : v.data
        }))
      })
      if ((out.FailedRecordCount ?? 0) > 0) return yield* Effect.dieMessage("PutRecords failed in part")
      for (const r of out.Records ?? []) sequences.push(r.SequenceNumber!)
    }
    return sequences
  })

/**
 * A logger layer that keeps the lines instead of printing them: the tests provoke failures on purpose, and
 * check that the handler says so.
 */
export const capturedLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push(`${logLevel.label} ${(Array.isArray(message) ? message : [message]).map(String).join(" ")}`)
  })
  return { layer: Logger.replace(Logger.defaultLogger, logger), lines }
}
