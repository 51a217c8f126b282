/**
 * The failure knobs of one fake provider: what it does to the next request. They are plain data,
 * validated in one place, so the admin route, the `PROVIDER_KNOBS` boot variable and the test
 * helper reject the same mistakes with the same message (the knob is named, e.g.
 * `body.errorRate must be a number from 0 to 1`).
 */
import { fieldError, InvalidKnobError } from './errors.ts'

export interface Knobs {
  /** Destroy the connection before reading the request: the client sees a reset, nothing is sent. */
  down: boolean
  /** Wait this long before answering (and before deciding anything else). */
  latencyMs: number
  /** Plus a uniformly random 0..latencyJitterMs. */
  latencyJitterMs: number
  /** Fraction of requests answered 429 with `Retry-After: retryAfterS`. */
  rateLimitRate: number
  retryAfterS: number
  /** Fraction of requests answered 500 (nothing sent). */
  errorRate: number
  /** Fraction of accepted requests whose reply is never written: the send happened, the client cannot know. */
  dropReplyRate: number
  /** A key already accepted gets the same messageId back and is not sent again; off = every request sends. */
  honourIdempotencyKey: boolean
}

export type KnobName = keyof Knobs

export const defaultKnobs: Readonly<Knobs> = Object.freeze({
  down: false,
  latencyMs: 0,
  latencyJitterMs: 0,
  rateLimitRate: 0,
  retryAfterS: 1,
  errorRate: 0,
  dropReplyRate: 0,
  honourIdempotencyKey: true,
})

type KnobKind = 'boolean' | 'rate' | 'ms' | 'seconds'

const kinds: Record<KnobName, KnobKind> = {
  down: 'boolean',
  latencyMs: 'ms',
  latencyJitterMs: 'ms',
  rateLimitRate: 'rate',
  retryAfterS: 'seconds',
  errorRate: 'rate',
  dropReplyRate: 'rate',
  honourIdempotencyKey: 'boolean',
}

export const knobNames = Object.keys(kinds) as KnobName[]

/** A day: a longer sleep is a typo, and it would pin a request (and shutdown) for that long. */
const maxMs = 86_400_000

export class KnobProblem extends Error {
  readonly field: string
  constructor(field: string, reason: string) {
    super(`${field} ${reason}`)
    this.field = field
  }
}

function problemFor(kind: KnobKind, value: unknown): string | undefined {
  switch (kind) {
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'must be true or false'
    case 'rate':
      return typeof value === 'number' && value >= 0 && value <= 1
        ? undefined
        : 'must be a number from 0 to 1'
    case 'ms':
      return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= maxMs
        ? undefined
        : `must be an integer from 0 to ${maxMs} (ms)`
    case 'seconds':
      return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 86_400
        ? undefined
        : 'must be an integer from 0 to 86400 (seconds)'
  }
}

/**
 * Checks a partial knob object (a PUT body, one provider's `PROVIDER_KNOBS` entry) and returns it
 * typed; throws a KnobProblem naming `<where>.<knob>` for the first unknown knob or bad value.
 */
export function parseKnobs(input: unknown, where = 'body'): Partial<Knobs> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new KnobProblem(where, 'must be an object of knobs')
  }
  const out: Partial<Knobs> = {}
  for (const [name, value] of Object.entries(input)) {
    const kind = kinds[name as KnobName] as KnobKind | undefined
    if (kind === undefined)
      throw new KnobProblem(`${where}.${name}`, `is not a knob (one of ${knobNames.join(', ')})`)
    const problem = problemFor(kind, value)
    if (problem) throw new KnobProblem(`${where}.${name}`, problem)
    ;(out as Record<string, unknown>)[name] = value
  }
  return out
}

/** The same check as an HTTP 400 carrying the field, in the kit's error shape. */
export function parseKnobsOrThrow400(input: unknown): Partial<Knobs> {
  try {
    return parseKnobs(input)
  } catch (err) {
    if (!(err instanceof KnobProblem)) throw err
    throw fieldError(InvalidKnobError, err.field, err.message)
  }
}

/**
 * `PROVIDER_KNOBS`: a JSON object provider name → partial knobs, e.g.
 * `{"sms-a":{"errorRate":0.2},"email":{"latencyMs":50}}`. Every name must be a served provider.
 * Returns the problem as a sentence (for the config's issue list) instead of throwing.
 */
export function parseProviderKnobs(
  json: string,
  names: readonly string[],
): { knobs: Record<string, Partial<Knobs>> } | { problem: string } {
  if (json.trim() === '') return { knobs: {} }
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch (err) {
    return { problem: `is not JSON (${(err as Error).message})` }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { problem: 'must be a JSON object: provider name → knobs' }
  }
  const knobs: Record<string, Partial<Knobs>> = {}
  for (const [name, value] of Object.entries(parsed)) {
    if (!names.includes(name))
      return { problem: `names "${name}", not a provider (one of ${names.join(', ')})` }
    try {
      knobs[name] = parseKnobs(value, name)
    } catch (err) {
      if (err instanceof KnobProblem) return { problem: err.message }
      throw err
    }
  }
  return { knobs }
}
