/**
 * The shortener as the lab and `./faultline up shortener` see it: its switch manifest, its two
 * processes (both serve /healthz, /readyz, /metrics and /admin/mitigations on PORT), and the
 * fixture its experiments use for state.
 */
import { defineSystem } from '@faultline/lab'
import { fixture } from './fixture.ts'
import { switches } from './mitigations.ts'

export default defineSystem({
  name: 'shortener',
  switches,
  services: {
    api: { entry: 'services/shortener/src/server.ts', role: 'http' },
    worker: { entry: 'services/shortener/src/worker.ts', role: 'worker' },
  },
  fixture,
})
