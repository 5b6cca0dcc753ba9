/**
 * Dead letters kept as objects in an `ObjectStore`, with the raw archive's layout under `dead-letters/`,
 * partitioned by the arrival time of the records they carry, and sent back to any sink once the fault that
 * failed them is fixed (`replayDeadLetters`).
 *
 *     dead-letters/yyyy/mm/dd/hh/<stream>-<shardId>-<first>-<last>-<digest>.jsonl.gz
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { DeadLetter } from "./DeadLetter.js"
import { DeadLetter as DeadLetterSchema, DeadLetterSink } from "./DeadLetter.js"
import * as Codec from "./internal/archiveCodec.js"
import * as Layout from "./internal/archiveLayout.js"
import * as Check from "./internal/options.js"
import { listAll, maxListLimit, ObjectStore } from "./ObjectStore.js"
import type { RecordSink } from "./RecordSink.js"
import type { InvalidOptions } from "./TributaryError.js"
import { SinkError, SourceError } from "./TributaryError.js"

/**
 * Options of `sink` and `layer`; invalid ones make them fail with `InvalidOptions`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SinkOptions {
  /** Key prefix. Default "dead-letters". */
  readonly prefix?: string | undefined
  /** Objects put at once by one write. Default 8. */
  readonly concurrency?: number | undefined
  /** gzip level. Default 6. */
  readonly compressionLevel?: number | undefined
  /** Default `dead-letters:<store>/<prefix>`. */
  readonly name?: string | undefined
}

/**
 * A `DeadLetterSink` that stores each write's letters at once (dead letters are few; nothing is buffered),
 * encoded with the `DeadLetter` schema as gzip JSON lines, with the raw archive's layout under
 * `dead-letters/`, partitioned by the records' arrival time:
 *
 *     dead-letters/yyyy/mm/dd/hh/<stream>-<shardId>-<first>-<last>-<digest>.jsonl.gz
 *
 * The digest (16 hex digits of SHA-256) covers each letter's pipeline, stage, position and payload, not
 * its reason or failure time: the same records failing the same way again (a re-delivered batch) are
 * written to the same key, while letters of another pipeline or stage about the same records, or window
 * results dead-lettered at different ticks, get keys of their own. Letters without a stream (results
 * derived from many records) are named `_`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const sink = (options: SinkOptions = {}): Effect.Effect<RecordSink<DeadLetter>, InvalidOptions, ObjectStore> =>
  Effect.gen(function*() {
    const store = yield* ObjectStore
    const prefix = Layout.normalizePrefix(options.prefix ?? "dead-letters")
    const concurrency = options.concurrency ?? 8
    const level = options.compressionLevel ?? Codec.defaultCompressionLevel
    yield* Check.validate("DeadLetterArchive.sink", [
      ["prefix", Layout.invalidPrefixReason(prefix)],
      ["concurrency", Check.positiveInteger(concurrency)],
      ["compressionLevel", Check.integerFrom(1, 9)(level)]
    ])
    const name = options.name ?? `dead-letters:${store.name}/${prefix}`
    const encode = Schema.encodeSync(DeadLetterSchema)
    const write = Effect.fn("DeadLetterArchive.write")(function*(letters: ReadonlyArray<DeadLetter>) {
      if (letters.length === 0) return
      const groups = new Map<string, Array<DeadLetter>>()
      for (const letter of letters) {
        if (!(letter.arrivalTime >= 0 && letter.arrivalTime <= Layout.maxArrivalTime)) {
          return yield* Effect.fail(new SinkError({
            sink: name,
            reason: `arrival time ${letter.arrivalTime} is outside 1970 to 9999`,
            retryability: "permanent"
          }))
        }
        const key = `${Layout.hourOf(letter.arrivalTime)}\u0000${Layout.nameComponent(letter.stream)}-${Layout.nameComponent(letter.shardId)}`
        const group = groups.get(key)
        if (group === undefined) groups.set(key, [letter])
        else group.push(letter)
      }
      yield* Effect.forEach(groups, ([groupKey, group]) => {
        const sorted = group.slice().sort(Codec.comparePosition)
        const first = sorted[0]
        const last = sorted[sorted.length - 1]
        const key = Layout.objectKey(prefix, {
          hour: Number(groupKey.slice(0, groupKey.indexOf("\u0000"))),
          label: groupKey.slice(groupKey.indexOf("\u0000") + 1),
          first: Layout.safeSequence(first.sequenceNumber),
          last: Layout.safeSequence(last.sequenceNumber),
          digest: letterDigest(sorted)
        })
        const text = sorted.map((letter) => JSON.stringify(encode(letter))).join("\n") + "\n"
        return Effect.flatMap(Codec.gzip(text, level), (body) =>
          Effect.mapError(store.put(key, body, { contentType: Layout.contentType }), (error) =>
            new SinkError({ sink: name, reason: `cannot store ${key}: ${error.reason}`, retryability: error.retryability, cause: error })))
      }, { concurrency, discard: true })
    })
    const letters: RecordSink<DeadLetter> = { name, write }
    return letters
  })

/**
 * Dead letters go to the object store.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: SinkOptions): Layer.Layer<DeadLetterSink, InvalidOptions, ObjectStore> =>
  Layer.effect(DeadLetterSink, sink(options))

/**
 * Options of `read`: the range of arrival times of the dead-lettered records, and where to look.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadOptions {
  /** Earliest arrival time of the dead-lettered record (inclusive). */
  readonly from: number | Date
  /** End of the range (exclusive). */
  readonly to: number | Date
  /** Default "dead-letters". */
  readonly prefix?: string | undefined
  /** Keys per listing page. Default 1,000. */
  readonly listPageSize?: number | undefined
}

/**
 * One stored object of dead letters.
 *
 * @since 0.1.0
 * @category models
 */
export interface DeadLetterObject {
  /** The object's key in the store. */
  readonly key: string
  /** Its letters whose records arrived in the range. */
  readonly letters: ReadonlyArray<DeadLetter>
  /** False when some of its letters lie outside the range. */
  readonly complete: boolean
}

/**
 * The dead letters whose records arrived in [from, to), object by object in key order.
 *
 * @since 0.1.0
 * @category dead letters
 */
export const read = (
  options: ReadOptions
): Stream.Stream<DeadLetterObject, SourceError | InvalidOptions, ObjectStore> =>
  Stream.unwrap(Effect.gen(function*() {
    const store = yield* ObjectStore
    const prefix = Layout.normalizePrefix(options.prefix ?? "dead-letters")
    const from = Layout.timeOf(options.from)
    const to = Layout.timeOf(options.to)
    const pageSize = options.listPageSize ?? maxListLimit
    yield* Check.validate("DeadLetterArchive.read", [
      ["prefix", Layout.invalidPrefixReason(prefix)],
      ["listPageSize", Check.integerFrom(1, maxListLimit)(pageSize)]
    ])
    const name = `dead-letters:${store.name}/${prefix}`
    const decode = Schema.decodeUnknownEither(DeadLetterSchema)
    return Stream.fromIterable(Layout.prefixesFor(prefix, from, to)).pipe(
      Stream.flatMap((hourPrefix) => listAll(store, hourPrefix, { pageSize })),
      Stream.mapError((error) =>
        new SourceError({ source: name, reason: error.message, retryability: error.retryability, cause: error })
      ),
      Stream.filter((object) => Layout.parseKey(prefix, object.key, true) !== undefined),
      Stream.mapEffect((object) =>
        Effect.flatMap(Codec.fetchText(store, object.key, name), (text) => {
          const letters: Array<DeadLetter> = []
          let complete = true
          const invalid = Codec.forEachLine(text, (line, n) => {
            let json: unknown
            try {
              json = JSON.parse(line)
            } catch {
              return `${object.key} line ${n}: not JSON`
            }
            const decoded = decode(json)
            if (Either.isLeft(decoded)) return `${object.key} line ${n}: not a dead letter: ${decoded.left.message}`
            const letter = decoded.right
            if (letter.arrivalTime >= from && letter.arrivalTime < to) letters.push(letter)
            else complete = false
            return undefined
          })
          return invalid === undefined
            ? Effect.succeed({ key: object.key, letters, complete })
            : Effect.fail(new SourceError({ source: name, reason: invalid, retryability: "permanent" }))
        })
      )
    )
  }))

/**
 * Options of `replay`: which letters to read (as `read`), which to send, and what to do with them after.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReplayOptions extends ReadOptions {
  /** Replay only the letters it accepts (e.g. one pipeline, one stage, failures after a time). Default all. */
  readonly filter?: ((letter: DeadLetter) => boolean) | undefined
  /** Letters per `write`. Default 500. */
  readonly batchSize?: number | undefined
  /**
   * Delete each object once all of its letters were replayed (objects with letters left out by the range
   * or the filter are kept), so a second replay does not send them again. Default false.
   */
  readonly deleteReplayed?: boolean | undefined
}

/**
 * What a `replay` did.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReplaySummary {
  /** Objects read in the range. */
  readonly objects: number
  /** Letters written to the sink. */
  readonly replayed: number
  /** Letters the filter left out. */
  readonly skipped: number
  /** Objects deleted after replay (only with `deleteReplayed`). */
  readonly deletedObjects: number
}

/**
 * Sends stored dead letters to a sink, e.g. a Kinesis producer writing them back to their stream once the
 * fault that failed them is fixed (`partitionKey` and `data` are the original record's). Letters are sent
 * object by object in batches; a failed write stops the replay with its error (replaying again sends
 * the letters of that object again: at least once).
 *
 * @since 0.1.0
 * @category dead letters
 */
export const replay = Effect.fn("DeadLetterArchive.replay")(function*(
  into: RecordSink<DeadLetter>,
  options: ReplayOptions
) {
  const store = yield* ObjectStore
  const batchSize = options.batchSize ?? 500
  yield* Check.validate("DeadLetterArchive.replay", [["batchSize", Check.positiveInteger(batchSize)]])
  const name = `dead-letters:${store.name}/${Layout.normalizePrefix(options.prefix ?? "dead-letters")}`
  const summary = { objects: 0, replayed: 0, skipped: 0, deletedObjects: 0 }
  yield* Stream.runForEach(read(options), (object) =>
    Effect.gen(function*() {
      summary.objects++
      const letters = options.filter === undefined ? object.letters : object.letters.filter(options.filter)
      summary.skipped += object.letters.length - letters.length
      for (let i = 0; i < letters.length; i += batchSize) {
        yield* into.write(letters.slice(i, i + batchSize))
      }
      summary.replayed += letters.length
      if (options.deleteReplayed === true && object.complete && letters.length === object.letters.length) {
        yield* store.delete(object.key).pipe(
          Effect.mapError((error) =>
            new SourceError({ source: name, reason: error.message, retryability: error.retryability, cause: error })
          )
        )
        summary.deletedObjects++
      }
    }))
  const result: ReplaySummary = { ...summary }
  return result
})

// ---------------------------------------------------------------------------------------------------------
// internal
// ---------------------------------------------------------------------------------------------------------


const letterDigest = (letters: ReadonlyArray<DeadLetter>): string => {
  const hash = createHash("sha256")
  for (const letter of letters) {
    hash.update(`${letter.pipeline}\u0000${letter.stage}\u0000${letter.stream}\u0000${letter.shardId}\u0000` +
      `${letter.sequenceNumber}\u0000${letter.subSequenceNumber}\u0000${letter.data.byteLength}\u0000`)
    hash.update(letter.data)
  }
  return hash.digest("hex").slice(0, 16)
}

