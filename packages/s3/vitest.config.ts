import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "s3",
    include: ["test/**/*.test.ts"],
    // a limit against hangs, not a speed: a busy machine may take many times longer
    testTimeout: 60_000,
    // the AWS SDK warns once per process that its 2027 releases will need Node 22 (versions are pinned)
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" }
    // s3rver needs Node's legacy OpenSSL provider for paginated listings: the tests run it in a child
    // process started with --openssl-legacy-provider (LocalS3.layerS3rverProcess), so they need no NODE_OPTIONS
  }
})
