#!/usr/bin/env node
/**
 * One candidate of the ratelimiter benchmark: the same bare Fastify hello-world, with or without a
 * rate limiter in front of its one route, so the only difference between candidates is the
 * limiter (compare.ts starts one process per instance).
 *
 *   CANDIDATE=hello                    no limiter: the ceiling
 *   CANDIDATE=plugin ALGORITHM=gcra    @faultline/ratelimit's Fastify plugin with that algorithm
 *   CANDIDATE=fastify-rate-limit       @fastify/rate-limit with its Redis store
 *   CANDIDATE=rate-limiter-flexible    rate-limiter-flexible's RateLimiterRedis in an onRequest hook
 *   CANDIDATE=decide-echo              POST /v1/decide answered OK without a decision (decide-floor.ts)
 *   CANDIDATE=decide-floor             POST /v1/decide with one RedisLimiter decision, nothing else
 *
 * Every limiter keys by the `x-api-key` header and uses LIMIT per WINDOW_MS on REDIS_URL, under
 * KEY_PREFIX so a run never meets another's keys. With RECORD_ADMITTED=1 the handler (reached only
 * by admitted requests) notes when it was admitted — the Redis time of the decision where the
 * limiter reports it (ours), else the handler's wall-clock time — and GET /__admitted returns and
 * clears the list: the accuracy run merges the lists of its instances (one machine, one clock).
 */
import Fastify, { type FastifyInstance } from 'fastify'
import {
  type CandidateName,
  type Close,
  candidateNames,
  installLimiter,
  type LimiterSettings,
} from './candidates.ts'
import { installDecideEcho, installDecideFloor } from './decide-floor.ts'

function required(name: string): string {
  const value = process.env[name]
  if (value === undefined || value === '') throw new Error(`${name} is required`)
  return value
}

const candidate = required('CANDIDATE') as CandidateName
if (!candidateNames.includes(candidate)) {
  throw new Error(`CANDIDATE must be one of ${candidateNames.join(', ')}, got ${candidate}`)
}
const port = Number(process.env.PORT ?? 3100)
const record = process.env.RECORD_ADMITTED === '1'
const admitted: number[] = []
const now = () => performance.timeOrigin + performance.now()

const app: FastifyInstance = Fastify({ logger: false })
let close: Close | undefined
const settings = (): LimiterSettings => {
  const policy = process.env.FAILURE_POLICY
  return {
    redisUrl: required('REDIS_URL'),
    algorithm: process.env.ALGORITHM ?? 'sliding-log',
    limit: Number(process.env.LIMIT ?? 100),
    windowMs: Number(process.env.WINDOW_MS ?? 1000),
    keyPrefix: process.env.KEY_PREFIX ?? 'bench:rl',
    ...(process.env.DEADLINE_MS ? { deadlineMs: Number(process.env.DEADLINE_MS) } : {}),
    ...(policy === 'open' || policy === 'closed' || policy === 'local' ? { failurePolicy: policy } : {}),
  }
}
if (candidate === 'decide-echo') installDecideEcho(app)
else if (candidate === 'decide-floor') close = await installDecideFloor(app, settings())
else if (candidate !== 'hello') close = await installLimiter(app, candidate, settings())
app.get('/', async (request) => {
  // Our plugin says when Redis decided (its clock decided, so that is where exactness is
  // measured); the peers don't, so their admissions are timed here, when the handler runs.
  if (record) {
    const decidedAtUs = (request as { rateLimit?: { decision: { decidedAtUs?: number } } | null }).rateLimit
      ?.decision.decidedAtUs
    admitted.push(decidedAtUs === undefined ? now() : decidedAtUs / 1000)
  }
  return { hello: 'world' }
})
app.get('/__admitted', { config: { rateLimit: false } }, async () => {
  const list = admitted.splice(0, admitted.length)
  return { admitted: list }
})

const address = await app.listen({ port, host: '127.0.0.1' })
process.stdout.write(`listening on ${address}\n`)

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    app
      .close()
      .then(() => close?.())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      )
  })
}
