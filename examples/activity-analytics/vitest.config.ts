import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "example-activity-analytics",
    include: ["test/**/*.test.ts"]
  }
})
