/**
 * The contract every `ObjectStore` keeps, as a vitest suite: `run("my store", layer)`. Each test
 * builds the store layer afresh (a store must start empty when built); `shared`, when given, is built once
 * for the suite (an emulator, a client) and provided to the store layer. Live clock throughout.
 */
import { describe, expect, layer as sharedLayer } from "@effect/vitest"
import type { ObjectStoreShape } from "@tributary/core/ObjectStore"
import { listAll, ObjectStore, ObjectStoreError } from "@tributary/core/ObjectStore"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

export interface ContractOptions {
  /**
   * false for s3rver: it lists by walking its directories, so a key `a/b` comes before `a-b` and `a.b`
   * (real S3, and the other stores, list in UTF-8 byte order: "-" < "." < "/"). The archive's layout never
   * has such neighbours (fixed-width time directories, only files in an hour's directory). Default true.
   */
  readonly byteOrderAroundSlash?: boolean
}

export function run<E>(name: string, store: Layer.Layer<ObjectStore, E>, options?: ContractOptions): void
export function run<E, R, E2>(
  name: string,
  store: Layer.Layer<ObjectStore, E, R>,
  options: ContractOptions & { readonly shared: Layer.Layer<R, E2> }
): void
export function run<E, R, E2>(
  name: string,
  store: Layer.Layer<ObjectStore, E, R>,
  options: ContractOptions & { readonly shared?: Layer.Layer<R, E2> } = {}
): void {
  const shared = (options.shared ?? Layer.empty) as Layer.Layer<R, E2>
  sharedLayer(shared, { excludeTestServices: true, timeout: "60 seconds" })(`ObjectStore contract: ${name}`, (it) => {
    const test = <A, E3>(title: string, body: (store: ObjectStoreShape) => Effect.Effect<A, E3>) =>
      it.effect(title, () => Effect.provide(Effect.flatMap(ObjectStore, body), store))
    contract(test, options.byteOrderAroundSlash ?? true)
  })
}

type Test = <A, E>(title: string, body: (store: ObjectStoreShape) => Effect.Effect<A, E>) => void

const text = new TextEncoder()
const bytes = (s: string) => text.encode(s)

const randomBytes = (n: number, seed: number): Uint8Array => {
  const out = new Uint8Array(n)
  let x = seed >>> 0 || 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

const getBytes = (store: ObjectStoreShape, key: string) =>
  Effect.map(store.get(key), Option.getOrUndefined)

const allKeys = (store: ObjectStoreShape, prefix: string, pageSize?: number) =>
  Effect.map(
    Stream.runCollect(listAll(store, prefix, { pageSize })),
    (objects) => Chunk.toReadonlyArray(objects).map((object) => object.key)
  )

const errorOf = <A>(effect: Effect.Effect<A, ObjectStoreError>) => Effect.flip(effect)

const contract = (test: Test, byteOrderAroundSlash: boolean) => {
  describe("put and get", () => {
    test("returns the bytes put, byte for byte (binary, empty and large bodies)", (store) =>
      Effect.gen(function*() {
        const binary = randomBytes(1_000, 7)
        const large = randomBytes(3 * 1024 * 1024 + 17, 11)
        yield* store.put("a/binary.bin", binary)
        yield* store.put("a/empty", new Uint8Array(0))
        yield* store.put("a/large", large)
        expect(yield* getBytes(store, "a/binary.bin")).toEqual(binary)
        expect(yield* getBytes(store, "a/empty")).toEqual(new Uint8Array(0))
        const got = yield* getBytes(store, "a/large")
        expect(got?.length).toBe(large.length)
        expect(Buffer.compare(Buffer.from(got!), Buffer.from(large))).toBe(0)
      }))

    test("a missing key is none, also below an existing key or above one", (store) =>
      Effect.gen(function*() {
        yield* store.put("x/y", bytes("1"))
        expect(Option.isNone(yield* store.get("missing"))).toBe(true)
        expect(Option.isNone(yield* store.get("x"))).toBe(true)
        expect(Option.isNone(yield* store.get("x/y/z"))).toBe(true)
      }))

    test("a put replaces the whole object", (store) =>
      Effect.gen(function*() {
        yield* store.put("k", bytes("a much longer first version"))
        yield* store.put("k", bytes("short"))
        expect(yield* getBytes(store, "k")).toEqual(bytes("short"))
        const [listed] = yield* Effect.map(store.list("k"), (page) => page.objects)
        expect(listed).toEqual({ key: "k", size: 5 })
      }))

    test("bodies are the store's: changing a buffer after put or get changes nothing stored", (store) =>
      Effect.gen(function*() {
        const body = bytes("original")
        yield* store.put("copy", body)
        body[0] = 0
        const got = (yield* getBytes(store, "copy"))!
        got[1] = 0
        expect(yield* getBytes(store, "copy")).toEqual(bytes("original"))
      }))

    test("concurrent puts of one key leave one whole version", (store) =>
      Effect.gen(function*() {
        const versions = Array.from({ length: 8 }, (_, i) => randomBytes(64 * 1024, i + 1))
        yield* Effect.forEach(versions, (body) => store.put("race", body), { concurrency: "unbounded" })
        const got = (yield* getBytes(store, "race"))!
        expect(versions.some((body) => Buffer.compare(Buffer.from(body), Buffer.from(got)) === 0)).toBe(true)
      }))

    test("keys with spaces, symbols and non-ASCII characters", (store) =>
      Effect.gen(function*() {
        const keys = ["sym/a b+c=d&e", "sym/é€/中文", "sym/emoji-😀", "sym/~!$'()*,;@"]
        yield* Effect.forEach(keys, (key, i) => store.put(key, bytes(String(i))), { discard: true })
        for (let i = 0; i < keys.length; i++) expect(yield* getBytes(store, keys[i])).toEqual(bytes(String(i)))
        expect(yield* allKeys(store, "sym/")).toEqual(
          keys.slice().sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
        )
      }))
  })

  describe("delete", () => {
    test("removes the object; deleting a missing key succeeds", (store) =>
      Effect.gen(function*() {
        yield* store.put("d/1", bytes("1"))
        yield* store.put("d/2", bytes("2"))
        yield* store.delete("d/1")
        yield* store.delete("d/1")
        yield* store.delete("never/there")
        expect(Option.isNone(yield* store.get("d/1"))).toBe(true)
        expect(yield* allKeys(store, "")).toEqual(["d/2"])
      }))
  })

  describe("list", () => {
    test("keys with the prefix, in UTF-8 byte order, with sizes; prefixes may end inside a segment", (store) =>
      Effect.gen(function*() {
        const keys = ["p/a0", "p/a/b", "p/a/a/z", "p/ab", "q/a", "pp", "p/b/2024/01/02/03/x-1-2.jsonl.gz", "p/b/2024/01/02/03/x-10-2"]
        yield* Effect.forEach(keys, (key) => store.put(key, bytes(key)), { discard: true })
        const expected = ["p/a/a/z", "p/a/b", "p/a0", "p/ab", "p/b/2024/01/02/03/x-1-2.jsonl.gz", "p/b/2024/01/02/03/x-10-2"]
        const page = yield* store.list("p/")
        expect(page.cursor).toBeUndefined()
        expect(page.objects).toEqual(expected.map((key) => ({ key, size: key.length })))
        expect(yield* allKeys(store, "p/a/")).toEqual(["p/a/a/z", "p/a/b"])
        expect(yield* allKeys(store, "p/a")).toEqual(["p/a/a/z", "p/a/b", "p/a0", "p/ab"])
        expect(yield* allKeys(store, "p")).toEqual([...expected, "pp"])
        expect(yield* allKeys(store, "")).toEqual([...keys].sort())
        expect(yield* allKeys(store, "nothing/")).toEqual([])
        expect(yield* allKeys(store, "p/a/b")).toEqual(["p/a/b"])
        expect(yield* allKeys(store, "p/b/2024/01/02/03/x-1")).toEqual(["p/b/2024/01/02/03/x-1-2.jsonl.gz", "p/b/2024/01/02/03/x-10-2"])
      }))

    if (byteOrderAroundSlash) {
      test("a directory's keys sort where `<name>/` sorts: \"-\" < \".\" < \"/\" < \"0\", also across pages", (store) =>
        Effect.gen(function*() {
          const keys = ["o/a0", "o/a/b", "o/a-b", "o/a.b", "o/a/a/z", "o/ab"]
          yield* Effect.forEach(keys, (key) => store.put(key, bytes(key)), { discard: true })
          const sorted = ["o/a-b", "o/a.b", "o/a/a/z", "o/a/b", "o/a0", "o/ab"]
          expect(yield* allKeys(store, "o/")).toEqual(sorted)
          expect(yield* allKeys(store, "o/", 2)).toEqual(sorted)
        }))
    }

    test("pages of `limit` keys, continued with the cursor, cover every key once", (store) =>
      Effect.gen(function*() {
        const keys = Array.from({ length: 23 }, (_, i) => `page/${String(i % 5)}/${String(i).padStart(3, "0")}`)
        yield* Effect.forEach(keys, (key) => store.put(key, bytes(key)), { concurrency: 8, discard: true })
        const pages: Array<ReadonlyArray<string>> = []
        let cursor: string | undefined
        do {
          const page = yield* store.list("page/", { limit: 5, cursor })
          pages.push(page.objects.map((object) => object.key))
          cursor = page.cursor
          expect(page.objects.length).toBeLessThanOrEqual(5)
        } while (cursor !== undefined && pages.length < 20)
        expect(pages.flat()).toEqual([...keys].sort())
        expect(pages.length).toBeGreaterThanOrEqual(5)
        expect(yield* allKeys(store, "page/", 1)).toEqual([...keys].sort())
        // exactly one full page: no cursor, or a cursor to an empty page
        const exact = yield* store.list("page/0/", { limit: 5 })
        expect(exact.objects.length).toBe(5)
        if (exact.cursor !== undefined) expect((yield* store.list("page/0/", { limit: 5, cursor: exact.cursor })).objects).toEqual([])
      }))
  })

  describe("invalid arguments fail permanently", () => {
    test("keys", (store) =>
      Effect.gen(function*() {
        for (const key of ["", "/a", "a/", "a//b", "a/./b", "../a", "a\\b", "a\u0000b", "a/.tributary-tmp-x", "k".repeat(1025)]) {
          const errors = [
            yield* errorOf(store.put(key, bytes("x"))),
            yield* errorOf(store.get(key)),
            yield* errorOf(store.delete(key))
          ]
          for (const error of errors) {
            expect(error).toBeInstanceOf(ObjectStoreError)
            expect(error.retryability).toBe("permanent")
            expect(error.key).toBe(key)
          }
        }
        expect(yield* allKeys(store, "")).toEqual([])
      }))

    test("list limits", (store) =>
      Effect.gen(function*() {
        for (const limit of [0, 1001, 1.5]) {
          const error = yield* errorOf(store.list("", { limit }))
          expect(error.operation).toBe("list")
          expect(error.retryability).toBe("permanent")
        }
      }))
  })
}
