/**
 * A flat namespace of immutable byte objects, the part of S3 the archive needs: the `ObjectStore` service,
 * its error, and two backends, in memory (tests, examples) and a directory (a single machine). S3 is in
 * `@tributary/s3`. One contract suite (`@tributary/core/test-utils/ObjectStoreContract`) runs against
 * every backend.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import type { Dirent } from "node:fs"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { Retryability } from "./TributaryError.js"
import { TypeId as ErrorTypeId } from "./TributaryError.js"

/**
 * An object as a listing shows it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ObjectInfo {
  /** The object's full key. */
  readonly key: string
  /** Bytes stored. */
  readonly size: number
}

/**
 * Which page of a listing `list` returns, and how many keys.
 *
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
  /** The page's objects, at most `limit` of them. */
  readonly objects: ReadonlyArray<ObjectInfo>
  /** Pass it to get the next page; undefined on the last page. Opaque: each store has its own kind. */
  readonly cursor: string | undefined
}

/**
 * Metadata stored with an object by `put`.
 *
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
  /** Stores `body` under `key`, replacing any object there atomically. */
  readonly put: (key: string, body: Uint8Array, options?: PutOptions) => Effect.Effect<void, ObjectStoreError>
  /** The object's bytes, or `Option.none()` when there is no object under `key`. */
  readonly get: (key: string) => Effect.Effect<Option.Option<Uint8Array>, ObjectStoreError>
  /** One page of the objects whose keys start with `prefix`; `listAll` streams every page. */
  readonly list: (prefix: string, options?: ListOptions) => Effect.Effect<ListPage, ObjectStoreError>
  /** Removes the object under `key`; succeeds when there is none. */
  readonly delete: (key: string) => Effect.Effect<void, ObjectStoreError>
}

/**
 * The object store the archive writes to and reads from; provide it with `layerMemory`, `layerFileSystem`
 * or the S3 layer of `@tributary/s3`.
 *
 * @since 0.1.0
 * @category tags
 */
export class ObjectStore extends Context.Tag("@tributary/core/ObjectStore")<ObjectStore, ObjectStoreShape>() {}

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
  /**
   * Names the store, the operation, the key, the retryability and the reason.
   *
   * @since 0.1.0
   */
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
  options: { readonly pageSize?: number | undefined } = {}
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
 * `makeMemory` outside an effect, for setup code.
 *
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
 * Provides `ObjectStore` with a fresh, empty in-memory store named `memory`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<ObjectStore> = Layer.sync(ObjectStore, () => unsafeMakeMemory())

/**
 * Options of `makeFileSystem` and `layerFileSystem`.
 *
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
 * Provides `ObjectStore` with files under `directory`, as `makeFileSystem` does; fails with an
 * `ObjectStoreError` when the directory cannot be created.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFileSystem = (
  directory: string,
  options?: FileSystemOptions
): Layer.Layer<ObjectStore, ObjectStoreError> => Layer.effect(ObjectStore, makeFileSystem(directory, options))

// ---------------------------------------------------------------------------------------------------------
// internal
// ---------------------------------------------------------------------------------------------------------

/** The first characters of the file-system store's temporary files: no key segment may start with them. */
const tempMark = ".tributary-tmp-"

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
