/**
 * Accepting a notification exactly once per Idempotency-Key (src/idempotency.ts has the why):
 * (1) a live key's notification answers at once — a replay with the same parameters, 422 with
 * other ones; (2) the request is checked (recipient, template, data); (3) the Redis in-flight
 * marker turns a concurrent repeat into 409 + Retry-After; (4) one transaction writes the
 * notification and its outbox row, the unique key index deciding any race the marker missed
 * (Redis down, a marker that expired): the loser answers from the winner's row.
 */
import { idempotencyInFlight, idempotencyMismatch } from '../errors.ts'
import type { InFlightMarker, MarkerLog } from '../idempotency.ts'
import type { ApiMetrics } from '../metrics.ts'
import type {
  KeyedNotification,
  NewNotification,
  NotificationRepository,
} from '../repositories/notifications.ts'

export interface AcceptRequest {
  /** The Idempotency-Key header; undefined = no dedupe. */
  key: string | undefined
  /** requestHash() of the parameters, defaults applied. */
  hash: string
  input: NewNotification
  /** Throws the 4xx of a request that cannot be accepted; runs after the replay check. */
  validate(): Promise<void>
}

/** The notification's id; `replay` = it was created by an earlier request with this key. */
export interface AcceptResult {
  id: string
  replay: boolean
}

export interface AcceptDeps {
  notifications: NotificationRepository
  marker: InFlightMarker
  apiMetrics: ApiMetrics
  /** IDEMPOTENCY_TTL_S: how long a key is remembered. */
  keyTtlS: number
}

/** Seconds a client told "in flight" waits before it repeats (the header of the 409). */
export const inFlightRetryAfterS = 1

export async function acceptNotification(
  deps: AcceptDeps,
  request: AcceptRequest,
  log: MarkerLog,
): Promise<AcceptResult> {
  const { key } = request
  if (key === undefined) {
    await request.validate()
    return { id: await createUnkeyed(deps, request.input), replay: false }
  }
  const existing = await deps.notifications.findByKey(key)
  if (existing) return answerFrom(deps, existing, request.hash)
  await request.validate()
  const marker = await deps.marker.take(key, request.hash, log)
  if (marker.kind === 'held') return answerHeld(deps, key, marker.hash, request.hash)
  try {
    return await createKeyed(deps, key, request)
  } finally {
    if (marker.kind === 'taken') await deps.marker.release(key, log)
  }
}

async function createUnkeyed(deps: AcceptDeps, input: NewNotification): Promise<string> {
  const created = await deps.notifications.create(input)
  if (!created) throw new Error('a notification without a key cannot conflict')
  deps.apiMetrics.accepted.inc({ priority: input.priority })
  return created.id
}

/**
 * Two rounds at most: a lost insert means a live row holds the key, unless that row's key
 * expired between the insert and the read (then the next round's transaction frees it).
 */
async function createKeyed(deps: AcceptDeps, key: string, request: AcceptRequest): Promise<AcceptResult> {
  for (let round = 0; round < 2; round++) {
    const created = await deps.notifications.create(request.input, {
      key,
      requestHash: request.hash,
      ttlS: deps.keyTtlS,
    })
    if (created) {
      deps.apiMetrics.accepted.inc({ priority: request.input.priority })
      deps.apiMetrics.idempotency.inc({ outcome: 'new' })
      return { id: created.id, replay: false }
    }
    const winner = await deps.notifications.findByKey(key)
    if (winner) return answerFrom(deps, winner, request.hash)
  }
  deps.apiMetrics.idempotency.inc({ outcome: 'in_flight' })
  throw idempotencyInFlight(inFlightRetryAfterS)
}

function answerFrom(deps: AcceptDeps, existing: KeyedNotification, hash: string): AcceptResult {
  if (existing.requestHash !== hash) {
    deps.apiMetrics.idempotency.inc({ outcome: 'mismatch' })
    throw idempotencyMismatch()
  }
  deps.apiMetrics.idempotency.inc({ outcome: 'replay' })
  return { id: existing.id, replay: true }
}

/**
 * Another request holds the marker. Other parameters: 422 at once. The same: the holder may have
 * committed and not yet removed its marker, so Postgres is asked before answering 409.
 */
async function answerHeld(
  deps: AcceptDeps,
  key: string,
  holderHash: string | null,
  hash: string,
): Promise<AcceptResult> {
  if (holderHash !== null && holderHash !== hash) {
    deps.apiMetrics.idempotency.inc({ outcome: 'mismatch' })
    throw idempotencyMismatch()
  }
  const done = await deps.notifications.findByKey(key)
  if (done) return answerFrom(deps, done, hash)
  deps.apiMetrics.idempotency.inc({ outcome: 'in_flight' })
  throw idempotencyInFlight(inFlightRetryAfterS)
}
