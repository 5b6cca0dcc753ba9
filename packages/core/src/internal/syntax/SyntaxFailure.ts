/**
 * Where a payload's syntax is wrong. Parsers return it instead of throwing, so a hot loop can test with
 * `instanceof` and no exception ever crosses a batch.
 *
 * @internal
 */
export class SyntaxFailure {
  constructor(
    readonly message: string,
    /** 0-based offset in the text (UTF-16 code units) */
    readonly offset: number,
    /** 1-based line */
    readonly line: number,
    /** 1-based column */
    readonly column: number
  ) {}

  static at(text: string, offset: number, message: string): SyntaxFailure {
    let line = 1
    let lineStart = 0
    const end = Math.min(offset, text.length)
    for (let i = 0; i < end; i++) {
      if (text.charCodeAt(i) === 10) {
        line++
        lineStart = i + 1
      }
    }
    return new SyntaxFailure(message, offset, line, offset - lineStart + 1)
  }

  toString(): string {
    return `${this.message} at line ${this.line}, column ${this.column}`
  }
}
