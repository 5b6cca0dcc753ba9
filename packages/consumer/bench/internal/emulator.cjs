// kinesalite or dynalite in a process of its own, so a bench's consumer process pays only for its own CPU.
// Usage: node emulator.cjs kinesalite|dynalite; prints the port once it listens on 127.0.0.1, exits on SIGTERM.
const { createRequire } = require("node:module")
const path = require("node:path")

const kind = process.argv[2]
// the emulators are dependencies of @tributary/local
const local = createRequire(path.resolve(__dirname, "../../../local/package.json"))
const server = kind === "kinesalite"
  ? local("kinesalite")({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100 })
  : kind === "dynalite"
  ? local("dynalite")({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 })
  : undefined
if (server === undefined) {
  console.error(`unknown emulator ${kind}`)
  process.exit(2)
}
server.listen(0, "127.0.0.1", () => console.log(String(server.address().port)))
process.on("SIGTERM", () => process.exit(0))
