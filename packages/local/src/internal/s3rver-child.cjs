// s3rver in a process of its own, started by LocalS3.makeS3rverProcess with Node's legacy OpenSSL provider (s3rver
// encrypts ListObjectsV2 continuation tokens with DES). Prints {"port":n} once listening; stops when its
// stdin closes (the parent exited or closed it) or on SIGTERM, and removes its objects' directory then (a
// parent that was killed cannot).
"use strict"
const { rmSync } = require("node:fs")
const S3rver = require("s3rver")
// whole-object PUTs, as S3 does them
require("./s3rver-store.cjs").patch()
const directory = process.argv[2]
const buckets = (process.argv[3] || "").split(",").filter((name) => name.length > 0)
const port = Number(process.argv[4] || 0)
const server = new S3rver({
  port,
  address: "127.0.0.1",
  silent: true,
  directory,
  resetOnClose: true,
  configureBuckets: buckets.map((name) => ({ name }))
})
let stopping = false
const stop = () => {
  if (stopping) return
  stopping = true
  if (server.httpServer) server.httpServer.closeAllConnections()
  server.close().catch(() => undefined).finally(() => {
    rmSync(directory, { recursive: true, force: true })
    process.exit(0)
  })
}
process.on("SIGTERM", stop)
process.stdin.on("end", stop)
process.stdin.on("error", stop)
process.stdin.resume()
server.run().then(
  (address) => process.stdout.write(JSON.stringify({ port: address.port }) + "\n"),
  (error) => {
    // the parent tells a port in use by this line
    process.stderr.write(error && error.code === "EADDRINUSE" ? `port ${port} is in use\n` : String(error && error.stack || error) + "\n")
    rmSync(directory, { recursive: true, force: true })
    process.exit(1)
  }
)
