/**
 * API keys: stored only as SHA-256 hashes, each with the streams it may write to and the pipelines whose
 * results it may read. A presented key is hashed and compared with every stored hash using
 * `crypto.timingSafeEqual`, so neither the comparison nor the lookup leaks how much of a key matched.
 *
 * @since 0.1.0
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"

/**
 * Who may do what. `"*"` grants every stream (or pipeline).
 *
 * @since 0.1.0
 * @category models
 */
export interface StoredKey {
  /** A name for logs and metrics (never the key). */
  readonly name: string
  /** SHA-256 of the key, lowercase hex (64 characters). */
  readonly sha256: string
  /** Streams the key may write records to (`POST /v1/streams/{name}/records`), or `"*"` for every one. */
  readonly streams: ReadonlyArray<string> | "*"
  /** Pipelines whose results the key may read. Default none. */
  readonly pipelines?: ReadonlyArray<string> | "*"
  /** Overrides the gateway's default rate limit for this key. */
  readonly rateLimit?: { readonly perSecond: number; readonly burst: number }
}

/**
 * The gateway's key store: finds the stored entry of a presented key.
 *
 * @since 0.1.0
 * @category models
 */
export interface ApiKeys {
  /** The key's entry, or undefined when no stored hash matches. */
  readonly authenticate: (presented: string) => StoredKey | undefined
}

/**
 * SHA-256 of a key, lowercase hex: what to store.
 *
 * @since 0.1.0
 * @category hashing
 */
export const hash = (key: string): string => createHash("sha256").update(key, "utf8").digest("hex")

/**
 * A new random key (32 bytes, base64url) and the entry to store for it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const generate = (
  entry: Omit<StoredKey, "sha256">
): { readonly key: string; readonly stored: StoredKey } => {
  const key = `trb_${randomBytes(32).toString("base64url")}`
  return { key, stored: { ...entry, sha256: hash(key) } }
}

/**
 * A key store over stored entries. Throws a `TypeError` when an entry's `sha256` is not 64 lowercase hex
 * digits. When several entries have the same hash, the first one wins.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (stored: ReadonlyArray<StoredKey>): ApiKeys => {
  const entries = stored.map((entry) => {
    if (!/^[0-9a-f]{64}$/.test(entry.sha256)) throw new TypeError(`key ${entry.name}: sha256 must be 64 lowercase hex digits`)
    return { entry, digest: Buffer.from(entry.sha256, "hex") }
  })
  return {
    authenticate: (presented) => {
      const digest = createHash("sha256").update(presented, "utf8").digest()
      let found: StoredKey | undefined
      // every stored hash is compared, matched or not
      for (const { digest: storedDigest, entry } of entries) {
        if (timingSafeEqual(digest, storedDigest) && found === undefined) found = entry
      }
      return found
    }
  }
}

/**
 * Whether the key may write to `stream`: its `streams` name it, or are `"*"`.
 *
 * @since 0.1.0
 * @category authorization
 */
export const mayWrite = (key: StoredKey, stream: string): boolean => key.streams === "*" || key.streams.includes(stream)

/**
 * Whether the key may read the results of `pipeline`: its `pipelines` name it, or are `"*"` (a key without
 * `pipelines` reads none).
 *
 * @since 0.1.0
 * @category authorization
 */
export const mayRead = (key: StoredKey, pipeline: string): boolean =>
  key.pipelines !== undefined && (key.pipelines === "*" || key.pipelines.includes(pipeline))
