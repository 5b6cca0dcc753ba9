/**
 * IoT sensors: temperature and humidity readings per device, "the highest, lowest and average over the last
 * 10 seconds", every second: a hopping window of 10 s sliding by 1 s, per device, on event time.
 *
 *   pnpm --filter @tributary/example-iot-sensors start
 */
import { Aggregate, DeadLetter, Decoder, MemoryStream, Pipeline, RecordSink, Window } from "@tributary/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

export const Reading = Schema.Struct({
  device: Schema.String,
  at: Schema.Number, // epoch ms
  celsius: Schema.Number,
  humidity: Schema.Number.pipe(Schema.between(0, 100))
})
export type Reading = typeof Reading.Type

const range = Aggregate.struct({ min: Aggregate.min, max: Aggregate.max, mean: Aggregate.mean })

/** min / max / mean of both measures, over one window. */
export const climate = Aggregate.struct({
  celsius: range.pipe(Aggregate.mapInput((r: Reading) => r.celsius)),
  humidity: range.pipe(Aggregate.mapInput((r: Reading) => r.humidity))
})

export type Climate = Window.WindowResult<string, Aggregate.Aggregate.Output<typeof climate>>

export const pipeline = (results: RecordSink.RecordSink<Climate>) =>
  Pipeline.make("iot-climate").pipe(
    Pipeline.decode(Decoder.json(Reading)),
    Pipeline.window({
      window: Window.hopping("10 seconds", "1 second"),
      key: (r: Reading) => r.device,
      eventTime: (r) => r.at,
      maxOutOfOrderness: "2 seconds",
      aggregate: climate
    }),
    Pipeline.to(results)
  )

/** 3 devices, a reading each 250 ms for a minute, some arriving up to 1.5 s late, one broken. */
export const readings = (): Array<Reading> => {
  const start = Date.UTC(2026, 0, 1, 12)
  let seed = 11
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648
  const out: Array<Reading> = []
  for (let i = 0; i < 240; i++) {
    for (const [d, device] of ["boiler", "cellar", "attic"].entries()) {
      out.push({
        device,
        at: start + i * 250 - (random() < 0.1 ? Math.floor(random() * 1_500) : 0),
        celsius: Math.round((18 + d * 4 + Math.sin(i / 20) * 3 + random()) * 10) / 10,
        humidity: Math.round(40 + d * 10 + random() * 5)
      })
    }
  }
  return out
}

export const program = Effect.gen(function*() {
  const stream = yield* MemoryStream.make({ name: "sensors", shards: 2 })
  const all = readings()
  for (let i = 0; i < all.length; i += 500) {
    yield* stream.put(all.slice(i, i + 500).map((r) => ({ partitionKey: r.device, data: JSON.stringify(r) })))
  }
  yield* stream.put([{ partitionKey: "attic", data: `{"device":"attic","at":1,"celsius":20,"humidity":140}` }])

  const results = yield* RecordSink.memory<Climate>("climate")
  const summary = yield* Pipeline.run(pipeline(results)).pipe(
    Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layerMemory))
  )
  return { summary, results: yield* results.items }
})

const main = Effect.gen(function*() {
  const { results, summary } = yield* program
  console.log(`readings in ${summary.recordsIn}, windowed ${summary.recordsOut}, dead letters ${summary.deadLettered}`)
  console.log(`${results.length} window results; the last 10 seconds of the boiler, second by second:`)
  for (const r of results.filter((r) => r.key === "boiler" && r.count > 0).slice(20, 26)) {
    const { celsius, humidity } = r.value
    console.log(
      `  ${new Date(r.start).toISOString().slice(11, 19)}-${new Date(r.end).toISOString().slice(11, 19)} ` +
        `n=${r.count} °C min ${celsius.min} max ${celsius.max} mean ${celsius.mean?.toFixed(2)} | ` +
        `RH min ${humidity.min} max ${humidity.max} mean ${humidity.mean?.toFixed(1)}`
    )
  }
})

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(main).catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
}
