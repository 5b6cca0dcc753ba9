/**
 * No record can stall a shard: whatever one record holds, decoding it and every stage after it either
 * process it or turn it into its own dead letter (with its stage and a bounded reason), and the page goes on.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Aggregate from "../src/Aggregate.js"
import * as DeadLetter from "../src/DeadLetter.js"
import * as Decoder from "../src/Decoder.js"
import * as MemoryStream from "../src/MemoryStream.js"
import * as Pipeline from "../src/Pipeline.js"
import * as RecordSink from "../src/RecordSink.js"
import type { DecodeFailure } from "../src/TributaryError.js"
import * as Window from "../src/Window.js"
import { Activity, recordOf } from "./fixtures/activity.js"

const decodeText = <A>(decoder: Decoder.Decoder<A>, text: string | Uint8Array) => decoder.decode(recordOf(text))

const failureOf = <A>(decoder: Decoder.Decoder<A>, text: string | Uint8Array): DecodeFailure => {
  const result = decodeText(decoder, text)
  if (Either.isRight(result)) throw new Error(`expected a failure, got ${JSON.stringify(result.right)}`)
  return result.left
}

const valueOf = <A>(decoder: Decoder.Decoder<A>, text: string | Uint8Array): A => {
  const result = decodeText(decoder, text)
  if (Either.isLeft(result)) throw new Error(`expected a value, got ${result.left.reason}`)
  return result.right
}

const Anything = Schema.Record({ key: Schema.String, value: Schema.Unknown })
const Texts = Schema.Record({ key: Schema.String, value: Schema.String })

describe("decoders: bounded work whatever the payload", () => {
  const tooDeep = "nesting deeper than 1000 levels"

  it("JSON nested deeper than 1000 levels fails with that reason, balanced or not, at any depth", () => {
    const decoder = Decoder.json(Anything)
    const cases = [
      "[".repeat(6250), // unclosed: the error locator used to recurse
      "[".repeat(100_000) + "]".repeat(100_000),
      `{"a":`.repeat(100_000) + "1" + "}".repeat(100_000),
      `{"a":` + "[".repeat(1001) + "]".repeat(1001) + "}"
    ]
    for (const text of cases) {
      const failure = failureOf(decoder, text)
      expect(failure.reason).toBe(`invalid JSON: ${tooDeep}`)
    }
    // the first bracket too deep is where the failure points
    expect(failureOf(decoder, "[".repeat(1001) + "]".repeat(1001)).position).toMatchObject({ offset: 1000, line: 1 })
    // a value in a field: the same limit, and a Schema's issue formatting is never reached with it
    const field = failureOf(Decoder.json(Activity), `{"CustomerId":${"[".repeat(2200)}${"]".repeat(2200)}}`)
    expect(field.reason).toBe(`invalid JSON: ${tooDeep}`)
    // brackets inside strings are data
    const inString = `{"a":"${"[".repeat(5000)}"}`
    expect(valueOf(decoder, inString)).toStrictEqual({ a: "[".repeat(5000) })
  })

  it("takes nesting up to the limit, and explains a Schema failure about it without walking the value", () => {
    const thousand = "[".repeat(999) + "]".repeat(999)
    expect(valueOf(Decoder.json(Schema.Struct({ a: Schema.Unknown })), `{"a":${thousand}}`)).toBeDefined()
    const failure = failureOf(Decoder.json(Schema.Struct({ a: Schema.Number })), `{"a":${thousand}}`)
    expect(failure.reason).toBe(`a: Expected number, actual ${"[".repeat(80)}…`)
  })

  it("a reason is at most 4 KiB and says how many issues it left out, even for a 400 KB payload", () => {
    const Orders = Schema.Array(Schema.Struct({ n: Schema.Number }))
    const payload = `[${Array.from({ length: 40_000 }, () => `{"n":"x"}`).join(",")}]`
    expect(payload.length).toBeGreaterThan(400_000)
    const failure = failureOf(Decoder.json(Orders), payload)
    expect(failure.reason.length).toBeLessThanOrEqual(DeadLetter.maxReasonLength)
    expect(failure.reason.startsWith(`0.n: Expected number, actual "x"; 1.n: Expected number, actual "x"; `)).toBe(true)
    const shown = failure.reason.split("; ").length - 1
    expect(failure.reason.endsWith(`; … ${40_000 - shown} more issues left out`)).toBe(true)
  })

  it("shows a long or large actual value as a short preview", () => {
    const failure = failureOf(Decoder.json(Schema.Struct({ a: Schema.Number })), JSON.stringify({ a: "x".repeat(1_000_000) }))
    expect(failure.reason).toBe(`a: Expected number, actual "${"x".repeat(79)}…`)
    const wide = failureOf(Decoder.json(Schema.Struct({ a: Schema.Number })), JSON.stringify({ a: { b: 1, c: [1, 2], d: "e" } }))
    expect(wide.reason).toBe(`a: Expected number, actual {"b":1,"c":[1,2],"d":"e"}`)
  })

  it("a Schema whose own code throws fails that record, with the reason", () => {
    const Throwing = Schema.Struct({
      n: Schema.Number.pipe(Schema.filter((n) => {
        if (n === 13) throw new Error("unlucky")
        return true
      }))
    })
    const decoder = Decoder.json(Throwing)
    expect(failureOf(decoder, `{"n":13}`).reason).toBe("the decoder failed: Error: unlucky")
    const batch = Decoder.decodeAll(decoder, [`{"n":1}`, `{"n":13}`, `{"n":2}`].map((text) => recordOf(text)))
    expect(batch.values).toStrictEqual([{ n: 1 }, { n: 2 }])
    expect(batch.failureOrigins).toStrictEqual([1])
  })

  it("a number field of text formats reads a long run of digits in linear time", () => {
    const digits = "9".repeat(100_000)
    const decoder = Decoder.csv(Schema.Struct({ a: Schema.Number }), { header: "absent" })
    // used to backtrack quadratically (minutes) on digits followed by anything else
    expect(failureOf(decoder, `${digits}x`).reason).toBe(`a: Expected number, actual "${"9".repeat(79)}…`)
    expect(valueOf(decoder, digits)).toStrictEqual({ a: Infinity })
  })
})

describe("decoders: Schemas with a string index signature", () => {
  it("keep empty values as \"\"", () => {
    expect(valueOf(Decoder.csv(Texts), `a,b,c\n1,"",`)).toStrictEqual({ a: "1", b: "", c: "" })
    expect(valueOf(Decoder.keyValue(Texts), "a: 1\nb:\nc =")).toStrictEqual({ a: "1", b: "", c: "" })
    expect(valueOf(Decoder.xml(Texts), `<r a="1" b=''><c/><d></d></r>`)).toStrictEqual({ a: "1", b: "", c: "", d: "" })
    expect(valueOf(Decoder.auto(Anything), `a,b\n,`)).toStrictEqual({ a: "", b: "" })
  })

  it("an empty or BOM-only payload is a failure in every format", () => {
    for (const text of ["", "\ufeff", new Uint8Array([0xef, 0xbb, 0xbf])]) {
      for (const decoder of [Decoder.json, Decoder.csv, Decoder.keyValue, Decoder.xml, Decoder.auto].map((make) => make(Anything))) {
        expect(Either.isLeft(decodeText(decoder, text))).toBe(true)
      }
      expect(Either.isLeft(decodeText(Decoder.apacheLog(Anything), text))).toBe(true)
    }
    expect(failureOf(Decoder.csv(Anything), "").reason).toBe("expected one CSV data row per message, found 0")
  })

  it("no input key sets a prototype: __proto__ keys are dropped, constructor is plain data", () => {
    const inputs: ReadonlyArray<readonly [Decoder.Decoder<{ readonly [k: string]: unknown }>, string]> = [
      [Decoder.json(Anything), `{"__proto__":{"polluted":true},"a":"1","constructor":"c"}`],
      [Decoder.json(Anything), `{"\\u005f_proto__":{"polluted":true},"a":"1","constructor":"c"}`],
      [Decoder.csv(Anything), `__proto__,a,constructor\n{},1,c`],
      [Decoder.keyValue(Anything), `__proto__: x\na: 1\nconstructor: c`],
      [Decoder.xml(Anything), `<r __proto__="x" a="1"><constructor>c</constructor></r>`]
    ]
    for (const [decoder, text] of inputs) {
      const value = valueOf(decoder, text)
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
      expect(value).toStrictEqual({ a: "1", constructor: "c" })
      expect((value as { polluted?: unknown }).polluted).toBeUndefined()
    }
    // nested records too
    const Nested = Schema.Struct({ inner: Anything })
    const nested = valueOf(Decoder.json(Nested), `{"inner":{"__proto__":{"polluted":true},"b":2}}`)
    expect(Object.getPrototypeOf(nested.inner)).toBe(Object.prototype)
    expect(nested).toStrictEqual({ inner: { b: 2 } })
  })
})

// ---------------------------------------------------------------------------------------------------------
// the pipeline's stages
// ---------------------------------------------------------------------------------------------------------

const run = <A>(
  pipeline: Pipeline.Pipeline<A, never>,
  payloads: ReadonlyArray<string>
) =>
  Effect.gen(function*() {
    const stream = yield* MemoryStream.make({ name: "poison", shards: 1 })
    yield* stream.put(payloads.map((data, i) => ({ partitionKey: `k${i}`, data })))
    const deadLetters = yield* RecordSink.memory<DeadLetter.DeadLetter>("dead-letters")
    const summary = yield* Pipeline.run(pipeline).pipe(
      Effect.provide(Layer.merge(MemoryStream.layerSource(stream), DeadLetter.layer(deadLetters)))
    )
    const letters = yield* deadLetters.items
    const text = (letter: DeadLetter.DeadLetter) => new TextDecoder().decode(letter.data)
    return { summary, letters, byPayload: new Map(letters.map((letter) => [text(letter), letter])) }
  })

const Event = Schema.Struct({ key: Schema.String, at: Schema.Number, n: Schema.Number })
type Event = typeof Event.Type
const event = (key: string, at: number | string, n: number | string = 1) => `{"key":"${key}","at":${at},"n":${n}}`

describe("the pipeline: each stage fails records one at a time", () => {
  it.effect("a decoder that throws (not one of Tributary's) fails only the records it throws on", () =>
    Effect.gen(function*() {
      const json = Decoder.json(Event)
      const throwing: Decoder.Decoder<Event> = {
        ...json,
        decode: (record) => {
          if (new TextDecoder().decode(record.data).includes("boom")) throw new RangeError("boom")
          return json.decode(record)
        },
        decodeInto: () => {
          throw new RangeError("boom")
        }
      }
      const sink = yield* RecordSink.memory<Event>("out")
      const { byPayload, summary } = yield* run(
        Pipeline.make("p").pipe(Pipeline.decode(throwing), Pipeline.to(sink)),
        [event("a", 1), `{"boom":1}`, event("b", 2)]
      )
      expect(summary).toMatchObject({ recordsIn: 3, recordsOut: 2, deadLettered: 1 })
      expect(byPayload.get(`{"boom":1}`)).toMatchObject({ stage: "decode", format: "json", reason: "the decoder failed: RangeError: boom" })
    }))

  it.effect("whatever a user function throws, its reason is bounded and building it never throws", () =>
    Effect.gen(function*() {
      const revoked = Proxy.revocable({}, {})
      revoked.revoke()
      const hostile = new Proxy({}, {
        get: () => {
          throw new Error("no")
        },
        ownKeys: () => {
          throw new Error("no")
        },
        getPrototypeOf: () => {
          throw new Error("no")
        }
      })
      const thrown: Record<string, unknown> = {
        huge: new Error("x".repeat(1_000_000)),
        nullProto: Object.assign(Object.create(null), { a: 1 }),
        hostile,
        revoked: revoked.proxy,
        deep: JSON.parse("[".repeat(999) + "]".repeat(999)),
        string: "plain"
      }
      const { letters, summary } = yield* run(
        Pipeline.make("p").pipe(
          Pipeline.decode(Decoder.json(Schema.Struct({ which: Schema.String }))),
          Pipeline.map(({ which }) => {
            throw thrown[which]
          })
        ),
        Object.keys(thrown).map((which) => JSON.stringify({ which }))
      )
      expect(summary).toMatchObject({ recordsIn: 6, deadLettered: 6 })
      const reasons = Object.fromEntries(letters.map((l) => [JSON.parse(new TextDecoder().decode(l.data)).which, l.reason]))
      expect(reasons.huge.length).toBe(DeadLetter.maxReasonLength)
      expect(reasons.huge).toMatch(/^Error: x+ … \(\d+ more characters left out\)$/)
      expect(reasons.nullProto).toBe(`thrown: {"a":1}`)
      expect(reasons.hostile).toBe("thrown: a value that cannot be shown")
      expect(reasons.revoked).toBe("thrown: a value that cannot be shown")
      expect(reasons.deep).toBe(`thrown: ${"[".repeat(80)}…`)
      expect(reasons.string).toBe("thrown: plain")
      expect(letters.every((l) => l.stage === "map")).toBe(true)
    }))
})

describe("the window stage: a record is added whole or not at all", () => {
  const windowed = <S, O>(aggregate: Aggregate.Aggregate<Event, S, O>, options: Partial<Pipeline.WindowOptions<Event, string, S, O, never>> = {}) =>
    Effect.gen(function*() {
      const sink = yield* RecordSink.memory<Window.WindowResult<string, O>>("results")
      const pipeline = Pipeline.make("w").pipe(
        Pipeline.decode(Decoder.json(Event)),
        Pipeline.window({
          window: Window.tumbling("1 minute"),
          key: (e: Event) => e.key,
          eventTime: (e) => e.at,
          aggregate,
          ...options
        }),
        Pipeline.to(sink)
      )
      return { sink, pipeline }
    })

  it.effect("an event time a Date cannot hold is a dead letter with stage window; the late path never throws", () =>
    Effect.gen(function*() {
      const { pipeline, sink } = yield* windowed(Aggregate.count.pipe(Aggregate.mapInput((e: Event) => e)))
      const payloads = [
        event("a", 60_000),
        event("a", "1e999"),
        event("a", "-1e999"),
        event("a", "1e16"),
        event("a", "-1e16"),
        event("a", 8.64e15 + 1),
        event("a", 120_500),
        event("a", 1_000), // late: the watermark passed its window
        event("a", -8.64e15) // the earliest time a Date holds: late, with an ISO reason
      ]
      const { byPayload, summary } = yield* run(pipeline, payloads)
      // late records go to the dead-letter sink too (no late sink here), counted as late
      expect(summary).toMatchObject({ recordsIn: 9, recordsOut: 2, deadLettered: 5, late: 2, filtered: 0 })
      for (const at of ["1e999", "-1e999", "1e16", "-1e16", String(8.64e15 + 1)]) {
        const letter = byPayload.get(event("a", at))!
        expect(letter.stage).toBe("window")
        expect(letter.reason).toMatch(/^event time -?(Infinity|\d.*) is not a time a Date can hold \(epoch milliseconds within ±8640000000000000\)$/)
      }
      expect(byPayload.get(event("a", 1_000))!.reason).toBe(
        "late: event time 1970-01-01T00:00:01.000Z is more than the allowed lateness (0 ms) behind the watermark 1970-01-01T00:02:00.500Z"
      )
      expect(byPayload.get(event("a", -8.64e15))!.reason).toContain("late: event time -271821-04-20T00:00:00.000Z")
      expect((yield* sink.items).map((r) => [r.start, r.count])).toStrictEqual([[60_000, 1], [120_000, 1]])
    }))

  it.effect("a key, an event time or an aggregate that throws fails its record alone; the window is as if it never came", () =>
    Effect.gen(function*() {
      const picky = Aggregate.make({
        empty: () => ({ sum: 0 }),
        add: (s: { sum: number }, e: Event) => {
          if (e.n === 13) throw new RangeError("13 is not welcome")
          s.sum += e.n
          return s
        },
        merge: (a, b) => ({ sum: a.sum + b.sum }),
        result: (s) => s.sum,
        state: Schema.Struct({ sum: Schema.Number })
      })
      const aggregate = Aggregate.struct({
        picky,
        total: Aggregate.sum.pipe(Aggregate.mapInput((e: Event) => e.n)),
        // throws for the record keyed "bad-input", after the fields before it could have taken it
        checked: Aggregate.mean.pipe(Aggregate.mapInput((e: Event) => e.key === "bad-input" ? ("x" as unknown as number) : e.n))
      })
      const { pipeline, sink } = yield* windowed(aggregate, {
        key: (e) => {
          if (e.key === "bad-key") throw new Error("no key")
          return "k"
        },
        eventTime: (e) => {
          if (e.key === "bad-time") throw new TypeError("no time")
          return e.at
        }
      })
      const { byPayload, summary } = yield* run(pipeline, [
        event("a", 1_000, 1),
        event("bad-key", 2_000, 100),
        event("bad-time", 3_000, 100),
        event("b", 4_000, 13),
        event("bad-input", 5_000, 100),
        event("c", 6_000, 2)
      ])
      expect(summary).toMatchObject({ recordsIn: 6, recordsOut: 2, deadLettered: 4 })
      expect(byPayload.get(event("bad-key", 2_000, 100))).toMatchObject({ stage: "window", reason: "Error: no key" })
      expect(byPayload.get(event("bad-time", 3_000, 100))).toMatchObject({ stage: "window", reason: "TypeError: no time" })
      expect(byPayload.get(event("b", 4_000, 13))).toMatchObject({ stage: "window", reason: "RangeError: 13 is not welcome" })
      expect(byPayload.get(event("bad-input", 5_000, 100))).toMatchObject({
        stage: "window",
        reason: "TypeError: Aggregate.mean takes numbers, got string"
      })
      const [result] = yield* sink.items
      expect([result.count, result.value]).toStrictEqual([2, { picky: 3, total: 3, checked: 1.5 }])
    }))

  it.effect("a window whose only record failed emits nothing; a result that throws is a dead letter of the window", () =>
    Effect.gen(function*() {
      const fragile = Aggregate.count.pipe(Aggregate.map((n) => {
        if (n === 2) throw new Error("cannot read two")
        return n
      }))
      const { pipeline, sink } = yield* windowed(fragile, {
        key: (e) => {
          if (e.key === "bad") throw new Error("no key")
          return e.key
        }
      })
      const { letters, summary } = yield* run(pipeline, [
        event("bad", 1_000),
        event("a", 2_000),
        event("b", 3_000),
        event("b", 4_000),
        event("a", 70_000)
      ])
      expect(summary).toMatchObject({ recordsIn: 5, recordsOut: 4, deadLettered: 1 })
      expect((yield* sink.items).map((r) => [r.key, r.start, r.count])).toStrictEqual([["a", 0, 1], ["a", 60_000, 1]])
      const window = letters.find((l) => l.reason.startsWith("the window's result failed"))!
      expect(window).toMatchObject({ stage: "window", reason: "the window's result failed: Error: cannot read two" })
      expect(JSON.parse(new TextDecoder().decode(window.data))).toStrictEqual({ key: "b", start: 0, end: 60_000 })
    }))

  it.effect("sessions: a record whose aggregate throws neither opens, extends nor merges a session", () =>
    Effect.gen(function*() {
      const aggregate = Aggregate.sum.pipe(Aggregate.mapInput((e: Event) => e.n === 13 ? ("x" as unknown as number) : e.n))
      const { pipeline, sink } = yield* windowed(aggregate, { window: Window.session("10 seconds") })
      const { summary } = yield* run(pipeline, [
        event("a", 0, 1),
        event("b", 0, 13), // would open a session
        event("a", 8_000, 13), // would extend the first session to 18 s, so that the next joins it
        event("a", 16_000, 2)
      ])
      expect(summary).toMatchObject({ recordsIn: 4, recordsOut: 2, deadLettered: 2 })
      expect((yield* sink.items).map((r) => [r.key, r.start, r.end, r.value])).toStrictEqual([
        ["a", 0, 10_000, 1],
        ["a", 16_000, 26_000, 2]
      ])
    }))
})

describe("Aggregate: an input an aggregate cannot take changes nothing", () => {
  const fold = <I, S, O>(aggregate: Aggregate.Aggregate<I, S, O>, inputs: ReadonlyArray<unknown>) => {
    let state = aggregate.empty()
    const failures: Array<string> = []
    for (const input of inputs) {
      try {
        state = aggregate.add(state, input as I)
      } catch (error) {
        failures.push(String(error))
      }
    }
    return { result: aggregate.result(state), failures }
  }

  it("built-in aggregates check their input before changing their state", () => {
    const inputs = [1, "2", null, Symbol("s"), 3n, { valueOf: () => 4 }, 5]
    expect(fold(Aggregate.stats, inputs).result).toStrictEqual({ count: 2, sum: 6, min: 1, max: 5, mean: 3 })
    expect(fold(Aggregate.mean, inputs).result).toBe(3)
    expect(fold(Aggregate.sum, inputs).failures).toHaveLength(5)
    expect(fold(Aggregate.quantile(0.5), inputs).result).toBeCloseTo(1, 1)
    expect(fold(Aggregate.distinctCount(), [1, "a", null, {}, "a"]).result).toBe(2)
    expect(fold(Aggregate.topK(1), ["a", 1, "a", null]).result).toStrictEqual([{ value: "a", count: 2, error: 0 }])
    expect(fold(Aggregate.stats, ["x"]).failures).toStrictEqual(["TypeError: Aggregate.stats takes numbers, got string"])
  })

  it("a struct prepares every field's input before it changes any field", () => {
    const aggregate = Aggregate.struct({
      n: Aggregate.count,
      total: Aggregate.sum.pipe(Aggregate.mapInput((r: { readonly a: number; readonly b: { readonly c: number } }) => r.a)),
      inner: Aggregate.struct({ c: Aggregate.max.pipe(Aggregate.mapInput((r: { readonly b: { readonly c: number } }) => r.b.c)) })
    })
    const { failures, result } = fold(aggregate, [
      { a: 1, b: { c: 5 } },
      { a: 2 }, // inner's input throws, after n and total could have taken it
      { a: "3", b: { c: 9 } }, // total's input is not a number
      { a: 4, b: { c: 7 } }
    ])
    expect(failures).toHaveLength(2)
    expect(result).toStrictEqual({ n: 2, total: 5, inner: { c: 7 } })
  })
})
