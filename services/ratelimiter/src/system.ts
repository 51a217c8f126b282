/**
 * The ratelimiter as the lab and `./faultline up ratelimiter` see it: its switch manifest, its
 * processes (each serves /healthz, /readyz, /metrics and /admin/mitigations on PORT) and the
 * fixture its experiments use for state.
 */
import { defineSystem } from '@faultline/lab'
import { fixture } from './fixture.ts'
import { switches } from './mitigations.ts'

export default defineSystem({
  name: 'ratelimiter',
  switches,
  services: {
    /** The decision service: POST /v1/decide on PORT, Envoy's RateLimitService on GRPC_PORT. */
    api: { entry: 'services/ratelimiter/src/server.ts', role: 'http' },
    /** The demo gateway: the Fastify plugin in front of a sample upstream. */
    gateway: { entry: 'services/ratelimiter/src/gateway.ts', role: 'http' },
  },
  fixture,
})
