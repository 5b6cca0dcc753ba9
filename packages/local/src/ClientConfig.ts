/**
 * SDK v3 client settings for a loopback emulator: endpoint, region, dummy static credentials and a request
 * handler for loopback endpoints (HTTP/1.1, HTTP/2 for event streams). Spread it into a client's
 * constructor: `new KinesisClient(local.clientConfig)`.
 *
 * @since 0.1.0
 */
import { LoopbackHandler } from "@tributary/aws/LoopbackHandler"

/**
 * The settings an AWS SDK v3 client needs to talk to a local emulator instead of AWS.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientConfig {
  /** The emulator's URL, `http://127.0.0.1:<port>`. */
  readonly endpoint: string
  /** The region the client signs requests for. Default `defaultRegion`. */
  readonly region: string
  /**
   * Dummy static credentials (`local` unless given), so the SDK signs requests without looking for real
   * ones; s3rver accepts only its own key, `S3RVER`, which `LocalS3` sets.
   */
  readonly credentials: {
    readonly accessKeyId: string
    readonly secretAccessKey: string
  }
  /**
   * HTTP/1.1, and HTTP/2 only for event streams (SubscribeToShard). The SDK's Kinesis client otherwise speaks
   * HTTP/2 for every call, which kinesalite does not answer and kinesis-mock answers unreliably. One handler
   * (one keep-alive agent) is shared by every client made from this config; destroying a client only closes
   * its sockets, the handler stays usable.
   */
  readonly requestHandler: LoopbackHandler
}

/**
 * The region every emulator layer uses unless told otherwise.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultRegion = "us-east-1"

/**
 * Client settings for the emulator at `endpoint`: region `defaultRegion` and credentials `local`/`local`
 * unless given, and a fresh HTTP/1.1 handler with a 5-second connection timeout.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  endpoint: string,
  options: { readonly region?: string; readonly accessKeyId?: string; readonly secretAccessKey?: string } = {}
): ClientConfig => ({
  endpoint,
  region: options.region ?? defaultRegion,
  credentials: { accessKeyId: options.accessKeyId ?? "local", secretAccessKey: options.secretAccessKey ?? "local" },
  requestHandler: new LoopbackHandler({ connectionTimeout: 5_000 })
})
