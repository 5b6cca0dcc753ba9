import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "example-iot-sensors",
    include: ["test/**/*.test.ts"]
  }
})
