import { describe, expect, it } from "@effect/vitest"
import * as AwsSdk from "../src/AwsSdk.js"

describe("AwsSdk", () => {
  it("reads the facts of a service exception", () => {
    const error = Object.assign(new Error("Rate exceeded"), {
      name: "ThrottlingException",
      $metadata: { httpStatusCode: 400, requestId: "r-1" },
      $retryable: { throttling: true }
    })
    expect(AwsSdk.inspect(error)).toStrictEqual({
      name: "ThrottlingException",
      code: undefined,
      statusCode: 400,
      requestId: "r-1",
      reason: "Rate exceeded",
      retryable: true
    })
  })

  it("tells a network failure from an answer", () => {
    const reset = AwsSdk.inspect(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }))
    expect(AwsSdk.isNetworkFailure(reset)).toBe(true)
    expect(AwsSdk.isNetworkFailure(AwsSdk.inspect(Object.assign(new Error("x"), { name: "TimeoutError" })))).toBe(true)
    const answered = AwsSdk.inspect(Object.assign(new Error("ECONNRESET"), { $metadata: { httpStatusCode: 500 } }))
    expect(AwsSdk.isNetworkFailure(answered)).toBe(false)
    expect(AwsSdk.inspect("boom")).toMatchObject({ name: "Error", reason: "boom", retryable: false })
  })

  it("knows loopback endpoints", () => {
    for (const endpoint of ["http://127.0.0.1:4567", "http://localhost:1", "http://[::1]:9", "http://a.localhost"]) {
      expect([endpoint, AwsSdk.isLoopback(endpoint)]).toStrictEqual([endpoint, true])
    }
    for (const endpoint of [undefined, "https://kinesis.eu-west-1.amazonaws.com", "not a url", "http://128.0.0.1"]) {
      expect([endpoint, AwsSdk.isLoopback(endpoint)]).toStrictEqual([endpoint, false])
    }
  })
})
