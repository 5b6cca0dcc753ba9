/**
 * Activity analytics on in-memory layers: seed-shaped messages arrive as JSON, CSV and key-value text mixed
 * on a 4-shard stream, a few of them broken. One pipeline decodes them all with `Decoder.auto`, sends the
 * broken ones to dead letters with their reason, and aggregates per activity and minute: count, mean and p95
 * of the duration.
 *
 *   pnpm --filter @tributary/example-activity-analytics start
 */
import { Aggregate, DeadLetter, Decoder, MemoryStream, Pipeline, RecordSink, Window } from "@tributary/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

const Activity = Schema.Struct({
  CustomerId: Schema.String,
  DateUnixMs: Schema.Number,
  Activity: Schema.Literal("buy", "sell", "view", "search"),
  DurationMs: Schema.Number.pipe(Schema.nonNegative())
})
type Activity = typeof Activity.Type

const activities = ["buy", "sell", "view", "search"] as const
const start = Date.UTC(2014, 10, 21, 20, 50)

/** One message in a given format; every 50th is broken in a way a producer might break it. */
const message = (i: number, random: () => number): string => {
  const a: Activity = {
    CustomerId: `c${Math.floor(random() * 500)}`,
    DateUnixMs: start + Math.floor(i * 36 + random() * 3_000),
    Activity: activities[Math.floor(random() * activities.length)],
    DurationMs: Math.floor(random() * 60_000)
  }
  if (i % 50 === 49) {
    return [
      `{"CustomerId":"${a.CustomerId}","DateUnixMs":${a.DateUnixMs},"Activity":"${a.Activity}"`, // truncated
      `${a.CustomerId},yesterday,${a.Activity},${a.DurationMs}`, // not a number
      `Customer id: ${a.CustomerId}\nActivity: dance\nDuration (ms): ${a.DurationMs}` // unknown activity, no date
    ][i % 3]
  }
  switch (i % 3) {
    case 0:
      return JSON.stringify(a)
    case 1:
      return `${a.CustomerId},${a.DateUnixMs},${a.Activity},${a.DurationMs}`
    default:
      return `Customer id: ${a.CustomerId}\nUnix date (ms): ${a.DateUnixMs}\nActivity: ${a.Activity}\nDuration (ms): ${a.DurationMs}`
  }
}

const program = Effect.gen(function*() {
  const stream = yield* MemoryStream.make({ name: "activities", shards: 4 })
  let seed = 7
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648
  for (let page = 0; page < 20; page++) {
    yield* stream.put(Array.from({ length: 500 }, (_, j) => {
      const text = message(page * 500 + j, random)
      return { partitionKey: `p${(page * 500 + j) % 64}`, data: text }
    }))
  }

  const results = yield* RecordSink.memory<Window.WindowResult<string, { n: number; mean: number | undefined; p95: number | undefined }>>("results")
  const pipeline = Pipeline.make("activity-analytics").pipe(
    Pipeline.decode(Decoder.auto(Activity, { aliases: { DateUnixMs: "Unix date (ms)" } })),
    Pipeline.window({
      window: Window.tumbling("1 minute"),
      key: (a: Activity) => a.Activity,
      eventTime: (a) => a.DateUnixMs,
      maxOutOfOrderness: "5 seconds",
      perShard: false,
      aggregate: Aggregate.struct({ n: Aggregate.count, mean: Aggregate.mean, p95: Aggregate.quantile(0.95) }).pipe(
        Aggregate.mapInput((a: Activity) => a.DurationMs)
      )
    }),
    Pipeline.to(results)
  )

  const summary = yield* Effect.gen(function*() {
    const summary = yield* Pipeline.run(pipeline)
    const letters = yield* DeadLetter.MemoryDeadLetters.pipe(Effect.flatMap((sink) => sink.items))
    return { summary, letters }
  }).pipe(Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layerMemory)))

  const { recordsIn, recordsOut, deadLettered, late, filtered } = summary.summary
  console.log(`records in ${recordsIn} = out ${recordsOut} + dead letters ${deadLettered} + late ${late} + filtered ${filtered}`)
  console.log("\nper activity and minute (duration ms):")
  for (const r of yield* results.items) {
    const minute = new Date(r.start).toISOString().slice(11, 16)
    console.log(
      `  ${minute} ${String(r.key).padEnd(6)} n=${String(r.value.n).padStart(4)} ` +
        `mean=${r.value.mean?.toFixed(0).padStart(5)} p95=${r.value.p95?.toFixed(0).padStart(5)}`
    )
  }
  console.log("\nfirst dead letters:")
  for (const letter of summary.letters.slice(0, 3)) {
    console.log(`  ${letter.shardId} #${letter.sequenceNumber.slice(-6)} ${letter.format}: ${letter.reason}`)
  }
})

Effect.runPromise(program).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
