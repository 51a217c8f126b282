/**
 * pm03 — readiness that checks a dependency takes every instance out (Meta, 2021-10-04: "More
 * details about the October 4 outage" — health checks that test a dependency withdraw all
 * capacity at once).
 *
 * Three API instances behind the lab's readiness-aware balancer (`load.balancer: true`: it polls
 * each instance's `/readyz` every 500 ms and routes only to the ready ones, answering 503 itself
 * when none is). 200 codes are created and cached in Redis before the load; k6 asks for them at a
 * steady rate. Then the app→Postgres path hangs (a Toxiproxy `timeout` toxic with timeout 0 on
 * the `postgres` proxy: bytes stop, connections stay open).
 *
 * Naive (`readinessIndependentOfDeps` off): `/readyz` also queries Postgres (a trivial query), which
 * hangs until READINESS_DB_TIMEOUT_MS (500 ms) — every instance reports "not ready" at the same
 * moment, the balancer has no instance left and every redirect gets 503, although each instance
 * could have served every one of them from Redis. Hardened: readiness says only whether this
 * process can serve, so all three stay in and the cached codes keep redirecting.
 *
 * Invariants (catalog): cached codes keep redirecting ≥ 99% in the fault window; ready API
 * instances (the lab's 1 s readiness sampler) never reach 0 — both fail naive, hold hardened.
 */
import {
  defineExperiment,
  type HookContext,
  readyInstancesAtLeast,
  successAtLeast,
  timeout,
} from '@faultline/lab'
import { fixture } from '@faultline/shortener/fixture'
import shortener from '@faultline/shortener/system'
import { createAndWarmCodes } from './lib/cached-codes.ts'

/** Codes are custom aliases `pm03-0000` …, so the load script can name them without asking. */
const codePrefix = 'pm03-'
const codeCount = 200
const instances = 3

function code(i: number): string {
  return `${codePrefix}${String(i).padStart(4, '0')}`
}

/** The codes' links, cached entries and fill leases of an earlier run go: the codes are made again. */
async function resetCodes(ctx: HookContext): Promise<void> {
  await fixture.reset(ctx, codePrefix)
}

/** Creates every code through the API, then redirects each once so the cache holds it. */
async function createCodes(ctx: HookContext): Promise<void> {
  const codes = Array.from({ length: codeCount }, (_, i) => code(i))
  await createAndWarmCodes(ctx, codes, { experiment: 'pm03' })
  ctx.log(`${codeCount} codes created and cached`)
}

const hangPostgres = timeout('postgres', 0)

export default defineExperiment({
  id: 'pm03',
  slug: 'readiness-checks-postgres',
  system: shortener,
  title: 'Readiness that checks Postgres takes every instance out',
  description:
    `${instances} API instances behind a readiness-aware balancer serve ${codeCount} cached codes; then app→Postgres hangs (Toxiproxy timeout 0). ` +
    'Naive, /readyz also checks Postgres, so every instance withdraws at once and the balancer answers 503 for codes Redis could serve; ' +
    'hardened, readiness reflects only the process, every instance stays in and the cached codes keep redirecting.',
  services: { api: { instances } },
  mitigations: { readinessIndependentOfDeps: true },
  infra: ['toxiproxy', 'postgres', 'redis-cache', 'kafka', 'k6'],
  reset: resetCodes,
  setup: createCodes,
  load: {
    script: 'chaos/shortener/load/pm03-cached-redirects.js',
    durationS: 60,
    balancer: true,
    env: { RATE: '150', CODES: String(codeCount), CODE_PREFIX: codePrefix, TIMEOUT: '2s' },
  },
  timeline: [{ at: 15, until: 45, action: hangPostgres, label: 'app→Postgres hangs (timeout 0)' }],
  settleS: 2,
  invariants: [
    successAtLeast(0.99, { op: 'redirect', name: 'cached codes keep redirecting (fault window)' }),
    readyInstancesAtLeast(1, { service: 'api', name: 'ready API instances during the load' }),
    successAtLeast(0.99, {
      op: 'redirect',
      window: 'before-fault',
      expect: 'always',
      name: 'redirects succeed before the fault (the load itself is healthy)',
    }),
  ],
  ci: {
    load: { durationS: 24, env: { RATE: '100' } },
    timeline: [{ at: 6, until: 18, action: hangPostgres, label: 'app→Postgres hangs (timeout 0)' }],
    settleS: 1,
  },
})
