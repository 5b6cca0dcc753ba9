/**
 * Makes each shard's reader for a stream of the worker: polling, or through the stream's enhanced fan-out
 * consumer, registered (or found) once, by the first shard that needs it; a failure to register fails that
 * shard (and is tried again by the next).
 */
import type { ShardReader as CoreShardReader } from "@tributary/core/RecordSource"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import type { SourceError } from "@tributary/core/TributaryError"
import { InvalidOptions } from "@tributary/core/TributaryError"
import * as FanOutReader from "@tributary/kinesis/FanOutReader"
import * as ShardReader from "@tributary/kinesis/ShardReader"
import * as StreamConsumer from "@tributary/kinesis/StreamConsumer"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

/** The Consumer's `reader` option (its `ReaderOptions`, `"polling"` or `{ fanOut: FanOutOptions }`). */
export type Choice =
  | Omit<ShardReader.ReaderOptions, "stream" | "shardId" | "position" | "follow" | "checkpoint" | "stop">
  | "polling"
  | {
    readonly fanOut:
      & Omit<FanOutReader.FanOutReaderOptions, "stream" | "shardId" | "consumerArn" | "position" | "checkpoint">
      & { readonly consumerName: string }
  }
  | undefined

/**
 * Makes a reader of one shard of the stream, whose batches end after the page in flight once `stop`
 * completes.
 */
export type ReaderOf = Effect.Effect.Success<ReturnType<typeof make>>

export const make = (stream: string, reader: Choice) =>
  Effect.gen(function*() {
    if (typeof reader !== "object" || !("fanOut" in reader)) {
      const polling = typeof reader === "object" ? reader : {}
      return (shardId: string, position: ShardReader.StartingPosition, stop: Effect.Effect<void>) =>
        ShardReader.make({ ...polling, stream, shardId, position, stop })
    }
    const { consumerName, ...fanOut } = reader.fanOut
    const problem = StreamConsumer.nameProblem(consumerName)
    if (problem !== undefined) return yield* new InvalidOptions({ of: "Consumer", option: "reader.fanOut.consumerName", reason: problem })
    const lock = yield* Effect.makeSemaphore(1)
    let registered = Option.none<StreamConsumer.StreamConsumer>()
    const consumer = lock.withPermits(1)(Effect.suspend(() =>
      Option.isSome(registered)
        ? Effect.succeed(registered.value)
        : Effect.tap(StreamConsumer.ensure(stream, consumerName), (found) => void (registered = Option.some(found)))
    ))
    // an event is awaited for as long as the service takes: raced with the stop (a fiber per page, which
    // the polling reader avoids by reading its stop between pages)
    return (shardId: string, position: ShardReader.StartingPosition, stop: Effect.Effect<void>) =>
      Effect.flatMap(consumer, (found) =>
        Effect.map(
          FanOutReader.make({ ...fanOut, stream, shardId, position, consumerArn: found.arn }),
          // read through `batches` only: a `pull` would not see the stop
          (reader): ShardReader.KinesisShardReader => ({ ...reader, batches: Stream.interruptWhen(reader.batches, stop), pull: undefined })
        ))
  })

/**
 * A reader's pages as a worker hands them to the pipeline: counted (`countRead`, when the workers balance
 * throughput), and failing with `stopped` when they ended because the worker stopped reading the shard
 * rather than at the shard's end, so that the pipeline does not flush the shard's windows as if it had
 * ended. Both `batches` and, when the reader has it, `pull`.
 */
export const pagesOf = (
  reader: ShardReader.KinesisShardReader,
  options: {
    readonly endedByStop: Effect.Effect<boolean>
    readonly stopped: SourceError
    readonly countRead: ((records: ReadonlyArray<SourceRecord>) => Effect.Effect<void>) | undefined
  }
): Pick<CoreShardReader, "batches" | "pull"> => {
  const { countRead, endedByStop, stopped } = options
  return {
    batches: Stream.concat(
      countRead === undefined ? reader.batches : Stream.tap(reader.batches, countRead),
      Stream.unwrap(Effect.map(endedByStop, (done) => done ? Stream.fail(stopped) : Stream.empty))
    ),
    pull: reader.pull === undefined ? undefined : Effect.map(reader.pull, (next) =>
      Effect.catchAll(
        countRead === undefined ? next : Effect.tap(next, countRead),
        (end) => Option.isSome(end) ? Effect.fail(end) : Effect.flatMap(endedByStop, (done) => Effect.fail(done ? Option.some(stopped) : Option.none()))
      ))
  }
}
