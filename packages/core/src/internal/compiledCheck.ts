/**
 * A fast check compiled from a Schema's AST, for the hot path. The Schema stays the source of truth: the
 * check accepts only what the Schema's decode accepts and builds the same value (excess properties dropped),
 * and anything it rejects is handed to the full decode, which either explains the failure or, if the check
 * was stricter than the Schema, produces the value after all.
 *
 * Only transformation-free ASTs are compiled (structs, tuples and arrays of keywords, literals, enums, unions
 * and refinements); for anything else `compile` returns undefined and every record takes the full decode.
 *
 * @internal
 */
import * as Option from "effect/Option"
import type { ParseOptions } from "effect/SchemaAST"
import * as AST from "effect/SchemaAST"

/** @internal */
export const Invalid: unique symbol = Symbol.for("@tributary/core/Invalid")

/** @internal */
export type Check = (input: unknown) => unknown

const parseOptions: ParseOptions = {}
const hasOwn = Object.prototype.hasOwnProperty
const identity: Check = (u) => u

/** @internal */
export const compile = (ast: AST.AST, options: CompileOptions = {}): Check | undefined =>
  compileNode(ast, options.onExcessProperty === "preserve")

/** @internal */
export interface CompileOptions {
  /**
   * "ignore" (default, like Schema): values are rebuilt with the known properties only; "preserve": valid
   * inputs are returned as they are, unknown properties included (no copy).
   */
  readonly onExcessProperty?: "ignore" | "preserve"
}

const compileNode = (ast: AST.AST, preserve: boolean): Check | undefined => {
  switch (ast._tag) {
    case "StringKeyword":
      return (u) => typeof u === "string" ? u : Invalid
    case "NumberKeyword":
      return (u) => typeof u === "number" ? u : Invalid
    case "BooleanKeyword":
      return (u) => typeof u === "boolean" ? u : Invalid
    case "UndefinedKeyword":
    case "VoidKeyword":
      return (u) => u === undefined ? u : Invalid
    case "UnknownKeyword":
    case "AnyKeyword":
      return identity
    case "Literal": {
      const literal = ast.literal
      return (u) => u === literal ? u : Invalid
    }
    case "Enums": {
      const values = new Set<unknown>(ast.enums.map(([, value]) => value))
      return (u) => values.has(u) ? u : Invalid
    }
    case "Union":
      return compileUnion(ast, preserve)
    case "Refinement":
      return compileRefinement(ast, preserve)
    case "TypeLiteral":
      return compileTypeLiteral(ast, preserve)
    case "TupleType":
      return compileTupleType(ast, preserve)
    default:
      return undefined
  }
}

const compileUnion = (ast: AST.Union, preserve: boolean): Check | undefined => {
  // A union of literals is the common case (`Schema.Literal("buy", "sell")`): one Set lookup.
  const literals = ast.types.filter(AST.isLiteral)
  if (literals.length === ast.types.length) {
    const values = new Set<unknown>(literals.map((member) => member.literal))
    return (u) => values.has(u) ? u : Invalid
  }
  const members: Array<Check> = []
  for (const member of ast.types) {
    const check = compileNode(member, preserve)
    if (check === undefined) return undefined
    members.push(check)
  }
  return (u) => {
    for (let i = 0; i < members.length; i++) {
      const value = members[i](u)
      if (value !== Invalid) return value
    }
    return Invalid
  }
}

const compileRefinement = (ast: AST.Refinement, preserve: boolean): Check | undefined => {
  const from = compileNode(ast.from, preserve)
  if (from === undefined) return undefined
  const filter = ast.filter
  return (u) => {
    const value = from(u)
    if (value === Invalid) return Invalid
    return Option.isNone(filter(value, parseOptions, ast)) ? value : Invalid
  }
}

const compileTypeLiteral = (ast: AST.TypeLiteral, preserve: boolean): Check | undefined => {
  if (ast.indexSignatures.length > 0) return undefined
  const properties: Array<CompiledProperty> = []
  for (const property of ast.propertySignatures) {
    // "__proto__" cannot be written as a plain property: leave such structs to the full decode
    if (typeof property.name !== "string" || property.name === "__proto__") return undefined
    const check = compileNode(property.type, preserve)
    if (check === undefined) return undefined
    properties.push({ name: property.name, optional: property.isOptional, check, type: property.type })
  }
  return generateStruct(properties, preserve) ?? interpretStruct(properties, preserve)
}

type Primitive = "string" | "number" | "boolean"

/** A test inlined into generated code for common property types; undefined: call the compiled check. */
const inlineTest = (ast: AST.AST, variable: string): string | undefined => {
  const primitive = primitiveOf(ast)
  if (primitive !== undefined) return `typeof ${variable} !== "${primitive}"`
  // a small union of literals compares directly, cheaper than a Set lookup
  const members: ReadonlyArray<AST.AST> = AST.isUnion(ast) ? ast.types : [ast]
  const literals = members.filter((member): member is AST.Literal => AST.isLiteral(member))
  if (literals.length !== members.length || literals.length > 8) return undefined
  const values = literals.map((literal) => literal.literal)
  if (!values.every((v) => v === null || typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v)))) {
    return undefined
  }
  return `!(${values.map((v) => `${variable} === ${JSON.stringify(v)}`).join(" || ")})`
}

const primitiveOf = (ast: AST.AST): Primitive | undefined => {
  switch (ast._tag) {
    case "StringKeyword":
      return "string"
    case "NumberKeyword":
      return "number"
    case "BooleanKeyword":
      return "boolean"
    default:
      return undefined
  }
}

interface CompiledProperty {
  readonly name: string
  readonly optional: boolean
  readonly check: Check
  readonly type: AST.AST
}

/**
 * Generates the check of a struct as straight-line code with the property names as literals, so V8 sees
 * named loads and one object literal instead of keyed accesses in a loop (about twice as fast). Names are
 * embedded through JSON.stringify, never raw. Where code generation is not allowed (a CSP), the caller
 * falls back to `interpretStruct`.
 */
const generateStruct = (properties: ReadonlyArray<CompiledProperty>, preserve: boolean): Check | undefined => {
  const lines: Array<string> = [
    "if (typeof u !== \"object\" || u === null || Array.isArray(u)) return Invalid"
  ]
  properties.forEach((property, i) => {
    const key = JSON.stringify(property.name)
    const test = inlineTest(property.type, `v${i}`) ?? `(v${i} = checks[${i}](v${i})) === Invalid`
    // a name Object.prototype also has ("toString") must be the input's own, not inherited
    const inherited = property.name in Object.prototype
    lines.push(inherited ? `var v${i} = hasOwn.call(u, ${key}) ? u[${key}] : undefined` : `var v${i} = u[${key}]`)
    const present = inherited ? `hasOwn.call(u, ${key})` : `(v${i} !== undefined || hasOwn.call(u, ${key}))`
    lines.push(
      property.optional
        ? `var has${i} = ${present}; if (has${i} && ${test}) return Invalid`
        : `if (!${present} || ${test}) return Invalid`
    )
  })
  if (preserve) {
    lines.push("return u")
  } else {
    const required = properties.flatMap((p, i) => p.optional ? [] : [`${JSON.stringify(p.name)}: v${i}`])
    lines.push(`var out = { ${required.join(", ")} }`)
    properties.forEach((p, i) => {
      if (p.optional) lines.push(`if (has${i}) out[${JSON.stringify(p.name)}] = v${i}`)
    })
    lines.push("return out")
  }
  try {
    const factory = new Function("checks", "Invalid", "hasOwn", `return function check(u) {\n${lines.join("\n")}\n}`)
    return factory(properties.map((p) => p.check), Invalid, hasOwn) as Check
  } catch {
    return undefined
  }
}

const interpretStruct = (properties: ReadonlyArray<CompiledProperty>, preserve: boolean): Check => (u) => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return Invalid
  const input = u as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const property of properties) {
    if (!hasOwn.call(input, property.name)) {
      if (property.optional) continue
      return Invalid
    }
    const value = property.check(input[property.name])
    if (value === Invalid) return Invalid
    out[property.name] = value
  }
  return preserve ? u : out
}

const compileTupleType = (ast: AST.TupleType, preserve: boolean): Check | undefined => {
  const elements: Array<Check> = []
  for (const element of ast.elements) {
    if (element.isOptional) return undefined
    const check = compileNode(element.type, preserve)
    if (check === undefined) return undefined
    elements.push(check)
  }
  if (ast.rest.length > 1) return undefined
  const rest = ast.rest.length === 1 ? compileNode(ast.rest[0].type, preserve) : null
  if (rest === undefined) return undefined
  const fixed = elements.length
  return (u) => {
    if (!Array.isArray(u)) return Invalid
    if (rest === null ? u.length !== fixed : u.length < fixed) return Invalid
    const out = new Array<unknown>(u.length)
    for (let i = 0; i < u.length; i++) {
      const value = i < fixed ? elements[i](u[i]) : rest!(u[i])
      if (value === Invalid) return Invalid
      out[i] = value
    }
    return preserve ? u : out
  }
}
