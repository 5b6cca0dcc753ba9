import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as AwsError from "../src/AwsError.js"

const sdkError = (name: string, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`${name} message`), { name, $metadata: { httpStatusCode: 400, requestId: "req-1" }, ...extra })

const status = (code: number) => ({ $metadata: { httpStatusCode: code } })

class TestError extends AwsError.ServiceError("TestError", "Test") {}
const fromSdkError = AwsError.classifier(TestError)

describe("AwsError.classify", () => {
  it("reads the errors of Kinesis, DynamoDB, S3 and the SDK into one set of reasons", () => {
    const cases: ReadonlyArray<readonly [unknown, AwsError.Reason, "transient" | "permanent"]> = [
      // Kinesis
      [sdkError("ProvisionedThroughputExceededException"), "Throttled", "transient"],
      [sdkError("LimitExceededException"), "Throttled", "transient"],
      [sdkError("ThrottlingException"), "Throttled", "transient"],
      [sdkError("KMSThrottlingException"), "Throttled", "transient"],
      [sdkError("ResourceInUseException"), "ResourceInUse", "transient"],
      [sdkError("InternalFailure", status(500)), "ServerError", "transient"],
      [sdkError("ExpiredIteratorException"), "Expired", "permanent"],
      [sdkError("ExpiredNextTokenException"), "Expired", "permanent"],
      [sdkError("ResourceNotFoundException"), "NotFound", "permanent"],
      [sdkError("InvalidArgumentException"), "InvalidRequest", "permanent"],
      [sdkError("KMSDisabledException"), "KmsKeyUnusable", "permanent"],
      [sdkError("KMSAccessDeniedException"), "KmsKeyUnusable", "permanent"],
      [sdkError("KMSOptInRequired"), "KmsKeyUnusable", "permanent"],
      [sdkError("UnknownOperationException"), "Unsupported", "permanent"],
      // DynamoDB
      [sdkError("RequestLimitExceeded"), "Throttled", "transient"],
      [sdkError("TransactionConflictException"), "TransactionConflict", "transient"],
      [sdkError("InternalServerError", status(500)), "ServerError", "transient"],
      [sdkError("ConditionalCheckFailedException"), "ConditionFailed", "permanent"],
      [sdkError("ValidationException"), "InvalidRequest", "permanent"],
      [sdkError("ItemCollectionSizeLimitExceededException"), "InvalidRequest", "permanent"],
      // S3
      [sdkError("SlowDown", status(503)), "Throttled", "transient"],
      [sdkError("InternalError", status(500)), "ServerError", "transient"],
      [sdkError("RequestTimeout"), "NetworkError", "transient"],
      [sdkError("NoSuchBucket", status(404)), "NotFound", "permanent"],
      [sdkError("NoSuchKey", status(404)), "NotFound", "permanent"],
      [sdkError("NotFound", status(404)), "NotFound", "permanent"],
      [sdkError("SignatureDoesNotMatch", status(403)), "AccessDenied", "permanent"],
      [sdkError("KeyTooLongError"), "InvalidRequest", "permanent"],
      // credentials
      [sdkError("AccessDeniedException"), "AccessDenied", "permanent"],
      [sdkError("UnrecognizedClientException"), "AccessDenied", "permanent"],
      [sdkError("ExpiredTokenException"), "AccessDenied", "permanent"],
      // by status, for names no table knows
      [sdkError("SomethingElse", status(429)), "Throttled", "transient"],
      [sdkError("ServiceUnavailable", status(503)), "ServerError", "transient"],
      [sdkError("WeirdServerThing", status(502)), "ServerError", "transient"],
      [sdkError("Forbidden", status(403)), "AccessDenied", "permanent"],
      [sdkError("Gone", status(404)), "NotFound", "permanent"],
      // no answer
      [Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET", $metadata: {} }), "NetworkError", "transient"],
      [Object.assign(new Error("socket hang up"), { $metadata: {} }), "NetworkError", "transient"],
      [Object.assign(new Error("timed out"), { name: "TimeoutError" }), "NetworkError", "transient"],
      // anything else: the SDK's hint decides
      [sdkError("Mystery"), "Unknown", "permanent"],
      [sdkError("Mystery", { $retryable: {} }), "Unknown", "transient"],
      ["a string", "Unknown", "permanent"]
    ]
    const classified = cases.map(([error]) => {
      const fields = AwsError.classify("Op", error)
      return [fields.reason, fields.retryability]
    })
    expect(classified).toStrictEqual(cases.map(([, reason, retryability]) => [reason, retryability]))
  })

  it("keeps the operation, the AWS name, the service's message, the status and the request id", () => {
    const error = fromSdkError("GetRecords", sdkError("ProvisionedThroughputExceededException"))
    expect(error).toBeInstanceOf(TestError)
    expect([error._tag, error.operation, error.reason, error.awsName, error.description, error.statusCode, error.requestId]).toStrictEqual([
      "TestError",
      "GetRecords",
      "Throttled",
      "ProvisionedThroughputExceededException",
      "ProvisionedThroughputExceededException message",
      400,
      "req-1"
    ])
    expect(error.message).toBe(
      "Test GetRecords failed with ProvisionedThroughputExceededException (Throttled, transient): ProvisionedThroughputExceededException message"
    )
    expect(AwsError.isAwsError(error)).toBe(true)
    expect(AwsError.isAwsError(new Error("x"))).toBe(false)
    // an answer the SDK could not parse is named by its status, a Node failure by its code
    expect(AwsError.classify("Op", Object.assign(new Error("?"), status(502))).awsName).toBe("HTTP 502")
    expect(AwsError.classify("Op", Object.assign(new Error("reset"), { code: "ECONNRESET" })).awsName).toBe("ECONNRESET")
  })

  it("tells throttling and unknown outcomes, and catches by reason", () =>
    Effect.gen(function*() {
      const throttled = fromSdkError("PutRecords", sdkError("ProvisionedThroughputExceededException"))
      const server = fromSdkError("PutRecords", sdkError("InternalFailure", status(500)))
      const reset = fromSdkError("PutRecords", Object.assign(new Error("reset"), { code: "ECONNRESET" }))
      expect([throttled, server, reset].map(AwsError.isThrottled)).toStrictEqual([true, false, false])
      expect([throttled, server, reset].map(AwsError.isUnknownOutcome)).toStrictEqual([false, true, true])
      const missing = fromSdkError("DescribeStreamSummary", sdkError("ResourceNotFoundException"))
      const caught = yield* Effect.fail(missing).pipe(
        Effect.catchIf(AwsError.hasReason("NotFound"), () => Effect.succeed("absent"))
      )
      expect(caught).toBe("absent")
      // catchTag by the service's class, then the reason
      const tagged = yield* Effect.fail(throttled).pipe(
        Effect.catchTag("TestError", (error) => Effect.succeed(error.reason))
      )
      expect(tagged).toBe("Throttled")
    }).pipe(Effect.runPromise))
})
