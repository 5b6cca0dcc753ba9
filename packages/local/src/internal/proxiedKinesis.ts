/** What a proxy in front of `LocalKinesis` (FaultProxy, Http2Proxy) provides as `LocalKinesis`. */
import type { ClientConfig } from "../ClientConfig.js"
import type { LocalKinesisShape } from "../LocalKinesis.js"

/** The emulator as seen through the proxy: its endpoint and client settings, the emulator's region and process. */
export const throughProxy = (
  local: LocalKinesisShape,
  proxy: { readonly endpoint: string; readonly port: number; readonly clientConfig: ClientConfig }
): LocalKinesisShape => ({
  kind: "proxy",
  endpoint: proxy.endpoint,
  port: proxy.port,
  region: local.region,
  clientConfig: proxy.clientConfig,
  pid: local.pid
})
