/**
 * What `tributary replay` does (its options and help are in commands/replay.ts).
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Archive from "@tributary/core/Archive"
import * as DeadLetterArchive from "@tributary/core/DeadLetterArchive"
import * as ObjectStore from "@tributary/core/ObjectStore"
import type { DeadLetter } from "@tributary/core/DeadLetter"
import type { RecordSink } from "@tributary/core/RecordSink"
import type { SourceRecord } from "@tributary/core/SourceRecord"
import { DynamoDBDeadLetters } from "@tributary/dynamodb"
import { DeadLetterStream, Producer } from "@tributary/kinesis"
import { S3ObjectStore } from "@tributary/s3"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Stream from "effect/Stream"
import * as Path from "node:path"
import { NotFound, UsageError } from "../internal/errors.js"
import * as Output from "../internal/output.js"
import { requireStream, requireTable } from "../internal/resources.js"

/** The options of `tributary replay`, parsed (commands/replay.ts). */
export interface Args {
  readonly stream: string
  readonly archiveBucket: Option.Option<string>
  readonly archiveDir: Option.Option<string>
  readonly archivePrefix: Option.Option<string>
  readonly deadLetters: boolean
  readonly deadLetterTable: Option.Option<string>
  readonly pipeline: Option.Option<string>
  /** Epoch milliseconds. */
  readonly from: Option.Option<number>
  /** Epoch milliseconds. */
  readonly to: Option.Option<number>
  readonly sourceStream: Option.Option<string>
  readonly dryRun: boolean
}


const iso = (time: number) => Number.isFinite(time) ? new Date(time).toISOString() : "now"

const prefixPath = (prefix: string) => {
  const trimmed = prefix.replace(/^\/+|\/+$/g, "")
  return trimmed === "" ? "" : `${trimmed}/`
}

/** Whether a failure (of the store, or of the archive source reading it) says the bucket is not there. */
const isNoSuchBucket = (error: unknown): boolean =>
  Predicate.hasProperty(error, "cause") && Predicate.hasProperty(error.cause, "awsName") && error.cause.awsName === "NoSuchBucket" ||
  Predicate.isTagged(error, "SourceError") && Predicate.hasProperty(error, "cause") && isNoSuchBucket(error.cause)

/** The start of the hour of the archive's oldest object (keys sort by time), or none for an empty archive. */
const oldest = (store: ObjectStore.ObjectStoreShape, prefix: string, deadLetters: boolean) =>
  Effect.map(store.list(prefixPath(prefix), { limit: 100 }), (page) => {
    for (const object of page.objects) {
      const name = Archive.parseKey(prefix, object.key, deadLetters)
      if (name !== undefined) return Option.some(name.hour)
    }
    return Option.none<number>()
  })

const archiveStore = (args: Args) =>
  Effect.gen(function*() {
    if (Option.isSome(args.archiveBucket)) return yield* S3ObjectStore.make({ bucket: args.archiveBucket.value })
    const directory = Path.resolve(Option.getOrElse(args.archiveDir, () => "."))
    const fs = yield* FileSystem.FileSystem
    if (!(yield* fs.exists(directory))) return yield* new NotFound({ kind: "directory", name: directory })
    return yield* ObjectStore.makeFileSystem(directory, { fsync: false })
  })

/** For `--dry-run`: takes everything, puts nothing (the counts are taken on the way). */
const nowhere = <A>(): RecordSink<A> => ({ name: "dry-run", write: () => Effect.void })

const replayArchive = (args: Args) =>
  Effect.gen(function*() {
    const store = yield* archiveStore(args)
    const prefix = Option.getOrElse(args.archivePrefix, () => args.deadLetters ? "dead-letters" : "raw")
    const from = Option.isSome(args.from) ? Option.some(args.from.value) : yield* oldest(store, prefix, args.deadLetters)
    if (Option.isNone(from)) {
      return yield* Output.line(`nothing to replay: no archive objects under ${store.name}/${prefixPath(prefix)}`)
    }
    // an archive holds nothing from the future, give or take clock skew
    const to = Option.getOrElse(args.to, () => Date.now() + 86_400_000)
    const sourceStream = Option.getOrUndefined(args.sourceStream)
    const what = args.deadLetters ? "dead letters" : "raw records"
    yield* Output.line(
      `${args.dryRun ? "dry run: counting" : "replaying"} the ${what} of ${store.name}/${prefixPath(prefix)} that arrived ` +
        `from ${iso(from.value)} to ${iso(to)}${sourceStream === undefined ? "" : ` from stream ${sourceStream}`}`
    )

    if (args.deadLetters) {
      const pipeline = Option.getOrUndefined(args.pipeline)
      const into = args.dryRun ? nowhere<DeadLetter>() : yield* DeadLetterStream.replaySink({ stream: args.stream, concurrency: 1 })
      const summary = yield* DeadLetterArchive.replay(into, {
        from: from.value,
        to,
        prefix,
        filter: (letter) =>
          (pipeline === undefined || letter.pipeline === pipeline) && (sourceStream === undefined || letter.stream === sourceStream)
      }).pipe(Effect.provideService(ObjectStore.ObjectStore, store))
      const skipped = summary.skipped > 0 ? ` (${Output.count(summary.skipped)} left out by --pipeline or --source-stream)` : ""
      return yield* Output.line(
        `${args.dryRun ? "dry run: " : ""}${Output.plural(summary.replayed, "dead letter")} from ${Output.plural(summary.objects, "object")} ` +
          `${args.dryRun ? "would be put" : "put"} into ${args.stream}${skipped}`
      )
    }

    const source = yield* Archive.source({
      from: from.value,
      to,
      prefix,
      stream: sourceStream
    }).pipe(Effect.provideService(ObjectStore.ObjectStore, store))
    // one sender, so the records of a partition key keep their order
    const into: RecordSink<SourceRecord> = args.dryRun ? nowhere<SourceRecord>() : yield* Producer.make<SourceRecord>({
      stream: args.stream,
      name: `replay:kinesis:${args.stream}`,
      partitionKey: (record) => record.partitionKey,
      data: (record) => record.data,
      concurrency: 1
    })
    const perShard = new Map<string, number>()
    yield* source.shards.pipe(
      Stream.mapEffect((reader) =>
        Stream.runForEach(reader.batches, (records) =>
          Effect.zipRight(
            into.write(records),
            Effect.sync(() => perShard.set(reader.shardId, (perShard.get(reader.shardId) ?? 0) + records.length))
          )), { concurrency: 4 }),
      Stream.runDrain
    )
    let total = 0
    for (const [shardId, records] of [...perShard].sort(([a], [b]) => a.localeCompare(b))) {
      total += records
      yield* Output.line(`  ${shardId}: ${Output.plural(records, "record")}`)
    }
    yield* Output.line(
      `${args.dryRun ? "dry run: " : ""}${Output.plural(total, "record")} from ${Output.plural(perShard.size, "shard")} ` +
        `${args.dryRun ? "would be put" : "put"} into ${args.stream}`
    )
  }).pipe(
    Effect.mapError((error) =>
      Option.isSome(args.archiveBucket) && isNoSuchBucket(error)
        ? new NotFound({ kind: "bucket", name: args.archiveBucket.value, awsName: "NoSuchBucket" })
        : error
    )
  )

const replayTable = (args: Args, tableName: string) =>
  Effect.gen(function*() {
    yield* requireTable(tableName)
    const from = Option.getOrElse(args.from, () => Number.NEGATIVE_INFINITY)
    const to = Option.getOrElse(args.to, () => Number.POSITIVE_INFINITY)
    const sourceStream = Option.getOrUndefined(args.sourceStream)
    const pipeline = Option.getOrUndefined(args.pipeline)
    const stored = yield* DynamoDBDeadLetters.readAll(tableName, { pipeline })
    const chosen = stored.filter((letter) =>
      letter.arrivalTime >= from && letter.arrivalTime < to && (sourceStream === undefined || letter.stream === sourceStream)
    )
    // a payload cut when it was stored (over DynamoDBDeadLetters.maxDataBytes) cannot be put back as it was
    const truncated = chosen.filter((letter) => letter.dataTruncated).length
    const letters = chosen.filter((letter) => !letter.dataTruncated)
    yield* Output.line(
      `${args.dryRun ? "dry run: counting" : "replaying"} the dead letters of table ${tableName}` +
        `${pipeline === undefined ? "" : ` (pipeline ${pipeline})`}: ${Output.count(letters.length)} of ${Output.count(stored.length)} chosen`
    )
    if (!args.dryRun && letters.length > 0) {
      const into = yield* DeadLetterStream.replaySink({ stream: args.stream, concurrency: 1 })
      for (let i = 0; i < letters.length; i += 500) yield* into.write(letters.slice(i, i + 500))
    }
    yield* Output.line(
      `${args.dryRun ? "dry run: " : ""}${Output.plural(letters.length, "dead letter")} ${args.dryRun ? "would be put" : "put"} into ${args.stream}` +
        (truncated > 0 ? ` (${Output.count(truncated)} left out: their payloads were cut when stored)` : "")
    )
  })

/** Runs `tributary replay` with its parsed options. */
export const run = (args: Args) =>
  Effect.gen(function*() {
    const given = [args.archiveBucket, args.archiveDir, args.deadLetterTable].filter(Option.isSome).length
    if (given !== 1) {
      return yield* new UsageError({ reason: "give one of --archive-bucket, --archive-dir or --dead-letter-table" })
    }
    if (args.deadLetters && Option.isSome(args.deadLetterTable)) {
      return yield* new UsageError({ reason: "--dead-letters goes with --archive-bucket or --archive-dir (a table holds dead letters only)" })
    }
    if (Option.isSome(args.pipeline) && !args.deadLetters && Option.isNone(args.deadLetterTable)) {
      return yield* new UsageError({ reason: "--pipeline selects dead letters: use it with --dead-letter-table or --dead-letters" })
    }
    if (!args.dryRun) yield* requireStream(args.stream)
    if (Option.isSome(args.deadLetterTable)) return yield* replayTable(args, args.deadLetterTable.value)
    return yield* replayArchive(args)
  }).pipe(Effect.scoped)
