/**
 * The photo system as the lab and `./faultline up photos` see it: its switch manifest and its three
 * processes (each serves /healthz, /readyz, /metrics and /admin/mitigations on PORT) and the fixture
 * its experiments use for state.
 */
import { defineSystem } from '@faultline/lab'
import { fixture } from './fixture.ts'
import { switches } from './mitigations.ts'

export default defineSystem({
  name: 'photos',
  switches,
  services: {
    api: { entry: 'services/photos/src/server.ts', role: 'http' },
    worker: { entry: 'services/photos/src/worker.ts', role: 'worker' },
    reaper: { entry: 'services/photos/src/reaper.ts', role: 'worker' },
  },
  fixture,
})
