/**
 * What `tributary tail` does (its options and help are in commands/tail.ts).
 */
import { ShardReader, StreamSource } from "@tributary/kinesis"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { parseTime } from "../internal/duration.js"
import { UsageError } from "../internal/errors.js"
import * as LooseDecoder from "../internal/looseDecoder.js"
import * as Output from "../internal/output.js"
import { requireStream } from "../internal/resources.js"
import { stopSignal } from "../internal/signals.js"

/** The options of `tributary tail`, parsed (commands/tail.ts). */
export interface Args {
  readonly stream: string
  /** `latest`, `trim-horizon` or a time. */
  readonly from: string
  readonly limit: Option.Option<number>
  readonly format: LooseDecoder.Format
}

const initialPosition = (from: string): Effect.Effect<StreamSource.InitialPosition, UsageError> => {
  const text = from.trim().toLowerCase()
  if (text === "latest") return Effect.succeed({ type: "LATEST" })
  if (text === "trim-horizon" || text === "trim_horizon") return Effect.succeed({ type: "TRIM_HORIZON" })
  const at = text.startsWith("at-timestamp") ? from.trim().slice("at-timestamp".length).replace(/^[=:\s]+/, "") : from
  return Option.match(parseTime(at, Date.now()), {
    onNone: () =>
      Effect.fail(new UsageError({ reason: `--from: "${from}" is not latest, trim-horizon or a time (e.g. 2024-05-01T10:00:00Z, 15m)` })),
    onSome: (timestamp) => Effect.succeed(ShardReader.StartingPosition.atTimestamp(timestamp) as StreamSource.InitialPosition)
  })
}

/** Runs `tributary tail` with its parsed options. */
export const run = (args: Args) =>
  Effect.gen(function*() {
    const position = yield* initialPosition(args.from)
    yield* requireStream(args.stream)
    const stop = yield* stopSignal
    const render = LooseDecoder.make(args.format)
    const limit = Option.getOrUndefined(args.limit)
    const source = yield* StreamSource.make({
      stream: args.stream,
      initialPosition: position,
      follow: true,
      reader: { idleInterval: "250 millis" }
    })
    let printed = 0
    const printing = source.shards.pipe(
      Stream.flatMap((reader) => reader.batches, { concurrency: "unbounded" }),
      Stream.runForEachWhile((records) =>
        Effect.gen(function*() {
          const take = limit === undefined ? records : records.slice(0, limit - printed)
          const values = render(take)
          const lines = new Array<string>(take.length)
          for (let i = 0; i < take.length; i++) lines[i] = `${take[i].shardId} ${take[i].sequenceNumber} ${values[i]}`
          if (lines.length > 0) yield* Output.line(lines.join("\n"))
          printed += take.length
          return limit === undefined || printed < limit
        })
      )
    )
    yield* Effect.raceFirst(printing, Deferred.await(stop))
  }).pipe(Effect.scoped)
