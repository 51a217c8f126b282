/**
 * What a crashed earlier run may have left on the shared Toxiproxy: `lab-…` toxics and disabled
 * proxies. Either would make every experiment look broken, so each mode starts by undoing them.
 */
import type { ToxiproxyApi } from './faults/toxiproxy.ts'

/** Remove the lab's leftover toxics and re-enable disabled proxies; a failure goes to `errors`. */
export async function clearLeftovers(
  toxiproxy: ToxiproxyApi,
  log: (m: string) => void,
  errors: string[],
): Promise<void> {
  const toxics = await toxiproxy.removeLabToxics().catch((err: Error) => {
    errors.push(`toxiproxy cleanup: ${err.message}`)
    return []
  })
  if (toxics.length > 0) log(`removed toxics left by an earlier run: ${toxics.join(', ')}`)
  try {
    for (const [name, state] of Object.entries(await toxiproxy.proxies())) {
      if (!state.enabled) {
        await toxiproxy.setEnabled(name, true)
        log(`re-enabled proxy ${name} (left disabled by an earlier run)`)
      }
    }
  } catch {
    // No Toxiproxy (external infra without it): toxic actions will say so if used.
  }
}
