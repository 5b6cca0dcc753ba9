import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "example-clickstream-sessions",
    include: ["test/**/*.test.ts"]
  }
})
