/**
 * The command's own failures, and how any failure becomes one line on stderr and an exit code.
 */
import * as ConfigError from "effect/ConfigError"
import * as Data from "effect/Data"
import * as Predicate from "effect/Predicate"

/** A stream, table, bucket or directory the command needs is not there. */
export class NotFound extends Data.TaggedError("NotFound")<{
  readonly kind: "stream" | "table" | "bucket" | "directory"
  readonly name: string
  /** The AWS error name it was told with, if any. */
  readonly awsName?: string | undefined
}> {
  override get message(): string {
    return `${this.kind} "${this.name}" not found${this.awsName === undefined ? "" : ` (${this.awsName})`}`
  }
}

/** Options that parse but do not go together (exit code 2, like a parse error). */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

/** The command ran but did not do what it should (records lost, checks failed): exit code 1. */
export class CommandFailed extends Data.TaggedError("CommandFailed")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

/** One line saying what went wrong: the error's message, without its stack or cause chain. */
export const describe = (error: unknown): string => {
  let text: string
  if (ConfigError.isConfigError(error)) text = `invalid AWS settings: ${String(error)}`
  else if (Predicate.hasProperty(error, "message") && typeof error.message === "string" && error.message !== "") {
    text = error.message
  } else if (Predicate.hasProperty(error, "_tag") && typeof error._tag === "string") text = error._tag
  else text = String(error)
  return text.replace(/\s*\n\s*/g, " ").trim()
}

/** 2 for usage errors, 1 for everything else. */
export const exitCode = (error: unknown): number => error instanceof UsageError ? 2 : 1
