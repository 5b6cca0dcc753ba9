import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "kinesis",
    include: ["test/**/*.test.ts"]
  }
})
