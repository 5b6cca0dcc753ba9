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

/** Node's codes for a service that cannot be reached. */
const networkCodes = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH"])

/** The variable that names each service's endpoint. */
const endpointVariables: Readonly<Record<string, string>> = {
  Kinesis: "AWS_ENDPOINT_URL_KINESIS",
  DynamoDB: "AWS_ENDPOINT_URL_DYNAMODB",
  S3: "AWS_ENDPOINT_URL_S3"
}

/**
 * A service that does not answer (or no credentials to call it with), said with what to check: the endpoint variable when one is set, else the
 * region and the network. Undefined for other errors.
 */
const unreachable = (error: unknown, text: string): string | undefined => {
  const code = Predicate.hasProperty(error, "awsName") && typeof error.awsName === "string" ? error.awsName : undefined
  const service = /^(Kinesis|DynamoDB|S3) /.exec(text)?.[1]
  if (code === undefined || service === undefined) return undefined
  if (code === "CredentialsProviderError") {
    return `no AWS credentials for ${service}: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY ` +
      "(a role provides them on AWS)"
  }
  if (!networkCodes.has(code)) return undefined
  const variable = endpointVariables[service]
  const endpoint = process.env[variable] ?? process.env.AWS_ENDPOINT_URL
  return endpoint === undefined
    ? `cannot reach ${service} (${code}): check AWS_REGION and the network`
    : `cannot reach ${service} at ${endpoint} (${code}): check ${process.env[variable] === undefined ? "AWS_ENDPOINT_URL" : variable}`
}

/** One line saying what went wrong: the error's message, without its stack or cause chain. */
export const describe = (error: unknown): string => {
  let text: string
  if (ConfigError.isConfigError(error)) text = `invalid AWS settings: ${String(error)}`
  else if (Predicate.hasProperty(error, "message") && typeof error.message === "string" && error.message !== "") {
    text = error.message
  } else if (Predicate.hasProperty(error, "_tag") && typeof error._tag === "string") text = error._tag
  else text = String(error)
  return (unreachable(error, text) ?? text).replace(/\s*\n\s*/g, " ").trim()
}

/** 2 for usage errors (and a demo on AWS without its bucket), 1 for everything else. */
export const exitCode = (error: unknown): number =>
  error instanceof UsageError || (Predicate.isTagged(error, "DemoError") && Predicate.hasProperty(error, "reason") && error.reason === "MissingBucket")
    ? 2
    : 1
