import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "install",
    include: ["*.test.ts"]
  }
})
