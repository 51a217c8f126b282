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
import { latency, toxiproxy } from '@faultline/toxiproxy'

/** Adds `latencyMs` to every response Postgres sends through its proxy, until the mode ends. */
export async function addDbCost(ctx: HookContext, latencyMs: number): Promise<void> {
  const name = `lab-db-cost-${process.pid}`
  await toxiproxy().addToxic('postgres', latency({ latencyMs, name, stream: 'downstream' }))
  ctx.log(`DB cost: Postgres +${latencyMs} ms per round trip until the end of the mode (toxic ${name})`)
}
