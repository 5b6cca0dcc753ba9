import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "server",
    include: ["test/**/*.test.ts"],
    // a limit against hangs, not a speed: a busy machine may take many times longer
    testTimeout: 60_000,
    // the AWS SDK warns once per process that its 2027 releases will need Node 22 (versions are pinned)
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" }
  }
})
