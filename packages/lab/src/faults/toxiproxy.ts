/**
 * What the lab needs of Toxiproxy, over the project's one client (`@faultline/toxiproxy`): add and
 * remove toxics, disable and enable proxies, and clean up after itself. Every toxic the lab adds is
 * named `lab-…`, so cleanup removes exactly the lab's own toxics and never another test's.
 */
import { type ProxyState, type ToxicSpec, ToxiproxyClient, ToxiproxyRequestError } from '@faultline/toxiproxy'

export type { ToxicSpec, ToxicType } from '@faultline/toxiproxy'

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

  async addToxic(proxy: string, toxic: ToxicSpec & { name: string }): Promise<void> {
    await this.#call((c) => c.addToxic(proxy, toxic))
  }

  /** Remove a toxic; one already gone is fine. */
  async removeToxic(proxy: string, name: string): Promise<void> {
    await this.#call(async (c) => {
      try {
        await c.removeToxic(proxy, name)
      } catch (err) {
        if (!(err instanceof ToxiproxyRequestError && err.status === 404)) throw err
      }
    })
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
