import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "example-log-intrusion",
    include: ["test/**/*.test.ts"]
  }
})
