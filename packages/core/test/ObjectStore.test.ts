/**
 * The object store contract on the stores of @tributary/core: in memory, and a directory (a new temporary
 * one per test). `@tributary/s3` runs it on S3.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import * as ObjectStore from "../src/ObjectStore.js"
import * as ObjectStoreContract from "../test-utils/ObjectStoreContract.js"

ObjectStoreContract.run("memory", Layer.effect(ObjectStore.ObjectStore, ObjectStore.makeMemory()))

const tempDirectory = Effect.acquireRelease(
  Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "tributary-archive-"))),
  (directory) => Effect.promise(() => Fs.rm(directory, { recursive: true, force: true }))
)

ObjectStoreContract.run(
  "file system",
  Layer.scoped(ObjectStore.ObjectStore, Effect.flatMap(tempDirectory, (directory) => ObjectStore.makeFileSystem(directory)))
)
