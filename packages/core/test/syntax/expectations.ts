import { expect } from "@effect/vitest"
import { SyntaxFailure } from "../../src/internal/syntax/SyntaxFailure.js"

/** The parsed value, or a test failure naming where the syntax was found wrong. */
export const succeeded = <A>(result: A | SyntaxFailure): A => {
  if (result instanceof SyntaxFailure) throw new Error(`unexpected failure: ${result.toString()}`)
  return result
}

/** A SyntaxFailure whose message contains `message`, at exactly that offset, line and column. */
export const expectFailure = (
  result: unknown,
  expected: { readonly message: string; readonly offset: number; readonly line: number; readonly column: number }
): void => {
  expect(result).toBeInstanceOf(SyntaxFailure)
  const failure = result as SyntaxFailure
  expect(failure.message).toContain(expected.message)
  expect({ offset: failure.offset, line: failure.line, column: failure.column }).toEqual({
    offset: expected.offset,
    line: expected.line,
    column: expected.column
  })
}
