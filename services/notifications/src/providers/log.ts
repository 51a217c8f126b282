/**
 * What one fake provider accepted: the ordered log of sends (what a recipient received), the
 * idempotency keys it remembers, and counters. Experiments and checks count duplicates here, so
 * the counters are kept forever while the log keeps the newest `logCap` entries: a 200k-send soak
 * stays countable without holding every body in memory for a week.
 */
import { createHash, randomUUID } from 'node:crypto'

export interface SendRequest {
  channel: string
  to: string
  subject?: string | undefined
  body: string
  idempotencyKey?: string | undefined
}

export interface LogEntry {
  seq: number
  messageId: string
  idempotencyKey: string | null
  channel: string
  to: string
  subject: string | null
  body: string
  at: string
}

export interface ProviderStats {
  /** Every POST /v1/messages that reached the provider, whatever became of it. */
  requests: number
  /** New sends recorded (each is a message the recipient gets). */
  accepted: number
  /** Requests answered with the messageId of a key already accepted (no new send). */
  replayed: number
  /** Accepted (or replayed) requests whose reply was never written (dropReplyRate). */
  dropped: number
  /** 500s from errorRate. */
  errors: number
  /** 429s from rateLimitRate. */
  rateLimited: number
  /** Connections destroyed unread because the provider was down. */
  refused: number
  /** 400s: a malformed request. */
  invalid: number
  /** Distinct idempotency keys among the accepted sends. */
  uniqueKeys: number
  /** Sends beyond the first per idempotency key, and for sends without a key per (to, body). */
  duplicateSends: number
}

export type Outcome = 'accepted' | 'replayed' | 'error' | 'rate_limited' | 'refused' | 'invalid'

export interface AcceptResult {
  messageId: string
  /** true: the key was already accepted and honoured; nothing new was sent. */
  replay: boolean
}

const zeroStats = (): ProviderStats => ({
  requests: 0,
  accepted: 0,
  replayed: 0,
  dropped: 0,
  errors: 0,
  rateLimited: 0,
  refused: 0,
  invalid: 0,
  uniqueKeys: 0,
  duplicateSends: 0,
})

export interface SendLogOptions {
  /** Log entries kept (the oldest go first). @default 500000 */
  logCap?: number
  /** Idempotency keys and (to, body) fingerprints remembered. @default 2000000 */
  keyCap?: number
}

export class SendLog {
  private entries: LogEntry[] = []
  private nextSeq = 1
  /** key → messageId of its first send (what a replay returns). */
  private keys = new Map<string, string>()
  /** sha-1 of (to, body) of the sends without a key: their duplicates are counted by content. */
  private fingerprints = new Set<string>()
  private counters = zeroStats()
  private readonly logCap: number
  private readonly keyCap: number

  constructor(options: SendLogOptions = {}) {
    this.logCap = options.logCap ?? 500_000
    this.keyCap = options.keyCap ?? 2_000_000
  }

  count(outcome: Exclude<Outcome, 'accepted' | 'replayed'> | 'request' | 'dropped'): void {
    const field = {
      request: 'requests',
      dropped: 'dropped',
      error: 'errors',
      rate_limited: 'rateLimited',
      refused: 'refused',
      invalid: 'invalid',
    } as const
    this.counters[field[outcome]]++
  }

  /**
   * Records a send, or with `honourKey` and a key already accepted returns that send's messageId.
   * Synchronous, so two requests with one key racing after their latency cannot both send.
   */
  accept(request: SendRequest, honourKey: boolean): AcceptResult {
    const key = request.idempotencyKey
    const known = key === undefined ? undefined : this.keys.get(key)
    if (honourKey && known !== undefined) {
      this.counters.replayed++
      return { messageId: known, replay: true }
    }
    const messageId = randomUUID()
    if (key === undefined) {
      const fingerprint = createHash('sha1')
        .update(request.to)
        .update('\0')
        .update(request.body)
        .digest('base64')
      if (this.fingerprints.has(fingerprint)) this.counters.duplicateSends++
      else remember(this.fingerprints, fingerprint, this.keyCap)
    } else if (known !== undefined) {
      this.counters.duplicateSends++
    } else {
      this.counters.uniqueKeys++
      rememberKey(this.keys, key, messageId, this.keyCap)
    }
    this.counters.accepted++
    this.append({
      seq: this.nextSeq++,
      messageId,
      idempotencyKey: key ?? null,
      channel: request.channel,
      to: request.to,
      subject: request.subject ?? null,
      body: request.body,
      at: new Date().toISOString(),
    })
    return { messageId, replay: false }
  }

  /** Entries with seq > after, oldest first, at most `limit`. */
  read(after: number, limit: number): { entries: LogEntry[]; lastSeq: number; oldestSeq: number | null } {
    const first = this.entries[0]
    const start = first === undefined ? 0 : Math.max(0, after - first.seq + 1)
    return {
      entries: this.entries.slice(start, start + limit),
      lastSeq: this.nextSeq - 1,
      oldestSeq: first?.seq ?? null,
    }
  }

  stats(): ProviderStats {
    return { ...this.counters }
  }

  /** Forgets everything: log, keys, fingerprints and counters (seq restarts at 1). */
  clear(): void {
    this.entries = []
    this.nextSeq = 1
    this.keys = new Map()
    this.fingerprints = new Set()
    this.counters = zeroStats()
  }

  private append(entry: LogEntry): void {
    this.entries.push(entry)
    // Trim a tenth at a time: one splice per logCap/10 sends instead of a shift per send.
    if (this.entries.length > this.logCap) this.entries.splice(0, Math.max(1, Math.ceil(this.logCap / 10)))
  }
}

function remember(set: Set<string>, value: string, cap: number): void {
  set.add(value)
  if (set.size > cap) set.delete(set.values().next().value as string)
}

function rememberKey(map: Map<string, string>, key: string, messageId: string, cap: number): void {
  map.set(key, messageId)
  if (map.size > cap) map.delete(map.keys().next().value as string)
}
