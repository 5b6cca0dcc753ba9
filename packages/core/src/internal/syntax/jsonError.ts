/**
 * JSON.parse's messages do not always say where the text is wrong ("Unexpected token '}', ... is not valid
 * JSON"). On the failure path only, this scanner walks the text again to find the first offending offset
 * and says what was expected there. It also bounds nesting: `JSON.parse` itself copes with any depth, but
 * what comes after it (a Schema's decode and its issue formatting, `JSON.stringify`) recurses, so a value
 * nested deeper than `maxJsonDepth` is a syntax failure. Both scanners are loops over the text with an
 * explicit stack: no input can overflow the call stack here.
 *
 * @internal
 */
import { SyntaxFailure } from "./SyntaxFailure.js"

/**
 * The deepest nesting of arrays and objects a JSON payload may have.
 *
 * @internal
 */
export const maxJsonDepth = 1000

const tooDeep = (text: string, at: number): SyntaxFailure =>
  SyntaxFailure.at(text, at, `invalid JSON: nesting deeper than ${maxJsonDepth} levels`)

/**
 * For text `JSON.parse` accepted: a failure at the first array or object opened deeper than `maxJsonDepth`,
 * else undefined. Text shorter than twice the limit cannot be that deep (each level takes two characters),
 * so the common, small payload costs one comparison.
 *
 * @internal
 */
export const checkJsonDepth = (text: string): SyntaxFailure | undefined => {
  const n = text.length
  if (n <= 2 * maxJsonDepth) return undefined
  let depth = 0
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i)
    if (c === 34 /* " */) {
      // skip the string: its brackets are data
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i)
        if (d === 92 /* \ */) i++
        else if (d === 34) break
      }
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > maxJsonDepth) return tooDeep(text, i)
    } else if (c === 125 /* } */ || c === 93 /* ] */) {
      depth--
    }
  }
  return undefined
}

/** What the scanner expects next. */
const VALUE = 0
const KEY = 1
const AFTER_VALUE = 2

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
  const scanScalar = (): SyntaxFailure | undefined => {
    if (text[i] === "\"") return scanString()
    for (const word of ["true", "false", "null"]) {
      if (text.startsWith(word, i)) {
        i += word.length
        return undefined
      }
    }
    const match = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400))
    if (match === null || match[0] === "-") return fail(`unexpected ${describe()}, expected a value`)
    i += match[0].length
    return undefined
  }

  let state = VALUE
  for (;;) {
    skipSpace()
    if (state === VALUE) {
      const c = text[i]
      if (c === "{" || c === "[") {
        if (stack.length === maxJsonDepth) return tooDeep(text, i)
        stack.push(text.charCodeAt(i))
        i++
        skipSpace()
        if (text[i] === (c === "{" ? "}" : "]")) {
          stack.pop()
          i++
          state = AFTER_VALUE
        } else {
          state = c === "{" ? KEY : VALUE
        }
        continue
      }
      const bad = scanScalar()
      if (bad !== undefined) return bad
      state = AFTER_VALUE
    } else if (state === KEY) {
      if (text[i] !== "\"") return fail(`unexpected ${describe()}, expected a property name in double quotes`)
      const bad = scanString()
      if (bad !== undefined) return bad
      skipSpace()
      if (text[i] !== ":") return fail(`unexpected ${describe()}, expected ':' after the property name`)
      i++
      state = VALUE
    } else {
      if (stack.length === 0) return i < n ? fail(`unexpected ${describe()} after the value`) : undefined
      const open = stack[stack.length - 1]
      const close = open === 123 ? "}" : "]"
      if (text[i] === ",") {
        i++
        state = open === 123 ? KEY : VALUE
      } else if (text[i] === close) {
        stack.pop()
        i++
      } else {
        return fail(`unexpected ${describe()}, expected ',' or '${close}'`)
      }
    }
  }
}
