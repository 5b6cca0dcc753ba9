// kinesalite or dynalite in a process of its own, started by LocalKinesis.makeKinesaliteProcess and
// LocalDynamoDB.makeDynaliteProcess: its work then runs on another core than the program's. Arguments: the
// emulator ("kinesalite" or "dynalite"), its options as JSON, the port (0: a free one). Prints {"port":n} once
// listening; stops when its stdin closes (the parent exited or closed it) or on SIGTERM.
"use strict"
const kind = process.argv[2]
if (kind !== "kinesalite" && kind !== "dynalite") {
  process.stderr.write(`unknown emulator ${kind}\n`)
  process.exit(2)
}
const options = JSON.parse(process.argv[3] || "{}")
const port = Number(process.argv[4] || 0)
const server = require(kind)(options)
let stopping = false
const stop = () => {
  if (stopping) return
  stopping = true
  if (typeof server.closeAllConnections === "function") server.closeAllConnections()
  server.close(() => process.exit(0))
  // its store may keep the loop alive: leave anyway
  setTimeout(() => process.exit(0), 1_000).unref()
}
process.on("SIGTERM", stop)
process.stdin.on("end", stop)
process.stdin.on("error", stop)
process.stdin.resume()
server.on("error", (error) => {
  // the parent tells a port in use by this line
  process.stderr.write(error && error.code === "EADDRINUSE" ? `port ${port} is in use\n` : String(error && error.stack || error) + "\n")
  process.exit(1)
})
server.listen(port, "127.0.0.1", () => process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n"))
