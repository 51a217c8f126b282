/**
 * `GET/PUT /admin/mitigations` and the `faultline_mitigation_enabled{switch}` gauge, derived from a
 * switch manifest. The lab PUTs a mode's switches to every process (API or worker) once it is
 * healthy and reads them back; a user can flip one while load runs and watch the effect on the
 * gauge next to the metric it moves.
 */
import { timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyRequest, FastifySchema } from 'fastify'
import fp from 'fastify-plugin'
import { defineError } from '../errors.ts'
import type { Metrics } from '../metrics.ts'
import { errorBodySchema } from '../service.ts'
import { KitInvalidSwitchesError, type SwitchState, switchesSchema } from './state.ts'

/** The admin token was required and is missing or wrong. */
export const KitUnauthorizedError = defineError('KIT_ERR_UNAUTHORIZED', 'missing or wrong admin token', 401)

export interface SwitchesPluginOptions<N extends string = string> {
  state: SwitchState<N>
  /** When set, both routes need `Authorization: Bearer <token>`; open otherwise (fine on 127.0.0.1). */
  adminToken?: string | undefined
  /** @default '/admin/mitigations' */
  path?: string
  /** Where the gauge goes. @default the app's `metrics` (from `createService`); no gauge without either. */
  metrics?: Metrics
  /** The 401 thrown on a bad token, for a service that documents its own code. @default KitUnauthorizedError */
  unauthorizedError?: new () => Error
  /** The schema of error responses in the OpenAPI document, e.g. `{ $ref: 'Error#' }`. @default the kit's ErrorBody */
  errorSchema?: unknown
  /** OpenAPI tags of both routes. @default ['admin'] */
  tags?: string[]
}

/**
 * Installs the routes and the gauge on an instance directly (what `switchesPlugin` does). The
 * request body is checked by `SwitchState.update`, not by the app's Ajv: Fastify's default Ajv
 * drops unknown properties and coerces `"yes"` to a boolean, which would turn a typo into a
 * silent 200.
 */
export function installSwitches<N extends string>(
  app: FastifyInstance,
  options: SwitchesPluginOptions<N>,
): void {
  const { state } = options
  const path = options.path ?? '/admin/mitigations'
  const tags = options.tags ?? ['admin']
  const errorSchema = options.errorSchema ?? errorBodySchema
  const Unauthorized = options.unauthorizedError ?? KitUnauthorizedError
  const expected = options.adminToken ? Buffer.from(`Bearer ${options.adminToken}`) : undefined
  const authorize = async (request: FastifyRequest) => {
    if (!expected) return
    const given = Buffer.from(request.headers.authorization ?? '')
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new Unauthorized()
  }
  const errors = (...statuses: number[]) =>
    Object.fromEntries(statuses.map((status) => [status, errorSchema]))
  const full = switchesSchema(state.manifest, { required: true })

  const metrics = options.metrics ?? (app.hasDecorator('metrics') ? app.metrics : undefined)
  metrics?.gauge({
    name: 'faultline_mitigation_enabled',
    help: 'Whether each mitigation switch of this process is on (1) or off (0).',
    labelNames: ['switch'],
    // Read at scrape time, so the gauge can never disagree with the switches.
    collect() {
      for (const name of state.manifest.names) this.set({ switch: name }, state.current[name] ? 1 : 0)
    },
  })

  app.get(
    path,
    {
      onRequest: authorize,
      schema: openApi({
        summary: 'Current mitigation switches',
        tags,
        response: { 200: full, ...errors(401) },
      }),
    },
    async () => state.snapshot(),
  )

  app.put<{ Body: unknown }>(
    path,
    {
      onRequest: authorize,
      schema: openApi({
        summary: 'Flip mitigation switches (partial update)',
        tags,
        body: switchesSchema(state.manifest),
        response: { 200: full, ...errors(400, 401) },
      }),
      // The schema documents the body; `update` checks it (see above), with every problem named.
      validatorCompiler: () => () => true,
    },
    async (request) => {
      const body = request.body
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        const error = new KitInvalidSwitchesError('body must be a JSON object of booleans') as Error & {
          field?: string
        }
        error.field = 'body'
        throw error
      }
      state.update(body as Record<string, unknown>)
      request.log.info({ mitigations: state.snapshot() }, 'mitigations updated')
      return state.snapshot()
    },
  )
}

/** `summary` and `tags` are @fastify/swagger's additions to a route schema; harmless without it. */
const openApi = (schema: FastifySchema & { summary: string; tags: string[] }): FastifySchema => schema

/** The same as a fastify-plugin (not encapsulated, so the gauge lands on the app's registry). */
export const switchesPlugin = fp(
  async (app: FastifyInstance, options: SwitchesPluginOptions) => {
    installSwitches(app, options)
  },
  { name: '@faultline/kit/switches', fastify: '5.x' },
)
