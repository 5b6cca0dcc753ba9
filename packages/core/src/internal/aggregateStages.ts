/**
 * How an aggregate refuses an input before it changes anything (the rule of `Aggregate.add`): `add` in two
 * steps, for `struct`. `prepare` reads and checks the input (a `mapInput` function, a type check) and may
 * throw; `apply` changes the state and, when `safe`, never throws. A struct prepares the input of every field
 * before it applies any, so a throw leaves every field as it was.
 */

/** The two steps of an aggregate's `add`. */
export interface Stages {
  readonly prepare: (input: unknown) => unknown
  readonly apply: (state: unknown, prepared: unknown) => unknown
  readonly safe: boolean
}

/** Where an aggregate keeps its stages (undefined for a custom aggregate). */
export const StagesId: unique symbol = Symbol.for("@tributary/core/Aggregate/Stages")

/** What this module needs of an aggregate (every `Aggregate` is one). */
interface Field {
  readonly empty: () => unknown
  readonly add: (state: never, input: never) => unknown
  readonly merge: (self: never, that: never) => unknown
  readonly result: (state: never) => unknown
}

export const identityInput = (input: unknown): unknown => input

/** An aggregate's stages; a custom aggregate's `add` is one step, which may throw (before changing its state). */
export const stagesOf = (aggregate: Field): Stages =>
  (aggregate as unknown as { [StagesId]: Stages | undefined })[StagesId] ??
    { prepare: identityInput, apply: aggregate.add as Stages["apply"], safe: false }

export const withStages = <A extends Field>(aggregate: A, stages: Stages): A => {
  ;(aggregate as unknown as { [StagesId]: Stages })[StagesId] = stages
  return aggregate
}

/** The stages of `mapInput(self, f)`. */
export const mapInputStages = (self: Field, f: (input: unknown) => unknown): Stages => {
  const stages = stagesOf(self)
  return { prepare: (input) => stages.prepare(f(input)), apply: stages.apply, safe: stages.safe }
}

const describeType = (u: unknown): string => u === null ? "null" : Array.isArray(u) ? "an array" : typeof u

/** Throws the `TypeError` of a built-in aggregate given an input of the wrong type. */
export const wrongInput = (name: string, expected: string, input: unknown): never => {
  throw new TypeError(`Aggregate.${name} takes ${expected}, got ${describeType(input)}`)
}

/** `prepare` for the strings of aggregate `name`: a string, or the `TypeError`. */
export const string = (name: string) => (value: unknown): string =>
  typeof value === "string" ? value : wrongInput(name, "strings", value)

/** `prepare` for the strings and numbers of aggregate `name`. */
export const stringOrNumber = (name: string) => (value: unknown): string | number =>
  typeof value === "string" || typeof value === "number" ? value : wrongInput(name, "strings and numbers", value)

/** The `add` of a built-in aggregate and its stages: `add` checks the input with `prepare`, then applies it. */
export const checkedAdd = <S, X>(
  apply: (state: S, x: X) => S,
  prepare: (input: unknown) => X
): { readonly add: (state: S, input: X) => S; readonly stages: Stages } => ({
  add: (state, input) => apply(state, prepare(input)),
  stages: { prepare, apply: apply as Stages["apply"], safe: true }
})

/** `checkedAdd` for an aggregate of numbers, its check inline in `add` (the hot loop's most common case). */
export const numericAdd = <S>(
  name: string,
  apply: (state: S, x: number) => S
): { readonly add: (state: S, x: number) => S; readonly stages: Stages } => ({
  add: (state, x) => typeof x === "number" ? apply(state, x) : wrongInput(name, "numbers", x),
  stages: {
    prepare: (x) => typeof x === "number" ? x : wrongInput(name, "numbers", x),
    apply: apply as Stages["apply"],
    safe: true
  }
})

type State = Record<string, unknown>

/**
 * The members of a struct of aggregates (`fields`, named `keys`) but its schema, and its stages. Its `add`
 * prepares (maps, checks) every field's input before any field changes, so an input one field cannot take
 * leaves all of them as they were. Custom aggregates apply in one step that may throw: they go first, so one
 * of them throwing still changes nothing.
 */
export const structParts = (keys: ReadonlyArray<string>, fields: ReadonlyArray<Field>) => {
  const n = keys.length
  const aggregates = fields as unknown as ReadonlyArray<{
    readonly empty: () => unknown
    readonly merge: (self: unknown, that: unknown) => unknown
    readonly result: (state: unknown) => unknown
  }>
  const stages = fields.map(stagesOf)
  const order = [...stages.keys()].sort((a, b) => Number(stages[a].safe) - Number(stages[b].safe))
  const prepareAll = (input: unknown, into: Array<unknown>): Array<unknown> => {
    for (let i = 0; i < n; i++) into[i] = stages[i].prepare(input)
    return into
  }
  const applyAll = (s: State, prepared: ReadonlyArray<unknown>): State => {
    for (let j = 0; j < n; j++) {
      const i = order[j]
      s[keys[i]] = stages[i].apply(s[keys[i]], prepared[i])
    }
    return s
  }
  // `add` is not re-entered while it runs, so it reuses one array; `prepare` (a struct in a struct) cannot
  const scratch = new Array<unknown>(n)
  return {
    empty: (): State => {
      const s: State = {}
      for (let i = 0; i < n; i++) s[keys[i]] = aggregates[i].empty()
      return s
    },
    add: (s: State, input: unknown): State => applyAll(s, prepareAll(input, scratch)),
    merge: (self: State, that: State): State => {
      for (let i = 0; i < n; i++) {
        const key = keys[i]
        self[key] = aggregates[i].merge(self[key], that[key])
      }
      return self
    },
    result: (s: State): State => {
      const out: State = {}
      for (let i = 0; i < n; i++) out[keys[i]] = aggregates[i].result(s[keys[i]])
      return out
    },
    stages: {
      prepare: (input) => prepareAll(input, new Array<unknown>(n)),
      apply: (s, prepared) => applyAll(s as State, prepared as ReadonlyArray<unknown>),
      safe: stages.every((stage) => stage.safe)
    } satisfies Stages
  }
}
