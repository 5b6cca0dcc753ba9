/**
 * `pnpm fuzz`: a million adversarial payloads (test-utils/Poison) through `Pipeline.run` with a window
 * stage, each payload its own page so each record's time is measured alone. Dead letters go to a sink that
 * checks and counts them (the memory sink would keep a million of them). Prints
 * `fuzz: <n> payloads, <deaths> deaths, max <ms> ms per record, heap <MB> MB` and fails (exit 1) when a run
 * died or a count does not add up.
 *
 * FUZZ_PAYLOADS (default 1,000,000) and FUZZ_SEED (default 12) change the run.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as DeadLetter from "../src/DeadLetter.js"
import * as Pipeline from "../src/Pipeline.js"
import * as RecordSink from "../src/RecordSink.js"
import * as RecordSource from "../src/RecordSource.js"
import type { SourceRecord } from "../src/SourceRecord.js"
import * as Window from "../src/Window.js"
import * as Poison from "../test-utils/Poison.js"

const total = Number(process.env.FUZZ_PAYLOADS ?? 1_000_000)
const seed = Number(process.env.FUZZ_SEED ?? 12)

// the costly kinds (400 KB issue lists, 1 MiB payloads) about once in 10,000 payloads rather than once in
// 250 as in the suite's fuzz test, so a million take minutes, not hours
const payloads = Poison.generator({
  seed,
  maxBytes: 1024 * 1024 - 256,
  weights: { ...Poison.weights, hugeIssueList: 0.1, huge: 0.1 }
})

let generated = 0
let maxMillis = 0
let maxHeap = 0
let deaths = 0
let lettersWritten = 0
let windowed = 0
const totals = { recordsIn: 0, recordsOut: 0, deadLettered: 0, late: 0, filtered: 0 }
const problems: Array<string> = []

/**
 * Pages of one record, generated as they are pulled; the CPU time between two pulls is one record's (CPU
 * time, not wall time: on a shared machine the process may wait for a core at any moment).
 */
const source: RecordSource.RecordSourceShape = {
  name: "fuzz",
  shards: Stream.make({
    shardId: "shardId-000000000000",
    checkpoint: () => Effect.void,
    batches: Stream.repeatEffectOption(Effect.suspend(() => {
      const now = cpuMillis()
      if (emittedAt !== undefined) maxMillis = Math.max(maxMillis, now - emittedAt)
      if (generated % 1000 === 0) maxHeap = Math.max(maxHeap, process.memoryUsage().heapUsed)
      if (generated >= total) return Effect.fail(Option.none())
      const record: SourceRecord = {
        stream: "fuzz",
        shardId: "shardId-000000000000",
        sequenceNumber: String(++generated),
        subSequenceNumber: 0,
        partitionKey: "p",
        arrivalTime: 0,
        data: payloads.next().data
      }
      emittedAt = cpuMillis()
      return Effect.succeed([record])
    }))
  })
}
let emittedAt: number | undefined

const cpuMillis = () => {
  const { system, user } = process.cpuUsage()
  return (user + system) / 1000
}

const deadLetters = RecordSink.make<DeadLetter.DeadLetter>("checking", (letters) =>
  Effect.sync(() => {
    for (const letter of letters) {
      lettersWritten++
      if (letter.reason === "" || letter.reason.length > DeadLetter.maxReasonLength) {
        problems.push(`a reason of ${letter.reason.length} characters (stage ${letter.stage})`)
      }
    }
  }))

const results = RecordSink.make<Window.WindowResult<string, number>>("results", (items) =>
  Effect.sync(() => {
    for (const item of items) windowed += item.value
  }))

const pipeline = Poison.pipeline(results, () => problems.push("a decoded value with another prototype"))

const program = Effect.gen(function*() {
  // a run that dies is counted, and the next run goes on after the record it died on
  while (generated < total) {
    emittedAt = undefined
    const exit = yield* Effect.exit(
      Pipeline.run(pipeline).pipe(
        Effect.provide(Layer.merge(Layer.succeed(RecordSource.RecordSource, source), DeadLetter.layer(deadLetters)))
      )
    )
    if (Exit.isFailure(exit)) {
      deaths++
      problems.push(`the run died at payload ${generated}: ${String(exit.cause)}`.slice(0, 2000))
      continue
    }
    for (const key of Object.keys(totals) as Array<keyof typeof totals>) totals[key] += exit.value[key]
  }
})

Effect.runPromise(program).then(() => {
  const { deadLettered, filtered, late, recordsIn, recordsOut } = totals
  if (deaths === 0 && recordsIn !== total) problems.push(`${recordsIn} records in, ${total} payloads`)
  if (recordsIn !== recordsOut + deadLettered + late + filtered) problems.push(`counts do not add up: ${JSON.stringify(totals)}`)
  if (windowed !== recordsOut) problems.push(`${windowed} records in window results, ${recordsOut} out`)
  if (deaths === 0 && lettersWritten !== deadLettered + late) problems.push(`${lettersWritten} dead letters written for ${deadLettered + late}`)
  console.log(
    `fuzz: ${total} payloads, ${deaths} deaths, max ${maxMillis.toFixed(1)} ms per record, heap ${Math.round(maxHeap / 1024 / 1024)} MB`
  )
  if (problems.length > 0) {
    for (const problem of problems.slice(0, 20)) console.error(problem)
    process.exit(1)
  }
}, (error) => {
  console.error(error)
  process.exit(1)
})
