#!/usr/bin/env node
// The API reference, from the doc comments of every package's public modules (packages/*/src/*.ts; the
// internal/ folders are not part of the API), by typedoc.
//
//   node scripts/api.mjs            the reference as HTML in docs/api/ (`pnpm docs:api`)
//   node scripts/api.mjs --check    lists the exported symbols without a description; exit 1 if there is one
//
// API_PACKAGES=core,s3 limits either to those packages.
//
// "Documented" is stricter than typedoc's own `notDocumented` validation, which takes a comment holding
// only tags (`@since 0.1.0`) for documentation: every export, and every member of an exported interface or
// class that is declared there, needs a sentence saying what it is.
import { dirname, join, relative, resolve, sep } from "node:path"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Application, ReflectionKind } from "typedoc"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")

const options = {
  name: "Tributary",
  entryPointStrategy: "resolve",
  entryPoints: (process.env.API_PACKAGES?.split(",") ?? ["*"]).map((pkg) => join(root, "packages", pkg, "src", "*.ts")),
  tsconfig: join(root, "tsconfig.typedoc.json"),
  readme: join(root, "docs", "api.md"),
  out: join(root, "docs", "api"),
  // `tsc -b` type-checks the same sources; typedoc only reads them
  skipErrorChecking: true,
  excludePrivate: true,
  excludeInternal: true,
  sort: ["source-order"],
  logLevel: "Error"
}

/** packages/core/src/Decoder.ts is the module `@tributary/core/Decoder`, index.ts the package itself. */
const moduleName = (path) => {
  const [pkg, , ...rest] = relative(join(root, "packages"), path).split(sep)
  const file = rest.join("/").replace(/\.ts$/, "")
  return file === "index" ? `@tributary/${pkg}` : `@tributary/${pkg}/${file}`
}

const convert = async () => {
  const app = await Application.bootstrapWithPlugins(options)
  const project = await app.convert()
  if (project === undefined) throw new Error("typedoc could not convert the sources")
  for (const module of project.children ?? []) {
    const source = module.sources?.[0]?.fullFileName
    if (source !== undefined) module.name = moduleName(source)
  }
  return { app, project }
}

const described = (comment) => comment !== undefined && comment.summary.some((part) => part.text.trim() !== "")

/** A declaration's description: its own comment, or its (first) signature's, as for functions and methods. */
const hasDescription = (reflection) =>
  described(reflection.comment) ||
  (reflection.signatures ?? []).some((signature) => described(signature.comment)) ||
  described(reflection.getSignature?.comment) ||
  described(reflection.setSignature?.comment) ||
  statementDescribed(reflection)

/**
 * typedoc gives destructured exports (`export const { layer, make } = AwsClient.service(...)`) no comment:
 * theirs is the statement's, read from the lines above it.
 */
const sourceLines = new Map()
const statementDescribed = (reflection) => {
  const source = reflection.sources?.[0]
  if (source === undefined) return false
  if (!sourceLines.has(source.fullFileName)) sourceLines.set(source.fullFileName, readFileSync(source.fullFileName, "utf8").split("\n"))
  const lines = sourceLines.get(source.fullFileName)
  let at = source.line - 1
  if (!/^export const \{/.test(lines[at] ?? "")) return false
  if (!/\*\/\s*$/.test(lines[at - 1] ?? "")) return false
  const text = []
  for (at = at - 1; at >= 0 && !/^\s*\/\*\*/.test(lines[at]); at--) text.push(lines[at])
  return text.map((line) => line.replace(/^\s*\*\/?/, "").trim()).some((line) => line !== "" && !line.startsWith("@") && line !== "/")
}

const memberKinds = ReflectionKind.Property | ReflectionKind.Method | ReflectionKind.Accessor |
  ReflectionKind.TypeAlias | ReflectionKind.Interface | ReflectionKind.Function | ReflectionKind.Variable
const exportKinds = ReflectionKind.Variable | ReflectionKind.Function | ReflectionKind.Class |
  ReflectionKind.Interface | ReflectionKind.TypeAlias | ReflectionKind.Enum | ReflectionKind.Namespace

/** `@tributary/core/Decoder.Decoder.decode`, with the file and line it is declared at. */
export const undocumented = async () => {
  const { project } = await convert()
  const found = []
  const check = (reflection, name) => {
    if (!hasDescription(reflection)) {
      const source = reflection.sources?.[0]
      found.push(`${name} (${source ? `${relative(root, source.fullFileName)}:${source.line}` : "?"})`)
    }
  }
  for (const module of project.children ?? []) {
    for (const declaration of module.children ?? []) {
      if (!declaration.kindOf(exportKinds)) continue
      const name = `${module.name}.${declaration.name}`
      check(declaration, name)
      if (!declaration.kindOf(ReflectionKind.Interface | ReflectionKind.Class | ReflectionKind.Namespace)) continue
      for (const member of declaration.children ?? []) {
        // what a class or interface inherits is documented where it is declared
        if (!member.kindOf(memberKinds) || member.inheritedFrom !== undefined || member.flags.isExternal) continue
        // a tag and a type id are structural, documented once where the type id is declared
        if (member.name === "_tag" || member.name.startsWith("[")) continue
        check(member, `${name}.${member.name}`)
      }
    }
  }
  return found
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes("--check")) {
    const found = await undocumented()
    for (const line of found) console.log(line)
    console.log(`${found.length} exported symbols without a description`)
    process.exit(found.length === 0 ? 0 : 1)
  } else {
    const { app, project } = await convert()
    await app.generateDocs(project, options.out)
    console.log(`the API reference is in ${relative(process.cwd(), options.out)}/index.html`)
  }
}
