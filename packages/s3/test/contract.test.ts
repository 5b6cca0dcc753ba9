/**
 * One contract, three stores: in memory, a directory (a new temporary one per test) and S3 (s3rver
 * through the real SDK, a new bucket per test).
 */
import * as Archive from "@tributary/core/Archive"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { freshStore, s3rver } from "./helpers.js"
import * as ObjectStoreContract from "./ObjectStoreContract.js"

ObjectStoreContract.run("memory", Layer.effect(Archive.ObjectStore, Archive.makeMemory()))

const tempDirectory = Effect.acquireRelease(
  Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "tributary-archive-"))),
  (directory) => Effect.promise(() => Fs.rm(directory, { recursive: true, force: true }))
)

ObjectStoreContract.run(
  "file system",
  Layer.scoped(Archive.ObjectStore, Effect.flatMap(tempDirectory, (directory) => Archive.makeFileSystem(directory)))
)

ObjectStoreContract.run("S3 (s3rver)", freshStore, { shared: s3rver, byteOrderAroundSlash: false })
