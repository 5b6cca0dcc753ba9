/**
 * `pnpm bench`: hot-path throughput against hand-written baselines, measured in the same process.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as DeadLetter from "../src/DeadLetter.js"
import * as Decoder from "../src/Decoder.js"
import * as MemoryStream from "../src/MemoryStream.js"
import * as Pipeline from "../src/Pipeline.js"
import * as RecordSink from "../src/RecordSink.js"
import { Activity, makeStream } from "./data.js"
import { compare, format } from "./harness.js"

const records = Number(process.env.BENCH_RECORDS ?? 1_000_000)
const shards = 4

const program = Effect.gen(function*() {
  const stream = yield* makeStream(records, shards)
  const logs = stream.shardIds.map((id) => stream.records(id))
  let round = 0

  // Hand-written: decode, parse, type-check and filter each record into an array.
  const baseline = () => {
    const text = new TextDecoder()
    const out: Array<Activity> = []
    for (const log of logs) {
      for (let i = 0; i < log.length; i++) {
        const o = JSON.parse(text.decode(log[i].data))
        if (
          typeof o === "object" && o !== null && typeof o.CustomerId === "string" &&
          typeof o.DateUnixMs === "number" && typeof o.Activity === "string" &&
          (o.Activity === "buy" || o.Activity === "sell" || o.Activity === "view" || o.Activity === "search" ||
            o.Activity === "click") &&
          typeof o.DurationMs === "number" && o.DurationMs >= 0
        ) out.push(o)
      }
    }
    return out.length
  }

  const tributary = () =>
    Effect.runPromise(Effect.gen(function*() {
      const sink = yield* RecordSink.memory<Activity>("bench")
      const pipeline = Pipeline.make("bench").pipe(
        Pipeline.decode(Decoder.json(Activity)),
        Pipeline.filter((a) => a.DurationMs >= 0),
        Pipeline.to(sink)
      )
      // a fresh consumer application each round, so each round reads the stream from the start
      const layer = Layer.merge(
        MemoryStream.layerSource(stream, { application: `bench-${round++}` }),
        DeadLetter.layerMemory
      )
      const summary = yield* Pipeline.run(pipeline).pipe(Effect.provide(layer))
      return summary.recordsOut
    }))

  const decode = yield* Effect.promise(() => compare({ run: tributary }, { run: baseline }))
  console.log(format("decode", decode))
})

Effect.runPromise(program).catch((error) => {
  console.error(error)
  process.exit(1)
})
