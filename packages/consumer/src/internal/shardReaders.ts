/**
 * Makes each shard's reader for a stream of the worker: polling, or through the stream's enhanced fan-out
 * consumer, registered (or found) once, by the first shard that needs it; a failure to register fails that
 * shard (and is tried again by the next).
 */
import { InvalidOptions } from "@tributary/core/TributaryError"
import * as FanOutReader from "@tributary/kinesis/FanOutReader"
import * as ShardReader from "@tributary/kinesis/ShardReader"
import * as StreamConsumer from "@tributary/kinesis/StreamConsumer"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/** The Consumer's `reader` option (its `ReaderOptions`, `"polling"` or `{ fanOut: FanOutOptions }`). */
export type Choice =
  | Omit<ShardReader.ReaderOptions, "stream" | "shardId" | "position" | "follow" | "checkpoint">
  | "polling"
  | {
    readonly fanOut:
      & Omit<FanOutReader.FanOutReaderOptions, "stream" | "shardId" | "consumerArn" | "position" | "checkpoint">
      & { readonly consumerName: string }
  }
  | undefined

/** Makes a reader of one shard of the stream. */
export type ReaderOf = Effect.Effect.Success<ReturnType<typeof make>>

export const make = (stream: string, reader: Choice) =>
  Effect.gen(function*() {
    if (typeof reader !== "object" || !("fanOut" in reader)) {
      const polling = typeof reader === "object" ? reader : {}
      return (shardId: string, position: ShardReader.StartingPosition) => ShardReader.make({ ...polling, stream, shardId, position })
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
    return (shardId: string, position: ShardReader.StartingPosition) =>
      Effect.flatMap(consumer, (found) => FanOutReader.make({ ...fanOut, stream, shardId, position, consumerArn: found.arn }))
  })
