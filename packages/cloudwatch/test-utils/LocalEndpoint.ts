/**
 * A stand-in for CloudWatch's and an OpenTelemetry collector's HTTP endpoints on loopback, for tests: it
 * answers PutMetricData in CloudWatch's JSON 1.0 protocol (what the SDK sends: `X-Amz-Target:
 * GraniteServiceVersion20100801.PutMetricData`, bodies gzipped above 10 KB) and OTLP/HTTP JSON trace
 * exports (`POST /v1/traces`), and records both. The SDK client and the OTLP exporter are the real ones;
 * only the services are stood in for.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Zlib from "node:zlib"

/**
 * A PutMetricData call as the SDK sent it (timestamps in epoch seconds).
 *
 * @since 0.1.0
 * @category models
 */
export interface MetricCall {
  readonly target: string
  readonly body: {
    readonly Namespace: string
    readonly MetricData: ReadonlyArray<{
      readonly MetricName: string
      readonly Dimensions?: ReadonlyArray<{ readonly Name: string; readonly Value: string }>
      readonly Timestamp: number
      readonly Unit: string
      readonly StorageResolution: number
      readonly Value?: number
      readonly Values?: ReadonlyArray<number>
      readonly Counts?: ReadonlyArray<number>
    }>
  }
}

/**
 * A span of an OTLP export, flattened: its resource's and its own attributes as plain values.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExportedSpan {
  readonly name: string
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly attributes: Readonly<Record<string, unknown>>
  readonly resource: Readonly<Record<string, unknown>>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface LocalEndpoint {
  readonly url: string
  /** PutMetricData calls accepted. */
  readonly metricCalls: Array<MetricCall>
  /** PutMetricData calls answered with an error. */
  readonly refused: Array<MetricCall>
  readonly spans: Array<ExportedSpan>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Answer this many PutMetricData calls with an error first. Default 0. */
  readonly failures?: number
  /** The error's AWS name. Default `Throttling`. */
  readonly errorType?: string
}

type OtlpValue = { readonly stringValue?: string; readonly intValue?: string | number; readonly doubleValue?: number; readonly boolValue?: boolean }
type OtlpAttributes = ReadonlyArray<{ readonly key: string; readonly value: OtlpValue }> | undefined

const valueOf = (value: OtlpValue): unknown =>
  value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : undefined) ?? value.doubleValue ?? value.boolValue

const attributesOf = (attributes: OtlpAttributes): Record<string, unknown> =>
  Object.fromEntries((attributes ?? []).map(({ key, value }) => [key, valueOf(value)]))

/**
 * The endpoint, listening on 127.0.0.1 until the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<LocalEndpoint, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<LocalEndpoint & { readonly server: Http.Server }>((resume) => {
      const metricCalls: Array<MetricCall> = []
      const refused: Array<MetricCall> = []
      const spans: Array<ExportedSpan> = []
      let failures = options.failures ?? 0
      const server = Http.createServer((request, response) => {
        const chunks: Array<Buffer> = []
        request.on("data", (chunk: Buffer) => chunks.push(chunk))
        request.on("end", () => {
          const raw = Buffer.concat(chunks)
          const body = JSON.parse((request.headers["content-encoding"] === "gzip" ? Zlib.gunzipSync(raw) : raw).toString("utf8"))
          if (request.url === "/v1/traces") {
            for (const resourceSpans of body.resourceSpans ?? []) {
              const resource = attributesOf(resourceSpans.resource?.attributes)
              for (const scope of resourceSpans.scopeSpans ?? []) {
                for (const span of scope.spans ?? []) {
                  spans.push({
                    name: span.name,
                    traceId: span.traceId,
                    spanId: span.spanId,
                    parentSpanId: span.parentSpanId === "" ? undefined : span.parentSpanId,
                    attributes: attributesOf(span.attributes),
                    resource
                  })
                }
              }
            }
            response.writeHead(200, { "content-type": "application/json" })
            response.end("{}")
            return
          }
          const call: MetricCall = { target: String(request.headers["x-amz-target"]), body }
          if (failures > 0) {
            failures--
            refused.push(call)
            const type = options.errorType ?? "Throttling"
            response.writeHead(400, { "content-type": "application/x-amz-json-1.0", "x-amzn-query-error": `${type};Sender` })
            response.end(JSON.stringify({ __type: `com.amazonaws.cloudwatch#${type}`, message: "refused by the test endpoint" }))
            return
          }
          metricCalls.push(call)
          response.writeHead(200, { "content-type": "application/x-amz-json-1.0" })
          response.end("{}")
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ server, url: `http://127.0.0.1:${port}`, metricCalls, refused, spans }))
      })
    }),
    ({ server }) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
  )
