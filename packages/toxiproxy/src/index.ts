import { type ProxyInfo, ToxiproxyClient } from './client.ts'
import type { ToxicSpec, ToxicState } from './toxics.ts'

export {
  type ProxyConfig,
  type ProxyInfo,
  type ProxyState,
  ToxiproxyClient,
  ToxiproxyRequestError,
  toxiproxyUrl,
} from './client.ts'
export * from './toxics.ts'

let defaultClient: ToxiproxyClient | undefined

/** The client for `TOXIPROXY_URL` (or the topology's default), created on first use. */
export function toxiproxy(): ToxiproxyClient {
  defaultClient ??= new ToxiproxyClient()
  return defaultClient
}

/** {@link ToxiproxyClient.withToxic} on the default client. */
export function withToxic<R>(
  proxyName: string,
  toxic: ToxicSpec,
  fn: (toxic: ToxicState) => Promise<R> | R,
): Promise<R> {
  return toxiproxy().withToxic(proxyName, toxic, fn)
}

/** {@link ToxiproxyClient.withProxyDisabled} on the default client. */
export function withProxyDisabled<R>(proxyName: string, fn: () => Promise<R> | R): Promise<R> {
  return toxiproxy().withProxyDisabled(proxyName, fn)
}

export function disableProxy(proxyName: string): Promise<ProxyInfo> {
  return toxiproxy().disableProxy(proxyName)
}

export function enableProxy(proxyName: string): Promise<ProxyInfo> {
  return toxiproxy().enableProxy(proxyName)
}

/** Every proxy enabled, every toxic removed (affects everyone using this Toxiproxy). */
export function reset(): Promise<void> {
  return toxiproxy().reset()
}
