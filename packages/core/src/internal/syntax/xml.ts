/**
 * A small non-validating XML parser for one-document messages, plus the element-to-record mapping the decoders
 * use. No DTDs (so no entity expansion), no namespaces processing (a prefixed name is just a name).
 *
 * @internal
 */
import { SyntaxFailure } from "./SyntaxFailure.js"

/** @internal */
export interface XmlElement {
  readonly name: string
  readonly attributes: Readonly<Record<string, string>>
  readonly children: ReadonlyArray<XmlElement>
  /** Character data directly inside this element (not its descendants), untrimmed, line breaks normalized to LF */
  readonly text: string
}

/** @internal */
export const maxXmlDepth = 256

interface MutableElement {
  name: string
  attributes: Record<string, string>
  children: Array<MutableElement>
  text: string
}

const TAB = 9
const LF = 10
const CR = 13
const SPACE = 32
const BANG = 33
const DQUOTE = 34
const HASH = 35
const AMP = 38
const SQUOTE = 39
const SLASH = 47
const SEMICOLON = 59
const LT = 60
const EQ = 61
const GT = 62
const QUESTION = 63

/** @internal */
export const parseXml = (text: string): XmlElement | SyntaxFailure => {
  const n = text.length
  let i = n > 0 && text.charCodeAt(0) === 0xfeff ? 1 : 0

  // Prolog: whitespace, comments, PIs, then the root's start tag.
  let sawMarkup = false
  while (true) {
    i = skipWhitespace(text, i)
    if (i >= n) {
      return SyntaxFailure.at(text, i, sawMarkup ? "expected a root element, found end of input" : "document is empty")
    }
    if (text.charCodeAt(i) !== LT) return SyntaxFailure.at(text, i, "text is not allowed before the root element")
    const next = text.charCodeAt(i + 1)
    if (next !== QUESTION && next !== BANG) break
    const end = next === QUESTION ? skipProcessingInstruction(text, i, !sawMarkup) : skipCommentOrDoctype(text, i)
    if (typeof end !== "number") return end
    i = end
    sawMarkup = true
  }

  const rootTag = parseStartTag(text, i, 1)
  if (rootTag instanceof SyntaxFailure) return rootTag
  const root = rootTag.element
  i = rootTag.end
  const stack: Array<MutableElement> = []
  const starts: Array<number> = []
  if (!rootTag.selfClosing) {
    stack.push(root)
    starts.push(rootTag.start)
  }

  while (stack.length > 0) {
    const top = stack[stack.length - 1]
    const dataStart = i
    let sawCr = false
    let c = 0
    while (i < n) {
      c = text.charCodeAt(i)
      if (c === LT || c === AMP) break
      if (c < SPACE) {
        if (c === CR) sawCr = true
        else if (c !== TAB && c !== LF) return SyntaxFailure.at(text, i, `invalid character ${codePoint(c)} in text`)
      }
      i++
    }
    if (i > dataStart) top.text += normalizeLineBreaks(text.slice(dataStart, i), sawCr)
    if (i >= n) {
      return SyntaxFailure.at(text, starts[starts.length - 1], `unclosed element <${clip(top.name)}> starting`)
    }
    if (c === AMP) {
      const ref = decodeReference(text, i)
      if (ref instanceof SyntaxFailure) return ref
      top.text += ref.value
      i = ref.end
      continue
    }
    const next = text.charCodeAt(i + 1)
    if (next === SLASH) {
      const end = parseEndTag(text, i, top.name)
      if (typeof end !== "number") return end
      stack.pop()
      starts.pop()
      i = end
    } else if (next === BANG) {
      if (text.startsWith("<![CDATA[", i)) {
        const close = text.indexOf("]]>", i + 9)
        if (close === -1) return SyntaxFailure.at(text, i, "unterminated CDATA section starting")
        const data = text.slice(i + 9, close)
        const bad = findInvalidChar(data)
        if (bad !== -1) {
          return SyntaxFailure.at(text, i + 9 + bad, `invalid character ${codePoint(data.charCodeAt(bad))} in CDATA`)
        }
        top.text += normalizeLineBreaks(data, data.indexOf("\r") !== -1)
        i = close + 3
      } else {
        const end = skipCommentOrDoctype(text, i)
        if (typeof end !== "number") return end
        i = end
      }
    } else if (next === QUESTION) {
      const end = skipProcessingInstruction(text, i, false)
      if (typeof end !== "number") return end
      i = end
    } else {
      const tag = parseStartTag(text, i, stack.length + 1)
      if (tag instanceof SyntaxFailure) return tag
      top.children.push(tag.element)
      i = tag.end
      if (!tag.selfClosing) {
        stack.push(tag.element)
        starts.push(tag.start)
      }
    }
  }

  // Epilog: only whitespace, comments and PIs may follow the root.
  while (true) {
    i = skipWhitespace(text, i)
    if (i >= n) return root
    if (text.charCodeAt(i) !== LT) return SyntaxFailure.at(text, i, "text is not allowed after the root element")
    const next = text.charCodeAt(i + 1)
    let end: number | SyntaxFailure
    if (next === QUESTION) end = skipProcessingInstruction(text, i, false)
    else if (next === BANG) end = skipCommentOrDoctype(text, i)
    else if (next === SLASH) return SyntaxFailure.at(text, i, "closing tag after the root element was closed")
    else return SyntaxFailure.at(text, i, `only one root element is allowed, found a second one after <${clip(root.name)}>`)
    if (typeof end !== "number") return end
    i = end
  }
}

/**
 * A record from the root element: attributes as strings, child elements by name (trimmed text for plain
 * leaves, nested records otherwise, arrays for repeated names). An attribute and a child with the same name
 * are treated like a repeated name. Objects have no prototype, so names like "__proto__" are plain keys.
 * Recursion depth is bounded by {@link maxXmlDepth} for elements produced by {@link parseXml}.
 *
 * @internal
 */
export const xmlToObject = (root: XmlElement): Record<string, unknown> => elementRecord(root)

const elementRecord = (element: XmlElement): Record<string, unknown> => {
  const grouped = new Map<string, Array<unknown>>()
  const attributes = element.attributes
  for (const key of Object.keys(attributes)) group(grouped, key, attributes[key])
  for (const child of element.children) group(grouped, child.name, childValue(child))
  const record: Record<string, unknown> = Object.create(null)
  const text = element.text.trim()
  if (text !== "") record["#text"] = text
  for (const [key, values] of grouped) record[key] = values.length === 1 ? values[0] : values
  return record
}

const childValue = (element: XmlElement): unknown =>
  element.children.length === 0 && Object.keys(element.attributes).length === 0
    ? element.text.trim()
    : elementRecord(element)

const group = (grouped: Map<string, Array<unknown>>, key: string, value: unknown): void => {
  const values = grouped.get(key)
  if (values === undefined) grouped.set(key, [value])
  else values.push(value)
}

interface StartTag {
  readonly element: MutableElement
  readonly start: number
  readonly end: number
  readonly selfClosing: boolean
}

const parseStartTag = (text: string, start: number, depth: number): StartTag | SyntaxFailure => {
  const n = text.length
  const nameStart = start + 1
  if (nameStart >= n || !isNameStart(text.charCodeAt(nameStart))) {
    return SyntaxFailure.at(text, nameStart, `expected an element name after '<', found ${describeAt(text, nameStart)}`)
  }
  if (depth > maxXmlDepth) {
    return SyntaxFailure.at(text, start, `elements are nested deeper than ${maxXmlDepth} levels`)
  }
  let j = readName(text, nameStart)
  const name = text.slice(nameStart, j)
  const attributes: Record<string, string> = Object.create(null)
  const element: MutableElement = { name, attributes, children: [], text: "" }
  let after = `element name <${clip(name)}>`
  while (true) {
    const wsStart = j
    j = skipWhitespace(text, j)
    if (j >= n) return SyntaxFailure.at(text, j, `expected '>' after ${after}, found end of input`)
    const c = text.charCodeAt(j)
    if (c === GT) return { element, start, end: j + 1, selfClosing: false }
    if (c === SLASH) {
      if (text.charCodeAt(j + 1) === GT) return { element, start, end: j + 2, selfClosing: true }
      return SyntaxFailure.at(text, j + 1, `expected '>' after '/' in <${clip(name)}/>, found ${describeAt(text, j + 1)}`)
    }
    if (!isNameStart(c)) return SyntaxFailure.at(text, j, `expected '>' after ${after}, found ${describeAt(text, j)}`)
    if (j === wsStart) return SyntaxFailure.at(text, j, `expected whitespace between ${after} and the next attribute`)
    const attrStart = j
    j = readName(text, j)
    const attrName = text.slice(attrStart, j)
    j = skipWhitespace(text, j)
    if (text.charCodeAt(j) !== EQ) {
      return SyntaxFailure.at(text, j, `expected '=' after attribute '${clip(attrName)}', found ${describeAt(text, j)}`)
    }
    j = skipWhitespace(text, j + 1)
    const quote = text.charCodeAt(j)
    if (quote !== DQUOTE && quote !== SQUOTE) {
      return SyntaxFailure.at(
        text,
        j,
        `expected a quoted value for attribute '${clip(attrName)}', found ${describeAt(text, j)}`
      )
    }
    const close = text.indexOf(quote === DQUOTE ? "\"" : "'", j + 1)
    if (close === -1) {
      return SyntaxFailure.at(text, j, `unterminated value of attribute '${clip(attrName)}' starting`)
    }
    const value = decodeAttributeValue(text, j + 1, close)
    if (value instanceof SyntaxFailure) return value
    if (Object.hasOwn(attributes, attrName)) {
      return SyntaxFailure.at(text, attrStart, `duplicate attribute '${clip(attrName)}' in <${clip(name)}>`)
    }
    attributes[attrName] = value
    j = close + 1
    after = `attribute '${clip(attrName)}'`
  }
}

const parseEndTag = (text: string, start: number, openName: string): number | SyntaxFailure => {
  const nameStart = start + 2
  if (!isNameStart(text.charCodeAt(nameStart))) {
    return SyntaxFailure.at(text, nameStart, `expected an element name after '</', found ${describeAt(text, nameStart)}`)
  }
  const nameEnd = readName(text, nameStart)
  // Compare in place: no slice on the common, matching path.
  if (nameEnd - nameStart !== openName.length || !text.startsWith(openName, nameStart)) {
    return SyntaxFailure.at(
      text,
      start,
      `closing tag </${clip(text.slice(nameStart, nameEnd))}> does not match <${clip(openName)}>`
    )
  }
  const j = skipWhitespace(text, nameEnd)
  if (text.charCodeAt(j) !== GT) {
    return SyntaxFailure.at(text, j, `expected '>' after closing tag </${clip(openName)}, found ${describeAt(text, j)}`)
  }
  return j + 1
}

/** `<!--` comments are skipped; a DOCTYPE is refused outright so no entity declaration is ever expanded. */
const skipCommentOrDoctype = (text: string, start: number): number | SyntaxFailure => {
  if (text.startsWith("<!--", start)) {
    const close = text.indexOf("-->", start + 4)
    if (close === -1) return SyntaxFailure.at(text, start, "unterminated comment starting")
    return close + 3
  }
  if (text.slice(start + 2, start + 9).toUpperCase() === "DOCTYPE") {
    return SyntaxFailure.at(text, start, "DOCTYPE is not supported")
  }
  if (text.startsWith("<![CDATA[", start)) {
    return SyntaxFailure.at(text, start, "CDATA section is only allowed inside an element")
  }
  return SyntaxFailure.at(text, start, "unexpected '<!'; expected a comment '<!--' or a CDATA section '<![CDATA['")
}

const skipProcessingInstruction = (
  text: string,
  start: number,
  declarationAllowed: boolean
): number | SyntaxFailure => {
  const targetStart = start + 2
  if (!isNameStart(text.charCodeAt(targetStart))) {
    return SyntaxFailure.at(
      text,
      targetStart,
      `expected a processing instruction target after '<?', found ${describeAt(text, targetStart)}`
    )
  }
  const targetEnd = readName(text, targetStart)
  if (
    !declarationAllowed && targetEnd - targetStart === 3 && text.slice(targetStart, targetEnd).toLowerCase() === "xml"
  ) {
    return SyntaxFailure.at(text, start, "XML declaration is only allowed at the start of the document")
  }
  const close = text.indexOf("?>", targetEnd)
  if (close === -1) return SyntaxFailure.at(text, start, "unterminated processing instruction starting")
  return close + 2
}

interface Reference {
  readonly value: string
  readonly end: number
}

const decodeReference = (text: string, start: number): Reference | SyntaxFailure => {
  const n = text.length
  if (text.charCodeAt(start + 1) === HASH) {
    const hex = text.charCodeAt(start + 2) === 0x78 // 'x'
    const base = hex ? 16 : 10
    const digitsStart = start + (hex ? 3 : 2)
    let j = digitsStart
    let cp = 0
    while (j < n) {
      const d = digitValue(text.charCodeAt(j), hex)
      if (d < 0) break
      // Saturate instead of overflowing; anything past U+10FFFF is rejected below anyway.
      cp = Math.min(cp * base + d, 0x110000)
      j++
    }
    if (j === digitsStart || text.charCodeAt(j) !== SEMICOLON) {
      const expected = hex ? "'&#x' hex digits ';'" : "'&#' digits ';'"
      return SyntaxFailure.at(text, start, `malformed character reference; expected ${expected}`)
    }
    if (!isXmlChar(cp)) {
      const reference = clip(text.slice(start, j + 1))
      return SyntaxFailure.at(text, start, `character reference ${reference} is not a valid XML character`)
    }
    return { value: String.fromCodePoint(cp), end: j + 1 }
  }
  const nameStart = start + 1
  if (!isNameStart(text.charCodeAt(nameStart))) {
    return SyntaxFailure.at(text, start, "'&' must start an entity reference such as &amp;")
  }
  const nameEnd = readName(text, nameStart)
  if (text.charCodeAt(nameEnd) !== SEMICOLON) {
    return SyntaxFailure.at(
      text,
      nameEnd,
      `expected ';' after entity name '&${clip(text.slice(nameStart, nameEnd))}', found ${describeAt(text, nameEnd)}`
    )
  }
  const value = predefinedEntity(text, nameStart, nameEnd)
  if (value === undefined) {
    return SyntaxFailure.at(text, start, `unknown entity &${clip(text.slice(nameStart, nameEnd))};`)
  }
  return { value, end: nameEnd + 1 }
}

const predefinedEntity = (text: string, start: number, end: number): string | undefined => {
  switch (end - start) {
    case 2:
      if (text.startsWith("lt", start)) return "<"
      if (text.startsWith("gt", start)) return ">"
      return undefined
    case 3:
      return text.startsWith("amp", start) ? "&" : undefined
    case 4:
      if (text.startsWith("quot", start)) return "\""
      if (text.startsWith("apos", start)) return "'"
      return undefined
    default:
      return undefined
  }
}

/** Attribute values get XML's normalization: references decoded, literal tab/CR/LF (CRLF as one) become a space. */
const decodeAttributeValue = (text: string, start: number, end: number): string | SyntaxFailure => {
  let out = ""
  let segment = start
  let i = start
  while (i < end) {
    const c = text.charCodeAt(i)
    if (c === AMP) {
      const ref = decodeReference(text, i)
      if (ref instanceof SyntaxFailure) return ref
      out += text.slice(segment, i) + ref.value
      i = ref.end
      segment = i
    } else if (c === LT) {
      return SyntaxFailure.at(text, i, "'<' is not allowed in an attribute value; write &lt;")
    } else if (c < SPACE) {
      if (c !== TAB && c !== LF && c !== CR) {
        return SyntaxFailure.at(text, i, `invalid character ${codePoint(c)} in attribute value`)
      }
      out += text.slice(segment, i) + " "
      i += c === CR && i + 1 < end && text.charCodeAt(i + 1) === LF ? 2 : 1
      segment = i
    } else {
      i++
    }
  }
  return segment === start ? text.slice(start, end) : out + text.slice(segment, end)
}

const normalizeLineBreaks = (s: string, hasCr: boolean): string => (hasCr ? s.replace(/\r\n?/g, "\n") : s)

const findInvalidChar = (s: string): number => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < SPACE && c !== TAB && c !== LF && c !== CR) return i
  }
  return -1
}

const skipWhitespace = (text: string, i: number): number => {
  while (i < text.length) {
    const c = text.charCodeAt(i)
    if (c !== SPACE && c !== LF && c !== TAB && c !== CR) break
    i++
  }
  return i
}

const readName = (text: string, i: number): number => {
  while (i < text.length && isNameChar(text.charCodeAt(i))) i++
  return i
}

// ASCII exactly as XML 1.0; above U+00BF every character except × and ÷ is accepted (non-validating).
const isNameStart = (c: number): boolean =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 58 || (c >= 0xc0 && c !== 0xd7 && c !== 0xf7)

const isNameChar = (c: number): boolean =>
  isNameStart(c) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 0xb7

const isXmlChar = (cp: number): boolean =>
  cp === TAB || cp === LF || cp === CR || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) ||
  (cp >= 0x10000 && cp <= 0x10ffff)

const digitValue = (c: number, hex: boolean): number => {
  if (c >= 48 && c <= 57) return c - 48
  if (!hex) return -1
  if (c >= 97 && c <= 102) return c - 87
  if (c >= 65 && c <= 70) return c - 55
  return -1
}

const codePoint = (c: number): string => `U+${c.toString(16).toUpperCase().padStart(4, "0")}`

const describeAt = (text: string, i: number): string => {
  if (i >= text.length) return "end of input"
  const c = text.charCodeAt(i)
  return c <= SPACE || c === 127 ? codePoint(c) : `'${text[i]}'`
}

// Names in messages come from the input; keep a pathological one from producing a megabyte-long message.
const clip = (s: string): string => (s.length > 40 ? `${s.slice(0, 40)}…` : s)
