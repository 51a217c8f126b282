import { STATUS_CODES } from 'node:http'
import { openApiOnly } from '@faultline/kit/openapi'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { NoRulesError } from '../errors.ts'
import type { AppliedRules, ApplyOutcome, RulesAdmin, RulesSource } from '../rules/source.ts'
import { requireAdminToken } from './admin.ts'

export interface RulesRouteDeps {
  rules: RulesSource
  admin: RulesAdmin
  adminToken?: string | undefined
  /** PUT /admin/rules bodies larger than this get 413. */
  rulesBodyLimitBytes: number
}

/** YAML is a superset of JSON, so any text body is read as YAML. */
const textTypes = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml', 'text/plain']

const appliedSchema = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['applied', 'unchanged'] },
    version: { type: 'integer' },
    source: { type: 'string' },
    appliedAt: { type: 'string', format: 'date-time' },
    fingerprint: { type: 'string', description: 'sha256 of the canonical JSON of the ruleset' },
    domains: {
      type: 'array',
      items: {
        type: 'object',
        properties: { domain: { type: 'string' }, limits: { type: 'integer' } },
        required: ['domain', 'limits'],
      },
    },
  },
  required: ['version', 'source', 'appliedAt', 'fingerprint', 'domains'],
} as const

const rulesSchema = {
  ...appliedSchema,
  properties: {
    ...appliedSchema.properties,
    distribution: {
      type: 'object',
      description: 'sources that distribute rules through Redis: the layout and the generation stored there',
      properties: { layout: { type: 'string' }, generation: { type: 'integer' } },
    },
  },
} as const

const rejectedSchema = {
  type: 'object',
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string' },
    error: { type: 'string' },
    message: { type: 'string' },
    problems: { type: 'array', items: { type: 'string' }, description: 'every reason, each with its path' },
    appliedVersion: { type: 'integer', description: 'the version still in force' },
  },
  required: ['statusCode', 'code', 'error', 'message', 'problems'],
} as const

/** PUT /admin/rules's body as the document shows it: a ruleset, in JSON or in YAML text. */
const rulesBody = {
  content: {
    'application/json': {
      schema: { type: 'object', description: 'A ruleset: version, domains → descriptors → limits' },
    },
    ...Object.fromEntries(
      textTypes.map((type) => [type, { schema: { type: 'string', description: 'The ruleset in YAML' } }]),
    ),
  },
}

const describe = (applied: AppliedRules) => ({
  version: applied.version,
  source: applied.source,
  appliedAt: applied.appliedAt,
  fingerprint: applied.ruleset.fingerprint,
  domains: applied.ruleset.summary,
})

/** 422 for a ruleset that does not validate, 409 for one a newer version supersedes, 503 for a store that did not answer. */
const notApplied = {
  invalid: { statusCode: 422, code: 'RATELIMITER_ERR_RULES_REJECTED' },
  superseded: { statusCode: 409, code: 'RATELIMITER_ERR_RULES_SUPERSEDED' },
  unavailable: { statusCode: 503, code: 'RATELIMITER_ERR_RULES_UNAVAILABLE' },
} as const

function reply(outcome: ApplyOutcome, res: FastifyReply) {
  if (outcome.status !== 'rejected') return { status: outcome.status, ...describe(outcome.applied) }
  const { statusCode, code } = notApplied[outcome.cause ?? 'invalid']
  return res.code(statusCode).send({
    statusCode,
    code,
    error: STATUS_CODES[statusCode],
    message: `rules not applied, the applied rules stay in force: ${outcome.problems.join('; ')}`,
    problems: outcome.problems,
    ...(outcome.current ? { appliedVersion: outcome.current.version } : {}),
  })
}

/**
 * GET /v1/rules: the applied version, where it came from and when, and a summary per domain.
 * POST /admin/rules/reload: read the rules file again (the same as SIGHUP).
 * PUT /admin/rules: apply the body — JSON (`application/json`) or YAML (`application/yaml`,
 * `text/yaml`, `text/plain`). A ruleset that does not validate is a 422 listing every reason, one
 * whose version does not move forward a 409; either way the rules in force stay. The admin routes need the admin token when ADMIN_TOKEN is set.
 */
export async function rulesRoutes(app: FastifyInstance, deps: RulesRouteDeps) {
  app.get(
    '/v1/rules',
    {
      schema: {
        summary: 'The applied rules: version, source, when, and the limits per domain',
        tags: ['rules'],
        response: { 200: rulesSchema, 503: { $ref: 'Error#' } },
      },
    },
    async () => {
      const applied = deps.rules.current()
      if (!applied) throw new NoRulesError()
      const distribution = deps.rules.distribution?.()
      return { ...describe(applied), ...(distribution ? { distribution } : {}) }
    },
  )

  const onRequest = requireAdminToken(deps.adminToken)
  const responses = {
    200: appliedSchema,
    401: { $ref: 'Error#' },
    409: rejectedSchema,
    422: rejectedSchema,
    503: rejectedSchema,
  }
  await app.register(async (admin) => {
    admin.addContentTypeParser(
      textTypes,
      { parseAs: 'string', bodyLimit: deps.rulesBodyLimitBytes },
      (_req, body, done) => done(null, body),
    )
    admin.post(
      '/admin/rules/reload',
      {
        onRequest,
        schema: {
          summary: 'Read the rules file again (the same as SIGHUP)',
          tags: ['rules'],
          response: responses,
        },
      },
      async (_request, res) => reply(await deps.admin.reload(), res),
    )
    admin.put(
      '/admin/rules',
      {
        onRequest,
        bodyLimit: deps.rulesBodyLimitBytes,
        schema: { summary: 'Apply a ruleset (JSON or YAML)', tags: ['rules'], response: responses },
        // The body is parsed as JSON or YAML and checked by the ruleset compiler, every problem listed.
        config: openApiOnly({ body: rulesBody }),
      },
      async (request, res) => {
        const body = request.body
        const input = typeof body === 'string' ? { text: body, format: 'yaml' as const } : { value: body }
        return reply(await deps.admin.apply(input, 'PUT /admin/rules'), res)
      },
    )
  })
}
