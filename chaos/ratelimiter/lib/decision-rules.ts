/**
 * The decision service's rules in pm06 and pm19 (`hot-key-rules.yaml`, given to every instance as
 * RULES_FILE) and a single decision through the API, which setup uses to check that the instances
 * apply those rules (the limit they answer with is the one the invariants assume) and to create
 * the hot key's counter before the load (pm19 finds the cluster master serving it).
 */
import { fileURLToPath } from 'node:url'

/** Absolute: the lab starts each service with its own package as the working directory. */
export const hotKeyRulesFile = fileURLToPath(new URL('./hot-key-rules.yaml', import.meta.url))

export interface HotKeyLimit {
  domain: string
  descriptorKey: string
  /** requests_per_unit of the rule, unit second (as in hot-key-rules.yaml). */
  perSecond: number
}

export const pm06Limit: HotKeyLimit = { domain: 'pm06', descriptorKey: 'api_key', perSecond: 100 }
export const pm19Limit: HotKeyLimit = { domain: 'pm19', descriptorKey: 'api_key', perSecond: 20 }
/** pm19's fail-closed key: the same limit, `failure_policy: closed`, exact (sliding log). */
export const pm19ClosedLimit: HotKeyLimit = { domain: 'pm19-closed', descriptorKey: 'api_key', perSecond: 20 }

interface DecideAnswer {
  overall: string
  statuses: Array<{ code: string; limit?: { requestsPerUnit: number; windowMs: number }; degraded?: string }>
}

/**
 * One POST /v1/decide for `value` under `limit`; throws unless the instance answers with a
 * decision of that rule (its limit per second), e.g. when RULES_FILE was not applied.
 */
export async function decideOnce(baseUrl: string, limit: HotKeyLimit, value: string): Promise<DecideAnswer> {
  const response = await fetch(new URL('/v1/decide', baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ domain: limit.domain, descriptors: [{ key: limit.descriptorKey, value }] }),
    signal: AbortSignal.timeout(5_000),
  })
  const text = await response.text()
  if (response.status !== 200)
    throw new Error(`POST /v1/decide on ${baseUrl}: HTTP ${response.status} ${text}`)
  const answer = JSON.parse(text) as DecideAnswer
  const status = answer.statuses[0]
  if (status?.limit?.requestsPerUnit !== limit.perSecond || status.limit.windowMs !== 1000) {
    throw new Error(
      `${baseUrl} does not apply ${limit.domain}'s rule of ${limit.perSecond}/s (answered ${text}); is RULES_FILE ${hotKeyRulesFile}?`,
    )
  }
  return answer
}
