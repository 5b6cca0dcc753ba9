import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "example-cdk-app",
    include: ["test/**/*.test.ts"],
    // synthesizing bundles the Lambda function with esbuild and validates the template: seconds, more on a busy machine
    testTimeout: 240_000,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" }
  }
})
