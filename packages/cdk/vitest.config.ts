import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "cdk",
    include: ["test/**/*.test.ts"],
    // synthesizing loads the CDK (a few seconds on a busy machine) and validates the template
    testTimeout: 120_000,
    // the AWS SDK warns once per process that its 2027 releases will need Node 22 (versions are pinned)
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" }
  }
})
