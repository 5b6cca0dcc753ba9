import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "server",
    include: ["test/**/*.test.ts"],
    // installs Chromium for the browser tests when it is missing (skipped with TRIBUTARY_SKIP_BROWSER=1)
    globalSetup: ["test/globalSetup.ts"],
    // the AWS SDK warns once per process that its 2027 releases will need Node 22 (versions are pinned)
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" }
  }
})
