import { randomBytes } from 'node:crypto'
import { ports } from '@faultline/infra'
import { Toxiproxy, ToxiproxyError } from 'toxiproxy-node-client'
import type { ToxicSpec, ToxicState, ToxicType } from './toxics.ts'

/** Toxiproxy's API: `TOXIPROXY_URL`, else the port from the Faultline topology. */
export function toxiproxyUrl(env: Record<string, string | undefined> = process.env): string {
  return env.TOXIPROXY_URL || `http://127.0.0.1:${ports.toxiproxyApi}`
}

/** A proxy as Toxiproxy reports it, with its active toxics. */
export interface ProxyState {
  name: string
  /** `host:port` the proxy listens on (the real port when it was created with port 0). */
  listen: string
  upstream: string
  enabled: boolean
  toxics: ToxicState[]
}

export interface ProxyConfig {
  name: string
  /** `host:port`; port 0 lets Toxiproxy pick a free one (read it back from `listen`). */
  listen: string
  upstream: string
  /** Defaults to true. */
  enabled?: boolean
}

export type ProxyInfo = Omit<ProxyState, 'toxics'>

/**
 * A failed call to the Toxiproxy API. `status` is the HTTP status when the API answered (404: no
 * such proxy or toxic, 409: already exists) and undefined when it could not be reached.
 */
export class ToxiproxyRequestError extends Error {
  override name = 'ToxiproxyRequestError'
  readonly code = 'TOXIPROXY_ERR_REQUEST'
  readonly status: number | undefined

  constructor(action: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause)
    super(`toxiproxy: ${action} failed: ${reason}`, { cause })
    // toxiproxy-node-client keeps the status only in its message ("… with status code 404").
    const match = /status code (\d{3})/.exec(reason)
    this.status = match?.[1] === undefined ? undefined : Number(match[1])
  }
}

async function attempt<T>(action: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (err) {
    if (err instanceof ToxiproxyRequestError) throw err
    if (err instanceof ToxiproxyError || err instanceof Error) throw new ToxiproxyRequestError(action, err)
    throw err
  }
}

function info(proxy: { name: string; listen: string; upstream: string; enabled: boolean }): ProxyInfo {
  return { name: proxy.name, listen: proxy.listen, upstream: proxy.upstream, enabled: proxy.enabled }
}

/**
 * Faultline's view of Toxiproxy: a thin layer over toxiproxy-node-client (reachable as `raw` for
 * anything not covered here) that adds typed toxics, toxics that always come off (`withToxic`),
 * and "component down" as a proxy disabled for the duration of a block.
 *
 * Proxy and toxic names are used in URL paths as they are (as the library does): keep them to
 * letters, digits, `-` and `_`.
 */
export class ToxiproxyClient {
  readonly url: string
  /** The underlying toxiproxy-node-client instance. */
  readonly raw: Toxiproxy

  constructor(options: { url?: string } = {}) {
    this.url = (options.url ?? toxiproxyUrl()).replace(/\/+$/, '')
    this.raw = new Toxiproxy(this.url)
  }

  version(): Promise<string> {
    return attempt('read version', () => this.raw.getVersion())
  }

  /** Every proxy with its toxics, by name. */
  proxies(): Promise<Record<string, ProxyState>> {
    // The library's getAll() drops each proxy's toxics, so read the listing with its HTTP client.
    return attempt('list proxies', async () => {
      const res = await this.raw.getApi().get<Record<string, ProxyState>>(`${this.url}/proxies`)
      return res.data
    })
  }

  proxy(name: string): Promise<ProxyState> {
    return attempt(`read proxy ${name}`, async () => {
      const res = await this.raw.getApi().get<ProxyState>(`${this.url}/proxies/${name}`)
      return res.data
    })
  }

  createProxy(config: ProxyConfig): Promise<ProxyInfo> {
    return attempt(`create proxy ${config.name}`, async () =>
      info(await this.raw.createProxy({ enabled: true, ...config })),
    )
  }

  deleteProxy(name: string): Promise<void> {
    return attempt(`delete proxy ${name}`, async () => (await this.raw.get(name)).remove())
  }

  /**
   * Creates or replaces proxies in one call (Toxiproxy's `/populate`); a proxy whose listen and
   * upstream are unchanged is left as it is.
   */
  populate(configs: ProxyConfig[]): Promise<ProxyInfo[]> {
    return attempt('populate proxies', async () => {
      const created = await this.raw.populate(configs.map((c) => ({ enabled: true, ...c })))
      return Object.values(created).map(info)
    })
  }

  /** Takes the component behind the proxy "down": the listener closes and new connections are refused. */
  disableProxy(name: string): Promise<ProxyInfo> {
    return this.setEnabled(name, false)
  }

  enableProxy(name: string): Promise<ProxyInfo> {
    return this.setEnabled(name, true)
  }

  private setEnabled(name: string, enabled: boolean): Promise<ProxyInfo> {
    return attempt(`${enabled ? 'enable' : 'disable'} proxy ${name}`, async () => {
      const proxy = await this.raw.get(name)
      return info(await proxy.update({ enabled, listen: proxy.listen, upstream: proxy.upstream }))
    })
  }

  toxics(proxyName: string): Promise<ToxicState[]> {
    return this.proxy(proxyName).then((p) => p.toxics)
  }

  addToxic<T extends ToxicSpec>(proxyName: string, toxic: T): Promise<ToxicState<T['type']>> {
    const stream = toxic.stream ?? 'downstream'
    const body = {
      name: toxic.name ?? `${toxic.type}_${stream}_${randomBytes(4).toString('hex')}`,
      type: toxic.type,
      stream,
      toxicity: toxic.toxicity ?? 1,
      attributes: toxic.attributes,
    }
    return attempt(`add ${toxic.type} toxic ${body.name} to ${proxyName}`, async () => {
      const proxy = await this.raw.get(proxyName)
      return (await proxy.addToxic(body)).toJson() as ToxicState<T['type']>
    })
  }

  /** Changes a live toxic's attributes (merged into the current ones) or toxicity. */
  updateToxic<K extends ToxicType = ToxicType>(
    proxyName: string,
    toxicName: string,
    change: { attributes?: Partial<ToxicState<K>['attributes']>; toxicity?: number },
  ): Promise<ToxicState<K>> {
    return attempt(`update toxic ${toxicName} on ${proxyName}`, async () => {
      const proxy = await this.raw.get(proxyName)
      const toxic = await proxy.getToxic<Record<string, number>>(toxicName)
      const updated = await toxic.update({
        ...toxic.toJson(),
        attributes: { ...toxic.attributes, ...(change.attributes as Record<string, number> | undefined) },
        toxicity: change.toxicity ?? toxic.toxicity,
      })
      return updated.toJson() as unknown as ToxicState<K>
    })
  }

  removeToxic(proxyName: string, toxicName: string): Promise<void> {
    return attempt(`remove toxic ${toxicName} from ${proxyName}`, () =>
      this.raw.getApi().delete(`${this.url}/proxies/${proxyName}/toxics/${toxicName}`),
    )
  }

  /** Enables every proxy and removes every toxic, on every proxy: the whole chaos layer back to normal. */
  reset(): Promise<void> {
    return attempt('reset', () => this.raw.reset())
  }

  /**
   * Runs `fn` with the toxic active and removes the toxic afterwards, whether `fn` returned or
   * threw. A toxic already gone (e.g. `fn` called `reset()`) is not an error.
   */
  async withToxic<R>(
    proxyName: string,
    toxic: ToxicSpec,
    fn: (toxic: ToxicState) => Promise<R> | R,
  ): Promise<R> {
    const added = await this.addToxic(proxyName, toxic)
    let result: R
    try {
      result = await fn(added)
    } catch (err) {
      await this.removeToxicQuietly(proxyName, added.name, err)
      throw err
    }
    await this.removeToxicQuietly(proxyName, added.name)
    return result
  }

  /** Runs `fn` with the proxy disabled (the component "down") and enables it again afterwards. */
  async withProxyDisabled<R>(proxyName: string, fn: () => Promise<R> | R): Promise<R> {
    await this.disableProxy(proxyName)
    let result: R
    try {
      result = await fn()
    } catch (err) {
      await this.enableProxy(proxyName).catch((enableErr: unknown) => {
        throw new AggregateError(
          [err, enableErr],
          `toxiproxy: fn failed and proxy ${proxyName} stays disabled`,
        )
      })
      throw err
    }
    await this.enableProxy(proxyName)
    return result
  }

  private async removeToxicQuietly(proxyName: string, toxicName: string, fnError?: unknown): Promise<void> {
    try {
      await this.removeToxic(proxyName, toxicName)
    } catch (err) {
      if (err instanceof ToxiproxyRequestError && err.status === 404) return
      if (fnError === undefined) throw err
      throw new AggregateError(
        [fnError, err],
        `toxiproxy: fn failed and toxic ${toxicName} stays on ${proxyName}`,
      )
    }
  }
}
