import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { SyntaxFailure } from "../../src/internal/syntax/SyntaxFailure.js"
import { expectFailure, succeeded } from "./expectations.js"
import { maxXmlDepth, parseXml, type XmlElement, xmlToObject } from "../../src/internal/syntax/xml.js"

const rootOf = (text: string): XmlElement => succeeded(parseXml(text))

const el = (
  name: string,
  attributes: Record<string, string> = {},
  children: ReadonlyArray<XmlElement> = [],
  text = ""
): XmlElement => ({ name, attributes, children, text })


const isElement = (value: unknown, depth = 1): boolean => {
  if (typeof value !== "object" || value === null || depth > maxXmlDepth) return false
  const element = value as XmlElement
  return typeof element.name === "string" && element.name.length > 0 && typeof element.text === "string" &&
    Object.values(element.attributes).every((v) => typeof v === "string") &&
    Array.isArray(element.children) && element.children.every((child) => isElement(child, depth + 1))
}

describe("parseXml", () => {
  describe("valid input", () => {
    it("parses a minimal document", () => {
      expect(rootOf("<a/>")).toEqual(el("a"))
      expect(rootOf("<a></a>")).toEqual(el("a"))
      expect(rootOf("<a />")).toEqual(el("a"))
      expect(rootOf("<a></a >")).toEqual(el("a"))
    })

    it("skips a BOM, the declaration, comments, processing instructions and surrounding whitespace", () => {
      const text = "\ufeff<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- generated -->\n<?app hint?>\n" +
        "<order id=\"7\"><!-- inside --><?pi x?>ok</order>\n<!-- trailer -->\n<?done?>\n"
      expect(rootOf(text)).toEqual(el("order", { id: "7" }, [], "ok"))
      expect(rootOf("  \n<?xml version='1.0'?><a/>")).toEqual(el("a"))
    })

    it("parses attributes with either quote and decodes their references", () => {
      expect(rootOf("<a x=\"1\" y='two' z = \"it's\" w='say \"hi\"' e=\"&lt;&gt;&amp;&quot;&apos;&#65;&#x42;\"/>"))
        .toEqual(el("a", { x: "1", y: "two", z: "it's", w: "say \"hi\"", e: "<>&\"'AB" }))
      expect(rootOf("<a x=\"\"/>")).toEqual(el("a", { x: "" }))
    })

    it("normalizes literal tabs and line breaks in attribute values to spaces, but not character references", () => {
      expect(rootOf("<a v=\"1\t2\n3\r\n4\r5&#10;6&#9;\"/>")).toEqual(el("a", { v: "1 2 3 4 5\n6\t" }))
    })

    it("keeps attributes named like Object.prototype members as plain keys", () => {
      const root = rootOf("<a __proto__=\"x\" constructor=\"y\" toString=\"z\"/>")
      expect(Object.keys(root.attributes)).toEqual(["__proto__", "constructor", "toString"])
      expect(root.attributes["__proto__"]).toBe("x")
      expect(({} as Record<string, unknown>)["x"]).toBeUndefined()
    })

    it("collects direct character data untrimmed, across children, references and CDATA", () => {
      const root = rootOf("<a>  one <b>inner</b> two &amp; <![CDATA[<raw> & ]]]]><c/>\tthree  </a>")
      expect(root).toEqual(el("a", {}, [el("b", {}, [], "inner"), el("c")], "  one  two & <raw> & ]]\tthree  "))
    })

    it("decodes predefined entities and decimal/hex character references in text", () => {
      expect(rootOf("<a>&lt;&gt;&amp;&quot;&apos; &#65;&#x263A;&#xfeff;&#x1F600;&#128512;&#0000065;</a>").text)
        .toBe("<>&\"' A☺\ufeff😀😀A")
    })

    it("normalizes CRLF and lone CR to LF in text and CDATA", () => {
      expect(rootOf("<a>1\r\n2\r3<![CDATA[\r\n4]]></a>").text).toBe("1\n2\n3\n4")
    })

    it("builds nested children in document order", () => {
      const text = "<catalog>\n  <book id=\"b1\"><title>XML</title><tags><tag>a</tag><tag>b</tag></tags></book>\n" +
        "  <book id=\"b2\"/>\n</catalog>"
      expect(rootOf(text)).toEqual(
        el(
          "catalog",
          {},
          [
            el("book", { id: "b1" }, [el("title", {}, [], "XML"), el("tags", {}, [el("tag", {}, [], "a"), el("tag", {}, [], "b")])]),
            el("book", { id: "b2" })
          ],
          "\n  \n  \n"
        )
      )
    })

    it("accepts names with prefixes, digits, '-', '.', '_' and non-ASCII letters", () => {
      expect(rootOf("<ns:a-b.c_1 xml:lang=\"en\"><é/><_x/></ns:a-b.c_1>"))
        .toEqual(el("ns:a-b.c_1", { "xml:lang": "en" }, [el("é"), el("_x")]))
    })

    it(`accepts nesting up to ${maxXmlDepth} levels`, () => {
      const text = "<e>".repeat(maxXmlDepth) + "x" + "</e>".repeat(maxXmlDepth)
      let element = rootOf(text)
      for (let depth = 1; depth < maxXmlDepth; depth++) element = element.children[0]
      expect(element).toEqual(el("e", {}, [], "x"))
      expect(rootOf("<e>".repeat(maxXmlDepth - 1) + "<e/>" + "</e>".repeat(maxXmlDepth - 1)).name).toBe("e")
    })
  })

  describe("malformed input", () => {
    it("rejects a DOCTYPE", () => {
      const bomb = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]>\n<a>&lol2;</a>"
      expectFailure(parseXml(bomb), { message: "DOCTYPE is not supported", offset: 22, line: 2, column: 1 })
      expectFailure(parseXml("<a><!DOCTYPE a></a>"), { message: "DOCTYPE is not supported", offset: 3, line: 1, column: 4 })
      expectFailure(parseXml("<!doctype html><a/>"), { message: "DOCTYPE is not supported", offset: 0, line: 1, column: 1 })
    })

    it("reports a mismatched closing tag at the closing tag", () => {
      expectFailure(parseXml("<a>\n  <b>x</a>"), {
        message: "closing tag </a> does not match <b>",
        offset: 10,
        line: 2,
        column: 7
      })
      expectFailure(parseXml("<a></ab>"), { message: "closing tag </ab> does not match <a>", offset: 3, line: 1, column: 4 })
      expectFailure(parseXml("<a></>"), { message: "expected an element name after '</'", offset: 5, line: 1, column: 6 })
      expectFailure(parseXml("<a></a x>"), { message: "expected '>' after closing tag </a, found 'x'", offset: 7, line: 1, column: 8 })
    })

    it("reports an unclosed element at its start tag", () => {
      expectFailure(parseXml("<a>\n<b>text"), { message: "unclosed element <b> starting", offset: 4, line: 2, column: 1 })
      expectFailure(parseXml("<a>"), { message: "unclosed element <a> starting", offset: 0, line: 1, column: 1 })
    })

    it("reports truncated tags at the end of input", () => {
      expectFailure(parseXml("<a x=\"1\""), {
        message: "expected '>' after attribute 'x', found end of input",
        offset: 8,
        line: 1,
        column: 9
      })
      expectFailure(parseXml("<a"), { message: "expected '>' after element name <a>, found end of input", offset: 2, line: 1, column: 3 })
      expectFailure(parseXml("<a/"), { message: "expected '>' after '/' in <a/>, found end of input", offset: 3, line: 1, column: 4 })
      expectFailure(parseXml("<a></a"), { message: "expected '>' after closing tag </a, found end of input", offset: 6, line: 1, column: 7 })
      expectFailure(parseXml("<"), { message: "expected an element name after '<', found end of input", offset: 1, line: 1, column: 2 })
      expectFailure(parseXml("<a x=\"1"), { message: "unterminated value of attribute 'x' starting", offset: 5, line: 1, column: 6 })
      expectFailure(parseXml("<a x="), { message: "expected a quoted value for attribute 'x', found end of input", offset: 5, line: 1, column: 6 })
    })

    it("reports malformed attributes at the offending character", () => {
      expectFailure(parseXml("<a x=1/>"), { message: "expected a quoted value for attribute 'x', found '1'", offset: 5, line: 1, column: 6 })
      expectFailure(parseXml("<a x/>"), { message: "expected '=' after attribute 'x', found '/'", offset: 4, line: 1, column: 5 })
      expectFailure(parseXml("<a x=\"1\"y=\"2\"/>"), { message: "expected whitespace between attribute 'x' and the next attribute", offset: 8, line: 1, column: 9 })
      expectFailure(parseXml("<a x=\"1\" x='2'/>"), { message: "duplicate attribute 'x' in <a>", offset: 9, line: 1, column: 10 })
      expectFailure(parseXml("<a x=\"1\" %/>"), { message: "expected '>' after attribute 'x', found '%'", offset: 9, line: 1, column: 10 })
      expectFailure(parseXml("<a x=\"a<b\"/>"), { message: "'<' is not allowed in an attribute value", offset: 7, line: 1, column: 8 })
      expectFailure(parseXml("<a x=\"&nope;\"/>"), { message: "unknown entity &nope;", offset: 6, line: 1, column: 7 })
      expectFailure(parseXml("<a x=\"a\u0001\"/>"), { message: "invalid character U+0001 in attribute value", offset: 7, line: 1, column: 8 })
    })

    it("reports bad references in text", () => {
      expectFailure(parseXml("<a>x &nbsp; y</a>"), { message: "unknown entity &nbsp;", offset: 5, line: 1, column: 6 })
      expectFailure(parseXml("<a>fish & chips</a>"), { message: "'&' must start an entity reference", offset: 8, line: 1, column: 9 })
      expectFailure(parseXml("<a>&amp</a>"), { message: "expected ';' after entity name '&amp', found '<'", offset: 7, line: 1, column: 8 })
      expectFailure(parseXml("<a>&#;</a>"), { message: "malformed character reference", offset: 3, line: 1, column: 4 })
      expectFailure(parseXml("<a>&#x;</a>"), { message: "malformed character reference", offset: 3, line: 1, column: 4 })
      expectFailure(parseXml("<a>&#X41;</a>"), { message: "malformed character reference", offset: 3, line: 1, column: 4 })
      expectFailure(parseXml("<a>&#12a;</a>"), { message: "malformed character reference", offset: 3, line: 1, column: 4 })
      expectFailure(parseXml("<a>&#0;</a>"), { message: "character reference &#0; is not a valid XML character", offset: 3, line: 1, column: 4 })
      expectFailure(parseXml("<a>&#xD800;</a>"), { message: "is not a valid XML character", offset: 3, line: 1, column: 4 })
      expectFailure(parseXml("<a>&#x110000;</a>"), { message: "is not a valid XML character", offset: 3, line: 1, column: 4 })
      expectFailure(parseXml("<a>&#99999999999999999999999;</a>"), { message: "is not a valid XML character", offset: 3, line: 1, column: 4 })
    })

    it("rejects control characters in text and CDATA", () => {
      expectFailure(parseXml("<a>x\u0000</a>"), { message: "invalid character U+0000 in text", offset: 4, line: 1, column: 5 })
      expectFailure(parseXml("<a><![CDATA[ok\u001f]]></a>"), { message: "invalid character U+001F in CDATA", offset: 14, line: 1, column: 15 })
    })

    it("requires exactly one root element", () => {
      expectFailure(parseXml(""), { message: "document is empty", offset: 0, line: 1, column: 1 })
      expectFailure(parseXml(" \n "), { message: "document is empty", offset: 3, line: 2, column: 2 })
      expectFailure(parseXml("<!-- only a comment -->"), { message: "expected a root element, found end of input", offset: 23, line: 1, column: 24 })
      expectFailure(parseXml("<a/><b/>"), { message: "only one root element is allowed", offset: 4, line: 1, column: 5 })
      expectFailure(parseXml("<a/>\n</a>"), { message: "closing tag after the root element was closed", offset: 5, line: 2, column: 1 })
      expectFailure(parseXml("<a/> trailing"), { message: "text is not allowed after the root element", offset: 5, line: 1, column: 6 })
      expectFailure(parseXml("hello <a/>"), { message: "text is not allowed before the root element", offset: 0, line: 1, column: 1 })
      expectFailure(parseXml("<a/><![CDATA[x]]>"), { message: "CDATA section is only allowed inside an element", offset: 4, line: 1, column: 5 })
    })

    it("reports unterminated comments, CDATA sections and processing instructions at their start", () => {
      expectFailure(parseXml("<a><!-- no end</a>"), { message: "unterminated comment starting", offset: 3, line: 1, column: 4 })
      expectFailure(parseXml("<a><![CDATA[ no end</a>"), { message: "unterminated CDATA section starting", offset: 3, line: 1, column: 4 })
      expectFailure(parseXml("<?pi no end"), { message: "unterminated processing instruction starting", offset: 0, line: 1, column: 1 })
      expectFailure(parseXml("<a><? x?></a>"), { message: "expected a processing instruction target after '<?'", offset: 5, line: 1, column: 6 })
      expectFailure(parseXml("<a><!ELEMENT a></a>"), { message: "unexpected '<!'", offset: 3, line: 1, column: 4 })
    })

    it("only allows the XML declaration first", () => {
      expectFailure(parseXml("<!-- c --><?xml version=\"1.0\"?><a/>"), {
        message: "XML declaration is only allowed at the start of the document",
        offset: 10,
        line: 1,
        column: 11
      })
      expectFailure(parseXml("<a><?xml version=\"1.0\"?></a>"), { message: "XML declaration is only allowed", offset: 3, line: 1, column: 4 })
    })

    it(`rejects nesting deeper than ${maxXmlDepth} levels at the first element too deep`, () => {
      const text = "<e>".repeat(maxXmlDepth) + "<e/>" + "</e>".repeat(maxXmlDepth)
      expectFailure(parseXml(text), {
        message: `elements are nested deeper than ${maxXmlDepth} levels`,
        offset: maxXmlDepth * 3,
        line: 1,
        column: maxXmlDepth * 3 + 1
      })
    })

    it("points at names that cannot start an element", () => {
      expectFailure(parseXml("<1a/>"), { message: "expected an element name after '<', found '1'", offset: 1, line: 1, column: 2 })
      expectFailure(parseXml("<a>< b/></a>"), { message: "expected an element name after '<', found U+0020", offset: 4, line: 1, column: 5 })
    })
  })

  describe("properties", () => {
    const xmlToken = fc.constantFrom(
      "<", ">", "/", "a", "b", "=", "\"", "'", "&", ";", "#", "x", "!", "-", "?", "[", "]", " ", "\n", "\r",
      "<a>", "</a>", "<b/>", "<!--", "-->", "<![CDATA[", "]]>", "<?", "?>", "&amp;", "&#", "DOCTYPE", "1", "\u0000", "\ud800"
    )

    it("never throws and returns an element or a SyntaxFailure", () => {
      fc.assert(
        fc.property(
          fc.oneof(fc.string({ unit: xmlToken, maxLength: 40 }), fc.string({ unit: "binary" }), fc.string()),
          (text) => {
            const result = parseXml(text)
            if (result instanceof SyntaxFailure) {
              expect(result.offset).toBeGreaterThanOrEqual(0)
              expect(result.offset).toBeLessThanOrEqual(text.length)
            } else {
              expect(isElement(result)).toBe(true)
              expect(typeof xmlToObject(result)).toBe("object")
            }
          }
        ),
        { numRuns: 2000 }
      )
    })

    it("never throws on arbitrary bytes decoded as UTF-8", () => {
      const decoder = new TextDecoder()
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
          const result = parseXml(decoder.decode(bytes))
          expect(result instanceof SyntaxFailure || isElement(result)).toBe(true)
        }),
        { numRuns: 2000 }
      )
    })

    // Valid XML characters except CR (which the parser normalizes) and the markup characters escaped below.
    const xmlText = fc.string({
      unit: fc.oneof(
        fc.constantFrom("<", ">", "&", "\"", "'", " ", "\t", "\n", "]", "é", "😀"),
        fc.string({ unit: "binary", minLength: 1, maxLength: 1 }).filter((c) => {
          const cp = c.codePointAt(0)!
          return cp === 9 || cp === 10 || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || cp >= 0x10000
        })
      ),
      maxLength: 12
    })
    const xmlName = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_.-]{0,6}$/)

    interface Node {
      readonly name: string
      readonly attributes: Record<string, string>
      readonly content: ReadonlyArray<string | Node>
    }
    const tree = fc.letrec<{ node: Node }>((tie) => ({
      node: fc.record({
        name: xmlName,
        attributes: fc.dictionary(xmlName, xmlText, { maxKeys: 3 }).map((d) => ({ ...d })),
        content: fc.array(fc.oneof({ depthSize: "small", withCrossShrink: true }, xmlText, tie("node")), { maxLength: 4 })
      })
    })).node

    const escapeText = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    const escapeAttribute = (s: string): string =>
      escapeText(s).replace(/"/g, "&quot;").replace(/\t/g, "&#9;").replace(/\n/g, "&#10;")
    const serialize = (node: Node): string => {
      const attributes = Object.entries(node.attributes).map(([k, v]) => ` ${k}="${escapeAttribute(v)}"`).join("")
      const content = node.content.map((part) => (typeof part === "string" ? escapeText(part) : serialize(part))).join("")
      return content === "" ? `<${node.name}${attributes}/>` : `<${node.name}${attributes}>${content}</${node.name}>`
    }
    const expected = (node: Node): XmlElement => ({
      name: node.name,
      attributes: node.attributes,
      children: node.content.filter((part): part is Node => typeof part !== "string").map(expected),
      text: node.content.filter((part): part is string => typeof part === "string").join("")
    })

    it("round-trips generated trees", () => {
      fc.assert(
        fc.property(tree, (node) => {
          expect(parseXml(serialize(node))).toEqual(expected(node))
        }),
        { numRuns: 2000 }
      )
    })
  })

  describe("pathological input", () => {
    const megabyte = 1_000_000

    it("finishes on a megabyte of '<', open tags, references and comment openers", () => {
      expectFailure(parseXml("<".repeat(megabyte)), { message: "expected an element name after '<', found '<'", offset: 1, line: 1, column: 2 })
      expectFailure(parseXml("<a>".repeat(megabyte / 3)), { message: "nested deeper than", offset: maxXmlDepth * 3, line: 1, column: maxXmlDepth * 3 + 1 })
      expectFailure(parseXml("<a>" + "<!--".repeat(megabyte / 4)), { message: "unterminated comment", offset: 3, line: 1, column: 4 })
      expectFailure(parseXml("<a>" + "&".repeat(megabyte)), { message: "'&' must start an entity reference", offset: 3, line: 1, column: 4 })
      expectFailure(parseXml(`<a x="${"&".repeat(megabyte)}`), { message: "unterminated value of attribute", offset: 5, line: 1, column: 6 })
      expectFailure(parseXml(`<a ${"x".repeat(megabyte)}`), { message: "found end of input", offset: megabyte + 3, line: 1, column: megabyte + 4 })
      expect(rootOf(`<a>${"&amp;".repeat(megabyte / 5)}</a>`).text.length).toBe(megabyte / 5)
      expect(rootOf(`<a>${"<b/>".repeat(megabyte / 4)}</a>`).children.length).toBe(megabyte / 4)
    })
  })
})

describe("xmlToObject", () => {
  const objectOf = (text: string): Record<string, unknown> => xmlToObject(rootOf(text))

  it("maps attributes, leaf children and nested children", () => {
    const record = objectOf(
      "<activity id=\"42\">\n  <customer> abc123 </customer>\n  <date unit=\"ms\">1416603010000</date>\n" +
        "  <item><sku>X1</sku><qty>2</qty></item>\n  <empty/>\n</activity>"
    )
    expect(record).toEqual({
      id: "42",
      customer: "abc123",
      date: { "#text": "1416603010000", unit: "ms" },
      item: { sku: "X1", qty: "2" },
      empty: ""
    })
  })

  it("turns repeated names into arrays in document order", () => {
    expect(objectOf("<r><i>1</i><j>x</j><i>2</i><i><k>3</k></i></r>")).toEqual({ i: ["1", "2", { k: "3" }], j: "x" })
  })

  it("puts an attribute and a child with the same name into one array, attribute first", () => {
    expect(objectOf("<r id=\"a\"><id>b</id></r>")).toEqual({ id: ["a", "b"] })
  })

  it("keeps the root's own trimmed text under #text", () => {
    expect(objectOf("<r> hi <a>1</a></r>")).toEqual({ "#text": "hi", a: "1" })
    expect(objectOf("<r>  </r>")).toEqual({})
  })

  it("creates prototype-less objects, so __proto__ and constructor are plain keys", () => {
    const record = objectOf(
      "<r constructor=\"c\"><__proto__><polluted>yes</polluted></__proto__><prototype>p</prototype></r>"
    )
    expect(Object.getPrototypeOf(record)).toBeNull()
    expect(Object.keys(record)).toEqual(["constructor", "__proto__", "prototype"])
    expect(record["constructor"]).toBe("c")
    const proto = record["__proto__"] as Record<string, unknown>
    expect(Object.getPrototypeOf(proto)).toBeNull()
    expect(proto["polluted"]).toBe("yes")
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined()
    expect((Object.prototype as unknown as Record<string, unknown>)["polluted"]).toBeUndefined()

    const leaf = objectOf("<r><__proto__>x</__proto__></r>")
    expect(Object.getOwnPropertyDescriptor(leaf, "__proto__")?.value).toBe("x")
    expect(Object.getPrototypeOf(leaf)).toBeNull()
  })
})
