// s3rver 3.7.1 stores an object in place: a PUT truncates the object's file, writes it, and answers before
// the bytes are written. Concurrent PUTs of one key then interleave, and a GET right after a PUT can read a
// part of it. S3 replaces an object whole (the last PUT wins), and a read after a write sees all of it.
// `patch` makes s3rver's file store do the same: a PUT writes a file of its own and renames it over the
// object once it is written, then writes the metadata; the PUTs, GETs and DELETEs of one key take turns, so a
// GET reads the metadata and the bytes of one version. Used by LocalS3, in this process and in the child.
"use strict"
const crypto = require("node:crypto")
const fs = require("node:fs")
const path = require("node:path")
const { Readable, Transform } = require("node:stream")
const { pipeline } = require("node:stream/promises")
const FilesystemStore = require("s3rver/lib/stores/filesystem")

const patched = Symbol.for("@tributary/local/s3rver-store")
let temporaries = 0

/** Whole-object PUTs, one operation at a time per key (see above); patching twice changes nothing. */
exports.patch = () => {
  const store = FilesystemStore.prototype
  if (store[patched]) return
  store[patched] = true
  const { deleteObject, getObject } = store
  // per object file: the last operation's settlement; the next one of that key starts after it
  const turns = new Map()
  const inTurn = (self, bucket, key, run) => {
    const id = self.getResourcePath(bucket, key, "object")
    const next = (turns.get(id) ?? Promise.resolve()).then(run)
    const settled = next.then(() => undefined, () => undefined)
    turns.set(id, settled)
    settled.then(() => {
      if (turns.get(id) === settled) turns.delete(id)
    })
    return next
  }
  store.putObject = function(object) {
    return inTurn(this, object.bucket, object.key, () => putWhole(this, object))
  }
  store.getObject = function(bucket, key, options) {
    return inTurn(this, bucket, key, () => getObject.call(this, bucket, key, options))
  }
  store.deleteObject = function(bucket, key) {
    return inTurn(this, bucket, key, () => deleteObject.call(this, bucket, key))
  }
}

const putWhole = async (self, object) => {
  const objectPath = self.getResourcePath(object.bucket, object.key, "object")
  await fs.promises.mkdir(path.dirname(objectPath), { recursive: true })
  // not named like an object: listings skip it
  const temporary = `${objectPath}.${process.pid}.${++temporaries}.tmp`
  const md5 = crypto.createHash("md5")
  let size = 0
  const measure = new Transform({
    transform(chunk, encoding, callback) {
      md5.update(chunk)
      size += chunk.length
      callback(null, chunk)
    }
  })
  const content = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content
  try {
    await pipeline(content, measure, fs.createWriteStream(temporary))
    await fs.promises.rename(temporary, objectPath)
  } catch (error) {
    await fs.promises.rm(temporary, { force: true })
    throw error
  }
  const digest = md5.digest("hex")
  await self.putMetadata(object.bucket, object.key, object.metadata, digest)
  return { size, md5: digest }
}
