import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "install",
    include: ["*.test.ts"],
    // a limit against hangs, not a speed: a busy machine may take many times longer
    testTimeout: 60_000
  }
})
