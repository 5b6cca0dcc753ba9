/**
 * The load of the live bench, in a process of its own: `BENCH_RATE` records a second for `BENCH_SECONDS`
 * into the stream, spread evenly over its shards, each carrying its put time as `DateUnixMs`. Puts every
 * 50 ms (a PutRecords of at most 500 records per call); entries the emulator failed are put again. Prints
 * the count put.
 */
import { KinesisClient, ListShardsCommand, PutRecordsCommand } from "@aws-sdk/client-kinesis"
import type { PutRecordsRequestEntry } from "@aws-sdk/client-kinesis"
import { NodeHttpHandler } from "@smithy/node-http-handler"
import { activities, clientConfig, settings } from "./measure.js"

const rate = Number(process.env.BENCH_RATE ?? 4_000)
const seconds = Number(process.env.BENCH_SECONDS ?? 20)
const tickMillis = 50

const client = new KinesisClient({ ...clientConfig(settings.kinesis), requestHandler: new NodeHttpHandler() })
const { Shards } = await client.send(new ListShardsCommand({ StreamName: settings.stream }))
const hashKeys = (Shards ?? []).map((shard) => shard.HashKeyRange!.StartingHashKey!)

let seed = 42
const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648
let index = 0
const entry = (now: number): PutRecordsRequestEntry => {
  const i = index++
  const message = {
    CustomerId: `c${Math.floor(random() * 10_000)}`,
    DateUnixMs: now,
    Activity: activities[Math.floor(random() * activities.length)],
    DurationMs: Math.floor(random() * 60_000)
  }
  return { Data: Buffer.from(JSON.stringify(message)), PartitionKey: message.CustomerId, ExplicitHashKey: hashKeys[i % hashKeys.length] }
}

const put = async (entries: ReadonlyArray<PutRecordsRequestEntry>): Promise<number> => {
  let pending = entries
  let put = 0
  for (let attempt = 0; pending.length > 0 && attempt < 10; attempt++) {
    const output = await client.send(new PutRecordsCommand({ StreamName: settings.stream, Records: [...pending] }))
    const failed = pending.filter((_, j) => output.Records?.[j]?.ErrorCode !== undefined)
    put += pending.length - failed.length
    pending = failed
  }
  return put
}

const total = rate * seconds
const puts: Array<Promise<number>> = []
const startedAt = Date.now()
for (let tick = 1; index < total; tick++) {
  const due = Math.min(total, Math.round(rate * tick * tickMillis / 1000))
  const now = Date.now()
  const entries: Array<PutRecordsRequestEntry> = []
  while (index < due) entries.push(entry(now))
  for (let i = 0; i < entries.length; i += 500) puts.push(put(entries.slice(i, i + 500)))
  const wait = startedAt + tick * tickMillis - Date.now()
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
}
const counts = await Promise.all(puts)
console.log(String(counts.reduce((a, b) => a + b, 0)))
client.destroy()
