import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "example-lambda-consumer",
    include: ["test/**/*.test.ts"],
    // a limit against hangs, not a speed: a busy machine may take many times longer
    testTimeout: 60_000,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" }
  }
})
