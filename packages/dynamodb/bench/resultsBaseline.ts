/**
 * The baseline of `bench results-sink`: the same results written as the same items with raw SDK calls and
 * the same concurrency, no Effect: BatchWriteItem 25 items a call, 4 calls in flight per page (UnprocessedItems
 * sent again), or a conditional PutItem per result (`attribute_not_exists(pk) OR #count <= :count`), 16 in
 * flight per page. One async loop per shard writes its pages of 500 one after the other.
 */
import type { AttributeValue } from "@aws-sdk/client-dynamodb"
import { BatchWriteItemCommand, ConditionalCheckFailedException, DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb"
import type { WindowResult } from "@tributary/core/Window"
import * as ResultsTable from "../src/ResultsTable.js"

type Item = Record<string, AttributeValue>
const { attributes } = ResultsTable

const itemOf = (pipeline: string, result: WindowResult<string, ResultsTable.WithState<unknown>>, now: number): Item => {
  const partial = ResultsTable.shardsPartial(result)
  return {
    [attributes.partition]: { S: ResultsTable.partitionKey(pipeline, result.key) },
    [attributes.sort]: { S: ResultsTable.sortKey(result.start, result.end, partial) },
    [attributes.pipeline]: { S: pipeline },
    [attributes.key]: { S: result.key },
    [attributes.start]: { N: String(result.start) },
    [attributes.end]: { N: String(result.end) },
    [attributes.partial]: { S: partial },
    [attributes.shards]: { L: result.shards.map((shard) => ({ S: shard })) },
    [attributes.count]: { N: String(result.count) },
    [attributes.firing]: { S: result.firing },
    [attributes.value]: { S: JSON.stringify(result.value.value) },
    [attributes.writtenAt]: { N: String(now) },
    [attributes.state]: { S: JSON.stringify(result.value.state) }
  }
}

/** Runs `f` over `items` with at most `limit` in flight. */
const pool = async <A>(items: ReadonlyArray<A>, limit: number, f: (item: A) => Promise<void>) => {
  let next = 0
  const worker = async () => {
    while (next < items.length) await f(items[next++])
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

/** Writes `byShard` (pages of `pageSize` per shard) into `tableName`; returns results per second. */
export const run = async (
  client: DynamoDBClient,
  tableName: string,
  mode: "auto" | "conditional",
  byShard: ReadonlyArray<ReadonlyArray<WindowResult<string, ResultsTable.WithState<unknown>>>>,
  pageSize: number
): Promise<number> => {
  const batch = async (items: ReadonlyArray<Item>) => {
    let requests: Array<{ PutRequest: { Item: Item } }> = items.map((Item) => ({ PutRequest: { Item } }))
    while (requests.length > 0) {
      const output = await client.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: requests } }))
      requests = (output.UnprocessedItems?.[tableName] ?? []) as Array<{ PutRequest: { Item: Item } }>
    }
  }
  const put = async (item: Item) => {
    try {
      await client.send(new PutItemCommand({
        TableName: tableName,
        Item: item,
        ConditionExpression: "attribute_not_exists(#pk) OR #count <= :count",
        ExpressionAttributeNames: { "#pk": attributes.partition, "#count": attributes.count },
        ExpressionAttributeValues: { ":count": item[attributes.count] }
      }))
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error
    }
  }
  const started = performance.now()
  await Promise.all(byShard.map(async (results) => {
    for (let i = 0; i < results.length; i += pageSize) {
      const now = Date.now()
      const items = results.slice(i, i + pageSize).map((result) => itemOf("bench", result, now))
      if (mode === "conditional") await pool(items, 16, put)
      else {
        const chunks: Array<ReadonlyArray<Item>> = []
        for (let j = 0; j < items.length; j += 25) chunks.push(items.slice(j, j + 25))
        await pool(chunks, 4, batch)
      }
    }
  }))
  const seconds = (performance.now() - started) / 1000
  return byShard.reduce((sum, r) => sum + r.length, 0) / seconds
}
