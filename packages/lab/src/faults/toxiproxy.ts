/**
 * What the lab needs of Toxiproxy, over the project's one client (`@faultline/toxiproxy`): add and
 * remove toxics, disable and enable proxies, and clean up after itself. Every toxic the lab adds is
 * named `lab-…`, so cleanup removes exactly the lab's own toxics and never another test's.
 */
import {
  type ToxicSpec as ClientToxicSpec,
  type ProxyState,
  type ToxicType,
  ToxiproxyClient,
  ToxiproxyRequestError,
} from '@faultline/toxiproxy'

export type { ToxicType }

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
  readonly #client: ToxiproxyClient

  constructor(url: string) {
    this.#client = new ToxiproxyClient({ url })
    this.url = this.#client.url
  }

  /** Runs a client call; a failure names the call and how to start Toxiproxy. */
  async #call<T>(work: (client: ToxiproxyClient) => Promise<T>): Promise<T> {
    try {
      return await work(this.#client)
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err)
      const down = !(err instanceof ToxiproxyRequestError) || err.status === undefined
      throw new ToxiproxyError(down ? `${message} (is it up? \`./faultline infra up toxiproxy\`)` : message, {
        cause: err,
      })
    }
  }

  proxies(): Promise<Record<string, ProxyState>> {
    return this.#call((c) => c.proxies())
  }

  async addToxic(proxy: string, toxic: Toxic): Promise<void> {
    // The lab's specs come from its fault builders, whose attributes match the type.
    await this.#call((c) => c.addToxic(proxy, toxic as unknown as ClientToxicSpec))
  }

  /** Remove a toxic; one already gone is fine. */
  async removeToxic(proxy: string, name: string): Promise<void> {
    try {
      await this.#client.removeToxic(proxy, name)
    } catch (err) {
      if (err instanceof ToxiproxyRequestError && err.status === 404) return
      throw new ToxiproxyError(err instanceof Error ? err.message : String(err), { cause: err })
    }
  }

  /** Disabling a proxy closes its connections and refuses new ones: the component looks down. */
  async setEnabled(proxy: string, enabled: boolean): Promise<void> {
    await this.#call((c) => (enabled ? c.enableProxy(proxy) : c.disableProxy(proxy)))
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
