/**
 * The TypeScript example of docs/lambda.md, run; the last test checks that the page's block appears here
 * verbatim (whitespace aside, import lines left out). Change the example in both places.
 */
import { describe, expect, it } from "@effect/vitest"
import { DeadLetter, Decoder, Pipeline, RecordSink } from "@tributary/core"
import * as DocBlocks from "@tributary/core/test-utils/DocBlocks"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { KinesisEvent, Lambda } from "../src/index.js"
import { records } from "./helpers.js"

const Order = Schema.Struct({ id: Schema.String })
const OrdersTable = Effect.runSync(RecordSink.memory<typeof Order.Type>("orders"))
const OrdersTableLive = Layer.empty
const DeadLettersLive = DeadLetter.layerMemory

const example = () => {
  const pipeline = Pipeline.make("orders").pipe(
    Pipeline.decode(Decoder.json(Order)),
    Pipeline.to(OrdersTable) // a RecordSink, or a Context.Tag providing one
  )

  // built once per container: the layer's clients live as long as the container
  const handler = Lambda.handler(pipeline, Layer.mergeAll(OrdersTableLive, DeadLettersLive))
  return handler
}

describe("docs/lambda.md", () => {
  it("the handler example writes the orders of an event", async () => {
    const handler = example()
    expect(await handler(KinesisEvent.fromRecords(records(['{"id":"a"}', '{"id":"b"}'])))).toEqual({ batchItemFailures: [] })
    expect((await Effect.runPromise(OrdersTable.items)).map((o) => o.id)).toEqual(["a", "b"])
    await handler.dispose()
  })

  it("the page's example is the one tested here", () => {
    expect(DocBlocks.blocks(DocBlocks.read("lambda.md")).length).toBeGreaterThan(0)
    expect(DocBlocks.problems("lambda.md", {
      files: [import.meta.url],
      rewrite: (code) => code.replace(/export const handler/g, "const handler")
    })).toStrictEqual([])
  })
})
