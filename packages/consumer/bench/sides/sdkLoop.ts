/**
 * The baseline of the consumer benches: a plain SDK loop, as one would write it by hand. ListShards, then
 * per shard GetShardIterator and GetRecords (10,000 records a call) at most 5 times a second (the shard's
 * limit), each record decoded (TextDecoder, JSON.parse, a type check) and counted.
 */
import { GetRecordsCommand, GetShardIteratorCommand, KinesisClient, ListShardsCommand } from "@aws-sdk/client-kinesis"
import { NodeHttpHandler } from "@smithy/node-http-handler"
import { activities, clientConfig, settings, start } from "./measure.js"

const measure = start()
// HTTP/1.1: the SDK's default HTTP/2 does not work against the emulators (see ClientConfig of @tributary/local)
const client = new KinesisClient({ ...clientConfig(settings.kinesis), requestHandler: new NodeHttpHandler() })
const text = new TextDecoder()
const kinds = new Set<string>(activities)
const live = settings.mode === "live"

const readShard = async (shardId: string, ready: () => void) => {
  const { ShardIterator } = await client.send(new GetShardIteratorCommand({
    StreamName: settings.stream,
    ShardId: shardId,
    ShardIteratorType: live ? "LATEST" : "TRIM_HORIZON"
  }))
  ready()
  let iterator = ShardIterator
  let lastCall = 0
  while (iterator !== undefined) {
    const wait = lastCall + 200 - Date.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    lastCall = Date.now()
    const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }))
    iterator = page.NextShardIterator
    const records = page.Records ?? []
    const putTimes: Array<number> = []
    let valid = 0
    for (const record of records) {
      const o = JSON.parse(text.decode(record.Data))
      if (
        typeof o === "object" && o !== null && typeof o.CustomerId === "string" && typeof o.DateUnixMs === "number" &&
        typeof o.Activity === "string" && kinds.has(o.Activity) && typeof o.DurationMs === "number"
      ) {
        valid++
        if (live) putTimes.push(o.DateUnixMs)
      }
    }
    measure.page(valid, live ? putTimes : undefined)
  }
}

const { Shards } = await client.send(new ListShardsCommand({ StreamName: settings.stream }))
const shards = (Shards ?? []).map((shard) => shard.ShardId!)
let waiting = shards.length
const ready = () => {
  if (--waiting === 0) measure.ready()
}
await Promise.all(shards.map((shardId) => readShard(shardId, ready)))
