/**
 * Help texts. A command's description is its one-line summary, then more paragraphs; the root's help lists
 * the summaries. (@effect/cli prints a description of one paragraph beside the command's usage in the
 * root's COMMANDS section, padded past the longest usage: two paragraphs or more keep that section to the
 * usages.)
 */
import * as HelpDoc from "@effect/cli/HelpDoc"

/** The summary, then the details, as paragraphs. */
export const description = (
  summary: string,
  ...details: readonly [string, ...Array<string>]
): HelpDoc.HelpDoc => HelpDoc.blocks([HelpDoc.p(summary), ...details.map((text) => HelpDoc.p(text))])
