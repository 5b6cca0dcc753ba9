/**
 * JSON.parse's messages do not always say where the text is wrong ("Unexpected token '}', ... is not valid
 * JSON"). On the failure path only, this scanner walks the text again to find the first offending offset
 * and says what was expected there.
 *
 * @internal
 */
import { SyntaxFailure } from "./SyntaxFailure.js"

/** @internal */
export const locateJsonError = (text: string): SyntaxFailure | undefined => {
  let i = 0
  const n = text.length
  // Containers still open: "{" or "[".
  const stack: Array<number> = []
  const fail = (message: string) => SyntaxFailure.at(text, i, `invalid JSON: ${message}`)
  const describe = () => i >= n ? "end of input" : `'${text[i]}'`
  const skipSpace = () => {
    while (i < n) {
      const c = text.charCodeAt(i)
      if (c !== 32 && c !== 9 && c !== 10 && c !== 13) break
      i++
    }
  }
  const scanString = (): SyntaxFailure | undefined => {
    i++ // opening quote
    while (i < n) {
      const c = text.charCodeAt(i)
      if (c === 34) {
        i++
        return undefined
      }
      if (c < 32) return fail("control character in string (escape it)")
      if (c === 92) {
        const e = text[i + 1]
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return fail("bad \\u escape")
          i += 6
          continue
        }
        if (e === undefined || !"\"\\/bfnrt".includes(e)) return fail("bad escape in string")
        i += 2
        continue
      }
      i++
    }
    return fail("unterminated string")
  }
  const scanNumber = (): SyntaxFailure | undefined => {
    const match = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400))
    if (match === null || match[0] === "-") return fail(`unexpected ${describe()}, expected a value`)
    i += match[0].length
    return undefined
  }
  // Scans one value; containers push and return, their members are handled by the loop below.
  const scanValue = (): SyntaxFailure | undefined => {
    skipSpace()
    const c = text[i]
    if (c === "{" || c === "[") {
      stack.push(text.charCodeAt(i))
      i++
      skipSpace()
      if (text[i] === (c === "{" ? "}" : "]")) {
        stack.pop()
        i++
        return undefined
      }
      return c === "{" ? scanKey() : scanValue()
    }
    if (c === "\"") return scanString()
    for (const word of ["true", "false", "null"]) {
      if (text.startsWith(word, i)) {
        i += word.length
        return undefined
      }
    }
    return scanNumber()
  }
  const scanKey = (): SyntaxFailure | undefined => {
    skipSpace()
    if (text[i] !== "\"") return fail(`unexpected ${describe()}, expected a property name in double quotes`)
    const bad = scanString()
    if (bad !== undefined) return bad
    skipSpace()
    if (text[i] !== ":") return fail(`unexpected ${describe()}, expected ':' after the property name`)
    i++
    return scanValue()
  }

  let bad = scanValue()
  while (bad === undefined) {
    skipSpace()
    if (stack.length === 0) {
      return i < n ? fail(`unexpected ${describe()} after the value`) : undefined
    }
    const open = stack[stack.length - 1]
    const close = open === 123 ? "}" : "]"
    if (text[i] === ",") {
      i++
      bad = open === 123 ? scanKey() : scanValue()
    } else if (text[i] === close) {
      stack.pop()
      i++
    } else {
      return fail(`unexpected ${describe()}, expected ',' or '${close}'`)
    }
  }
  return bad
}
