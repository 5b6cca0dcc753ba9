/**
 * What `tributary produce` does (its options and help are in commands/produce.ts).
 */
import { Producer } from "@tributary/kinesis"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import { CommandFailed, UsageError } from "../internal/errors.js"
import * as Output from "../internal/output.js"
import { requireStream } from "../internal/resources.js"
import { stopSignal } from "../internal/signals.js"
import type { Message } from "../Traffic.js"
import * as Traffic from "../Traffic.js"

/** The options of `tributary produce`, parsed (commands/produce.ts). */
export interface Args {
  readonly stream: string
  readonly rate: number
  readonly count: Option.Option<number>
  readonly duration: Option.Option<Duration.Duration>
  readonly brokenEvery: number
  readonly viaGateway: Option.Option<string>
  readonly apiKey: Option.Option<string>
}

/** Writes a batch; answers the error of a batch that was not accepted (it may still be partly stored). */
type Send = (batch: ReadonlyArray<Message>) => Effect.Effect<Option.Option<string>>

/** Through the Kinesis producer: `write` returns once Kinesis stored every record. */
const viaProducer = (stream: string) =>
  Effect.map(
    Producer.make<Message>({ stream, partitionKey: (m) => m.partitionKey, data: (m) => m.data }),
    (producer): Send => (batch) =>
      producer.write(batch).pipe(Effect.as(Option.none<string>()), Effect.catchAll((error) => Effect.succeed(Option.some(error.message))))
  )

/**
 * POSTs of at most 500 records (the gateway's limit); 200 means every record is in Kinesis. 429, 503 and
 * lost connections are tried again a few times, after `Retry-After` when the gateway sends one.
 */
const viaGateway = (url: string, stream: string, apiKey: string): Send => {
  const endpoint = `${url.replace(/\/+$/, "")}/v1/streams/${encodeURIComponent(stream)}/records`
  const post = (batch: ReadonlyArray<Message>, attempt: number): Effect.Effect<Option.Option<string>> =>
    Effect.tryPromise(async (signal) => {
      const response = await fetch(endpoint, {
        method: "POST",
        signal,
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({ records: batch.map((m) => ({ partitionKey: m.partitionKey, data: m.data })) })
      })
      const text = await response.text()
      return { status: response.status, text, retryAfter: Number(response.headers.get("retry-after") ?? "") }
    }).pipe(
      Effect.map((answer) => ({ ...answer, network: undefined as string | undefined })),
      Effect.catchAll((error) =>
        Effect.succeed({ status: 0, text: "", retryAfter: Number.NaN, network: `cannot reach ${url}: ${networkReason(error.cause)}` })
      ),
      Effect.flatMap((answer) => {
        if (answer.status === 200) return Effect.succeedNone
        const retryable = answer.status === 0 || answer.status === 429 || answer.status === 503
        if (retryable && attempt < 5) {
          const wait = answer.retryAfter >= 0 ? answer.retryAfter * 1000 : 100 * 2 ** attempt
          return Effect.zipRight(Effect.sleep(Duration.millis(Math.min(5_000, wait))), post(batch, attempt + 1))
        }
        return Effect.succeed(Option.some(answer.network ?? `${answer.status} ${errorMessage(answer.text)}`))
      })
    )
  return (batch) =>
    Effect.map(
      Effect.forEach(chunks(batch, 500), (chunk) => post(chunk, 0), { concurrency: 4 }),
      (results) => Option.firstSomeOf(results)
    )
}

/** fetch fails with "fetch failed"; the reason (ECONNREFUSED, a DNS failure) is its cause. */
const networkReason = (error: unknown): string => {
  const cause = Predicate.hasProperty(error, "cause") ? error.cause : undefined
  if (Predicate.hasProperty(cause, "code") && typeof cause.code === "string") return cause.code
  if (cause instanceof Error) return cause.message
  return error instanceof Error ? error.message : String(error)
}

const errorMessage = (body: string): string => {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: string; message?: string } }
    if (parsed.error?.message !== undefined) return `${parsed.error.code ?? "error"}: ${parsed.error.message}`
  } catch {
    // not the gateway's JSON error
  }
  return body.slice(0, 200)
}

const chunks = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/** Runs `tributary produce` with its parsed options. */
export const run = (args: Args) =>
  Effect.gen(function*() {
    if (Option.isSome(args.count) && Option.isSome(args.duration)) {
      return yield* new UsageError({ reason: "give --count or --duration, not both" })
    }
    if (Option.isSome(args.viaGateway) && Option.isNone(args.apiKey)) {
      return yield* new UsageError({ reason: "--via-gateway needs --api-key (or TRIBUTARY_API_KEY)" })
    }
    const stream = args.stream
    const send = Option.isSome(args.viaGateway)
      ? viaGateway(args.viaGateway.value, stream, Option.getOrElse(args.apiKey, () => ""))
      : yield* Effect.zipRight(requireStream(stream), viaProducer(stream))
    const stop = yield* stopSignal
    const count = Option.getOrUndefined(args.count)
    const until = Option.map(args.duration, Duration.toMillis)
    const target = Option.isSome(args.viaGateway) ? args.viaGateway.value : `stream ${stream}`

    const counts = { sent: 0, broken: 0, accepted: 0, failed: 0 }
    let firstError: string | undefined
    // batches in flight: the producer buffers and sends them concurrently; beyond this, generating waits
    const inFlight = yield* Effect.makeSemaphore(32)
    const fibers = yield* FiberSet.make<void>()
    const started = yield* Clock.currentTimeMillis

    // progress once a second: the accepted rate over the last second
    let lastAccepted = 0
    let lastAt = started
    const progress = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const perSecond = Math.round((counts.accepted - lastAccepted) * 1000 / Math.max(1, now - lastAt))
      lastAccepted = counts.accepted
      lastAt = now
      yield* Output.progress(
        `[${Output.seconds(now - started)}] sent ${Output.count(counts.sent)}, accepted ${Output.count(counts.accepted)} ` +
          `(${Output.count(perSecond)}/s), failures ${Output.count(counts.failed)}`
      )
    })
    yield* progress.pipe(Effect.repeat(Schedule.spaced("1 second")), Effect.delay("1 second"), Effect.forkScoped)

    // every tick, the messages due by now at the rate (fractional rates add up over the ticks)
    const tick = Duration.millis(Math.max(10, Math.min(100, Math.round(100_000 / args.rate))))
    let i = 0
    while (true) {
      const now = yield* Clock.currentTimeMillis
      if (count !== undefined && i >= count) break
      if (Option.isSome(until) && now - started >= until.value) break
      if (yield* Deferred.isDone(stop)) break
      let due = Math.floor(args.rate * (now - started) / 1000) - i
      if (count !== undefined) due = Math.min(due, count - i)
      if (due > 0) {
        const batch = new Array<Message>(due)
        for (let j = 0; j < due; j++) {
          const m = Traffic.message(i + j, now, { brokenEvery: args.brokenEvery })
          batch[j] = m
          if (m.broken) counts.broken++
        }
        i += due
        counts.sent += due
        yield* inFlight.take(1)
        yield* FiberSet.run(
          fibers,
          send(batch).pipe(
            Effect.tap((failure) =>
              Effect.sync(() => {
                if (Option.isNone(failure)) counts.accepted += batch.length
                else {
                  counts.failed += batch.length
                  firstError ??= failure.value
                }
              })
            ),
            Effect.asVoid,
            Effect.ensuring(inFlight.release(1))
          )
        )
      }
      yield* Effect.raceFirst(Effect.sleep(tick), Deferred.await(stop))
    }
    // what was handed over is waited for (a second Ctrl-C exits at once)
    yield* FiberSet.awaitEmpty(fibers)
    const elapsed = (yield* Clock.currentTimeMillis) - started
    yield* Output.line(
      `produced ${Output.plural(counts.sent, "message")} (${Output.count(counts.broken)} broken on purpose) to ${target} ` +
        `in ${Output.seconds(elapsed)}: ${Output.count(counts.accepted)} accepted, ${Output.count(counts.failed)} failed`
    )
    // short of the rate asked, say so (over a run long enough for start-up latencies not to count)
    const achieved = counts.accepted * 1000 / Math.max(1, elapsed)
    if (elapsed >= 2_000 && counts.accepted > 0 && achieved < args.rate * 0.9) {
      yield* Output.line(
        `rate: ${Output.count(Math.round(achieved))} messages/s of the ${Output.count(args.rate)}/s asked (--rate): ` +
          `${Option.isSome(args.viaGateway) ? "the gateway" : "the stream (each shard takes 1,000 records/s on AWS)"} or this machine could not keep up`
      )
    }
    if (counts.failed > 0) {
      return yield* new CommandFailed({
        reason: `${Output.count(counts.failed)} of ${Output.count(counts.sent)} messages were not accepted: ${firstError}`
      })
    }
  }).pipe(Effect.scoped)
