/**
 * A database that costs what a real one does, for the shortener's cache experiments (pm10, pm02).
 *
 * On loopback an indexed lookup takes about a millisecond, so a stampede (pm10) lasts a
 * millisecond and a cold cache (pm02) is refilled before anyone notices: the machine's CPU, not
 * the database, is the limit. A Toxiproxy latency toxic on the `postgres` proxy gives every
 * round trip the cost of a database on another host, under load — the condition both incidents
 * happened under.
 *
 * It is a condition of the whole run, not a fault of the timeline: `setup` adds it once the
 * cache is warm (warming thousands of codes through a slow database would take minutes), so the
 * report's fault window holds only the incident's own fault. It goes through the lab
 * (`ctx.inject`), like every fault: recorded as a setup fault in the report and healed when the
 * mode ends, whatever happens.
 */
import { type HookContext, latency } from '@faultline/lab'

/** Adds `latencyMs` to every response Postgres sends through its proxy, until the mode ends. */
export async function addDbCost(ctx: HookContext, latencyMs: number): Promise<void> {
  await ctx.inject(
    latency('postgres', latencyMs, { stream: 'downstream' }),
    `DB cost: Postgres +${latencyMs} ms per round trip (whole mode)`,
  )
}
