/**
 * The example of the repository's README.md, run: it must print exactly what the README says it prints.
 *
 * As in docs.test.ts, the README's ```ts block must appear here verbatim (whitespace aside, import lines left
 * out, the statement starting with `Effect.runPromise(` allowed to stand apart), each name it imports must be
 * imported here from the same module ("@tributary/core" being "../src/index.js"), and its relative links must
 * point to files and headings that exist. Change the example in both places.
 */
import { describe, expect, it, vi } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { format } from "node:util"
import { Aggregate, DeadLetter, Decoder, MemoryStream, Pipeline, RecordSink, Window } from "../src/index.js"

const Activity = Schema.Struct({ Activity: Schema.String, DateUnixMs: Schema.Number, DurationMs: Schema.Number })
type Activity = typeof Activity.Type

const program = Effect.gen(function*() {
  // A Kinesis-like stream in memory: messages in four formats, one of them broken
  const stream = yield* MemoryStream.make({ name: "activity" })
  yield* stream.put([
    { partitionKey: "c1", data: `{"Activity":"search","DateUnixMs":1000,"DurationMs":120}` },
    { partitionKey: "c2", data: "Activity,DateUnixMs,DurationMs\nsearch,2000,80" },
    { partitionKey: "c3", data: "Activity: checkout\nDate unix ms: 3000\nDuration ms: 950" },
    { partitionKey: "c4", data: "<a><Activity>search</Activity><DateUnixMs>61000</DateUnixMs><DurationMs>40</DurationMs></a>" },
    { partitionKey: "c5", data: `{"Activity":"search","DurationMs":"slow"}` }
  ])
  const results = yield* RecordSink.memory<Window.WindowResult<string, Aggregate.Stats>>("results")

  const pipeline = Pipeline.make("activity").pipe(
    Pipeline.decode(Decoder.auto(Activity)), // JSON, CSV, key-value text, XML, Apache logs
    Pipeline.window({
      window: Window.tumbling("1 minute"),
      key: (a: Activity) => a.Activity,
      eventTime: (a) => a.DateUnixMs,
      aggregate: Aggregate.stats.pipe(Aggregate.mapInput((a: Activity) => a.DurationMs))
    }),
    Pipeline.to(results) // any sink: a DynamoDB table, S3, another stream
  )

  // Running it needs a record source and a dead-letter sink: layers, swapped for Kinesis in production
  const summary = yield* Pipeline.run(pipeline).pipe(
    Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layerMemory))
  )
  return { summary, results: yield* results.items }
})

const root = fileURLToPath(new URL("../../../", import.meta.url))
const readme = readFileSync(root + "README.md", "utf8")

describe("README.md", () => {
  it.effect("the pipeline: one batch, four records aggregated, one dead letter", () =>
    Effect.gen(function*() {
      const { results, summary } = yield* program
      expect(summary).toStrictEqual({ batches: 1, recordsIn: 5, recordsOut: 4, deadLettered: 1, late: 0, filtered: 0 })
      expect(results.map((r) => [r.key, r.start, r.end, r.count, r.firing])).toStrictEqual([
        ["search", 0, 60_000, 2, "onTime"],
        ["checkout", 0, 60_000, 1, "onTime"],
        ["search", 60_000, 120_000, 1, "onTime"]
      ])
    }))

  it("prints what the README shows", async () => {
    const printed: Array<string> = []
    // console.log formats its arguments as util.format does (no colors when not on a terminal)
    const log = vi.spyOn(console, "log").mockImplementation((...args: Array<unknown>) => {
      printed.push(format(...args))
    })
    try {
      await Effect.runPromise(program).then(({ results, summary }) => {
        console.log(summary)
        for (const r of results) console.log(r.key, r.start, r.value)
      })
    } finally {
      log.mockRestore()
    }
    const shown = readme.match(/^It prints:\n\n```text\n([\s\S]*?)^```/m)
    expect(shown, "README.md: an `It prints:` text block").not.toBeNull()
    expect(printed.join("\n") + "\n").toBe(shown![1])
  })

  const self = readFileSync(fileURLToPath(import.meta.url), "utf8")
  const normalize = (code: string) => code.replace(/\s+/g, " ").trim()
  const importsOf = (code: string) =>
    [...code.matchAll(/^import (?:type )?\{([^}]*)\} from "([^"]+)"/gm)].flatMap((match) =>
      match[1].split(",").map((name) => name.trim()).filter((name) => name !== "").map((name) =>
        `${name} from ${match[2] === "@tributary/core" ? "../src/index.js" : match[2]}`
      )
    )

  it("its TypeScript example is tested here", () => {
    const source = normalize(self)
    const ownImports = new Set(importsOf(self))
    const blocks = [...readme.matchAll(/^```(?:ts|typescript)\n([\s\S]*?)^```/gm)].map((match) => match[1])
    expect(blocks.length).toBeGreaterThan(0)
    for (const block of blocks) {
      const segments: Array<Array<string>> = [[]]
      for (const line of block.split("\n")) {
        if (line.startsWith("import ")) continue
        if (line.startsWith("Effect.runPromise(")) segments.push([])
        segments[segments.length - 1].push(line)
      }
      for (const segment of segments.map((lines) => normalize(lines.join("\n"))).filter((s) => s !== "")) {
        expect(source, `README.md:\n${block}`).toContain(segment)
      }
      for (const name of importsOf(block)) expect(ownImports, `README.md imports ${name}`).toContain(name)
    }
  })

  it("links to files and headings that exist", () => {
    const slug = (heading: string) =>
      heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-")
    const broken: Array<string> = []
    for (const [, target] of readme.matchAll(/\]\((?!https?:)([^)\s]+)\)/g)) {
      const [file, anchor] = target.split("#")
      const path = root + (file === "" ? "README.md" : file)
      if (!existsSync(path)) broken.push(target)
      else if (anchor !== undefined) {
        const headings = new Set([...readFileSync(path, "utf8").matchAll(/^#{1,6} (.+)$/gm)].map((match) => slug(match[1])))
        if (!headings.has(anchor)) broken.push(target)
      }
    }
    expect(broken, "README.md links to files or headings that do not exist").toStrictEqual([])
  })
})
