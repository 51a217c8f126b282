/**
 * Toxiproxy faults: a toxic on a proxy (latency, timeout, reset, bandwidth …), or the proxy
 * disabled. Each is healed by removing what it added. Toxics are named `lab-…` so the lab's
 * cleanup removes exactly its own.
 */
import * as toxiproxyToxics from '@faultline/toxiproxy'
import type { Action } from './action.ts'
import { labToxicPrefix, type ToxicSpec } from './toxiproxy.ts'

/** A Toxiproxy proxy (see `proxies` in @faultline/infra's topology). */
export type ProxyName = 'postgres' | 'postgres-replica' | 'redis-cache' | 'redis-queue' | 'kafka' | 's3'

let toxicCounter = 0

/** Any Toxiproxy toxic on a proxy; healed by removing it. */
export function toxic(proxy: ProxyName, spec: ToxicSpec, describe?: string): Action {
  return {
    kind: 'toxic',
    describe: describe ?? `${spec.type} ${JSON.stringify(spec.attributes)} on ${proxy}`,
    async run(ctx) {
      const name = `${labToxicPrefix}${spec.type}-${process.pid}-${++toxicCounter}`
      await ctx.toxiproxy.addToxic(proxy, { ...spec, name })
      return {
        heal: async () => {
          await ctx.toxiproxy.removeToxic(proxy, name)
          return undefined
        },
      }
    },
  }
}

export interface ToxicOptions {
  stream?: 'downstream' | 'upstream'
  /** Fraction of connections affected (0–1). Default 1. */
  toxicity?: number
}

/** Add `ms` (± `jitterMs`) to every chunk of data through the proxy. */
export function latency(
  proxy: ProxyName,
  ms: number,
  options: ToxicOptions & { jitterMs?: number } = {},
): Action {
  const { jitterMs = 0, ...rest } = options
  return toxic(
    proxy,
    toxiproxyToxics.latency({ latencyMs: ms, jitterMs, ...rest }),
    `latency ${ms}${jitterMs ? ` ± ${jitterMs}` : ''} ms on ${proxy}`,
  )
}

/** Stop all data and close the connection after `ms`; `0` (default) hangs it forever. */
export function timeout(proxy: ProxyName, ms = 0, options: ToxicOptions = {}): Action {
  return toxic(
    proxy,
    toxiproxyToxics.timeout({ timeoutMs: ms, ...options }),
    ms === 0 ? `hang ${proxy} (timeout 0)` : `timeout ${ms} ms on ${proxy}`,
  )
}

/** Reset connections (TCP RST) after `afterMs`. */
export function resetPeer(proxy: ProxyName, afterMs = 0, options: ToxicOptions = {}): Action {
  return toxic(
    proxy,
    toxiproxyToxics.resetPeer({ timeoutMs: afterMs, ...options }),
    `reset_peer${options.toxicity !== undefined ? ` ${Math.round(options.toxicity * 100)}%` : ''} on ${proxy}`,
  )
}

/** Limit throughput to `kbPerS` KB/s. */
export function bandwidth(proxy: ProxyName, kbPerS: number, options: ToxicOptions = {}): Action {
  return toxic(
    proxy,
    toxiproxyToxics.bandwidth({ rateKBps: kbPerS, ...options }),
    `bandwidth ${kbPerS} KB/s on ${proxy}`,
  )
}

/** Delay the close of a connection by `delayMs`. */
export function slowClose(proxy: ProxyName, delayMs: number, options: ToxicOptions = {}): Action {
  return toxic(
    proxy,
    toxiproxyToxics.slowClose({ delayMs, ...options }),
    `slow_close ${delayMs} ms on ${proxy}`,
  )
}

/** Close each connection after `bytes` bytes. */
export function limitData(proxy: ProxyName, bytes: number, options: ToxicOptions = {}): Action {
  return toxic(proxy, toxiproxyToxics.limitData({ bytes, ...options }), `limit_data ${bytes} B on ${proxy}`)
}

/** Slice data into small packets with a delay between them. */
export function slicer(
  proxy: ProxyName,
  attributes: { averageSize: number; sizeVariation?: number; delayUs?: number },
  options: ToxicOptions = {},
): Action {
  return toxic(
    proxy,
    toxiproxyToxics.slicer({
      averageSizeBytes: attributes.averageSize,
      sizeVariationBytes: attributes.sizeVariation,
      delayUs: attributes.delayUs,
      ...options,
    }),
    `slicer ${attributes.averageSize} B on ${proxy}`,
  )
}

/** Disable the proxy: open connections drop, new ones are refused — the component looks down to services. */
export function disconnect(proxy: ProxyName): Action {
  return {
    kind: 'disconnect',
    describe: `disconnect ${proxy}`,
    async run(ctx) {
      await ctx.toxiproxy.setEnabled(proxy, false)
      return {
        heal: async () => {
          await ctx.toxiproxy.setEnabled(proxy, true)
          return undefined
        },
      }
    },
  }
}
