/**
 * A database that costs what a real one does, for the shortener's cache experiments (pm10, pm02).
 *
 * On loopback an indexed lookup takes about a millisecond, so a stampede (pm10) lasts a
 * millisecond and a cold cache (pm02) is refilled before anyone notices: the machine's CPU, not
 * the database, is the limit. A Toxiproxy latency toxic on the `postgres` proxy gives every
 * round trip the cost of a database on another host, under load — the condition both incidents
 * happened under.
 *
 * It is a condition of the whole run, not a fault: `setup` adds it once the cache is warm (warming
 * thousands of codes through a slow database would take minutes), so the timeline — and with it
 * the report's fault window — holds only the incident's own fault. The toxic is named `lab-…`:
 * the lab removes every such toxic when the next mode starts and when the run ends, whatever
 * happens.
 */
import type { HookContext } from '@faultline/lab'

/** The lab's Toxiproxy: `TOXIPROXY_URL` (external infra), else the native/compose API port. */
function toxiproxyUrl(): string {
  return (process.env.TOXIPROXY_URL ?? 'http://127.0.0.1:8474').replace(/\/+$/, '')
}

/** Adds `latencyMs` to every response Postgres sends through its proxy, until the mode ends. */
export async function addDbCost(ctx: HookContext, latencyMs: number): Promise<void> {
  const name = `lab-db-cost-${process.pid}`
  const res = await fetch(`${toxiproxyUrl()}/proxies/postgres/toxics`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      name,
      type: 'latency',
      stream: 'downstream',
      toxicity: 1,
      attributes: { latency: latencyMs, jitter: 0 },
    }),
    signal: AbortSignal.timeout(5000),
  })
  if (!res.ok) throw new Error(`adding the DB cost toxic: HTTP ${res.status} ${(await res.text()).trim()}`)
  ctx.log(`DB cost: Postgres +${latencyMs} ms per round trip until the end of the mode (toxic ${name})`)
}
