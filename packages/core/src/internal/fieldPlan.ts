/**
 * Text formats (CSV, key-value lines, XML) carry every field as a string under a name a person chose
 * ("Customer id", "Unix date (ms)"). A field plan, derived from the Schema's encoded side, maps those names
 * to the Schema's property names and turns strings into the primitive the Schema expects, so the same Schema
 * decodes every format.
 *
 * @internal
 */
import * as AST from "effect/SchemaAST"

/** @internal */
export type FieldKind = "string" | "number" | "boolean" | "other"

/** @internal */
export interface Field {
  readonly name: string
  readonly kind: FieldKind
  /** An empty text becomes null for a field that accepts null, and is left out for an optional one. */
  readonly nullable: boolean
  readonly optional: boolean
}

/** @internal */
export interface FieldPlan {
  /** The Schema's properties, in declaration order (the default CSV column order). */
  readonly fields: ReadonlyArray<Field>
  /** Whether names the Schema does not declare are kept (it has a string index signature). */
  readonly open: boolean
  /** Finds the field a written name refers to (its own name or an alias, ignoring case and punctuation). */
  readonly lookup: (writtenName: string) => Field | undefined
  /**
   * Builds the object handed to the Schema: known names mapped, strings converted, unknown names dropped
   * (kept as written when the Schema has a string index signature).
   */
  readonly shape: (entries: Iterable<readonly [string, unknown]>) => Record<string, unknown>
}

/** @internal */
export type Aliases = Readonly<Record<string, string | ReadonlyArray<string>>>

/** Lower-case letters and digits only: "Customer id" and "customerId" and "CUSTOMER_ID" are one name. */
export const normalizeName = (name: string): string => {
  let out = ""
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i)
    if (c >= 65 && c <= 90) out += String.fromCharCode(c + 32)
    else if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c > 127) out += name[i]
  }
  return out
}

/** @internal */
export const make = (ast: AST.AST, aliases: Aliases = {}): FieldPlan => {
  const encoded = AST.encodedAST(ast)
  const properties = propertiesOf(encoded)
  const fields: Array<Field> = []
  const byName = new Map<string, Field>()
  for (const property of properties) {
    if (typeof property.name !== "string") continue
    const field: Field = {
      name: property.name,
      kind: kindOf(property.type),
      nullable: acceptsNull(property.type),
      optional: property.isOptional
    }
    fields.push(field)
    byName.set(normalizeName(field.name), field)
  }
  for (const [name, alias] of Object.entries(aliases)) {
    const field = fields.find((f) => f.name === name)
    if (field === undefined) continue
    for (const written of typeof alias === "string" ? [alias] : alias) byName.set(normalizeName(written), field)
  }
  // a Schema with a string index signature (Schema.Record, or a Struct with one) takes every other name too,
  // as written, typed as the signature says
  const rest = restOf(encoded)
  const restFields = new Map<string, Field>()
  const restField = (writtenName: string): Field | undefined => {
    if (rest === undefined) return undefined
    let field = restFields.get(writtenName)
    if (field === undefined) {
      // not optional: an empty value is kept ("" or, when the signature accepts it, null), not dropped
      field = { name: writtenName, kind: kindOf(rest), nullable: acceptsNull(rest), optional: false }
      // a stream has few shapes; a bound keeps a stream of ever new names from growing this
      if (restFields.size >= 10_000) restFields.clear()
      restFields.set(writtenName, field)
    }
    return field
  }
  const lookup = (writtenName: string) =>
    byName.get(writtenName) ?? byName.get(normalizeName(writtenName)) ?? restField(writtenName)
  return {
    fields,
    open: rest !== undefined,
    lookup,
    shape: (entries) => {
      const out: Record<string, unknown> = {}
      for (const [written, value] of entries) {
        const field = lookup(written)
        // assigning "__proto__" would set the object's prototype: an input name must never do that
        if (field === undefined || field.name === "__proto__") continue
        if (typeof value !== "string") {
          out[field.name] = value
        } else if (value.trim() === "" && (field.nullable || field.optional)) {
          if (field.nullable) out[field.name] = null
        } else {
          out[field.name] = convert(field.kind, value)
        }
      }
      return out
    }
  }
}

const propertiesOf = (ast: AST.AST): ReadonlyArray<AST.PropertySignature> => {
  try {
    return AST.getPropertySignatures(ast)
  } catch {
    // not an object schema (a string, a tuple): text formats then have no named fields to map
    return []
  }
}

/** The value type of a string index signature, when the (object) Schema has one. */
const restOf = (ast: AST.AST): AST.AST | undefined => {
  const bare = stripRefinements(ast)
  if (!AST.isTypeLiteral(bare)) return undefined
  const signature = bare.indexSignatures.find((s) => stripRefinements(s.parameter)._tag === "StringKeyword")
  return signature?.type
}

const stripRefinements = (ast: AST.AST): AST.AST => AST.isRefinement(ast) ? stripRefinements(ast.from) : ast

const kindOf = (ast: AST.AST): FieldKind => {
  const kinds = new Set<FieldKind>()
  const visit = (node: AST.AST): void => {
    const bare = stripRefinements(node)
    switch (bare._tag) {
      case "StringKeyword":
      case "TemplateLiteral":
        return void kinds.add("string")
      case "NumberKeyword":
        return void kinds.add("number")
      case "BooleanKeyword":
        return void kinds.add("boolean")
      case "Literal":
        if (bare.literal === null) return
        return void kinds.add(
          typeof bare.literal === "number" ? "number" : typeof bare.literal === "boolean" ? "boolean" : "string"
        )
      case "Union":
        return bare.types.forEach(visit)
      case "UndefinedKeyword":
        return
      default:
        return void kinds.add("other")
    }
  }
  visit(ast)
  return kinds.size === 1 ? [...kinds][0] : kinds.has("string") ? "string" : "other"
}

const acceptsNull = (ast: AST.AST): boolean => {
  const bare = stripRefinements(ast)
  return (AST.isLiteral(bare) && bare.literal === null) || (AST.isUnion(bare) && bare.types.some(acceptsNull))
}

// linear on any input: no two quantifiers can match the same digits (`\d+\.?\d*` backtracks quadratically
// on a long run of digits followed by anything else)
const decimal = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/

/**
 * Converts only what reads unambiguously as the expected primitive; anything else stays a string, so the
 * Schema reports it ("Expected number, actual \"12a\"") instead of us guessing.
 */
const convert = (kind: FieldKind, text: string): unknown => {
  switch (kind) {
    case "number": {
      const trimmed = text.trim()
      return decimal.test(trimmed) ? Number(trimmed) : text
    }
    case "boolean": {
      const lower = text.trim().toLowerCase()
      return lower === "true" ? true : lower === "false" ? false : text
    }
    default:
      return text
  }
}
