import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "example-table-changes",
    include: ["test/**/*.test.ts"],
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" }
  }
})
