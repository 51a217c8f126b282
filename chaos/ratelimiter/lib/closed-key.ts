/**
 * pm19's fail-closed key: a value of the `pm19-closed` domain whose counter lives on the cluster
 * master serving the hot key's counter, so the one kill takes both away. A counter exists only
 * after a decision has made it, so setup tries `closed-0`, `closed-1` … through the API until one
 * lands on that master (a third of the slots are its own: a few tries), and hands the value to k6
 * in a JSON file (`{"key": "<value>"}`) in the lab's state directory (`.faultline/lab/`,
 * gitignored; one lab run at a time).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { HookContext } from '@faultline/lab'
import type { RatelimiterFixture } from '@faultline/ratelimiter/fixture'
import { counterKeyOf, masterOf } from './cluster-failover.ts'
import { decideOnce, type HotKeyLimit } from './decision-rules.ts'

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))
export const closedKeyFile = join(repoRoot, '.faultline', 'lab', 'ratelimiter-pm19-closed-key.json')

/** Candidates tried before giving up: (2/3)^64 is the chance that none lands on the master. */
const maxTries = 64

export async function pickClosedKey(
  ctx: HookContext,
  fixture: RatelimiterFixture,
  hot: { limit: HotKeyLimit; value: string },
  closed: HotKeyLimit,
): Promise<{ value: string; port: number }> {
  const hotMaster = await masterOf(ctx, fixture, await counterKeyOf(ctx, fixture, hot.limit, hot.value))
  for (let i = 0; i < maxTries; i++) {
    const value = `closed-${i}`
    await decideOnce(ctx.url('api', 0), closed, value)
    const master = await masterOf(ctx, fixture, await counterKeyOf(ctx, fixture, closed, value))
    if (master.port !== hotMaster.port) continue
    // The second instance too applies the rule (and counts the domain from now on).
    await decideOnce(ctx.url('api', 1), closed, value)
    mkdirSync(dirname(closedKeyFile), { recursive: true })
    writeFileSync(closedKeyFile, JSON.stringify({ key: value }))
    return { value, port: master.port }
  }
  throw new Error(`none of ${maxTries} ${closed.domain} keys landed on 127.0.0.1:${hotMaster.port}`)
}
