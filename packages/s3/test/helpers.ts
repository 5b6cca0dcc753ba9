import type { ObjectStoreShape } from "@tributary/core/ObjectStore"
import { ObjectStore } from "@tributary/core/ObjectStore"
import * as LocalS3 from "@tributary/local/LocalS3"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as S3Client from "../src/S3Client.js"
import type { S3Error } from "../src/S3Error.js"
import * as S3ObjectStore from "../src/S3ObjectStore.js"

/** The S3 client service over a local emulator's client settings. */
export const clientFromLocal: Layer.Layer<S3Client.S3Client, never, LocalS3.LocalS3> = Layer.unwrapEffect(
  Effect.map(LocalS3.LocalS3, (local) => S3Client.layer({ ...local.clientConfig }))
)

/** s3rver in a child process (ListObjectsV2 pagination works there), and the client service talking to it. */
export const s3rver = clientFromLocal.pipe(Layer.provideMerge(LocalS3.layerS3rverProcess()))

let buckets = 0
/** A fresh bucket name per test. */
export const bucketName = (prefix = "archive") => `${prefix}-${process.pid}-${++buckets}`

/** Makes a new, empty bucket. */
export const freshBucket = (prefix?: string) =>
  Effect.gen(function*() {
    const s3 = yield* S3Client.S3Client
    const Bucket = bucketName(prefix)
    yield* s3.createBucket({ Bucket })
    return Bucket
  })

/** The object store over a new, empty bucket. */
export const freshStore: Layer.Layer<ObjectStore, S3Error, S3Client.S3Client> = Layer
  .unwrapEffect(Effect.map(freshBucket(), (bucket) => S3ObjectStore.layer({ bucket })))

/**
 * A store whose puts wait for `open` before reaching the inner store, and report when they are waiting:
 * to see what a sink does while its objects are not written yet.
 */
export const gated = (inner: ObjectStoreShape) =>
  Effect.gen(function*() {
    const entered = yield* Deferred.make<void>()
    const gate = yield* Deferred.make<void>()
    const store: ObjectStoreShape = {
      ...inner,
      put: (key, body, options) =>
        Deferred.succeed(entered, undefined).pipe(
          Effect.zipRight(Deferred.await(gate)),
          Effect.zipRight(inner.put(key, body, options))
        )
    }
    return { store, entered: Deferred.await(entered), open: Deferred.succeed(gate, undefined) }
  })

/** Records like a Kinesis shard's: 56-digit sequence numbers, binary payloads of 0 to 300 bytes. */
export const seq = (n: number | bigint) => (49_590_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000n + BigInt(n) * 7_919n).toString()
