import { expect, it } from "vitest"
// @ts-expect-error a script of the repository, without declarations
import { undocumented } from "../scripts/api.mjs"

// The API reference (`pnpm docs:api`) describes every export: a symbol without a sentence fails here, named
// with its file and line.
it("every exported symbol of the packages is documented", async () => {
  expect(await undocumented()).toStrictEqual([])
}, 600_000)
