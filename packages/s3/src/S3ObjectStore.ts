/**
 * An S3 bucket as the `ObjectStore` of @tributary/core: PutObject, GetObject, ListObjectsV2 (paginated
 * with continuation tokens) and DeleteObject through the `S3Client` service, with the same contract as
 * the in-memory and file-system stores (one test suite runs against all three). With it, the raw archive
 * (`Archive`) and the dead-letter archive (`DeadLetterArchive`) of @tributary/core work on S3:
 *
 * ```ts
 * const storage = Layer.mergeAll(Archive.layerSink({ prefix: "raw" }), DeadLetterArchive.layer()).pipe(
 *   Layer.provide(S3ObjectStore.layer({ bucket: "my-archive" })),
 *   Layer.provide(S3Client.layerConfig())
 * )
 * ```
 *
 * @since 0.1.0
 */
import type { ObjectStoreShape } from "@tributary/core/ObjectStore"
import { invalidKeyReason, maxListLimit, ObjectStore, ObjectStoreError } from "@tributary/core/ObjectStore"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { S3Client } from "./S3Client.js"
import type { S3Error } from "./S3Error.js"

/**
 * Which bucket the store keeps its objects in, and its name in errors.
 *
 * @since 0.1.0
 * @category models
 */
export interface S3ObjectStoreOptions {
  /**
   * The bucket, which must exist: the store does not create it, and a missing bucket fails every call (a get
   * included) with `ObjectStoreError`.
   */
  readonly bucket: string
  /** Store name in errors. Default `s3://<bucket>`. */
  readonly name?: string
}

/**
 * The `ObjectStore` over a bucket through the `S3Client` in context. Keys that break the contract's rules fail as
 * permanent `ObjectStoreError`s without a call; S3 failures become `ObjectStoreError`s with the `S3Error`'s
 * message and retryability; a missing object is `Option.none()` on get.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: S3ObjectStoreOptions): Effect.Effect<ObjectStoreShape, never, S3Client> =>
  Effect.map(S3Client, (s3): ObjectStoreShape => {
    const Bucket = options.bucket
    const name = options.name ?? `s3://${Bucket}`
    const storeError = (operation: ObjectStoreError["operation"], key: string) => (error: S3Error) =>
      new ObjectStoreError({ store: name, operation, key, reason: error.message, retryability: error.retryability, cause: error })
    const invalid = (operation: ObjectStoreError["operation"], key: string, reason: string) =>
      Effect.fail(new ObjectStoreError({ store: name, operation, key, reason, retryability: "permanent" }))
    // the contract's key rules hold on every store, S3 included, so code tested on one runs on all
    const checked = <A>(
      operation: ObjectStoreError["operation"],
      key: string,
      run: () => Effect.Effect<A, ObjectStoreError>
    ): Effect.Effect<A, ObjectStoreError> =>
      Effect.suspend(() => {
        const reason = invalidKeyReason(key)
        return reason === undefined ? run() : invalid(operation, key, reason)
      })

    return {
      name,
      put: (key, body, putOptions) =>
        checked("put", key, () =>
          s3.putObject({
            Bucket,
            Key: key,
            Body: body,
            ContentType: putOptions?.contentType
          }).pipe(Effect.asVoid, Effect.mapError(storeError("put", key)))),
      get: (key) =>
        checked("get", key, () =>
          s3.getObjectBytes({ Bucket, Key: key }).pipe(
            Effect.map(Option.some),
            // no such object (a missing bucket stays an error)
            Effect.catchIf(
              (error) => error.reason === "NotFound" && error.awsName !== "NoSuchBucket",
              () => Effect.succeed(Option.none<Uint8Array>())
            ),
            Effect.mapError(storeError("get", key))
          )),
      list: (prefix, listOptions = {}) => {
        const limit = listOptions.limit ?? maxListLimit
        if (!Number.isInteger(limit) || limit < 1 || limit > maxListLimit) {
          return invalid("list", prefix, `limit must be 1 to ${maxListLimit}, got ${limit}`)
        }
        if (prefix.includes("\u0000") || prefix.includes("\\")) return invalid("list", prefix, "a prefix must not contain NUL or \\")
        return s3.listObjectsV2({
          Bucket,
          MaxKeys: limit,
          ...(prefix.length === 0 ? {} : { Prefix: prefix }),
          ContinuationToken: listOptions.cursor
        }).pipe(
          Effect.map((output) => ({
            objects: (output.Contents ?? []).flatMap((object) =>
              object.Key === undefined ? [] : [{ key: object.Key, size: object.Size ?? 0 }]
            ),
            cursor: output.IsTruncated === true ? output.NextContinuationToken : undefined
          })),
          Effect.mapError(storeError("list", prefix))
        )
      },
      delete: (key) =>
        checked("delete", key, () =>
          s3.deleteObject({ Bucket, Key: key }).pipe(Effect.asVoid, Effect.mapError(storeError("delete", key))))
    }
  })

/**
 * Provides `ObjectStore` as `make` builds it, from the `S3Client` in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: S3ObjectStoreOptions): Layer.Layer<ObjectStore, never, S3Client> =>
  Layer.effect(ObjectStore, make(options))
