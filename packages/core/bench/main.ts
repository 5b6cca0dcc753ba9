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
import * as Window from "../src/Window.js"
import * as Aggregate from "../src/Aggregate.js"
import { Activity, makeStream } from "./data.js"
import { compare, format } from "../test-utils/Bench.js"

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

  // The baseline keeps each parsed object as it is, so the decoder does too ("preserve"); the default
  // ("ignore": rebuild with known properties only) is measured on its own line.
  const tributary = (onExcessProperty: "preserve" | "ignore") => () =>
    Effect.runPromise(Effect.gen(function*() {
      const sink = yield* RecordSink.memory<Activity>("bench")
      const pipeline = Pipeline.make("bench").pipe(
        Pipeline.decode(Decoder.json(Activity, { onExcessProperty })),
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

  const decode = yield* Effect.promise(() => compare({ run: tributary("preserve") }, { run: baseline }))
  console.log(format("decode", decode))
  const decodeStrip = yield* Effect.promise(() => compare({ run: tributary("ignore") }, { run: baseline }))
  console.log(format("decode-strip-excess", decodeStrip))

  // Hand-written: decode, check, and fold stats of DurationMs per activity per 1-minute window in Maps.
  const windowBaseline = () => {
    const text = new TextDecoder()
    let results = 0
    for (const log of logs) {
      const windows = new Map<string, Map<number, { count: number; sum: number; min: number; max: number }>>()
      for (let i = 0; i < log.length; i++) {
        const o = JSON.parse(text.decode(log[i].data))
        if (
          typeof o !== "object" || o === null || typeof o.CustomerId !== "string" ||
          typeof o.DateUnixMs !== "number" || typeof o.Activity !== "string" ||
          !(o.Activity === "buy" || o.Activity === "sell" || o.Activity === "view" || o.Activity === "search" ||
            o.Activity === "click") ||
          typeof o.DurationMs !== "number"
        ) continue
        const start = o.DateUnixMs - (o.DateUnixMs % 60_000)
        let byStart = windows.get(o.Activity)
        if (byStart === undefined) windows.set(o.Activity, byStart = new Map())
        const stats = byStart.get(start)
        if (stats === undefined) {
          byStart.set(start, { count: 1, sum: o.DurationMs, min: o.DurationMs, max: o.DurationMs })
        } else {
          stats.count++
          stats.sum += o.DurationMs
          if (o.DurationMs < stats.min) stats.min = o.DurationMs
          if (o.DurationMs > stats.max) stats.max = o.DurationMs
        }
      }
      for (const byStart of windows.values()) results += byStart.size
    }
    return records + results * 0
  }

  const windowTributary = () =>
    Effect.runPromise(Effect.gen(function*() {
      const sink = yield* RecordSink.memory<unknown>("bench")
      const pipeline = Pipeline.make("bench-window").pipe(
        Pipeline.decode(Decoder.json(Activity, { onExcessProperty: "preserve" })),
        Pipeline.window({
          window: Window.tumbling("1 minute"),
          key: (a: Activity) => a.Activity,
          eventTime: (a) => a.DateUnixMs,
          maxOutOfOrderness: "5 seconds",
          aggregate: Aggregate.stats.pipe(Aggregate.mapInput((a: Activity) => a.DurationMs))
        }),
        Pipeline.to(sink)
      )
      const layer = Layer.merge(
        MemoryStream.layerSource(stream, { application: `bench-${round++}` }),
        DeadLetter.layerMemory
      )
      const summary = yield* Pipeline.run(pipeline).pipe(Effect.provide(layer))
      return summary.recordsIn
    }))

  const window = yield* Effect.promise(() => compare({ run: windowTributary }, { run: windowBaseline }))
  console.log(format("window", window))
})

Effect.runPromise(program).catch((error) => {
  console.error(error)
  process.exit(1)
})
