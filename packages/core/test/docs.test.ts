/**
 * Every TypeScript example of docs/*.md, run with assertions on what the docs claim it prints or returns.
 *
 * The last test checks that the docs and this file agree: each ```ts block of the pages below must appear
 * here verbatim (whitespace aside, import lines left out, a statement starting with `Effect.runPromise(`
 * allowed to stand apart), and each name a block imports must be imported here from the same module
 * ("@tributary/core" being "../src/index.js"); see test-utils/DocBlocks.ts, which the docs tests of the other
 * packages share. Change an example in both places.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Data, Effect, Either, Exit, Fiber, Layer, Logger, LogLevel, Metric, Option, Schedule, Schema, TestClock } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import {
  Aggregate,
  DeadLetter,
  Decoder,
  Job,
  MemoryStream,
  Pipeline,
  RecordSink,
  Retry,
  SequenceNumber,
  SourceRecord,
  TributaryError,
  Window
} from "../src/index.js"
import * as compiledCheck from "../src/internal/compiledCheck.js"
import * as DocBlocks from "../test-utils/DocBlocks.js"

const text = new TextDecoder()

// ---------------------------------------------------------------------------------------------------------
// getting-started.md
// ---------------------------------------------------------------------------------------------------------

describe("docs/getting-started.md", () => {
  it.effect("a first pipeline", () =>
    Effect.gen(function*() {
      // What a message means, whatever format it arrives in
      const Order = Schema.Struct({
        orderId: Schema.String,
        amount: Schema.Number,
        currency: Schema.Literal("EUR", "USD")
      })

      const program = Effect.gen(function*() {
        // A Kinesis-like stream in memory: messages in three formats, one of them broken
        const stream = yield* MemoryStream.make({ name: "orders", shards: 2 })
        yield* stream.put([
          { partitionKey: "o-1", data: `{"orderId":"o-1","amount":12.5,"currency":"EUR"}` },
          { partitionKey: "o-2", data: "orderId,amount,currency\no-2,99,USD" },
          { partitionKey: "o-3", data: "Order id: o-3\nAmount: 0\nCurrency: EUR" },
          { partitionKey: "o-4", data: `{"orderId":"o-4","amount":"lots"}` }
        ])

        // Where results and dead letters go (in memory here, any RecordSink in production)
        const results = yield* RecordSink.memory<{ readonly orderId: string; readonly cents: number }>("results")
        const deadLetters = yield* RecordSink.memory<DeadLetter.DeadLetter>("dead-letters")

        // The pipeline is a value: decode, drop empty orders, convert, write
        const pipeline = Pipeline.make("orders").pipe(
          Pipeline.decode(Decoder.auto(Order)),
          Pipeline.filter((order) => order.amount > 0),
          Pipeline.map((order) => ({ orderId: order.orderId, cents: Math.round(order.amount * 100) })),
          Pipeline.to(results)
        )

        // Running it needs a RecordSource and a DeadLetterSink, provided as layers
        const summary = yield* Pipeline.run(pipeline).pipe(
          Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layer(deadLetters)))
        )
        return { summary, results: yield* results.items, deadLetters: yield* deadLetters.items }
      })

      // The docs' last statement: type-checked here, not run (it prints)
      void (() =>
        Effect.runPromise(program).then(({ deadLetters, results, summary }) => {
          console.log(summary)
          console.log(results)
          for (const letter of deadLetters) console.log(`${letter.stage} (${letter.format}): ${letter.reason}`)
        }))

      const { deadLetters, results, summary } = yield* program
      expect(summary).toStrictEqual({ batches: 2, recordsIn: 4, recordsOut: 2, deadLettered: 1, late: 0, filtered: 1 })
      expect([...results].sort((a, b) => a.orderId.localeCompare(b.orderId))).toStrictEqual([
        { orderId: "o-1", cents: 1250 },
        { orderId: "o-2", cents: 9900 }
      ])
      expect(deadLetters.map((letter) => `${letter.stage} (${letter.format}): ${letter.reason}`)).toStrictEqual([
        `decode (json): amount: Expected number, actual "lots"; currency: is missing`
      ])
    }))
})

// ---------------------------------------------------------------------------------------------------------
// concepts.md
// ---------------------------------------------------------------------------------------------------------

describe("docs/concepts.md", () => {
  it.effect("sequence numbers compare as integers", () =>
    Effect.gen(function*() {
      const order = SequenceNumber.compare("9", "10") // -1, although "9" > "10" as strings
      const sorted = ["10", "9", "100"].sort(SequenceNumber.compare) // ["9", "10", "100"]
      const real = SequenceNumber.isSequenceNumber("49590338271490256608559692538361571095921575989136588898") // true

      expect(order).toBe(-1)
      expect(sorted).toStrictEqual(["9", "10", "100"])
      expect(real).toBe(true)
    }))

  it.effect("a pipeline with a sink from a service, processed one batch at a time", () =>
    Effect.gen(function*() {
      const Click = Schema.Struct({ userId: Schema.String, page: Schema.String, tags: Schema.Array(Schema.String) })
      type PageTag = { readonly page: string; readonly tag: string }

      // A sink the application provides as a service
      class Archive extends Context.Tag("app/Archive")<Archive, RecordSink.RecordSink<SourceRecord.SourceRecord>>() {}

      const pageTags = (tags: RecordSink.RecordSink<PageTag>) =>
        Pipeline.make("page-tags").pipe(
          Pipeline.to(Archive), // raw records, before decoding
          Pipeline.decode(Decoder.json(Click)),
          Pipeline.filter((click) => click.userId !== "bot"),
          Pipeline.flatMap((click) => click.tags.map((tag): PageTag => ({ page: click.page, tag }))),
          Pipeline.to(tags)
        ) // Pipeline.Pipeline<PageTag, Archive>

      const archive = yield* RecordSink.memory<SourceRecord.SourceRecord>("archive")
      const tags = yield* RecordSink.memory<PageTag>("tags")
      const processor = yield* Pipeline.processor(pageTags(tags)).pipe(
        Effect.provide(Layer.merge(Layer.succeed(Archive, archive), DeadLetter.layerMemory))
      )

      const click = (sequenceNumber: string, json: string) =>
        SourceRecord.make({
          stream: "clicks",
          shardId: "shardId-000000000000",
          sequenceNumber,
          partitionKey: "user",
          arrivalTime: 0,
          data: new TextEncoder().encode(json)
        })
      yield* processor.startShard("shardId-000000000000") // no checkpoint to resume after
      const outcome = yield* processor.process("shardId-000000000000", [
        click("1", `{"userId":"u1","page":"/home","tags":["new","sale"]}`),
        click("2", `{"userId":"bot","page":"/home","tags":["new"]}`),
        click("3", `{"userId":"u2","page":"/cart","tags":[]}`),
        click("4", `{"userId":"u3",`)
      ])
      // outcome: { recordsIn: 4, recordsOut: 1, deadLettered: 1, late: 0, filtered: 2,
      //            checkpoint: { sequenceNumber: "4", subSequenceNumber: 0 } }
      // tags: { page: "/home", tag: "new" }, { page: "/home", tag: "sale" }; archive: all 4 records
      yield* processor.endShard("shardId-000000000000") // the shard is done: stages flush what they hold

      expect(outcome).toStrictEqual({
        recordsIn: 4,
        recordsOut: 1,
        deadLettered: 1,
        late: 0,
        filtered: 2,
        checkpoint: { sequenceNumber: "4", subSequenceNumber: 0 }
      })
      expect(yield* tags.items).toStrictEqual([{ page: "/home", tag: "new" }, { page: "/home", tag: "sale" }])
      expect(yield* archive.items).toHaveLength(4)
      expect(processor.tickEvery).toBeUndefined()
      expect(yield* processor.summary).toStrictEqual({
        batches: 1,
        recordsIn: 4,
        recordsOut: 1,
        deadLettered: 1,
        late: 0,
        filtered: 2
      })
    }))

  it.effect("dead letters as JSON", () =>
    Effect.gen(function*() {
      const record = SourceRecord.make({
        stream: "orders",
        shardId: "shardId-000000000001",
        sequenceNumber: "49590338271490256608559692538361571095921575989136588898",
        partitionKey: "o-9",
        arrivalTime: 1_700_000_000_000,
        data: new TextEncoder().encode("not json")
      })
      const letter = DeadLetter.fromRecord(record, {
        pipeline: "orders",
        stage: "decode",
        reason: "invalid JSON: unexpected 'n', expected a value (line 1, column 1)",
        format: "json",
        failedAt: 1_700_000_000_500
      })

      const json = JSON.stringify(Schema.encodeSync(DeadLetter.DeadLetter)(letter)) // data as base64: "bm90IGpzb24="
      const replayed = Schema.decodeUnknownSync(DeadLetter.DeadLetter)(JSON.parse(json)) // data as bytes again

      expect(JSON.parse(json)).toStrictEqual({
        pipeline: "orders",
        stage: "decode",
        reason: "invalid JSON: unexpected 'n', expected a value (line 1, column 1)",
        format: "json",
        stream: "orders",
        shardId: "shardId-000000000001",
        sequenceNumber: "49590338271490256608559692538361571095921575989136588898",
        subSequenceNumber: 0,
        partitionKey: "o-9",
        arrivalTime: 1_700_000_000_000,
        failedAt: 1_700_000_000_500,
        data: "bm90IGpzb24="
      })
      expect(text.decode(replayed.data)).toBe("not json")
    }))

  it.effect("metrics tagged with the pipeline", () =>
    Effect.gen(function*() {
      const stream = yield* MemoryStream.make()
      yield* stream.put([{ partitionKey: "k", data: "{}" }, { partitionKey: "k", data: "{" }])
      const pipeline = Pipeline.make("page-views").pipe(Pipeline.decode(Decoder.json(Schema.Struct({}))))
      yield* Pipeline.run(pipeline).pipe(Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layerMemory)))

      const recordsIn = yield* Metric.value(Metric.tagged(Pipeline.metrics.recordsIn, "pipeline", "page-views"))
      const deadLettered = yield* Metric.value(Metric.tagged(Pipeline.metrics.deadLettered, "pipeline", "page-views"))
      // recordsIn.count === 2, deadLettered.count === 1

      expect(recordsIn.count).toBe(2)
      expect(deadLettered.count).toBe(1)
    }))

  it.effect("a record written to one sink and rejected by the next is dead-lettered, not unwritten", () =>
    Effect.gen(function*() {
      const stream = yield* MemoryStream.make()
      yield* stream.put([1, 2, 3].map((n) => ({ partitionKey: "k", data: String(n) })))
      const first = yield* RecordSink.memory<number>("first")
      const second = yield* RecordSink.memory<number>("second")
      yield* second.rejectWhen((n) => n === 2)
      const pipeline = Pipeline.make("two-sinks").pipe(
        Pipeline.decode(Decoder.json(Schema.Number)),
        Pipeline.to(first),
        Pipeline.to(second)
      )
      const summary = yield* Pipeline.run(pipeline).pipe(
        Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layerMemory))
      )
      expect(summary).toMatchObject({ recordsIn: 3, recordsOut: 2, deadLettered: 1 })
      expect(yield* first.items).toStrictEqual([1, 2, 3])
      expect(yield* second.items).toStrictEqual([1, 3])
    }))
})

// ---------------------------------------------------------------------------------------------------------
// decoders.md
// ---------------------------------------------------------------------------------------------------------

describe("docs/decoders.md", () => {
  const recordOf = (text: string): SourceRecord.SourceRecord =>
    SourceRecord.make({
      stream: "readings",
      shardId: "shardId-000000000000",
      sequenceNumber: "1",
      partitionKey: "key",
      arrivalTime: 0,
      data: new TextEncoder().encode(text)
    })

  const Reading = Schema.Struct({ sensor: Schema.String, celsius: Schema.Number, ok: Schema.Boolean })

  const failure = <A>(result: Either.Either<A, TributaryError.DecodeFailure>) => {
    if (Either.isRight(result)) throw new Error(`expected a failure, got ${JSON.stringify(result.right)}`)
    return result.left
  }

  it.effect("json", () =>
    Effect.gen(function*() {
      const json = Decoder.json(Reading)

      const ok = json.decode(recordOf(`{"sensor":"s-1","celsius":21.5,"ok":true,"firmware":"2.1"}`))
      // Either.right({ sensor: "s-1", celsius: 21.5, ok: true }): "firmware" is not in the Schema, dropped

      const wrong = json.decode(recordOf(`{"sensor":"s-1","celsius":"warm"}`))
      // Either.left(DecodeFailure) with format "json" and the reason
      // 'celsius: Expected number, actual "warm"; ok: is missing'

      const broken = json.decode(recordOf(`{"sensor":"s-1",\n "celsius": }`))
      // reason "invalid JSON: unexpected '}', expected a value", position { offset: 29, line: 2, column: 13 }

      expect(ok).toStrictEqual(Either.right({ sensor: "s-1", celsius: 21.5, ok: true }))
      expect(failure(wrong)).toMatchObject({ format: "json", reason: `celsius: Expected number, actual "warm"; ok: is missing` })
      expect(failure(wrong).position).toBeUndefined()
      expect(failure(broken)).toMatchObject({
        format: "json",
        reason: "invalid JSON: unexpected '}', expected a value",
        position: { offset: 29, line: 2, column: 13 }
      })
      expect(failure(broken).message).toBe(
        "cannot decode json record shardId-000000000000/1 (line 2, column 13): invalid JSON: unexpected '}', expected a value"
      )
    }))

  it.effect("field names and aliases", () =>
    Effect.gen(function*() {
      const readings = Decoder.keyValue(Reading, { aliases: { celsius: ["Temperature (°C)", "temp"] } })

      const first = readings.decode(recordOf("SENSOR: s-1\ntemperature (°c): 20\nOk: true"))
      // Either.right({ sensor: "s-1", celsius: 20, ok: true })

      const second = readings.decode(recordOf("sensor_id: x-9\nsensor: s-2\nTEMP = 21\nok = false"))
      // Either.right({ sensor: "s-2", celsius: 21, ok: false }): "sensor_id" is not "sensor", dropped

      expect(first).toStrictEqual(Either.right({ sensor: "s-1", celsius: 20, ok: true }))
      expect(second).toStrictEqual(Either.right({ sensor: "s-2", celsius: 21, ok: false }))
      // an alias for a property the Schema does not have is ignored
      const ignored = Decoder.keyValue(Reading, { aliases: { nope: "sensor" } as never })
      expect(ignored.decode(recordOf("sensor: s\ncelsius: 1\nok: true"))).toStrictEqual(
        Either.right({ sensor: "s", celsius: 1, ok: true })
      )
      // namespaces are not processed: "ns:city" is a name like "nsCity"
      const Place = Schema.Struct({ nsCity: Schema.String })
      expect(Decoder.xml(Place).decode(recordOf("<p><ns:city>Lyon</ns:city></p>"))).toStrictEqual(
        Either.right({ nsCity: "Lyon" })
      )
    }))

  it.effect("csv with a header row, a delimiter and aliases", () =>
    Effect.gen(function*() {
      const csv = Decoder.csv(Reading, { delimiter: ";", aliases: { celsius: ["Temperature (°C)", "temp"] } })

      const withHeader = csv.decode(recordOf("Sensor;Temperature (°C);OK\ns-1;21.5;TRUE\n"))
      // Either.right({ sensor: "s-1", celsius: 21.5, ok: true })

      const withoutHeader = csv.decode(recordOf("s-2;19;false")) // columns in the Schema's order
      // Either.right({ sensor: "s-2", celsius: 19, ok: false })

      const reordered = csv.decode(recordOf("temp;ok;sensor\n-3;true;s-3"))
      // Either.right({ sensor: "s-3", celsius: -3, ok: true })

      expect(withHeader).toStrictEqual(Either.right({ sensor: "s-1", celsius: 21.5, ok: true }))
      expect(withoutHeader).toStrictEqual(Either.right({ sensor: "s-2", celsius: 19, ok: false }))
      expect(reordered).toStrictEqual(Either.right({ sensor: "s-3", celsius: -3, ok: true }))
    }))

  it.effect("csv with fixed columns", () =>
    Effect.gen(function*() {
      const legacy = Decoder.csv(Reading, { columns: ["ok", "sensor", "temp"], header: "absent", aliases: { celsius: "temp" } })

      const row = legacy.decode(recordOf(`true,"s-4, roof",7.25`))
      // Either.right({ sensor: "s-4, roof", celsius: 7.25, ok: true })

      const short = legacy.decode(recordOf("true,s-4"))
      // reason "row has 2 fields, expected 3 (ok, sensor, temp)"

      expect(row).toStrictEqual(Either.right({ sensor: "s-4, roof", celsius: 7.25, ok: true }))
      expect(failure(short).reason).toBe("row has 2 fields, expected 3 (ok, sensor, temp)")
    }))

  it.effect("csv rules", () =>
    Effect.gen(function*() {
      const csv = Decoder.csv(Reading)
      expect(failure(csv.decode(recordOf("sensor,celsius,ok,extra\ns,1,true,x"))).reason).toBe(
        "expected one CSV data row per message, found 2"
      )
      expect(Decoder.csv(Reading, { header: "present" }).decode(recordOf("sensor,celsius,ok,extra\ns,1,true,x")))
        .toStrictEqual(Either.right({ sensor: "s", celsius: 1, ok: true }))
      expect(failure(csv.decode(recordOf("s,,true"))).reason).toBe(`celsius: Expected number, actual ""`)
      expect(csv.decode(recordOf(" s , 1e3 , True "))).toStrictEqual(Either.right({ sensor: " s ", celsius: 1000, ok: true }))
      expect(failure(csv.decode(recordOf("s,1,yes"))).reason).toBe(`ok: Expected boolean, actual "yes"`)
      expect(() => Decoder.csv(Reading, { delimiter: ";;" })).toThrow(
        `CSV delimiter must be one character other than a quote or a line break, got ";;"`
      )
      expect(failure(Decoder.csv(Reading, { header: "present" }).decode(recordOf("sensor,celsius,ok"))).reason).toBe(
        "expected one CSV data row per message, found 0"
      )
    }))

  it.effect("key-value lines", () =>
    Effect.gen(function*() {
      const kv = Decoder.keyValue(Reading, { aliases: { celsius: "Temperature" } })

      const reading = kv.decode(recordOf("Sensor: s-5\nTemperature = -4.5\nOK: false\nSource: http://host:8080/?a=b\n"))
      // Either.right({ sensor: "s-5", celsius: -4.5, ok: false }): "Source" is not a field, dropped

      const noSeparator = kv.decode(recordOf("Sensor: s-5\nTemperature -4.5"))
      // reason "expected ':' or '=' between key and value on this line", position { offset: 12, line: 2, column: 1 }

      expect(reading).toStrictEqual(Either.right({ sensor: "s-5", celsius: -4.5, ok: false }))
      expect(failure(noSeparator)).toMatchObject({
        format: "keyValue",
        reason: "expected ':' or '=' between key and value on this line",
        position: { offset: 12, line: 2, column: 1 }
      })
      // duplicate keys: the last one wins
      expect(kv.decode(recordOf("sensor: a\nsensor: b\ncelsius: 1\nok: true"))).toStrictEqual(
        Either.right({ sensor: "b", celsius: 1, ok: true })
      )
    }))

  it.effect("xml", () =>
    Effect.gen(function*() {
      const Delivery = Schema.Struct({
        id: Schema.String,
        weightKg: Schema.Number,
        items: Schema.Array(Schema.String),
        address: Schema.Struct({ city: Schema.String, zip: Schema.String })
      })
      const xml = Decoder.xml(Delivery)

      const delivery = xml.decode(recordOf(`<?xml version="1.0"?>
<delivery id="d-1">
  <weight-kg>12.5</weight-kg>
  <items>apple</items>
  <items>pear &amp; fig</items>
  <address><city>Lyon</city><zip>69001</zip></address>
</delivery>`))
      // Either.right({ id: "d-1", weightKg: 12.5, items: ["apple", "pear & fig"], address: { city: "Lyon", zip: "69001" } })

      expect(delivery).toStrictEqual(
        Either.right({ id: "d-1", weightKg: 12.5, items: ["apple", "pear & fig"], address: { city: "Lyon", zip: "69001" } })
      )
      // caveats the page lists
      const one = xml.decode(recordOf(`<d id="d-2"><weightKg>1</weightKg><items>apple</items><address><city>A</city><zip>1</zip></address></d>`))
      expect(failure(one).reason).toBe(`items: Expected ReadonlyArray<string>, actual "apple"`)
      const Nested = Schema.Struct({ box: Schema.Struct({ n: Schema.Number }) })
      expect(failure(Decoder.xml(Nested).decode(recordOf("<r><box><n>1</n></box></r>"))).reason).toBe(
        `box.n: Expected number, actual "1"`
      )
      const Note = Schema.Struct({ lang: Schema.String, text: Schema.String })
      expect(Decoder.xml(Note).decode(recordOf(`<note lang="en"> hello </note>`))).toStrictEqual(
        Either.right({ lang: "en", text: "hello" })
      )
      expect(failure(xml.decode(recordOf(`<!DOCTYPE d [<!ENTITY x "y">]><d/>`))).reason).toBe("DOCTYPE is not supported")
    }))

  it.effect("apache logs", () =>
    Effect.gen(function*() {
      const line = `203.0.113.9 - alice [21/Nov/2025:10:15:00 +0100] "GET /cart?id=7 HTTP/1.1" 200 512 "-" "curl/8.5"`

      const entry = Decoder.apacheLog().decode(recordOf(line))
      // Either.right({
      //   host: "203.0.113.9", ident: null, user: "alice", time: 1763716500000, timeZone: "+0100",
      //   request: "GET /cart?id=7 HTTP/1.1", method: "GET", path: "/cart?id=7", protocol: "HTTP/1.1",
      //   status: 200, bytes: 512, referer: null, userAgent: "curl/8.5"
      // })

      const Hit = Schema.Struct({ ip: Schema.String, path: Schema.NullOr(Schema.String), status: Schema.Int })
      const hit = Decoder.apacheLog(Hit, { aliases: { ip: "host" } }).decode(recordOf(line))
      // Either.right({ ip: "203.0.113.9", path: "/cart?id=7", status: 200 })

      expect(entry).toStrictEqual(Either.right({
        host: "203.0.113.9",
        ident: null,
        user: "alice",
        time: Date.UTC(2025, 10, 21, 9, 15, 0),
        timeZone: "+0100",
        request: "GET /cart?id=7 HTTP/1.1",
        method: "GET",
        path: "/cart?id=7",
        protocol: "HTTP/1.1",
        status: 200,
        bytes: 512,
        referer: null,
        userAgent: "curl/8.5"
      }))
      expect(Date.UTC(2025, 10, 21, 9, 15, 0)).toBe(1763716500000)
      expect(hit).toStrictEqual(Either.right({ ip: "203.0.113.9", path: "/cart?id=7", status: 200 }))
      // common log format: no referer / user agent; "-" bytes is null
      expect(Decoder.apacheLog().decode(recordOf(`h - - [01/Jan/2024:00:00:00 +0000] "-" 400 -`))).toStrictEqual(
        Either.right({
          host: "h",
          ident: null,
          user: null,
          time: Date.UTC(2024, 0, 1),
          timeZone: "+0000",
          request: "-",
          method: null,
          path: null,
          protocol: null,
          status: 400,
          bytes: null,
          referer: null,
          userAgent: null
        })
      )
    }))

  it.effect("auto, over a batch", () =>
    Effect.gen(function*() {
      const auto = Decoder.auto(Reading, { aliases: { celsius: "Temperature" } })
      const records = [
        `{"sensor":"s-1","celsius":21.5,"ok":true}`,
        `<reading sensor="s-2" celsius="19" ok="true"/>`,
        "Sensor: s-3\nTemperature: -4.5\nOK: false",
        "s-4,30,true",
        "s-5,hot"
      ].map(recordOf)

      const batch = Decoder.decodeAll(auto, records)
      // batch.values: the four readings s-1 to s-4
      // batch.failureOrigins: [4]; batch.failures[0]: format "csv", reason "row has 2 fields, expected 3 (sensor, celsius, ok)"
      // Decoder.valueOrigins(batch): [0, 1, 2, 3]

      expect(batch.values).toStrictEqual([
        { sensor: "s-1", celsius: 21.5, ok: true },
        { sensor: "s-2", celsius: 19, ok: true },
        { sensor: "s-3", celsius: -4.5, ok: false },
        { sensor: "s-4", celsius: 30, ok: true }
      ])
      expect(batch.failureOrigins).toStrictEqual([4])
      expect(batch.failures[0]).toMatchObject({ format: "csv", reason: "row has 2 fields, expected 3 (sensor, celsius, ok)" })
      expect(batch.failures[0].record).toBe(records[4])
      expect(Decoder.valueOrigins(batch)).toStrictEqual([0, 1, 2, 3])
    }))

  it.effect("auto sniffing rules", () =>
    Effect.gen(function*() {
      const auto = Decoder.auto(Reading)
      const formatOf = (text: string) => failure(auto.decode(recordOf(text))).format
      expect(formatOf("  [1]")).toBe("json")
      expect(formatOf("<a/>")).toBe("xml")
      expect(formatOf(`1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1`)).toBe("apacheLog")
      expect(formatOf("sensor = s")).toBe("keyValue") // a known field before the separator
      expect(formatOf("station: s")).toBe("keyValue") // unknown name, but no delimiter on the line
      expect(formatOf("s-1,10:30,true")).toBe("csv") // unknown name before ':' and a delimiter on the line
      expect(formatOf("")).toBe("csv")
      const semicolons = Decoder.auto(Reading, { csv: { delimiter: ";" } })
      expect(semicolons.decode(recordOf("s;1;true"))).toStrictEqual(Either.right({ sensor: "s", celsius: 1, ok: true }))
      expect(failure(auto.decode(recordOf("x".repeat(0)))).reason).toBe("expected one CSV data row per message, found 0")
      expect(failure(Decoder.json(Reading).decode({ ...recordOf(""), data: new Uint8Array([0x7b, 0xff]) }))).toMatchObject({
        format: "json",
        reason: "payload is not valid UTF-8"
      })
      expect(failure(auto.decode({ ...recordOf(""), data: new Uint8Array([0x7b, 0xff]) })).format).toBe("text")
    }))

  it.effect("conversions and transformations", () =>
    Effect.gen(function*() {
      const Payment = Schema.Struct({
        id: Schema.String,
        at: Schema.Date, // a transformation: string -> Date
        amount: Schema.NumberFromString, // a transformation: the text stays a string, the Schema parses it
        status: Schema.Literal("paid", "refunded"),
        note: Schema.optional(Schema.String)
      })
      const payments = Decoder.csv(Payment)

      const payment = payments.decode(recordOf("id,at,amount,status\np-1,2025-11-21T10:15:00Z,19.90,paid"))
      // Either.right({ id: "p-1", at: new Date("2025-11-21T10:15:00Z"), amount: 19.9, status: "paid" })

      expect(payment).toStrictEqual(
        Either.right({ id: "p-1", at: new Date("2025-11-21T10:15:00Z"), amount: 19.9, status: "paid" })
      )
      // null does not change a field's kind; an empty text is null, or left out when optional
      const Maybe = Schema.Struct({ id: Schema.String, n: Schema.NullOr(Schema.Number) })
      expect(Decoder.csv(Maybe).decode(recordOf("a,12"))).toStrictEqual(Either.right({ id: "a", n: 12 }))
      expect(Decoder.csv(Maybe).decode(recordOf("a,"))).toStrictEqual(Either.right({ id: "a", n: null }))
      const Optional = Schema.Struct({ id: Schema.String, n: Schema.optional(Schema.Number) })
      expect(Decoder.csv(Optional).decode(recordOf("id\na"))).toStrictEqual(Either.right({ id: "a" }))
      expect(Decoder.csv(Optional).decode(recordOf("a,"))).toStrictEqual(Either.right({ id: "a" }))
      const Required = Schema.Struct({ id: Schema.String, n: Schema.Number })
      expect(failure(Decoder.csv(Required).decode(recordOf("a,"))).reason).toBe(`n: Expected number, actual ""`)
    }))

  it.effect("which Schemas the hot path compiles, and which take the full decode", () =>
    Effect.gen(function*() {
      const compiles = (schema: Schema.Schema.Any) => compiledCheck.compile(schema.ast) !== undefined
      const compiled = {
        keywords: Schema.Struct({ s: Schema.String, n: Schema.Number, b: Schema.Boolean, u: Schema.Unknown }),
        literals: Schema.Struct({ kind: Schema.Literal("buy", "sell"), nothing: Schema.Null }),
        enums: Schema.Enums({ A: "a", B: "b" }),
        refinements: Schema.Struct({ n: Schema.Int, id: Schema.UUID, name: Schema.NonEmptyString.pipe(Schema.maxLength(9)) }),
        brands: Schema.String.pipe(Schema.brand("Sku")),
        optional: Schema.Struct({ a: Schema.optional(Schema.String), b: Schema.optionalWith(Schema.Number, { exact: true }) }),
        unions: Schema.Union(Schema.Struct({ a: Schema.String }), Schema.NullOr(Schema.Number)),
        tagged: Schema.TaggedStruct("Click", { page: Schema.String }),
        arrays: Schema.Struct({ tags: Schema.Array(Schema.String), pair: Schema.Tuple(Schema.String, Schema.Number) }),
        nonEmptyArray: Schema.NonEmptyArray(Schema.String)
      }
      const fallback = {
        numberFromString: Schema.Struct({ a: Schema.String, n: Schema.NumberFromString }),
        date: Schema.Date,
        dateFromNumber: Schema.DateFromNumber,
        trim: Schema.Trim,
        bigint: Schema.BigInt,
        base64: Schema.Uint8ArrayFromBase64,
        class: class Click extends Schema.Class<Click>("Click")({ page: Schema.String }) {},
        defaults: Schema.Struct({ a: Schema.optionalWith(Schema.String, { default: () => "" }) }),
        renamedKey: Schema.Struct({ a: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("A")) }),
        record: Schema.Record({ key: Schema.String, value: Schema.Number }),
        indexSignature: Schema.Struct({ a: Schema.String }, Schema.Record({ key: Schema.String, value: Schema.String })),
        templateLiteral: Schema.TemplateLiteral("sku-", Schema.Number),
        recursive: Schema.suspend((): Schema.Schema<string> => Schema.String),
        optionalElement: Schema.Tuple(Schema.String, Schema.optionalElement(Schema.Number)),
        symbolKey: Schema.Struct({ [Symbol.for("key")]: Schema.String }),
        asOption: Schema.Struct({ a: Schema.optionalWith(Schema.String, { as: "Option" }) }),
        data: Schema.Data(Schema.Struct({ a: Schema.String }))
      }
      for (const [name, schema] of Object.entries(compiled)) expect(compiles(schema), name).toBe(true)
      for (const [name, schema] of Object.entries(fallback)) expect(compiles(schema), name).toBe(false)
    }))
})

// ---------------------------------------------------------------------------------------------------------
// errors-and-retries.md
// ---------------------------------------------------------------------------------------------------------

describe("docs/errors-and-retries.md", () => {
  const Price = Schema.Struct({ sku: Schema.String, amount: Schema.Number })
  type Price = typeof Price.Type

  const streamOf = (...messages: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const stream = yield* MemoryStream.make({ name: "prices" })
      yield* stream.put(messages.map((data, i) => ({ partitionKey: `p${i}`, data })))
      return stream
    })

  it.effect("the cause of a SinkError, and an AWS error's reason", () =>
    Effect.gen(function*() {
      // stand-ins for a Kinesis producer and client (@tributary/kinesis), failing as they do
      class KinesisError extends Data.TaggedError("KinesisError")<{ readonly reason: string }> {}
      const orders = [{ orderId: "o-1" }]
      const producer = {
        write: (_: ReadonlyArray<unknown>) =>
          Effect.fail(new TributaryError.SinkError<KinesisError>({
            sink: "kinesis:orders",
            reason: "throttled",
            retryability: "transient",
            cause: new KinesisError({ reason: "Throttled" })
          }))
      }
      const kinesis = { describeStreamSummary: (_: { readonly StreamName: string }) => Effect.fail(new KinesisError({ reason: "NotFound" })) }

      // --- the docs' example ---
      const stored = producer.write(orders).pipe(
        Effect.catchTag("SinkError", (error) =>
          error.cause?.reason === "Throttled" ? Effect.logWarning("throttled: add shards") : Effect.fail(error))
      )

      // on the service itself, catchTag its class, then look at the reason
      const missing = kinesis.describeStreamSummary({ StreamName: "orders" }).pipe(
        Effect.catchTag("KinesisError", (error) => error.reason === "NotFound" ? Effect.succeedNone : Effect.fail(error))
      )
      // --- end of the example ---

      expect(yield* Effect.exit(stored)).toStrictEqual(Exit.void)
      expect(yield* missing).toStrictEqual(Option.none())
    }))

  it.effect("retry policies", () =>
    Effect.gen(function*() {
      // 200 ms doubling to at most 10 s, jittered, 5 retries
      const patient = Pipeline.make("prices").pipe(
        Pipeline.retry(Retry.exponential({ base: "200 millis", cap: "10 seconds", times: 5 }))
      )

      // Any Schedule: its input is the SinkError, so a policy can look at it
      const picky = Pipeline.make("prices").pipe(
        Pipeline.retry(
          Schedule.spaced("1 second").pipe(
            Schedule.intersect(Schedule.recurs(3)),
            Schedule.whileInput((error: TributaryError.SinkError) => !error.reason.includes("quota"))
          )
        )
      )

      for (const [pipeline, writes] of [[patient, 6], [picky, 4]] as const) {
        const stream = yield* streamOf(`{"sku":"a","amount":1}`)
        const sink = yield* RecordSink.memory<unknown>("prices")
        yield* sink.failNext(100, "transient")
        const fiber = yield* Pipeline.run(pipeline.pipe(Pipeline.to(sink))).pipe(
          Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layerMemory)),
          Effect.fork
        )
        yield* TestClock.adjust("5 minutes")
        const error = yield* Effect.flip(Fiber.join(fiber))
        expect(error).toMatchObject({ _tag: "SinkError", sink: "prices", retryability: "transient" })
        expect(yield* sink.writeCount).toBe(writes)
        expect((yield* stream.checkpoints()).size).toBe(0)
      }
    }))

  it.effect("a policy that looks at the error", () =>
    Effect.gen(function*() {
      const picky = Pipeline.make("quota").pipe(
        Pipeline.retry(
          Schedule.spaced("1 second").pipe(
            Schedule.intersect(Schedule.recurs(3)),
            Schedule.whileInput((error: TributaryError.SinkError) => !error.reason.includes("quota"))
          )
        )
      )
      let writes = 0
      const overQuota = RecordSink.make<unknown>("over-quota", () =>
        Effect.suspend(() => {
          writes++
          return Effect.fail(new TributaryError.SinkError({ sink: "over-quota", reason: "quota exceeded", retryability: "transient" }))
        }))
      const stream = yield* streamOf(`{"sku":"a","amount":1}`)
      const error = yield* Effect.flip(
        Pipeline.run(picky.pipe(Pipeline.to(overQuota))).pipe(
          Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layerMemory))
        )
      )
      expect(error).toMatchObject({ _tag: "SinkError", reason: "quota exceeded" })
      expect(writes).toBe(1)
    }))

  it.effect("a sink that throws is a defect: not retried, not dead-lettered", () =>
    Effect.gen(function*() {
      const throwing = RecordSink.make<unknown>("throwing", () => {
        throw new Error("bug")
      })
      const stream = yield* streamOf(`{"sku":"a","amount":1}`)
      const exit = yield* Effect.exit(
        Pipeline.run(Pipeline.make("defect").pipe(Pipeline.to(throwing))).pipe(
          Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layerMemory))
        )
      )
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      expect((yield* stream.checkpoints()).size).toBe(0)
    }))

  it.effect("the default policy gives up after 12 retries, about 141 s of backoff before jitter", () =>
    Effect.gen(function*() {
      const stream = yield* streamOf(`{"sku":"a","amount":1}`)
      const sink = yield* RecordSink.memory<Price>("prices")
      yield* sink.failNext(100, "transient")
      const pipeline = Pipeline.make("default-retry").pipe(Pipeline.decode(Decoder.json(Price)), Pipeline.to(sink))
      const fiber = yield* Pipeline.run(pipeline).pipe(
        Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layerMemory)),
        Effect.fork
      )
      // nominal delays: 0.1, 0.2, ... 25.6 s (sum 51.1 s), then 3 x 30 s: 141.1 s, each x0.8 to x1.2
      yield* TestClock.adjust("112 seconds") // below 0.8 x 141.1 s: still retrying
      expect(yield* sink.writeCount).toBeLessThan(13)
      yield* TestClock.adjust("60 seconds") // beyond 1.2 x 141.1 s
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error._tag).toBe("SinkError")
      expect(yield* sink.writeCount).toBe(13)
      // the retry counter counts every transient failure, the last (not retried) one included
      const retries = yield* Metric.value(Metric.tagged(Pipeline.metrics.sinkRetries, "pipeline", "default-retry"))
      expect(retries.count).toBe(13)
    }))

  it.effect("a throwing map sends the record to the dead letters", () =>
    Effect.gen(function*() {
      const stream = yield* streamOf(`{"sku":"a","amount":3}`, `{"sku":"b","amount":-1}`)
      const sink = yield* RecordSink.memory<Price>("prices")
      const deadLetters = yield* RecordSink.memory<DeadLetter.DeadLetter>("dead-letters")

      const pipeline = Pipeline.make("prices").pipe(
        Pipeline.decode(Decoder.json(Price)),
        Pipeline.map((price) => {
          if (price.amount < 0) throw new RangeError(`negative amount for ${price.sku}`)
          return price
        }),
        Pipeline.to(sink)
      )
      const summary = yield* Pipeline.run(pipeline).pipe(
        Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layer(deadLetters)))
      )
      // summary: { batches: 1, recordsIn: 2, recordsOut: 1, deadLettered: 1, late: 0, filtered: 0 }
      // dead letter: { stage: "map", reason: "RangeError: negative amount for b", ... }

      expect(summary).toStrictEqual({ batches: 1, recordsIn: 2, recordsOut: 1, deadLettered: 1, late: 0, filtered: 0 })
      expect(yield* sink.items).toStrictEqual([{ sku: "a", amount: 3 }])
      const [letter] = yield* deadLetters.items
      expect(letter).toMatchObject({ pipeline: "prices", stage: "map", reason: "RangeError: negative amount for b", failedAt: 0 })
      expect(letter.format).toBeUndefined()
      expect(text.decode(letter.data)).toBe(`{"sku":"b","amount":-1}`)
    }))

  it.effect("throwing filter and flatMap, and non-Error throws", () =>
    Effect.gen(function*() {
      const stream = yield* streamOf(`{"sku":"a","amount":1}`, `{"sku":"b","amount":2}`, `{"sku":"c","amount":3}`)
      const sink = yield* RecordSink.memory<string>("skus")
      const pipeline = Pipeline.make("throwing").pipe(
        Pipeline.decode(Decoder.json(Price)),
        Pipeline.filter((price) => {
          if (price.sku === "a") throw "no a"
          return true
        }),
        Pipeline.flatMap(function*(price) {
          yield price.sku
          if (price.sku === "b") throw new Error("half done")
          yield price.sku.toUpperCase()
        }),
        Pipeline.to(sink)
      )
      const { letters, summary } = yield* Effect.gen(function*() {
        const summary = yield* Pipeline.run(pipeline)
        return { summary, letters: yield* (yield* DeadLetter.MemoryDeadLetters).items }
      }).pipe(Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layerMemory)))
      expect(summary).toMatchObject({ recordsIn: 3, recordsOut: 1, deadLettered: 2, filtered: 0 })
      expect(yield* sink.items).toStrictEqual(["c", "C"]) // nothing of "b" went on
      expect(letters.map((l) => [l.stage, l.reason])).toStrictEqual([["filter", "thrown: no a"], ["flatMap", "Error: half done"]])
    }))

  it.effect("no record stalls a shard: out-of-range event times and throwing window functions are dead letters", () =>
    Effect.gen(function*() {
      const stream = yield* streamOf(
        `{"sensor":"s-1","at":1700000000000,"celsius":21}`,
        `{"sensor":"s-1","at":1e999,"celsius":20}`,
        `{"sensor":"","at":1700000000000,"celsius":19}`
      )
      const results = yield* RecordSink.memory<Window.WindowResult<string, number | undefined>>("results")
      const deadLetters = yield* RecordSink.memory<DeadLetter.DeadLetter>("dead-letters")
      const Reading = Schema.Struct({ sensor: Schema.String, at: Schema.Number, celsius: Schema.Number })
      const hourly = Pipeline.make("readings").pipe(
        Pipeline.decode(Decoder.json(Reading)),
        Pipeline.window({
          window: Window.tumbling("1 hour"),
          key: (r) => {
            if (r.sensor === "") throw new Error("a reading without a sensor")
            return r.sensor
          },
          eventTime: (r) => r.at,
          aggregate: Aggregate.mean.pipe(Aggregate.mapInput((r: typeof Reading.Type) => r.celsius))
        }),
        Pipeline.to(results)
      )
      // summary: { batches: 1, recordsIn: 3, recordsOut: 1, deadLettered: 2, late: 0, filtered: 0 }
      // dead letters: { stage: "window", reason: "event time Infinity is not a time a Date can hold (epoch milliseconds within ±8640000000000000)" }
      //               { stage: "window", reason: "Error: a reading without a sensor" }
      const summary = yield* Pipeline.run(hourly).pipe(
        Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layer(deadLetters)))
      )
      expect(summary).toStrictEqual({ batches: 1, recordsIn: 3, recordsOut: 1, deadLettered: 2, late: 0, filtered: 0 })
      expect((yield* deadLetters.items).map((l) => ({ stage: l.stage, reason: l.reason }))).toStrictEqual([
        {
          stage: "window",
          reason: "event time Infinity is not a time a Date can hold (epoch milliseconds within ±8640000000000000)"
        },
        { stage: "window", reason: "Error: a reading without a sensor" }
      ])
      expect((yield* results.items).map((r) => [r.key, r.value, r.count])).toStrictEqual([["s-1", 21, 1]])
    }))

  it.effect("a permanent rejection is bisected down to the rejected record", () =>
    Effect.gen(function*() {
      const stream = yield* streamOf(...Array.from({ length: 8 }, (_, i) => JSON.stringify({ sku: `s${i}`, amount: i })))
      const sink = yield* RecordSink.memory<Price>("prices")
      yield* sink.rejectWhen((price) => price.sku === "s5", "ValidationException: item too large")
      const deadLetters = yield* RecordSink.memory<DeadLetter.DeadLetter>("dead-letters")
      const pipeline = Pipeline.make("bisect").pipe(Pipeline.decode(Decoder.json(Price)), Pipeline.to(sink))
      const summary = yield* Pipeline.run(pipeline).pipe(
        Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layer(deadLetters)))
      )
      expect(summary).toMatchObject({ recordsIn: 8, recordsOut: 7, deadLettered: 1 })
      // 8 -> 4 + 4 -> (2 + 2) -> (1 + 1): 1 + 2 + 2 + 2 writes
      expect(yield* sink.writeCount).toBe(7)
      expect((yield* deadLetters.items).map((l) => [l.stage, l.reason])).toStrictEqual([
        ["sink:prices", "ValidationException: item too large"]
      ])
      const checkpoints = yield* stream.checkpoints()
      expect(checkpoints.get(stream.shardIds[0])?.sequenceNumber).toBe(stream.records(stream.shardIds[0])[7].sequenceNumber)
    }))

  it.effect("a failing dead-letter sink fails the pipeline before its checkpoint", () =>
    Effect.gen(function*() {
      const stream = yield* streamOf(`{"sku":"a","amount":1}`, `broken`)
      const sink = yield* RecordSink.memory<Price>("prices")
      const deadLetters = yield* RecordSink.memory<DeadLetter.DeadLetter>("dead-letters")
      yield* deadLetters.failNext(1, "permanent")
      const pipeline = Pipeline.make("no-dlq").pipe(Pipeline.decode(Decoder.json(Price)), Pipeline.to(sink))
      const error = yield* Effect.flip(
        Pipeline.run(pipeline).pipe(Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layer(deadLetters))))
      )
      expect(error).toMatchObject({
        _tag: "SinkError",
        sink: "dead-letters",
        retryability: "permanent",
        reason: "dead letters could not be stored, the batch stays unacknowledged: injected permanent failure"
      })
      expect(yield* sink.items).toHaveLength(1) // already written: it will be written again after a restart
      expect((yield* stream.checkpoints()).size).toBe(0)
    }))

  it.effect("restarting a failed pipeline resumes after the last checkpoint", () =>
    Effect.gen(function*() {
      const stream = yield* streamOf(`{"sku":"a","amount":1}`)
      const sink = yield* RecordSink.memory<Price>("prices")
      yield* sink.failNext(2, "transient")
      const pipeline = Pipeline.make("prices").pipe(
        Pipeline.decode(Decoder.json(Price)),
        Pipeline.to(sink),
        Pipeline.retry(Schedule.recurs(0))
      )
      const layer = Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layerMemory)

      // Restart from the last checkpoint after a transient failure, at most 5 times
      const supervised = Pipeline.run(pipeline).pipe(
        Effect.tapError((error) => Effect.logWarning(`restarting: ${error.message}`)),
        Effect.retry({ schedule: Schedule.spaced("1 minute").pipe(Schedule.intersect(Schedule.recurs(5))), while: TributaryError.isTransient }),
        Effect.provide(layer)
      )

      const fiber = yield* Effect.fork(supervised.pipe(Logger.withMinimumLogLevel(LogLevel.None)))
      yield* TestClock.adjust("3 minutes")
      const summary = yield* Fiber.join(fiber)
      expect(summary.recordsOut).toBe(1)
      expect(yield* sink.items).toStrictEqual([{ sku: "a", amount: 1 }])
    }))
})

// ---------------------------------------------------------------------------------------------------------
// testing.md: the examples are tests themselves
// ---------------------------------------------------------------------------------------------------------

const Order = Schema.Struct({ orderId: Schema.String, amount: Schema.Number })
type Order = typeof Order.Type

const ordersPipeline = (sink: RecordSink.RecordSink<Order>) =>
  Pipeline.make("orders").pipe(Pipeline.decode(Decoder.json(Order)), Pipeline.to(sink))

const ordersOf = (...amounts: ReadonlyArray<number>) =>
  amounts.map((amount, i) => ({ partitionKey: `o-${i}`, data: JSON.stringify({ orderId: `o-${i}`, amount }) }))

describe("orders pipeline", () => {
  it.effect("writes decoded orders and dead-letters broken ones", () =>
    Effect.gen(function*() {
      const stream = yield* MemoryStream.make({ shards: 2 })
      yield* stream.put([...ordersOf(10, 20), { partitionKey: "o-x", data: `{"orderId":"o-x"` }])
      const sink = yield* RecordSink.memory<Order>()

      const { letters, summary } = yield* Effect.gen(function*() {
        const summary = yield* Pipeline.run(ordersPipeline(sink))
        // layerMemory makes a new sink each time the layer is built: read it under the same provide
        const letters = yield* (yield* DeadLetter.MemoryDeadLetters).items
        return { letters, summary }
      }).pipe(Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layerMemory)))

      expect(summary).toMatchObject({ recordsIn: 3, recordsOut: 2, deadLettered: 1, filtered: 0 })
      expect([...(yield* sink.items)].sort((a, b) => a.amount - b.amount)).toStrictEqual([
        { orderId: "o-0", amount: 10 },
        { orderId: "o-1", amount: 20 }
      ])
      expect(letters.map((letter) => letter.stage)).toStrictEqual(["decode"])
    }))

  it.effect("retries a sink that fails twice, waiting on the TestClock", () =>
    Effect.gen(function*() {
      const stream = yield* MemoryStream.make()
      yield* stream.put(ordersOf(10))
      const sink = yield* RecordSink.memory<Order>()
      yield* sink.failNext(2, "transient")

      const fiber = yield* Pipeline.run(ordersPipeline(sink)).pipe(
        Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layerMemory)),
        Effect.fork
      )
      yield* TestClock.adjust("1 second") // the default policy waits about 100 ms, then 200 ms
      const summary = yield* Fiber.join(fiber)

      expect(summary.recordsOut).toBe(1)
      expect(yield* sink.writeCount).toBe(3)
      expect(yield* sink.items).toHaveLength(1)
    }))

  it.effect("dead-letters the one order the sink rejects", () =>
    Effect.gen(function*() {
      const stream = yield* MemoryStream.make()
      yield* stream.put(ordersOf(10, 20, 5000, 30))
      const sink = yield* RecordSink.memory<Order>()
      yield* sink.rejectWhen((order) => order.amount > 1000, "ValidationException: amount too large")
      const deadLetters = yield* RecordSink.memory<DeadLetter.DeadLetter>("dead-letters")

      const summary = yield* Pipeline.run(ordersPipeline(sink)).pipe(
        Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layer(deadLetters)))
      )

      expect(summary).toMatchObject({ recordsIn: 4, recordsOut: 3, deadLettered: 1 })
      expect((yield* sink.items).map((order) => order.amount)).toStrictEqual([10, 20, 30])
      expect(yield* deadLetters.items).toMatchObject([
        { stage: "sink:memory", reason: "ValidationException: amount too large", partitionKey: "o-2" }
      ])
    }))

  it.effect("resumes after its checkpoint; another application reads from the start", () =>
    Effect.gen(function*() {
      const stream = yield* MemoryStream.make()
      yield* stream.put(ordersOf(1, 2, 3))
      const sink = yield* RecordSink.memory<Order>()
      const run = (application: string) =>
        Pipeline.run(ordersPipeline(sink)).pipe(
          Effect.provide(Layer.merge(MemoryStream.layerSource(stream, { application }), DeadLetter.layerMemory))
        )

      expect((yield* run("billing")).recordsIn).toBe(3)
      yield* stream.put(ordersOf(4))
      expect((yield* run("billing")).recordsIn).toBe(1) // only the new record
      expect((yield* run("audit")).recordsIn).toBe(4) // its own checkpoints: none yet
      const checkpoint = (yield* stream.checkpoints("billing")).get(stream.shardIds[0])
      expect(checkpoint?.sequenceNumber).toBe(stream.records(stream.shardIds[0])[3].sequenceNumber)
    }))

  it.effect("follows a live stream", () =>
    Effect.gen(function*() {
      const stream = yield* MemoryStream.make()
      const sink = yield* RecordSink.memory<Order>()
      const fiber = yield* Pipeline.run(ordersPipeline(sink)).pipe(
        Effect.provide(Layer.merge(MemoryStream.layerSource(stream, { follow: true, idleInterval: "1 second" }), DeadLetter.layerMemory)),
        Effect.fork
      )
      yield* TestClock.adjust("10 millis") // the first poll finds nothing and sleeps for the idle interval
      yield* stream.put(ordersOf(10))
      expect(yield* sink.items).toHaveLength(0)
      yield* TestClock.adjust("1 second") // the next poll finds it
      expect(yield* sink.items).toHaveLength(1)
      yield* Fiber.interrupt(fiber) // a following run never ends by itself
    }))
})

// ---------------------------------------------------------------------------------------------------------
// windows.md
// ---------------------------------------------------------------------------------------------------------

describe("windows.md", () => {
  it.effect("per-activity count and p95 per minute", () =>
    Effect.gen(function*() {
      const Activity = Schema.Struct({ Activity: Schema.String, DateUnixMs: Schema.Number, DurationMs: Schema.Number })
      type Activity = typeof Activity.Type
      type PerMinute = Window.WindowResult<string, { n: number; p95: number | undefined }>

      const perMinute = (results: RecordSink.RecordSink<PerMinute>) =>
        Pipeline.make("activity").pipe(
          Pipeline.decode(Decoder.auto(Activity)),
          Pipeline.window({
            window: Window.tumbling("1 minute"),
            key: (a: Activity) => a.Activity,
            eventTime: (a) => a.DateUnixMs,
            maxOutOfOrderness: "5 seconds",
            aggregate: Aggregate.struct({ n: Aggregate.count, p95: Aggregate.quantile(0.95) }).pipe(
              Aggregate.mapInput((a: Activity) => a.DurationMs)
            )
          }),
          Pipeline.to(results)
        )

      const stream = yield* MemoryStream.make()
      yield* stream.put(Array.from({ length: 100 }, (_, i) => ({
        partitionKey: "p",
        data: i % 2 === 0
          ? JSON.stringify({ Activity: "buy", DateUnixMs: i * 1_000, DurationMs: i })
          : `Activity,DateUnixMs,DurationMs\nbuy,${i * 1_000},${i}`
      })))
      const results = yield* RecordSink.memory<PerMinute>()
      yield* Pipeline.run(perMinute(results)).pipe(
        Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layerMemory))
      )
      const emitted = yield* results.items
      expect(emitted.map((r) => [r.start, r.value.n, r.firing])).toStrictEqual([[0, 60, "onTime"], [60_000, 40, "onTime"]])
      expect(emitted[0].value.p95).toBeCloseTo(56, -1) // within the sketch's 1%: 56 of 0..59
    }))
})

// ---------------------------------------------------------------------------------------------------------
// batch-and-scheduling.md
// ---------------------------------------------------------------------------------------------------------

describe("batch-and-scheduling.md", () => {
  it.scoped("a job runs on demand and on its schedule", () =>
    Effect.gen(function*() {
      const reaggregate = Job.make({
        name: "reaggregate-last-hour",
        timing: { every: "15 minutes" }, // or { cron: "30 2 * * *" }
        range: (scheduledAt) => ({ from: scheduledAt - 3_600_000, to: scheduledAt }),
        // a batch pipeline over the range; returns how many records it processed
        run: (range) => Effect.succeed(range.to - range.from > 0 ? 1 : 0)
      })

      const program = Effect.gen(function*() {
        const running = yield* Job.start(reaggregate) // runs on its schedule until the scope closes
        const run = yield* running.trigger({ from: 0, to: 3_600_000 }) // and now, by hand
        return run.outcome // "succeeded"
      })

      expect(yield* program).toBe("succeeded")
      yield* TestClock.adjust("15 minutes")
      const runs = yield* Effect.flatMap(Job.RunLog, (log) => log.list("reaggregate-last-hour"))
      expect(runs.map((r) => [r.trigger, r.outcome])).toStrictEqual([["schedule", "succeeded"], ["manual", "succeeded"]])
    }).pipe(Effect.provide(Job.layerRunLogMemory)))
})

// ---------------------------------------------------------------------------------------------------------
// the docs and this file agree
// ---------------------------------------------------------------------------------------------------------

describe("docs", () => {
  const docs = fileURLToPath(new URL("../../../docs/", import.meta.url))
  const pages = [
    "README.md",
    "getting-started.md",
    "concepts.md",
    "decoders.md",
    "errors-and-retries.md",
    "testing.md",
    "windows.md",
    "batch-and-scheduling.md",
    // no TypeScript examples: only their links are checked
    "architecture.md",
    "comparison.md"
  ]
  // Pages whose examples are tested by other packages (or that have none): their links are checked here.
  const otherPages = [
    "kinesis.md",
    "consumer.md",
    "storage-archive.md",
    "storage-results.md",
    "lambda.md",
    "dynamodb-streams.md",
    "server.md",
    "cli.md",
    "examples.md",
    "deployment.md",
    "operations.md"
  ]
  const slug = (heading: string) =>
    heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-")
  const anchorsOf = (markdown: string) =>
    new Set([...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((match) => slug(match[1])))

  for (const page of pages) {
    it(`${page}: every TypeScript example is tested here`, () => {
      expect(DocBlocks.problems(page, { files: [import.meta.url], checkImports: true, standApart: ["Effect.runPromise("] }))
        .toStrictEqual([])
    })
  }

  for (const page of [...pages, ...otherPages]) {
    it(`${page}: links to pages and headings that exist`, () => {
      const markdown = readFileSync(docs + page, "utf8")
      const broken: Array<string> = []
      for (const [, target] of markdown.matchAll(/\]\((?!https?:)([^)\s]+)\)/g)) {
        const [file, anchor] = target.split("#")
        const linked = file === "" ? page : file
        if (!existsSync(docs + linked)) broken.push(target)
        else if (linked.endsWith(".md") && anchor !== undefined && !anchorsOf(readFileSync(docs + linked, "utf8")).has(anchor)) {
          broken.push(target)
        }
      }
      expect(broken, `${page} links to pages or headings that do not exist`).toStrictEqual([])
    })
  }
})
