/**
 * The archive: raw records and dead letters kept as objects in an `ObjectStore` (in memory, a directory,
 * or S3 through `@tributary/s3`), so that what a stream delivered can be read back and processed again.
 *
 * Layout. Every object is gzip-compressed JSON lines, one line per record with its metadata and its
 * payload in base64, under a key partitioned by the records' arrival time (UTC):
 *
 *     <prefix>/yyyy/mm/dd/hh/<stream>-<shardId>-<first sequence>-<last sequence>.jsonl.gz
 *
 * An object holds records of one shard and one hour, sorted by (sequence number, sub-sequence number).
 *
 * - `sink` is a `RecordSink<SourceRecord>` that buffers records and writes objects by size or age, like
 *   Kinesis Firehose. Its `write` returns only once the objects holding the batch's records are stored.
 * - `source` is a bounded `RecordSource` over a time range of the archive, per shard in record order, so
 *   the same pipeline can run over the archive.
 * - `deadLetterSink` keeps dead letters with the same layout under `dead-letters/`, `replayDeadLetters`
 *   sends them to any sink once the fault is fixed.
 *
 * Names are deterministic: an object's name is a function of the records it holds, so a batch delivered
 * again after a crash is written to the same keys, overwriting the first copy instead of adding one.
 *
 * @since 0.1.0
 */
import { createHash, randomBytes } from "node:crypto"
import type { Dirent } from "node:fs"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import * as Zlib from "node:zlib"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { DeadLetter } from "./DeadLetter.js"
import { DeadLetter as DeadLetterSchema, DeadLetterSink } from "./DeadLetter.js"
import type { RecordSink } from "./RecordSink.js"
import type { RecordSourceShape, ShardReader } from "./RecordSource.js"
import { RecordSource } from "./RecordSource.js"
import * as Sequence from "./SequenceNumber.js"
import type { SourceRecord } from "./SourceRecord.js"
import type { Retryability } from "./TributaryError.js"
import { SinkError, SourceError, TypeId as ErrorTypeId } from "./TributaryError.js"

// ---------------------------------------------------------------------------------------------------------
// object store
// ---------------------------------------------------------------------------------------------------------

/**
 * An object as a listing shows it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ObjectInfo {
  readonly key: string
  /** Bytes stored. */
  readonly size: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ListOptions {
  /** Where the previous page ended (its `cursor`); omit for the first page. */
  readonly cursor?: string | undefined
  /** Keys per page, 1 to 1,000. Default 1,000 (S3's page size). */
  readonly limit?: number | undefined
}

/**
 * One page of a listing, keys in ascending UTF-8 byte order (S3's order).
 *
 * @since 0.1.0
 * @category models
 */
export interface ListPage {
  readonly objects: ReadonlyArray<ObjectInfo>
  /** Pass it to get the next page; undefined on the last page. Opaque: each store has its own kind. */
  readonly cursor: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PutOptions {
  /** Stored as the object's content type where the store keeps one (S3). */
  readonly contentType?: string | undefined
}

/**
 * A flat namespace of immutable byte objects, the part of S3 the archive needs. Every backend follows one
 * contract (a shared test suite runs against all of them):
 *
 * - `put` replaces the whole object atomically: a reader sees the old bytes or the new ones, never a mix;
 *   once it returns, the object is durable (as durable as the backend is).
 * - `get` of a missing key is `Option.none()`; `delete` of a missing key succeeds.
 * - `list` returns the keys that start with a prefix, in ascending UTF-8 byte order, in pages.
 * - Keys are 1 to 1,024 UTF-8 bytes of `/`-separated segments: no empty segment (no leading, trailing or
 *   double `/`), no `.` or `..` segment, no NUL or `\`, and no segment starting with `.tributary-tmp-`
 *   (kept for temporary files), so that every key is also a safe relative file path.
 *
 * @since 0.1.0
 * @category models
 */
export interface ObjectStoreShape {
  /** Names the store in errors, e.g. `memory`, `file:/var/archive`, `s3://bucket`. */
  readonly name: string
  readonly put: (key: string, body: Uint8Array, options?: PutOptions) => Effect.Effect<void, ObjectStoreError>
  readonly get: (key: string) => Effect.Effect<Option.Option<Uint8Array>, ObjectStoreError>
  readonly list: (prefix: string, options?: ListOptions) => Effect.Effect<ListPage, ObjectStoreError>
  readonly delete: (key: string) => Effect.Effect<void, ObjectStoreError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class ObjectStore extends Context.Tag("@tributary/core/Archive/ObjectStore")<ObjectStore, ObjectStoreShape>() {}

/**
 * A store operation failed; `retryability` says whether repeating it can help (throttling, a 5xx, a full
 * disk) or not (no such bucket, access denied, an invalid key).
 *
 * @since 0.1.0
 * @category errors
 */
export class ObjectStoreError extends Data.TaggedError("ObjectStoreError")<{
  readonly store: string
  readonly operation: "put" | "get" | "list" | "delete"
  /** The key, or the prefix of a listing. */
  readonly key: string
  readonly reason: string
  readonly retryability: Retryability
  readonly cause?: unknown
}> {
  /** @since 0.1.0 */
  readonly [ErrorTypeId] = ErrorTypeId
  /** @since 0.1.0 */
  override get message(): string {
    return `${this.store} ${this.operation} ${JSON.stringify(this.key)} failed (${this.retryability}): ${this.reason}`
  }
}

/**
 * S3's largest page, and every store's.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxListLimit = 1_000

/**
 * Why a key breaks the contract's rules, or undefined for a valid key.
 *
 * @since 0.1.0
 * @category validation
 */
export const invalidKeyReason = (key: string): string | undefined => {
  if (key.length === 0) return "a key must not be empty"
  if (Buffer.byteLength(key, "utf8") > 1024) return "a key must have at most 1,024 UTF-8 bytes"
  if (key.includes("\u0000") || key.includes("\\")) return "a key must not contain NUL or \\"
  for (const segment of key.split("/")) {
    if (segment.length === 0) return "a key must not have empty segments (leading, trailing or double /)"
    if (segment === "." || segment === "..") return "a key must not have . or .. segments"
    if (segment.startsWith(tempMark)) return `a key segment must not start with ${tempMark}`
  }
  return undefined
}

/**
 * Every object whose key starts with `prefix`, page after page.
 *
 * @since 0.1.0
 * @category combinators
 */
export const listAll = (
  store: ObjectStoreShape,
  prefix: string,
  options: { readonly pageSize?: number } = {}
): Stream.Stream<ObjectInfo, ObjectStoreError> =>
  Stream.paginateChunkEffect(undefined as string | undefined, (cursor) =>
    Effect.map(
      store.list(prefix, { cursor, limit: options.pageSize ?? maxListLimit }),
      (page) => [Chunk.unsafeFromArray(page.objects), Option.fromNullable(page.cursor)] as const
    ))

/**
 * Objects in memory, for tests and examples. Bodies are copied in and out, so callers may reuse buffers.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (name = "memory"): Effect.Effect<ObjectStoreShape> => Effect.sync(() => unsafeMakeMemory(name))

/**
 * @since 0.1.0
 * @category constructors
 */
export const unsafeMakeMemory = (name = "memory"): ObjectStoreShape => {
  const objects = new Map<string, Uint8Array>()
  const fail = (operation: ObjectStoreError["operation"], key: string, reason: string) =>
    Effect.fail(new ObjectStoreError({ store: name, operation, key, reason, retryability: "permanent" }))
  return {
    name,
    put: (key, body) =>
      Effect.suspend(() => {
        const invalid = invalidKeyReason(key)
        if (invalid !== undefined) return fail("put", key, invalid)
        objects.set(key, body.slice())
        return Effect.void
      }),
    get: (key) =>
      Effect.suspend(() => {
        const invalid = invalidKeyReason(key)
        if (invalid !== undefined) return fail("get", key, invalid)
        const body = objects.get(key)
        return Effect.succeed(body === undefined ? Option.none() : Option.some(body.slice()))
      }),
    list: (prefix, options = {}) =>
      Effect.suspend(() => {
        const limit = options.limit ?? maxListLimit
        const invalid = invalidListReason(prefix, limit)
        if (invalid !== undefined) return fail("list", prefix, invalid)
        const keys: Array<string> = []
        for (const key of objects.keys()) {
          if (key.startsWith(prefix) && (options.cursor === undefined || compareKeys(key, options.cursor) > 0)) keys.push(key)
        }
        keys.sort(compareKeys)
        const page = keys.slice(0, limit)
        return Effect.succeed({
          objects: page.map((key) => ({ key, size: objects.get(key)!.length })),
          cursor: keys.length > limit ? page[page.length - 1] : undefined
        })
      }),
    delete: (key) =>
      Effect.suspend(() => {
        const invalid = invalidKeyReason(key)
        if (invalid !== undefined) return fail("delete", key, invalid)
        objects.delete(key)
        return Effect.void
      })
  }
}

/**
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<ObjectStore> = Layer.sync(ObjectStore, () => unsafeMakeMemory())

/**
 * @since 0.1.0
 * @category models
 */
export interface FileSystemOptions {
  /**
   * Flush each object (and its directory entry) to the disk before `put` returns, so it survives a power
   * loss, not only a crash of the process. Default true.
   */
  readonly fsync?: boolean
}

/**
 * Objects as files under `directory` (created if missing): the key `a/b/c` is the file `directory/a/b/c`.
 * A put writes a temporary file beside the target (`.tributary-tmp-...`, never listed) and renames it over
 * the target, so a reader never sees half an object. Listings walk the directories in key order and stop
 * after a page. A key cannot be both an object and the directory of other keys (`a` and `a/b`): such a put
 * fails permanently (S3 allows it; the archive's layout never does it).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeFileSystem = (
  directory: string,
  options: FileSystemOptions = {}
): Effect.Effect<ObjectStoreShape, ObjectStoreError> => {
  const root = Path.resolve(directory)
  const name = `file:${root}`
  const fsync = options.fsync ?? true
  const pathOf = (key: string) => Path.join(root, ...key.split("/"))
  const attempt = <A>(
    operation: ObjectStoreError["operation"],
    key: string,
    run: () => Promise<A>
  ): Effect.Effect<A, ObjectStoreError> =>
    Effect.suspend(() => {
      const invalid = operation === "list" ? undefined : invalidKeyReason(key)
      if (invalid !== undefined) {
        return Effect.fail(new ObjectStoreError({ store: name, operation, key, reason: invalid, retryability: "permanent" }))
      }
      return Effect.tryPromise({
        try: run,
        catch: (cause) =>
          new ObjectStoreError({ store: name, operation, key, reason: reasonOf(cause), retryability: fsRetryability(cause), cause })
      })
    })

  const put = async (key: string, body: Uint8Array) => {
    const target = pathOf(key)
    const dir = Path.dirname(target)
    await Fs.mkdir(dir, { recursive: true })
    const temp = Path.join(dir, `${tempMark}${randomBytes(8).toString("hex")}-${Path.basename(target)}`)
    try {
      const handle = await Fs.open(temp, "w")
      try {
        await handle.writeFile(body)
        if (fsync) await handle.sync()
      } finally {
        await handle.close()
      }
      await Fs.rename(temp, target)
    } catch (error) {
      await Fs.rm(temp, { force: true }).catch(() => undefined)
      throw error
    }
    // the rename itself is durable only once the directory is flushed (not possible on every platform)
    if (fsync) await syncDirectory(dir)
  }

  const get = async (key: string): Promise<Option.Option<Uint8Array>> => {
    try {
      const bytes = await Fs.readFile(pathOf(key))
      return Option.some(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength))
    } catch (error) {
      // a missing file, or a "directory" key (the prefix of other keys): no such object
      if (hasCode(error, "ENOENT", "ENOTDIR", "EISDIR")) return Option.none()
      throw error
    }
  }

  const list = async (prefix: string, limit: number, after: string | undefined): Promise<ListPage> => {
    const found: Array<string> = []
    let more = false
    // every key with the prefix lies under the prefix's last complete directory
    const slash = prefix.lastIndexOf("/")
    const walk = async (dirKey: string): Promise<boolean> => {
      let entries: Array<Dirent>
      try {
        entries = await Fs.readdir(dirKey.length === 0 ? root : pathOf(dirKey.slice(0, -1)), { withFileTypes: true })
      } catch (error) {
        if (hasCode(error, "ENOENT", "ENOTDIR")) return false
        throw error
      }
      // a directory sorts as its name plus "/", which is where its keys sort among its siblings
      const items: Array<{ readonly key: string; readonly dir: boolean }> = []
      for (const entry of entries) {
        if (entry.name.startsWith(tempMark)) continue
        if (entry.isDirectory()) items.push({ key: `${dirKey}${entry.name}/`, dir: true })
        else if (entry.isFile()) items.push({ key: dirKey + entry.name, dir: false })
      }
      items.sort((a, b) => compareKeys(a.key, b.key))
      for (const item of items) {
        if (item.dir) {
          if (!item.key.startsWith(prefix) && !prefix.startsWith(item.key)) continue
          // a directory whose keys all sort before the cursor
          if (after !== undefined && !after.startsWith(item.key) && compareKeys(item.key, after) < 0) continue
          if (await walk(item.key)) return true
        } else {
          if (!item.key.startsWith(prefix)) continue
          if (after !== undefined && compareKeys(item.key, after) <= 0) continue
          if (found.length === limit) {
            more = true
            return true
          }
          found.push(item.key)
        }
      }
      return false
    }
    await walk(slash < 0 ? "" : prefix.slice(0, slash + 1))
    const objects = await Promise.all(found.map(async (key) => {
      const stat = await Fs.stat(pathOf(key)).catch(() => undefined)
      return { key, size: stat?.size ?? 0 }
    }))
    return { objects, cursor: more ? found[found.length - 1] : undefined }
  }

  const remove = async (key: string) => {
    try {
      await Fs.unlink(pathOf(key))
    } catch (error) {
      if (!hasCode(error, "ENOENT", "ENOTDIR")) throw error
    }
  }

  const store: ObjectStoreShape = {
    name,
    put: (key, body) => attempt("put", key, () => put(key, body)),
    get: (key) => attempt("get", key, () => get(key)),
    list: (prefix, options = {}) => {
      const limit = options.limit ?? maxListLimit
      const invalid = invalidListReason(prefix, limit)
      if (invalid !== undefined) {
        return Effect.fail(
          new ObjectStoreError({ store: name, operation: "list", key: prefix, reason: invalid, retryability: "permanent" })
        )
      }
      return attempt("list", prefix, () => list(prefix, limit, options.cursor))
    },
    delete: (key) => attempt("delete", key, () => remove(key))
  }
  return Effect.as(
    Effect.tryPromise({
      try: () => Fs.mkdir(root, { recursive: true }),
      catch: (cause) =>
        new ObjectStoreError({
          store: name,
          operation: "put",
          key: "",
          reason: `cannot create the directory: ${reasonOf(cause)}`,
          retryability: fsRetryability(cause),
          cause
        })
    }),
    store
  )
}

/**
 * @since 0.1.0
 * @category layers
 */
export const layerFileSystem = (
  directory: string,
  options?: FileSystemOptions
): Layer.Layer<ObjectStore, ObjectStoreError> => Layer.effect(ObjectStore, makeFileSystem(directory, options))

// ---------------------------------------------------------------------------------------------------------
// layout
// ---------------------------------------------------------------------------------------------------------

/**
 * Where an archive object sits and what it holds, as its key says.
 *
 * @since 0.1.0
 * @category models
 */
export interface ObjectName {
  /** The start of the hour (UTC, epoch milliseconds) its records arrived in. */
  readonly hour: number
  /** `<stream>-<shardId>`: the shard the records come from. */
  readonly label: string
  readonly first: Sequence.SequenceNumber
  readonly last: Sequence.SequenceNumber
  /** Dead-letter objects only: a digest telling apart letters of the same records (see `deadLetterSink`). */
  readonly digest?: string | undefined
}

/**
 * The key of an archive object: `<prefix>/yyyy/mm/dd/hh/<label>-<first>-<last>[-<digest>].jsonl.gz`.
 *
 * @since 0.1.0
 * @category layout
 */
export const objectKey = (prefix: string, name: ObjectName): string =>
  `${prefixPath(prefix)}${hourPath(name.hour)}/${name.label}-${name.first}-${name.last}` +
  `${name.digest === undefined ? "" : `-${name.digest}`}${extension}`

/**
 * Reads an archive key back (undefined for keys of another shape). `deadLetters` expects the digest of
 * dead-letter objects.
 *
 * @since 0.1.0
 * @category layout
 */
export const parseKey = (prefix: string, key: string, deadLetters = false): ObjectName | undefined => {
  const base = prefixPath(prefix)
  if (!key.startsWith(base)) return undefined
  const match = (deadLetters ? deadLetterKeyPattern : rawKeyPattern).exec(key.slice(base.length))
  if (match === null) return undefined
  const hour = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]), Number(match[4]))
  return {
    hour,
    label: match[5],
    first: match[6],
    last: match[7],
    ...(deadLetters ? { digest: match[8] } : {})
  }
}

/**
 * The key prefixes that together cover the arrival times [from, to): whole years, months or days where
 * the range covers them, hours at its edges, so a long range costs few listings.
 *
 * @since 0.1.0
 * @category layout
 */
export const prefixesFor = (prefix: string, from: number, to: number): ReadonlyArray<string> => {
  const base = prefixPath(prefix)
  const out: Array<string> = []
  if (!(to > from)) return out
  const start = Math.max(from, 0)
  const end = Math.min(to, maxArrivalTime + 1)
  const covers = (lo: number, hi: number) => start <= lo && hi <= end
  const overlaps = (lo: number, hi: number) => lo < end && start < hi
  for (let year = new Date(start).getUTCFullYear(); year <= new Date(end - 1).getUTCFullYear(); year++) {
    const y0 = Date.UTC(year, 0, 1)
    const y1 = Date.UTC(year + 1, 0, 1)
    const yPath = `${base}${pad(year, 4)}/`
    if (covers(y0, y1)) {
      out.push(yPath)
      continue
    }
    for (let month = 0; month < 12; month++) {
      const m0 = Date.UTC(year, month, 1)
      const m1 = Date.UTC(year, month + 1, 1)
      if (!overlaps(m0, m1)) continue
      const mPath = `${yPath}${pad(month + 1, 2)}/`
      if (covers(m0, m1)) {
        out.push(mPath)
        continue
      }
      for (let d0 = m0; d0 < m1; d0 += day) {
        if (!overlaps(d0, d0 + day)) continue
        const dPath = `${mPath}${pad(new Date(d0).getUTCDate(), 2)}/`
        if (covers(d0, d0 + day)) {
          out.push(dPath)
          continue
        }
        for (let h0 = d0; h0 < d0 + day; h0 += hour) {
          if (overlaps(h0, h0 + hour)) out.push(`${dPath}${pad(new Date(h0).getUTCHours(), 2)}/`)
        }
      }
    }
  }
  return out
}

/**
 * gzip-compressed JSON lines of records, one per line, fields in this order:
 * `{"stream","shardId","sequenceNumber","subSequenceNumber","partitionKey","arrivalTime","data"}` with
 * `data` in base64.
 *
 * @since 0.1.0
 * @category codec
 */
export const encodeRecords = (
  records: ReadonlyArray<SourceRecord>,
  options: { readonly compressionLevel?: number } = {}
): Effect.Effect<Uint8Array> => {
  const lines = new Array<string>(records.length)
  for (let i = 0; i < records.length; i++) lines[i] = recordLine(records[i])
  return gzip(lines.join("\n") + "\n", options.compressionLevel ?? defaultCompressionLevel)
}

/**
 * Reads an object written by `encodeRecords` (or by the sink) back into records; fails with the line
 * that is not one.
 *
 * @since 0.1.0
 * @category codec
 */
export const decodeRecords = (bytes: Uint8Array): Effect.Effect<ReadonlyArray<SourceRecord>, string> =>
  Effect.flatMap(gunzip(bytes), (text) => {
    const records: Array<SourceRecord> = []
    const invalid = forEachLine(text, (line, n) => {
      const record = parseRecordLine(line)
      if (typeof record === "string") return `line ${n}: ${record}`
      records.push(record)
      return undefined
    })
    return invalid === undefined ? Effect.succeed(records) : Effect.fail(invalid)
  })

// ---------------------------------------------------------------------------------------------------------
// raw archive sink
// ---------------------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface SinkOptions {
  /** Key prefix (no leading or trailing `/` needed; "" for none). Default "raw". */
  readonly prefix?: string
  /**
   * Flush once the buffered records make this many bytes of JSON lines (about; before compression), and
   * cut objects at this size. Default 5 MiB (Firehose's default buffer).
   */
  readonly maxBytes?: number
  /**
   * Flush once the oldest buffered record has waited this long (measured with the Clock). Default 1
   * second: a shard's next page is read only after its write returns, so this bounds a shard's pace (see
   * `sink`). 0: every `write` flushes at once (an object per batch, shard and hour).
   */
  readonly maxAge?: Duration.DurationInput
  /** Objects put at once by one flush. Default 8. */
  readonly concurrency?: number
  /** gzip level, 1 (fastest) to 9 (smallest). Default 6. */
  readonly compressionLevel?: number
  /** Sink name in errors and dead letters. Default `archive:<store>/<prefix>`. */
  readonly name?: string
}

/**
 * What ended a buffer: it was full, it was old, the scope closed, or `flush` was called.
 *
 * @since 0.1.0
 * @category models
 */
export type FlushReason = "size" | "age" | "close" | "manual"

/**
 * @since 0.1.0
 * @category models
 */
export interface SinkStats {
  readonly flushes: Readonly<Record<FlushReason, number>>
  /** Flushes that failed (their writes failed with the error). */
  readonly failedFlushes: number
  readonly objects: number
  /** Records written (a record written twice counts twice). */
  readonly records: number
  /** JSON-lines bytes before and after compression. */
  readonly bytes: number
  readonly compressedBytes: number
}

/**
 * The archive sink: a `RecordSink` plus an explicit flush and counters.
 *
 * @since 0.1.0
 * @category models
 */
export interface ArchiveSink extends RecordSink<SourceRecord> {
  /** Writes what is buffered now, and returns once it is stored (or fails as the writes waiting on it do). */
  readonly flush: Effect.Effect<void, SinkError>
  readonly stats: Effect.Effect<SinkStats>
}

/**
 * The raw archive: buffers the records of concurrent `write`s and writes them as objects when the buffer
 * reaches `maxBytes` or `maxAge` (whichever comes first), one object (or more, of at most `maxBytes`)
 * per shard and hour of arrival, and when the scope closes.
 *
 * Acknowledgement: `write` returns only once every object holding its records is stored, and fails with
 * the `SinkError` of the failed put (its retryability is the store's) if any is not: the pipeline
 * checkpoints only what is durable. Buffering therefore pools the batches of writers that are waiting at
 * the same time (one batch per shard in a `Pipeline`, so many shards share a flush); it cannot pool a
 * shard's consecutive batches, because the next one is read only after `write` returns. Choose `maxAge` as
 * the latency a batch may wait for company: while pages do not fill `maxBytes`, a shard moves at most one
 * page per `maxAge` (Kinesis pages of 10,000 records and a 60 s `maxAge`: about 166 records/s a shard).
 * The default, 1 second, pools the shards writing at about the same time and keeps the pipeline moving;
 * 0 writes an object per batch.
 *
 * Idempotency: an object's key names its shard, the hour and the first and last sequence number of its
 * records, and its bytes depend only on those records (sorted, duplicates dropped, cut at fixed sizes, never
 * inside one sequence number), so a batch delivered again writes the same keys with the same bytes. This
 * holds when each write brings, per shard, a contiguous run of the shard's records (a source's page: put
 * the archive first in a pipeline, before filters). A re-delivery cut into different pages writes objects
 * that overlap earlier ones: `source` drops the duplicates when reading.
 *
 * A write that is interrupted leaves its records in the buffer (they are written with it, which is
 * harmless). Records must have Kinesis-shaped names (stream and shard id of `[A-Za-z0-9_.-]`), decimal
 * sequence numbers and arrival times from 1970 to 9999; otherwise the write fails permanently.
 *
 * @since 0.1.0
 * @category constructors
 */
export const sink = (options: SinkOptions = {}): Effect.Effect<ArchiveSink, never, ObjectStore | Scope.Scope> =>
  Effect.gen(function*() {
    const store = yield* ObjectStore
    const scope = yield* Effect.scope
    const prefix = normalizePrefix(options.prefix ?? "raw")
    const maxBytes = positiveInteger("maxBytes", options.maxBytes ?? defaultMaxBytes)
    const maxAge = Duration.decode(options.maxAge ?? defaultMaxAge)
    const concurrency = positiveInteger("concurrency", options.concurrency ?? 8)
    const level = compressionLevel(options.compressionLevel)
    const name = options.name ?? `archive:${store.name}/${prefix}`
    // flushes and timers live in a scope of their own that closes after the final flush below
    const fibers = yield* Scope.fork(scope, ExecutionStrategy.sequential)

    const stats = {
      flushes: { size: 0, age: 0, close: 0, manual: 0 },
      failedFlushes: 0,
      objects: 0,
      records: 0,
      bytes: 0,
      compressedBytes: 0
    }
    let open: Pending | undefined
    const inFlight = new Set<Pending>()
    let closed = false

    const flushBuffer = Effect.fn("Archive.flush")(function*(pending: Pending, reason: FlushReason) {
      yield* Effect.annotateCurrentSpan({ reason, records: pending.records })
      const objects = planObjects(pending.batches, maxBytes)
      yield* Effect.forEach(objects, (object) => {
        const key = objectKey(prefix, object.name)
        return Effect.flatMap(gzip(object.text, level), (body) =>
          store.put(key, body, { contentType }).pipe(
            Effect.mapError((error) =>
              new SinkError({ sink: name, reason: `cannot store ${key}: ${error.reason}`, retryability: error.retryability, cause: error })
            ),
            Effect.tap(() =>
              Effect.sync(() => {
                stats.objects++
                stats.records += object.records
                stats.bytes += object.bytes
                stats.compressedBytes += body.length
              })
            )
          ))
      }, { concurrency, discard: true })
    })

    // Ends the buffer (no write joins it any more) and writes it in a fiber of the sink's: a writer that is
    // interrupted leaves the flush the others wait on going.
    const seal = (pending: Pending, reason: FlushReason): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (pending.sealed) return Effect.void
        pending.sealed = true
        if (open === pending) open = undefined
        stats.flushes[reason]++
        inFlight.add(pending)
        const timer = pending.timer
        const stopTimer = timer === undefined || reason === "age" ? Effect.void : Fiber.interruptFork(timer)
        const finish = (exit: Exit.Exit<void, SinkError>) =>
          Effect.zipRight(
            Effect.sync(() => {
              inFlight.delete(pending)
              if (Exit.isFailure(exit)) stats.failedFlushes++
            }),
            Deferred.done(pending.done, exit)
          )
        const run = Effect.exit(flushBuffer(pending, reason)).pipe(
          Effect.flatMap(finish),
          // only when the sink's scope closes mid-flush (after its final flush gave up waiting): nobody waits forever
          Effect.onInterrupt(() =>
            finish(Exit.fail(new SinkError({ sink: name, reason: "the archive sink closed during the flush", retryability: "transient" })))
          )
        )
        // forked from inside `write`'s uninterruptible region: the fiber itself must stay interruptible
        return Effect.zipRight(stopTimer, Effect.asVoid(Effect.forkIn(Effect.interruptible(run), fibers)))
      })

    const startTimer = (pending: Pending) =>
      Effect.flatMap(
        Effect.forkIn(Effect.interruptible(Effect.zipRight(Effect.sleep(maxAge), seal(pending, "age"))), fibers),
        (fiber) => Effect.sync(() => void (pending.timer = fiber))
      )

    const write = (items: ReadonlyArray<SourceRecord>): Effect.Effect<void, SinkError> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.suspend(() => {
          if (items.length === 0) return Effect.void
          // transient: nothing is wrong with the records, so they must not be dead-lettered; the pipeline
          // fails without checkpointing and the batch is delivered again to the next run
          if (closed) return Effect.fail(new SinkError({ sink: name, reason: "the archive sink is closed", retryability: "transient" }))
          const invalid = invalidRecordsReason(items)
          if (invalid !== undefined) return Effect.fail(new SinkError({ sink: name, reason: invalid, retryability: "permanent" }))
          let pending = open
          const fresh = pending === undefined
          if (pending === undefined) pending = open = makePending()
          pending.batches.push(items)
          pending.records += items.length
          pending.bytes += estimateBytes(items)
          const trigger = pending.bytes >= maxBytes
            ? seal(pending, "size")
            : !fresh
            ? Effect.void
            : Duration.toMillis(maxAge) <= 0
            ? seal(pending, "age")
            : startTimer(pending)
          return Effect.zipRight(trigger, restore(Deferred.await(pending.done)))
        })
      )

    const flush = Effect.suspend(() => {
      const pending = open
      return pending === undefined
        ? Effect.forEach(Array.from(inFlight), (p) => Deferred.await(p.done), { discard: true })
        : Effect.zipRight(seal(pending, "manual"), Deferred.await(pending.done))
    })

    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closed = true
        const pending = open
        return Effect.zipRight(
          pending === undefined ? Effect.void : seal(pending, "close"),
          // read once the close flush is in flight too
          Effect.suspend(() =>
            Effect.forEach(Array.from(inFlight), (p) =>
              Deferred.await(p.done).pipe(
                Effect.catchAll((error) => Effect.logWarning(`archive flush on close failed: ${error.reason}`))
              ), { discard: true })
          )
        )
      })
    )

    const archive: ArchiveSink = {
      name,
      write,
      flush,
      stats: Effect.sync(() => ({ ...stats, flushes: { ...stats.flushes } }))
    }
    return archive
  })

/**
 * The raw archive as a service, e.g. for `Pipeline.to(Archive.RawArchive)`.
 *
 * @since 0.1.0
 * @category tags
 */
export class RawArchive extends Context.Tag("@tributary/core/Archive/RawArchive")<RawArchive, ArchiveSink>() {}

/**
 * The raw archive sink for as long as the layer lives; what is buffered is written when it is released.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSink = (options?: SinkOptions): Layer.Layer<RawArchive, never, ObjectStore> =>
  Layer.scoped(RawArchive, sink(options))

// ---------------------------------------------------------------------------------------------------------
// archive source
// ---------------------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface SourceOptions {
  /** Earliest arrival time read (inclusive), epoch milliseconds or a Date. */
  readonly from: number | Date
  /** End of the range (exclusive). */
  readonly to: number | Date
  /** The sink's prefix. Default "raw". */
  readonly prefix?: string
  /** Read only this stream's objects; needed when the prefix holds streams with the same shard ids. */
  readonly stream?: string
  /** Keys per listing page (1 to 1,000). Default 1,000. */
  readonly listPageSize?: number
  /** Source name in errors. Default `archive:<store>/<prefix>`. */
  readonly name?: string
}

/**
 * A bounded `RecordSource` over the records that arrived in [from, to): one `ShardReader` per archived
 * shard, each delivering the shard's records in order (sequence numbers compared as integers, then
 * sub-sequence numbers), one chunk per object, payloads and metadata exactly as written. Objects that
 * overlap (a batch archived twice, cut differently) are read together and their duplicates dropped, so
 * each record is delivered once. All shards are handed over at once (a window shared by shards sees them
 * all); checkpoints are accepted and ignored (a run reads its range again).
 *
 * @since 0.1.0
 * @category constructors
 */
export const source = (options: SourceOptions): Effect.Effect<RecordSourceShape, never, ObjectStore> =>
  Effect.map(ObjectStore, (store): RecordSourceShape => {
    const prefix = normalizePrefix(options.prefix ?? "raw")
    const from = timeOf(options.from)
    const to = timeOf(options.to)
    const name = options.name ?? `archive:${store.name}/${prefix}`
    const pageSize = options.listPageSize ?? maxListLimit
    const sourceError = (error: ObjectStoreError) =>
      new SourceError({ source: name, reason: error.message, retryability: error.retryability, cause: error })
    const streamLabel = options.stream === undefined ? undefined : `${options.stream}-`

    const shards = Stream.unwrap(
      Effect.gen(function*() {
        const byLabel = yield* listObjects(store, prefix, from, to, pageSize, false).pipe(
          Effect.mapError(sourceError)
        )
        const readers: Array<ShardReader> = []
        const seen = new Map<string, string>()
        for (const [label, objects] of byLabel) {
          if (streamLabel !== undefined && !label.startsWith(streamLabel)) continue
          const shardId = streamLabel !== undefined ? label.slice(streamLabel.length) : shardIdOf(label)
          const other = seen.get(shardId)
          if (other !== undefined) {
            return yield* Effect.fail(new SourceError({
              source: name,
              reason: `objects of ${other} and ${label} have the same shard id ${shardId}: pass the stream to read`,
              retryability: "permanent"
            }))
          }
          seen.set(shardId, label)
          readers.push({
            shardId,
            resumeFrom: undefined,
            checkpoint: () => Effect.void,
            batches: Stream.fromIterable(clusters(objects)).pipe(
              Stream.mapEffect((cluster) => readCluster(store, cluster, from, to, name)),
              Stream.filter((records) => records.length > 0)
            )
          })
        }
        return Stream.fromIterable(readers)
      })
    )
    return { name, shards }
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layerSource = (options: SourceOptions): Layer.Layer<RecordSource, never, ObjectStore> =>
  Layer.effect(RecordSource, source(options))

// ---------------------------------------------------------------------------------------------------------
// dead letters
// ---------------------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface DeadLetterOptions {
  /** Key prefix. Default "dead-letters". */
  readonly prefix?: string
  /** Objects put at once by one write. Default 8. */
  readonly concurrency?: number
  /** gzip level. Default 6. */
  readonly compressionLevel?: number
  /** Default `dead-letters:<store>/<prefix>`. */
  readonly name?: string
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
export const deadLetterSink = (options: DeadLetterOptions = {}): Effect.Effect<RecordSink<DeadLetter>, never, ObjectStore> =>
  Effect.map(ObjectStore, (store): RecordSink<DeadLetter> => {
    const prefix = normalizePrefix(options.prefix ?? "dead-letters")
    const concurrency = positiveInteger("concurrency", options.concurrency ?? 8)
    const level = compressionLevel(options.compressionLevel)
    const name = options.name ?? `dead-letters:${store.name}/${prefix}`
    const encode = Schema.encodeSync(DeadLetterSchema)
    const write = Effect.fn("Archive.writeDeadLetters")(function*(letters: ReadonlyArray<DeadLetter>) {
      if (letters.length === 0) return
      const groups = new Map<string, Array<DeadLetter>>()
      for (const letter of letters) {
        if (!(letter.arrivalTime >= 0 && letter.arrivalTime <= maxArrivalTime)) {
          return yield* Effect.fail(new SinkError({
            sink: name,
            reason: `arrival time ${letter.arrivalTime} is outside 1970 to 9999`,
            retryability: "permanent"
          }))
        }
        const key = `${hourOf(letter.arrivalTime)}\u0000${nameComponent(letter.stream)}-${nameComponent(letter.shardId)}`
        const group = groups.get(key)
        if (group === undefined) groups.set(key, [letter])
        else group.push(letter)
      }
      yield* Effect.forEach(groups, ([groupKey, group]) => {
        const sorted = group.slice().sort(compareLetters)
        const first = sorted[0]
        const last = sorted[sorted.length - 1]
        const key = objectKey(prefix, {
          hour: Number(groupKey.slice(0, groupKey.indexOf("\u0000"))),
          label: groupKey.slice(groupKey.indexOf("\u0000") + 1),
          first: safeSequence(first.sequenceNumber),
          last: safeSequence(last.sequenceNumber),
          digest: letterDigest(sorted)
        })
        const text = sorted.map((letter) => JSON.stringify(encode(letter))).join("\n") + "\n"
        return Effect.flatMap(gzip(text, level), (body) =>
          Effect.mapError(store.put(key, body, { contentType }), (error) =>
            new SinkError({ sink: name, reason: `cannot store ${key}: ${error.reason}`, retryability: error.retryability, cause: error })))
      }, { concurrency, discard: true })
    })
    return { name, write }
  })

/**
 * Dead letters go to the object store.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDeadLetterSink = (options?: DeadLetterOptions): Layer.Layer<DeadLetterSink, never, ObjectStore> =>
  Layer.effect(DeadLetterSink, deadLetterSink(options))

/**
 * @since 0.1.0
 * @category models
 */
export interface ReadDeadLettersOptions {
  /** Earliest arrival time of the dead-lettered record (inclusive). */
  readonly from: number | Date
  /** End of the range (exclusive). */
  readonly to: number | Date
  /** Default "dead-letters". */
  readonly prefix?: string
  /** Keys per listing page. Default 1,000. */
  readonly listPageSize?: number
}

/**
 * One stored object of dead letters.
 *
 * @since 0.1.0
 * @category models
 */
export interface DeadLetterObject {
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
export const readDeadLetters = (
  options: ReadDeadLettersOptions
): Stream.Stream<DeadLetterObject, SourceError, ObjectStore> =>
  Stream.unwrap(Effect.map(ObjectStore, (store) => {
    const prefix = normalizePrefix(options.prefix ?? "dead-letters")
    const from = timeOf(options.from)
    const to = timeOf(options.to)
    const name = `dead-letters:${store.name}/${prefix}`
    const decode = Schema.decodeUnknownEither(DeadLetterSchema)
    return Stream.fromIterable(prefixesFor(prefix, from, to)).pipe(
      Stream.flatMap((hourPrefix) => listAll(store, hourPrefix, { pageSize: options.listPageSize ?? maxListLimit })),
      Stream.mapError((error) =>
        new SourceError({ source: name, reason: error.message, retryability: error.retryability, cause: error })
      ),
      Stream.filter((object) => parseKey(prefix, object.key, true) !== undefined),
      Stream.mapEffect((object) =>
        Effect.flatMap(fetchText(store, object.key, name), (text) => {
          const letters: Array<DeadLetter> = []
          let complete = true
          const invalid = forEachLine(text, (line, n) => {
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
 * @since 0.1.0
 * @category models
 */
export interface ReplayOptions extends ReadDeadLettersOptions {
  /** Replay only the letters it accepts (e.g. one pipeline, one stage, failures after a time). Default all. */
  readonly filter?: (letter: DeadLetter) => boolean
  /** Letters per `write`. Default 500. */
  readonly batchSize?: number
  /**
   * Delete each object once all of its letters were replayed (objects with letters left out by the range
   * or the filter are kept), so a second replay does not send them again. Default false.
   */
  readonly deleteReplayed?: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ReplaySummary {
  readonly objects: number
  readonly replayed: number
  /** Letters the filter left out. */
  readonly skipped: number
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
export const replayDeadLetters = Effect.fn("Archive.replayDeadLetters")(function*(
  into: RecordSink<DeadLetter>,
  options: ReplayOptions
) {
  const store = yield* ObjectStore
  const batchSize = positiveInteger("batchSize", options.batchSize ?? 500)
  const name = `dead-letters:${store.name}/${normalizePrefix(options.prefix ?? "dead-letters")}`
  const summary = { objects: 0, replayed: 0, skipped: 0, deletedObjects: 0 }
  yield* Stream.runForEach(readDeadLetters(options), (object) =>
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

const tempMark = ".tributary-tmp-"
const extension = ".jsonl.gz"
const contentType = "application/gzip"
const hour = 3_600_000
const day = 24 * hour
const defaultMaxBytes = 5 * 1024 * 1024
// short: a write waits for its flush, so the buffer only pools the shards writing at about the same time
const defaultMaxAge = Duration.seconds(1)
const defaultCompressionLevel = 6
/** 9999-12-31T23:59:59.999Z: four-digit years only. */
const maxArrivalTime = 253_402_300_799_999
const namePattern = /^[A-Za-z0-9_.-]{1,128}$/
const rawKeyPattern = /^(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\/([^/]+)-(\d+)-(\d+)\.jsonl\.gz$/
const deadLetterKeyPattern = /^(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\/([^/]+)-(\d+)-(\d+)-([0-9a-f]{16})\.jsonl\.gz$/

interface Pending {
  readonly batches: Array<ReadonlyArray<SourceRecord>>
  records: number
  bytes: number
  sealed: boolean
  timer: Fiber.RuntimeFiber<void> | undefined
  readonly done: Deferred.Deferred<void, SinkError>
}

const makePending = (): Pending => ({
  batches: [],
  records: 0,
  bytes: 0,
  sealed: false,
  timer: undefined,
  done: Deferred.unsafeMake(FiberId.none)
})

interface PlannedObject {
  readonly name: ObjectName
  readonly text: string
  readonly records: number
  /** UTF-8 bytes of `text`. */
  readonly bytes: number
}

/** Groups the buffer by hour and shard, sorts and de-duplicates each group, and cuts it into objects. */
const planObjects = (batches: ReadonlyArray<ReadonlyArray<SourceRecord>>, maxBytes: number): Array<PlannedObject> => {
  const groups = new Map<string, Array<SourceRecord>>()
  for (const batch of batches) {
    let lastHour = Number.NaN
    let lastStream = ""
    let lastShard = ""
    let lastGroup: Array<SourceRecord> = []
    for (let i = 0; i < batch.length; i++) {
      const record = batch[i]
      const hourStart = hourOf(record.arrivalTime)
      // pages are runs of one shard and hour: look the group up only when they change
      if (hourStart !== lastHour || record.shardId !== lastShard || record.stream !== lastStream) {
        lastHour = hourStart
        lastStream = record.stream
        lastShard = record.shardId
        const key = `${hourStart}\u0000${record.stream}-${record.shardId}`
        let group = groups.get(key)
        if (group === undefined) groups.set(key, group = [])
        lastGroup = group
      }
      lastGroup.push(record)
    }
  }
  const objects: Array<PlannedObject> = []
  for (const [key, group] of groups) {
    const split = key.indexOf("\u0000")
    const hourStart = Number(key.slice(0, split))
    const label = key.slice(split + 1)
    const records = sortedUnique(group)
    let lines: Array<string> = []
    let size = 0
    let firstIndex = 0
    const cut = (end: number) => {
      objects.push({
        name: { hour: hourStart, label, first: records[firstIndex].sequenceNumber, last: records[end - 1].sequenceNumber },
        text: lines.join("\n") + "\n",
        records: lines.length,
        bytes: size
      })
      lines = []
      size = 0
      firstIndex = end
    }
    for (let i = 0; i < records.length; i++) {
      const line = recordLine(records[i])
      // only the partition key may hold characters of more than one UTF-8 byte
      const key = records[i].partitionKey
      const bytes = line.length + 1 + (isAscii(key) ? 0 : Buffer.byteLength(key, "utf8") - key.length)
      // never between two records of one sequence number (a KPL aggregate): names would collide
      if (
        size > 0 && size + bytes > maxBytes &&
        records[i].sequenceNumber !== records[i - 1].sequenceNumber
      ) cut(i)
      lines.push(line)
      size += bytes
    }
    if (lines.length > 0) cut(records.length)
  }
  return objects
}

const sortedUnique = (records: ReadonlyArray<SourceRecord>): ReadonlyArray<SourceRecord> => {
  let ordered = true
  for (let i = 1; i < records.length; i++) {
    if (comparePosition(records[i - 1], records[i]) >= 0) {
      ordered = false
      break
    }
  }
  if (ordered) return records
  const sorted = records.slice().sort(comparePosition)
  const unique: Array<SourceRecord> = [sorted[0]]
  for (let i = 1; i < sorted.length; i++) {
    if (comparePosition(unique[unique.length - 1], sorted[i]) !== 0) unique.push(sorted[i])
  }
  return unique
}

const comparePosition = (a: SourceRecord | DeadLetter, b: SourceRecord | DeadLetter): number =>
  Sequence.compare(a.sequenceNumber, b.sequenceNumber) || a.subSequenceNumber - b.subSequenceNumber

const compareLetters = (a: DeadLetter, b: DeadLetter): number => comparePosition(a, b)

const recordLine = (r: SourceRecord): string =>
  // names and sequence numbers were validated (no characters to escape); the partition key may have some
  `{"stream":"${r.stream}","shardId":"${r.shardId}","sequenceNumber":"${r.sequenceNumber}",` +
  `"subSequenceNumber":${r.subSequenceNumber},"partitionKey":${JSON.stringify(r.partitionKey)},` +
  `"arrivalTime":${r.arrivalTime},"data":"${Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength).toString("base64")}"}`

const estimateBytes = (records: ReadonlyArray<SourceRecord>): number => {
  let bytes = 0
  for (let i = 0; i < records.length; i++) {
    const r = records[i]
    bytes += 120 + r.stream.length + r.shardId.length + r.sequenceNumber.length + r.partitionKey.length +
      4 * Math.ceil(r.data.byteLength / 3)
  }
  return bytes
}

const invalidRecordsReason = (records: ReadonlyArray<SourceRecord>): string | undefined => {
  let stream = ""
  let shardId = ""
  for (let i = 0; i < records.length; i++) {
    const r = records[i]
    // a page is one shard: check its names once
    if (r.stream !== stream || r.shardId !== shardId) {
      if (typeof r.stream !== "string" || !namePattern.test(r.stream)) {
        return `record ${i}: stream name ${JSON.stringify(r.stream)} is not 1 to 128 of [A-Za-z0-9_.-]`
      }
      if (typeof r.shardId !== "string" || !namePattern.test(r.shardId)) {
        return `record ${i}: shard id ${JSON.stringify(r.shardId)} is not 1 to 128 of [A-Za-z0-9_.-]`
      }
      stream = r.stream
      shardId = r.shardId
    }
    if (!Sequence.isSequenceNumber(r.sequenceNumber)) return `record ${i}: sequence number ${JSON.stringify(r.sequenceNumber)} is not decimal`
    if (!Number.isSafeInteger(r.subSequenceNumber) || r.subSequenceNumber < 0) return `record ${i}: bad sub-sequence number`
    if (!(r.arrivalTime >= 0 && r.arrivalTime <= maxArrivalTime)) return `record ${i}: arrival time ${r.arrivalTime} is outside 1970 to 9999`
    if (typeof r.partitionKey !== "string") return `record ${i}: the partition key is not a string`
    if (!(r.data instanceof Uint8Array)) return `record ${i}: data is not a Uint8Array`
  }
  return undefined
}

const parseRecordLine = (line: string): SourceRecord | string => {
  let json: unknown
  try {
    json = JSON.parse(line)
  } catch {
    return "not JSON"
  }
  if (typeof json !== "object" || json === null) return "not a record"
  const o = json as Record<string, unknown>
  if (typeof o.stream !== "string" || typeof o.shardId !== "string") return "no stream or shard id"
  if (!Sequence.isSequenceNumber(o.sequenceNumber)) return "no sequence number"
  if (typeof o.subSequenceNumber !== "number" || !Number.isSafeInteger(o.subSequenceNumber)) return "no sub-sequence number"
  if (typeof o.partitionKey !== "string") return "no partition key"
  if (typeof o.arrivalTime !== "number" || !Number.isFinite(o.arrivalTime)) return "no arrival time"
  if (typeof o.data !== "string") return "no data"
  const bytes = Buffer.from(o.data, "base64")
  return {
    stream: o.stream,
    shardId: o.shardId,
    sequenceNumber: o.sequenceNumber,
    subSequenceNumber: o.subSequenceNumber,
    partitionKey: o.partitionKey,
    arrivalTime: o.arrivalTime,
    data: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }
}

/** Calls `f` per non-empty line (1-based numbers) until it returns a reason. */
const forEachLine = (text: string, f: (line: string, n: number) => string | undefined): string | undefined => {
  let start = 0
  let n = 0
  while (start < text.length) {
    let end = text.indexOf("\n", start)
    if (end < 0) end = text.length
    n++
    if (end > start) {
      const invalid = f(text.slice(start, end), n)
      if (invalid !== undefined) return invalid
    }
    start = end + 1
  }
  return undefined
}

interface ListedObject {
  readonly key: string
  readonly name: ObjectName
}

/** Lists the objects of the range, grouped by `<stream>-<shardId>`. */
const listObjects = (
  store: ObjectStoreShape,
  prefix: string,
  from: number,
  to: number,
  pageSize: number,
  deadLetters: boolean
): Effect.Effect<Map<string, Array<ListedObject>>, ObjectStoreError> =>
  Effect.map(
    Stream.runCollect(Stream.flatMap(
      Stream.fromIterable(prefixesFor(prefix, from, to)),
      (hourPrefix) => listAll(store, hourPrefix, { pageSize })
    )),
    (objects) => {
      const byLabel = new Map<string, Array<ListedObject>>()
      for (const object of objects) {
        const name = parseKey(prefix, object.key, deadLetters)
        if (name === undefined) continue
        const group = byLabel.get(name.label)
        if (group === undefined) byLabel.set(name.label, [{ key: object.key, name }])
        else group.push({ key: object.key, name })
      }
      return byLabel
    }
  )

/**
 * A shard's objects in sequence order, those whose ranges overlap together (a batch archived twice, cut
 * differently, or records of one page spread over two hours out of order).
 */
const clusters = (objects: ReadonlyArray<ListedObject>): Array<ReadonlyArray<ListedObject>> => {
  const sorted = objects.slice().sort((a, b) =>
    Sequence.compare(a.name.first, b.name.first) || Sequence.compare(a.name.last, b.name.last)
  )
  const out: Array<Array<ListedObject>> = []
  let end: string | undefined
  for (const object of sorted) {
    if (end !== undefined && Sequence.compare(object.name.first, end) <= 0) {
      out[out.length - 1].push(object)
      end = Sequence.max(end, object.name.last)
    } else {
      out.push([object])
      end = object.name.last
    }
  }
  return out
}

const readCluster = (
  store: ObjectStoreShape,
  cluster: ReadonlyArray<ListedObject>,
  from: number,
  to: number,
  name: string
): Effect.Effect<ReadonlyArray<SourceRecord>, SourceError> =>
  Effect.map(
    Effect.forEach(cluster, (object) =>
      Effect.flatMap(fetchBytes(store, object.key, name), (bytes) =>
        bytes === undefined
          ? Effect.succeed<ReadonlyArray<SourceRecord>>([])
          : Effect.mapError(decodeRecords(bytes), (reason) =>
            new SourceError({ source: name, reason: `${object.key}: ${reason}`, retryability: "permanent" })
          )), { concurrency: 4 }),
    (parts) => {
      const inRange = (records: ReadonlyArray<SourceRecord>) => {
        let all = true
        for (let i = 0; i < records.length; i++) {
          const t = records[i].arrivalTime
          if (!(t >= from && t < to)) {
            all = false
            break
          }
        }
        return all ? records : records.filter((r) => r.arrivalTime >= from && r.arrivalTime < to)
      }
      if (parts.length === 1) return inRange(sortedUnique(parts[0]))
      return inRange(sortedUnique(parts.flat()))
    }
  )

const fetchBytes = (
  store: ObjectStoreShape,
  key: string,
  name: string
): Effect.Effect<Uint8Array | undefined, SourceError> =>
  store.get(key).pipe(
    // listed but gone since (deleted): nothing to read
    Effect.map(Option.getOrUndefined),
    Effect.mapError((error) =>
      new SourceError({ source: name, reason: error.message, retryability: error.retryability, cause: error })
    )
  )

const fetchText = (store: ObjectStoreShape, key: string, name: string): Effect.Effect<string, SourceError> =>
  Effect.flatMap(fetchBytes(store, key, name), (bytes) =>
    bytes === undefined
      ? Effect.succeed("")
      : Effect.mapError(gunzip(bytes), (reason) =>
        new SourceError({ source: name, reason: `${key}: ${reason}`, retryability: "permanent" })
      ))

/** The shard id of a `<stream>-<shardId>` label: Kinesis shard ids are `shardId-<digits>`. */
const shardIdOf = (label: string): string => {
  const at = label.lastIndexOf("-shardId-")
  if (at >= 0) return label.slice(at + 1)
  const dash = label.lastIndexOf("-")
  return dash < 0 ? label : label.slice(dash + 1)
}

const letterDigest = (letters: ReadonlyArray<DeadLetter>): string => {
  const hash = createHash("sha256")
  for (const letter of letters) {
    hash.update(`${letter.pipeline}\u0000${letter.stage}\u0000${letter.stream}\u0000${letter.shardId}\u0000` +
      `${letter.sequenceNumber}\u0000${letter.subSequenceNumber}\u0000${letter.data.byteLength}\u0000`)
    hash.update(letter.data)
  }
  return hash.digest("hex").slice(0, 16)
}

/** A stream or shard name as a key component: Kinesis names as they are, other characters as `_`. */
const nameComponent = (name: string): string =>
  name.length === 0 ? "_" : namePattern.test(name) ? name : name.slice(0, 128).replace(/[^A-Za-z0-9_.-]/g, "_")

const safeSequence = (sequenceNumber: string): string => Sequence.isSequenceNumber(sequenceNumber) ? sequenceNumber : "0"

const hourOf = (time: number): number => Math.floor(time / hour) * hour

const hourPath = (hourStart: number): string => {
  const d = new Date(hourStart)
  return `${pad(d.getUTCFullYear(), 4)}/${pad(d.getUTCMonth() + 1, 2)}/${pad(d.getUTCDate(), 2)}/${pad(d.getUTCHours(), 2)}`
}

const pad = (n: number, width: number): string => String(n).padStart(width, "0")

const normalizePrefix = (prefix: string): string => {
  const trimmed = prefix.replace(/^\/+|\/+$/g, "")
  if (trimmed.length > 0) {
    const invalid = invalidKeyReason(trimmed)
    if (invalid !== undefined) throw new RangeError(`invalid archive prefix ${JSON.stringify(prefix)}: ${invalid}`)
  }
  return trimmed
}

const prefixPath = (prefix: string): string => {
  const normalized = normalizePrefix(prefix)
  return normalized.length === 0 ? "" : `${normalized}/`
}

const timeOf = (time: number | Date): number => typeof time === "number" ? time : time.getTime()

const positiveInteger = (what: string, n: number): number => {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${what} must be a positive integer, got ${n}`)
  return n
}

const compressionLevel = (level: number | undefined): number => {
  const n = level ?? defaultCompressionLevel
  if (!Number.isInteger(n) || n < 1 || n > 9) throw new RangeError(`compressionLevel must be 1 to 9, got ${n}`)
  return n
}

const invalidListReason = (prefix: string, limit: number): string | undefined => {
  if (!Number.isInteger(limit) || limit < 1 || limit > maxListLimit) return `limit must be 1 to ${maxListLimit}, got ${limit}`
  if (prefix.includes("\u0000") || prefix.includes("\\")) return "a prefix must not contain NUL or \\"
  return undefined
}

/** UTF-8 byte order (S3's), which differs from UTF-16 order only beyond the Basic Multilingual Plane. */
const compareKeys = (a: string, b: string): number => {
  if (isAscii(a) && isAscii(b)) return a < b ? -1 : a > b ? 1 : 0
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"))
}

const isAscii = (s: string): boolean => /^[\x00-\x7f]*$/.test(s)

const gzip = (text: string, level: number): Effect.Effect<Uint8Array> =>
  Effect.async<Uint8Array>((resume) => {
    // on the libuv thread pool: compression does not hold up the fibers
    Zlib.gzip(text, { level }, (error, result) => {
      if (error !== null) resume(Effect.die(error))
      else resume(Effect.succeed(new Uint8Array(result.buffer, result.byteOffset, result.byteLength)))
    })
  })

const gunzip = (bytes: Uint8Array): Effect.Effect<string, string> =>
  Effect.async<string, string>((resume) => {
    Zlib.gunzip(bytes, (error, result) => {
      if (error !== null) resume(Effect.fail(`not gzip: ${error.message}`))
      else resume(Effect.succeed(result.toString("utf8")))
    })
  })

const syncDirectory = async (dir: string): Promise<void> => {
  let handle: Fs.FileHandle | undefined
  try {
    handle = await Fs.open(dir, "r")
    await handle.sync()
  } catch {
    // directories cannot be opened or flushed on some platforms (Windows): the file itself was flushed
  } finally {
    await handle?.close().catch(() => undefined)
  }
}

const hasCode = (error: unknown, ...codes: ReadonlyArray<string>): boolean =>
  typeof error === "object" && error !== null && "code" in error && codes.includes(String(error.code))

const permanentFsCodes = ["EACCES", "EPERM", "EROFS", "ENOTDIR", "EISDIR", "EEXIST", "ENAMETOOLONG", "EINVAL", "ELOOP"]

const fsRetryability = (error: unknown): Retryability => hasCode(error, ...permanentFsCodes) ? "permanent" : "transient"

const reasonOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error)
