/**
 * A Schema decode failure as a dead letter's reason: one entry per wrong field, `path: message`, so a person
 * sees the problems at once, with the work and the size bounded whatever the payload. Effect's formatter
 * renders each issue's actual value whole (an 8 MB reason for a 400 KB payload) and recurses over it (a
 * stack overflow for a value nested a few thousand deep), so the issue tree is pruned first: at most
 * `maxIssues` issues and `maxIssueDepth` levels are formatted, large actual values are shown as a short
 * preview, and the reason says how many issues it left out.
 *
 * @internal
 */
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as AST from "effect/SchemaAST"
import { maxReasonLength, preview } from "./reason.js"

/** @internal */
export const maxIssues = 50

/** @internal */
export const maxIssueDepth = 100

/**
 * The issues of a failed decode, `path: message` joined by `; `, the alternatives of a union folded into
 * one `Expected "a" | "b", actual "c"`; at most `maxReasonLength` characters.
 *
 * @internal
 */
export const explain = (issue: ParseResult.ParseIssue): string => {
  const budget = { left: maxIssues, omitted: 0 }
  const pruned = prune(issue, budget, 0) ?? tooMany
  const byPath = new Map<string, { expected: Array<string>; actual: string | undefined; others: Array<string> }>()
  for (const formatted of ParseResult.ArrayFormatter.formatIssueSync(pruned)) {
    const path = formatted.path.length === 0 ? "value" : formatted.path.map(pathSegment).join(".")
    let entry = byPath.get(path)
    if (entry === undefined) byPath.set(path, entry = { expected: [], actual: undefined, others: [] })
    const mismatch = /^Expected (.*), actual (.*)$/s.exec(formatted.message)
    if (mismatch !== null && (entry.actual === undefined || entry.actual === mismatch[2])) {
      entry.expected.push(mismatch[1])
      entry.actual = mismatch[2]
    } else {
      entry.others.push(formatted.message)
    }
  }
  const lines: Array<string> = []
  for (const [path, entry] of byPath) {
    if (entry.expected.length > 0) lines.push(`${path}: Expected ${entry.expected.join(" | ")}, actual ${entry.actual}`)
    for (const other of entry.others) lines.push(`${path}: ${other}`)
  }
  return join(lines, budget.omitted)
}

/** Lines joined until the reason is full; the rest are counted in the closing note. */
const join = (lines: ReadonlyArray<string>, omitted: number): string => {
  const room = maxReasonLength - 64 // the closing note's
  let out = ""
  let shown = 0
  while (shown < lines.length) {
    const line = shown === 0 ? lines[0] : `; ${lines[shown]}`
    if (out.length + line.length > room) {
      // a first line too long for the reason is cut rather than left out
      if (shown === 0) {
        out = `${line.slice(0, room)}…`
        shown = 1
      }
      break
    }
    out += line
    shown++
  }
  const left = omitted + lines.length - shown
  return left === 0 ? out : `${out}; … ${left} more issue${left === 1 ? "" : "s"} left out`
}

const pathSegment = (key: PropertyKey): string => {
  const text = String(key)
  return text.length > 64 ? `${text.slice(0, 64)}…` : text
}

// Stands for a tree none of whose issues fit (never reached with a budget of at least one).
const tooMany = new ParseResult.Type(AST.unknownKeyword, undefined, "too many issues to show")

interface Budget {
  left: number
  omitted: number
}

/** A copy of the tree with at most `budget.left` leaves and `maxIssueDepth` levels; undefined: nothing kept. */
const prune = (issue: ParseResult.ParseIssue, budget: Budget, depth: number): ParseResult.ParseIssue | undefined => {
  if (budget.left === 0) {
    budget.omitted += countLeaves(issue)
    return undefined
  }
  if (depth === maxIssueDepth) {
    budget.left--
    budget.omitted += countLeaves(issue) - 1
    return new ParseResult.Type(AST.unknownKeyword, undefined, `issues nested deeper than ${maxIssueDepth} levels left out`)
  }
  switch (issue._tag) {
    case "Type":
      budget.left--
      return issue.message === undefined && isLarge(issue.actual) && Option.isNone(AST.getMessageAnnotation(issue.ast))
        ? new ParseResult.Type(issue.ast, new Preview(issue.actual), issue.message)
        : issue
    case "Missing":
    case "Unexpected":
    case "Forbidden":
      budget.left--
      return issue
    case "Pointer": {
      const inner = prune(issue.issue, budget, depth + 1)
      return inner === undefined ? undefined : new ParseResult.Pointer(issue.path, issue.actual, inner)
    }
    case "Refinement": {
      const inner = prune(issue.issue, budget, depth + 1)
      return inner === undefined ? undefined : new ParseResult.Refinement(issue.ast, issue.actual, issue.kind, inner)
    }
    case "Transformation": {
      const inner = prune(issue.issue, budget, depth + 1)
      return inner === undefined ? undefined : new ParseResult.Transformation(issue.ast, issue.actual, issue.kind, inner)
    }
    case "Composite": {
      const members = Array.isArray(issue.issues) ? issue.issues : [issue.issues as ParseResult.ParseIssue]
      const kept: Array<ParseResult.ParseIssue> = []
      for (const member of members) {
        const pruned = prune(member, budget, depth + 1)
        if (pruned !== undefined) kept.push(pruned)
      }
      if (kept.length === 0) return undefined
      return new ParseResult.Composite(
        issue.ast,
        issue.actual,
        kept as unknown as ParseResult.SingleOrNonEmpty<ParseResult.ParseIssue>,
        issue.output
      )
    }
  }
}

/** The issues a tree would format to, counted with an explicit stack. */
const countLeaves = (root: ParseResult.ParseIssue): number => {
  let count = 0
  const stack: Array<ParseResult.ParseIssue> = [root]
  while (stack.length > 0) {
    const issue = stack.pop()!
    switch (issue._tag) {
      case "Pointer":
      case "Refinement":
      case "Transformation":
        stack.push(issue.issue)
        break
      case "Composite":
        if (Array.isArray(issue.issues)) for (const member of issue.issues) stack.push(member)
        else stack.push(issue.issues as ParseResult.ParseIssue)
        break
      default:
        count++
    }
  }
  return count
}

/** Objects and long strings: what Effect's formatter would render whole. */
const isLarge = (u: unknown): boolean =>
  (typeof u === "object" && u !== null) || (typeof u === "string" && u.length > 80)

/** An actual value as Effect's formatter shows it through `toString`: a bounded preview. */
class Preview {
  constructor(readonly value: unknown) {}
  toString(): string {
    return preview(this.value)
  }
}
