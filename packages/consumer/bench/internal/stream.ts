/**
 * The stream of a consumer bench round, made and filled with the raw SDK from the orchestrating process.
 */
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordsCommand
} from "@aws-sdk/client-kinesis"
import type { PutRecordsRequestEntry } from "@aws-sdk/client-kinesis"
import { NodeHttpHandler } from "@smithy/node-http-handler"
import { activities, clientConfig } from "../sides/measure.js"

export const client = (endpoint: string) => new KinesisClient({ ...clientConfig(endpoint), requestHandler: new NodeHttpHandler() })

/** Creates the stream and waits until it is ACTIVE; answers the first hash key of each shard. */
export const create = async (kinesis: KinesisClient, stream: string, shards: number): Promise<ReadonlyArray<string>> => {
  await kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: shards }))
  for (;;) {
    const { StreamDescriptionSummary } = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream }))
    if (StreamDescriptionSummary?.StreamStatus === "ACTIVE") break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const { Shards } = await kinesis.send(new ListShardsCommand({ StreamName: stream }))
  return (Shards ?? []).map((shard) => shard.HashKeyRange!.StartingHashKey!)
}

/**
 * Puts `count` seed-shaped activities (~90 bytes, as in core/bench/data.ts), spread evenly over the
 * shards, 500 a call, 4 calls in flight.
 */
export const fill = async (kinesis: KinesisClient, stream: string, hashKeys: ReadonlyArray<string>, count: number) => {
  let seed = 42
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648
  const start = 1_416_603_010_000
  let next = 0
  const batch = (): Array<PutRecordsRequestEntry> => {
    const entries: Array<PutRecordsRequestEntry> = []
    for (; next < count && entries.length < 500; next++) {
      const late = random() < 0.1 ? Math.floor(random() * 5_000) : 0
      const message = {
        CustomerId: `c${Math.floor(random() * 10_000)}`,
        DateUnixMs: start + next - late,
        Activity: activities[Math.floor(random() * activities.length)],
        DurationMs: Math.floor(random() * 60_000)
      }
      entries.push({
        Data: Buffer.from(JSON.stringify(message)),
        PartitionKey: message.CustomerId,
        ExplicitHashKey: hashKeys[next % hashKeys.length]
      })
    }
    return entries
  }
  const worker = async () => {
    for (let entries = batch(); entries.length > 0; entries = batch()) {
      for (let attempt = 0; entries.length > 0; attempt++) {
        if (attempt === 10) throw new Error("the emulator keeps failing PutRecords entries")
        const output = await kinesis.send(new PutRecordsCommand({ StreamName: stream, Records: entries }))
        entries = entries.filter((_, j) => output.Records?.[j]?.ErrorCode !== undefined)
      }
    }
  }
  await Promise.all([worker(), worker(), worker(), worker()])
}
