/**
 * Adversarial payloads of every kind (core's test-utils/Poison) through `Pipeline.run` with a window stage
 * and the DynamoDB dead-letter sink on dynalite: the run never dies, every record is counted once
 * (in = out + dead letters + late + filtered), and every dead letter is stored, read back from the table.
 */
import { expect, layer } from "@effect/vitest"
import * as DeadLetter from "@tributary/core/DeadLetter"
import * as MemoryStream from "@tributary/core/MemoryStream"
import * as Pipeline from "@tributary/core/Pipeline"
import * as RecordSink from "@tributary/core/RecordSink"
import * as Poison from "@tributary/core/test-utils/Poison"
import type { WindowResult } from "@tributary/core/Window"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as DynamoDBDeadLetters from "../src/DynamoDBDeadLetters.js"
import { dynalite, tableName } from "./helpers.js"

/** Payloads in the fuzz run: about 10 s on an idle machine. */
const count = 20_000

layer(dynalite, { excludeTestServices: true })("fuzz: no payload stalls the pipeline", (it) => {
  it.effect(`${count} adversarial payloads: never dies, conserves counts, stores every dead letter`, () =>
    Effect.gen(function*() {
      const payloads = Poison.generator({ seed: 20_251_204, maxBytes: 1024 * 1024 - 256 })
      // every kind at least three times first, then drawn by weight
      const kinds = Object.keys(Poison.weights) as ReadonlyArray<Poison.Kind>
      const all: Array<Poison.Payload> = kinds.flatMap((kind) => [payloads.of(kind), payloads.of(kind), payloads.of(kind)])
      while (all.length < count) all.push(payloads.next())

      const stream = yield* MemoryStream.make({ name: "fuzz", shards: 2 })
      // PutRecords' limits: 500 records, 5 MiB
      for (let from = 0; from < all.length;) {
        let bytes = 0
        let to = from
        while (to < all.length && to - from < 500 && bytes + all[to].data.length + 8 <= 5 * 1024 * 1024) {
          bytes += all[to].data.length + 8
          to++
        }
        yield* stream.put(all.slice(from, to).map((payload, i) => ({ partitionKey: `p${(from + i) % 16}`, data: payload.data })))
        from = to
      }

      let polluted = 0
      const results = yield* RecordSink.memory<WindowResult<string, number>>("results")
      const pipeline = Poison.pipeline(results, () => polluted++)
      const table = tableName("fuzz-dead")
      const exit = yield* Pipeline.run(pipeline).pipe(
        Effect.provide(Layer.merge(MemoryStream.layerSource(stream, { maxRecords: 100 }), DynamoDBDeadLetters.layer({ tableName: table }))),
        Effect.exit
      )
      // never dies, never fails
      expect(Exit.isSuccess(exit)).toBe(true)
      const summary = Exit.isSuccess(exit) ? exit.value : undefined
      if (summary === undefined) return
      expect(summary.recordsIn).toBe(all.length)
      expect(summary.recordsIn).toBe(summary.recordsOut + summary.deadLettered + summary.late + summary.filtered)
      // every record absorbed by a window is counted in exactly one result, by the window and by its aggregate
      // alike (no failed record left a trace in a window's state)
      const windows = yield* results.items
      expect(windows.reduce((sum, result) => sum + result.count, 0)).toBe(summary.recordsOut)
      expect(windows.filter((result) => result.value !== result.count)).toStrictEqual([])
      expect(polluted).toBe(0)

      // every dead letter stored: one item per dead-lettered or late record (no late sink here)
      const stored = yield* DynamoDBDeadLetters.readAll(table, { pipeline: "fuzz" })
      expect(stored.length).toBe(summary.deadLettered + summary.late)
      const stages = new Set(stored.map((letter) => letter.stage))
      expect([...stages].sort()).toStrictEqual(["decode", "map", "window"])
      // each letter is its record's, with a bounded reason (checked in a loop, asserted once: 10,000 letters)
      const records = new Map(stream.shardIds.flatMap((id) => stream.records(id).map((r) => [`${id}/${r.sequenceNumber}`, r] as const)))
      const wrong: Array<string> = []
      for (const letter of stored) {
        const original = records.get(`${letter.shardId}/${letter.sequenceNumber}`)
        const expected = original === undefined ? undefined : letter.dataTruncated ? original.data.subarray(0, letter.data.length) : original.data
        if (
          letter.reason.length === 0 || letter.reason.length > DeadLetter.maxReasonLength || expected === undefined ||
          letter.dataSize !== original!.data.length || !Buffer.from(letter.data).equals(expected)
        ) wrong.push(`${letter.sequenceNumber} (${letter.stage}): ${letter.reason.slice(0, 200)}`)
      }
      expect(wrong).toStrictEqual([])
      const truncated = stored.filter((letter) => letter.dataTruncated).length
      console.log(
        `fuzz: ${summary.recordsIn} payloads: ${summary.recordsOut} windowed, ${summary.deadLettered} dead letters ` +
          `(${truncated} payloads cut to fit an item), ${summary.late} late, ${summary.filtered} filtered`
      )
    }), { timeout: 600_000 }) // generous: a loaded machine may take many times longer
})
