/**
 * The rules distribution's environment variables, a fragment `config.ts` spreads into the
 * service's schema (like the kit's `redisEnv`), and the options they turn into.
 */
import { Type } from '@faultline/kit/config'
import type { ApplyPacing } from './types.ts'

const int = (def: number, min: number, description: string) =>
  Type.Integer({ default: def, minimum: min, description })

export const rulesStoreEnv = {
  RULES_APPLY_BATCH: int(
    100,
    1,
    'domains written per Redis command when a ruleset is applied (large pushes are paced)',
  ),
  RULES_APPLY_PAUSE_MS: int(
    5,
    0,
    'pause between two write batches of an apply, so decisions are not queued behind it',
  ),
  RULES_POLL_MS: int(200, 10, 'how often each instance reads the applied ruleset from Redis'),
  RULES_GENERATION_RETENTION_S: int(60, 1, 'how long a generation stays readable after the pointer moved on'),
  RULES_STAGING_TTL_S: int(
    600,
    1,
    'a staged ruleset whose applier never committed (it died) expires after this',
  ),
}

/** The fragment's values as `loadConfig` returns them. */
export interface RulesStoreEnv {
  RULES_APPLY_BATCH: number
  RULES_APPLY_PAUSE_MS: number
  RULES_POLL_MS: number
  RULES_GENERATION_RETENTION_S: number
  RULES_STAGING_TTL_S: number
}

export interface RulesStoreSettings {
  pacing: ApplyPacing
  pollMs: number
  retentionMs: number
  stagingTtlMs: number
}

export function rulesStoreSettings(env: RulesStoreEnv): RulesStoreSettings {
  return {
    pacing: { batch: env.RULES_APPLY_BATCH, pauseMs: env.RULES_APPLY_PAUSE_MS },
    pollMs: env.RULES_POLL_MS,
    retentionMs: env.RULES_GENERATION_RETENTION_S * 1000,
    stagingTtlMs: env.RULES_STAGING_TTL_S * 1000,
  }
}
