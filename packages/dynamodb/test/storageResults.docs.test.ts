/**
 * The example of docs/storage-results.md, run against dynalite. The last test checks that each ```ts block
 * of the page appears here verbatim (whitespace aside, import lines left out): change it in both places.
 */
import { expect, it, layer } from "@effect/vitest"
import { Aggregate, DeadLetter, Decoder, MemoryStream, Pipeline, Window } from "@tributary/core"
import * as DocBlocks from "@tributary/core/test-utils/DocBlocks"
import { Effect, Layer, Schema } from "effect"
import { ResultsTable } from "../src/index.js"
import { dynalite } from "./helpers.js"

const Reading = Schema.Struct({ device: Schema.String, at: Schema.Number, celsius: Schema.Number })
type Reading = typeof Reading.Type

layer(dynalite, { excludeTestServices: true })("docs/storage-results.md", (it) => {
  it.effect("the example: per-shard partials written, merged on read", () =>
    Effect.gen(function*() {
      const stream = yield* MemoryStream.make({ name: "climate", shards: 3 })
      const start = Date.UTC(2026, 0, 1)
      const readings = Array.from({ length: 300 }, (_, i) => ({ device: "boiler", at: start + i * 1_000, celsius: i % 30 }))
      yield* stream.put(readings.map((r, i) => ({ partitionKey: `p${i}`, data: JSON.stringify(r) })))

      // --- the docs' example ---
      const temperature = Aggregate.struct({ n: Aggregate.count, mean: Aggregate.mean, max: Aggregate.max })

      const program = Effect.gen(function*() {
        // the table is created if it does not exist
        const results = yield* ResultsTable.sink({ tableName: "climate", pipeline: "climate" })
        const pipeline = Pipeline.make("climate").pipe(
          Pipeline.decode(Decoder.json(Reading)),
          Pipeline.window({
            window: Window.tumbling("1 minute"),
            key: (r: Reading) => r.device,
            eventTime: (r) => r.at,
            aggregate: ResultsTable.withState(temperature.pipe(Aggregate.mapInput((r: Reading) => r.celsius)))
          }),
          Pipeline.to(results)
        )
        yield* Pipeline.run(pipeline)
        // one result per window, the shards' partials merged
        return yield* ResultsTable.query({
          tableName: "climate",
          pipeline: "climate",
          key: "boiler",
          from: Date.UTC(2026, 0, 1),
          to: Date.UTC(2026, 0, 2),
          aggregate: temperature
        })
      })
      // --- end of the example ---

      const merged = yield* program.pipe(Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layerMemory)))
      expect(merged.map((r) => [r.start - start, r.value, r.partials])).toStrictEqual(
        [0, 1, 2, 3, 4].map((minute) => [minute * 60_000, { n: 60, mean: 14.5, max: 29 }, 3])
      )
    }))
})

it("docs/storage-results.md: every TypeScript example is tested here", () => {
  expect(DocBlocks.blocks(DocBlocks.read("storage-results.md")).length).toBeGreaterThan(0)
  expect(DocBlocks.problems("storage-results.md", { files: [import.meta.url] })).toStrictEqual([])
})
