/**
 * The few Toxiproxy HTTP API calls the lab needs. Kept in this one module so it can switch to
 * `@faultline/toxiproxy` without touching the actions. Every toxic the lab adds is named
 * `lab-…`, so cleanup removes exactly the lab's own toxics and never another test's.
 */

export type ToxicType =
  | 'latency'
  | 'bandwidth'
  | 'slow_close'
  | 'timeout'
  | 'slicer'
  | 'limit_data'
  | 'reset_peer'

export interface ToxicSpec {
  type: ToxicType
  /** `downstream` (server → client, the default) or `upstream` (client → server). */
  stream?: 'downstream' | 'upstream'
  /** Fraction of connections affected, 0–1. Default 1. */
  toxicity?: number
  attributes: Record<string, number>
}

export interface Toxic extends ToxicSpec {
  name: string
}

export const labToxicPrefix = 'lab-'

export class ToxiproxyError extends Error {
  override name = 'ToxiproxyError'
}

export class ToxiproxyApi {
  readonly url: string

  constructor(url: string) {
    this.url = url.replace(/\/$/, '')
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    }).catch((err: Error) => {
      throw new ToxiproxyError(
        `toxiproxy ${method} ${path}: ${err.message} (is it up? \`./faultline infra up toxiproxy\`)`,
      )
    })
    const text = await res.text()
    if (!res.ok) throw new ToxiproxyError(`toxiproxy ${method} ${path}: HTTP ${res.status} ${text.trim()}`)
    return text ? JSON.parse(text) : undefined
  }

  async proxies(): Promise<Record<string, { name: string; enabled: boolean; toxics: Toxic[] }>> {
    return (await this.call('GET', '/proxies')) as Record<
      string,
      { name: string; enabled: boolean; toxics: Toxic[] }
    >
  }

  async addToxic(proxy: string, toxic: Toxic): Promise<void> {
    await this.call('POST', `/proxies/${encodeURIComponent(proxy)}/toxics`, {
      name: toxic.name,
      type: toxic.type,
      stream: toxic.stream ?? 'downstream',
      toxicity: toxic.toxicity ?? 1,
      attributes: toxic.attributes,
    })
  }

  /** Remove a toxic; one already gone is fine. */
  async removeToxic(proxy: string, name: string): Promise<void> {
    try {
      await this.call('DELETE', `/proxies/${encodeURIComponent(proxy)}/toxics/${encodeURIComponent(name)}`)
    } catch (err) {
      if (!(err instanceof ToxiproxyError && err.message.includes('HTTP 404'))) throw err
    }
  }

  /** Disabling a proxy closes its connections and refuses new ones: the component looks down. */
  async setEnabled(proxy: string, enabled: boolean): Promise<void> {
    await this.call('POST', `/proxies/${encodeURIComponent(proxy)}`, { enabled })
  }

  /** Remove every `lab-…` toxic (left over by a crashed run). Returns what was removed. */
  async removeLabToxics(): Promise<string[]> {
    const removed: string[] = []
    for (const [proxy, state] of Object.entries(await this.proxies())) {
      for (const toxic of state.toxics ?? []) {
        if (!toxic.name.startsWith(labToxicPrefix)) continue
        await this.removeToxic(proxy, toxic.name)
        removed.push(`${proxy}/${toxic.name}`)
      }
    }
    return removed
  }
}
