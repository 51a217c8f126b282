/**
 * The notification service as the lab and `./faultline up notifications` see it: its switch
 * manifest and its five processes (each serves /healthz, /readyz, /metrics and /admin/mitigations
 * on PORT). `providers` is the project's own email, SMS and push providers (one server, a base URL
 * per provider), which the worker sends to by default.
 */
import { defineSystem } from '@faultline/lab'
import { fixture } from './fixture.ts'
import { switches } from './mitigations.ts'

export default defineSystem({
  name: 'notifications',
  switches,
  services: {
    api: { entry: 'services/notifications/src/server.ts', role: 'http' },
    relay: { entry: 'services/notifications/src/relay.ts', role: 'worker' },
    router: { entry: 'services/notifications/src/router.ts', role: 'worker' },
    worker: { entry: 'services/notifications/src/worker.ts', role: 'worker' },
    providers: { entry: 'services/notifications/src/providers-server.ts', role: 'worker' },
  },
  fixture,
})
