/**
 * The feed as the lab and `./faultline up feed` see it: its switch manifest, its three processes
 * (each serves /healthz, /readyz, /metrics and /admin/mitigations on PORT) and the fixture its
 * experiments use for state.
 */
import { defineSystem } from '@faultline/lab'
import { fixture } from './fixture.ts'
import { switches } from './mitigations.ts'

export default defineSystem({
  name: 'feed',
  switches,
  services: {
    api: { entry: 'services/feed/src/server.ts', role: 'http' },
    relay: { entry: 'services/feed/src/relay.ts', role: 'worker' },
    worker: { entry: 'services/feed/src/worker.ts', role: 'worker' },
  },
  fixture,
})
