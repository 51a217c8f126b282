/**
 * An HTTP call as a fault: flip a switch mid-run, poke an admin endpoint.
 */
import type { Action } from './action.ts'

export interface HttpCallOptions {
  body?: unknown
  /** Fail the action unless the status is this one. */
  expectStatus?: number
  timeoutMs?: number
}

/**
 * Call an endpoint: an absolute URL, or `{ service, index, path }` on an instance the lab started
 * (e.g. flip a switch through `PUT /admin/mitigations` mid-run).
 */
export function http(
  method: string,
  target: string | { service?: string; index?: number; path: string },
  options: HttpCallOptions = {},
): Action {
  const where =
    typeof target === 'string' ? target : `${target.service ?? 'api'}-${target.index ?? 0}${target.path}`
  return {
    kind: 'http',
    describe: `${method} ${where}`,
    async run(ctx) {
      const url =
        typeof target === 'string'
          ? target
          : `${ctx.fleet.instance(target.service ?? 'api', target.index ?? 0).url}${target.path}`
      const res = await fetch(url, {
        method,
        headers: options.body === undefined ? {} : { 'content-type': 'application/json' },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      })
      await res.text()
      if (options.expectStatus !== undefined && res.status !== options.expectStatus) {
        throw new Error(`${method} ${url} answered ${res.status}, expected ${options.expectStatus}`)
      }
      return { note: `HTTP ${res.status}` }
    },
  }
}
