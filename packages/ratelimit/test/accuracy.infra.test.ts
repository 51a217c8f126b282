/**
 * The correctness test of issue 10 against the single Redis (through Toxiproxy, as services reach
 * it): see correctness-tests.ts for what is measured and asserted.
 */
import { testInfra } from '@faultline/testkit'
import { Redis } from 'ioredis'
import { registerCorrectnessTests } from './correctness-tests.ts'

registerCorrectnessTests('redis', async (host) => {
  const infra = await testInfra(host, { need: ['redis'] })
  const redis = new Redis(infra.urls.redisUrl, { maxRetriesPerRequest: 1 })
  infra.defer(() => redis.disconnect())
  return {
    target: { kind: 'redis', url: infra.urls.redisUrl },
    prefix: `${infra.keyPrefix()}ratelimit`,
    async redisTimeUs() {
      const [seconds, micros] = await redis.time()
      return Number(seconds) * 1e6 + Number(micros)
    },
  }
})
