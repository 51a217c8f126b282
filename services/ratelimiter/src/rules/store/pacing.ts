import { setTimeout as sleep } from 'node:timers/promises'
import type { RuleEntry } from './entries.ts'
import type { ApplyHooks, ApplyPacing, RedisClient } from './types.ts'

/**
 * HSETs `entries` into `key`, `pacing.batch` fields per command with `pacing.pauseMs` between
 * commands (see ApplyPacing for why). `afterBatch` adds commands to each batch's pipeline (the
 * staging key's expiry).
 */
export async function writeInBatches(
  redis: RedisClient,
  key: string,
  entries: readonly RuleEntry[],
  pacing: ApplyPacing,
  hooks: ApplyHooks = {},
  afterBatch?: (pipeline: ReturnType<RedisClient['pipeline']>) => void,
): Promise<void> {
  const batch = Math.max(1, Math.floor(pacing.batch))
  const batches = Math.ceil(entries.length / batch)
  for (let index = 0; index < batches; index++) {
    if (index > 0 && pacing.pauseMs > 0) await sleep(pacing.pauseMs)
    await hooks.beforeBatch?.(index, batches)
    const pipeline = redis.pipeline()
    pipeline.hset(key, ...entries.slice(index * batch, (index + 1) * batch).flat())
    afterBatch?.(pipeline)
    const results = await pipeline.exec()
    const failed = results?.find(([err]) => err)
    if (failed?.[0]) throw failed[0]
  }
}
