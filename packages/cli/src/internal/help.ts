/**
 * Help texts. A command's description is its one-line summary, then more paragraphs; its options carry a
 * description each. The help is printed from those alone: @effect/cli's own help adds a type sentence to
 * every option ("A user-defined piece of text."), "This setting is optional." and its built-in options
 * (--wizard, --completions, ...) to every command, which says nothing to a reader of ours.
 */
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import type * as Span from "@effect/cli/HelpDoc/Span"

/** The summary, then the details, as paragraphs. */
export const description = (
  summary: string,
  ...details: readonly [string, ...Array<string>]
): HelpDoc.HelpDoc => HelpDoc.blocks([HelpDoc.p(summary), ...details.map((text) => HelpDoc.p(text))])

/** An option as the help shows it. */
export interface OptionHelp {
  /** `--stream NAME`, `--format auto | json | ...` */
  readonly usage: string
  readonly name: string
  readonly required: boolean
  /** The values a choice option takes. */
  readonly choices: ReadonlyArray<string> | undefined
  readonly description: string
}

export interface CommandHelp {
  readonly name: string
  readonly paragraphs: ReadonlyArray<string>
  readonly options: ReadonlyArray<OptionHelp>
}

const spanText = (span: Span.Span): string =>
  span._tag === "Sequence"
    ? spanText(span.left) + spanText(span.right)
    : span._tag === "Text" || span._tag === "URI"
    ? span.value
    : spanText(span.value)

type Block =
  | { readonly _tag: "Header"; readonly text: string }
  | { readonly _tag: "Paragraph"; readonly text: string }
  | { readonly _tag: "Definition"; readonly term: string; readonly paragraphs: ReadonlyArray<string> }

const blocks = (doc: HelpDoc.HelpDoc): Array<Block> => {
  switch (doc._tag) {
    case "Empty":
      return []
    case "Header":
      return [{ _tag: "Header", text: spanText(doc.value) }]
    case "Paragraph":
      return [{ _tag: "Paragraph", text: spanText(doc.value) }]
    case "DescriptionList":
      return doc.definitions.map(([term, body]) => ({
        _tag: "Definition",
        term: spanText(term),
        paragraphs: blocks(body).flatMap((block) => block._tag === "Paragraph" ? [block.text] : [])
      }))
    case "Enumeration":
      return doc.elements.flatMap(blocks)
    case "Sequence":
      return [...blocks(doc.left), ...blocks(doc.right)]
  }
}

/** What @effect/cli says of every option of a kind, and of every optional one. */
const boilerplate = /^(A user-defined piece of text\.|An integer\.|A floating point number\.|A true or false value\.|A date time\.|One of the following: .*|This setting is optional\.)$/
const optional = "This setting is optional."
/** @effect/cli's own options, which every command takes and nobody here needs. */
const builtIn = new Set(["--completions", "--log-level", "--wizard", "--version"])

/** A command's summary, details and options, read from its @effect/cli description. */
export const of = (command: Command.Command<any, any, any, any>): CommandHelp => {
  const all = blocks(Command.getHelp(command, CliConfig.defaultConfig))
  const options = all.flatMap((block): Array<OptionHelp> => {
    if (block._tag !== "Definition" || !block.term.startsWith("--") || builtIn.has(block.term.split(" ")[0])) return []
    const choices = block.paragraphs.find((p) => p.startsWith("One of the following: "))
    return [{
      usage: block.term,
      name: block.term.split(" ")[0],
      // a flag (a true or false value) is never required
      required: !block.paragraphs.includes(optional) && !block.paragraphs.includes("A true or false value."),
      choices: choices === undefined ? undefined : choices.slice("One of the following: ".length).split(", "),
      description: block.paragraphs.filter((p) => !boilerplate.test(p)).join(" ")
    }]
  })
  return {
    name: Array.from(Command.getNames(command))[0],
    paragraphs: all.flatMap((block) => block._tag === "Paragraph" ? [block.text] : []),
    options
  }
}

/** Options every command takes (handled before @effect/cli sees the command line). */
export const common: ReadonlyArray<OptionHelp> = [
  {
    usage: "--verbose",
    name: "--verbose",
    required: false,
    choices: undefined,
    description: "Log more: every warning with its cause and stack trace, and debug messages such as lease movements."
  },
  { usage: "-h, --help", name: "--help", required: false, choices: undefined, description: "Show this help." }
]

const width = 100

/** Words of `text` in lines of at most `width` characters, each starting with `indent`. */
export const wrap = (text: string, indent: string): string => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line !== "" && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line)
      line = word
    } else {
      line = line === "" ? word : `${line} ${word}`
    }
  }
  if (line !== "") lines.push(indent + line)
  return lines.join("\n")
}

/** `tributary <command> --help` */
export const render = (help: CommandHelp): string => {
  const usage = [
    `tributary ${help.name}`,
    ...help.options.map((option) => option.required ? option.usage : `[${option.usage}]`)
  ].join(" ")
  const [summary, ...details] = help.paragraphs
  return [
    `tributary ${help.name}: ${summary ?? ""}`,
    "",
    wrap(`Usage: ${usage}`, ""),
    ...details.flatMap((paragraph) => ["", wrap(paragraph, "")]),
    "",
    "Options:",
    ...[...help.options, ...common].flatMap((option) => [`  ${option.usage}`, wrap(option.description, "      ")])
  ].join("\n")
}

/** `tributary --help` */
export const renderRoot = (
  summary: string,
  commands: ReadonlyArray<CommandHelp>,
  notes: ReadonlyArray<string>
): string => {
  const pad = Math.max(...commands.map((c) => c.name.length)) + 2
  return [
    `tributary: ${summary}`,
    "",
    "Usage: tributary <command> [options]",
    "",
    "Commands:",
    ...commands.map((command) => `  ${command.name.padEnd(pad)}${command.paragraphs[0] ?? ""}`),
    ...notes.flatMap((note) => ["", wrap(note, "")])
  ].join("\n")
}
