/**
 * The webhook receiver's memory: every POST to `/<name>/hook` with its raw body, headers and
 * whether its `Faultline-Signature` verified, so a test or an experiment can check what a
 * recipient's endpoint got (and how often per delivery id). Bounded like the send log.
 */

export interface HookEntry {
  seq: number
  at: string
  /** The delivery id (`Faultline-Delivery`, else `Idempotency-Key`), or null. */
  deliveryId: string | null
  headers: Record<string, string>
  /** The parsed JSON body, or null when it was not JSON (`raw` keeps it). */
  body: unknown
  raw: string
  /** null: no verifier was configured. */
  verified: boolean | null
  /** Why the signature did not verify (no header, malformed, too old, mismatch), else null. */
  verifyReason: string | null
}

export interface HookStats {
  received: number
  verified: number
  unverified: number
  /** Deliveries beyond the first per delivery id: the duplicates the recipient saw. */
  duplicates: number
}

/** Headers worth keeping; the rest (host, connection, …) is transport noise. */
const keptHeaders = [
  'content-type',
  'user-agent',
  'idempotency-key',
  'faultline-signature',
  'faultline-delivery',
]

export class HookLog {
  private entries: HookEntry[] = []
  private nextSeq = 1
  private seenDeliveries = new Set<string>()
  private counters: HookStats = { received: 0, verified: 0, unverified: 0, duplicates: 0 }

  private readonly cap: number

  /** `cap`: entries kept (the oldest go first); the counters are kept forever. */
  constructor(cap = 100_000) {
    this.cap = cap
  }

  record(
    raw: string,
    headers: Record<string, string | string[] | undefined>,
    check: { ok: boolean; reason?: string } | null,
  ): HookEntry {
    const verified = check === null ? null : check.ok
    const kept: Record<string, string> = {}
    for (const name of keptHeaders) {
      const value = headers[name]
      if (value !== undefined) kept[name] = Array.isArray(value) ? value.join(', ') : value
    }
    const deliveryId = kept['faultline-delivery'] ?? kept['idempotency-key'] ?? null
    let body: unknown = null
    try {
      body = JSON.parse(raw)
    } catch {
      // Not JSON: a sender bug the test wants to see, so it is kept raw rather than refused.
    }
    this.counters.received++
    if (verified === true) this.counters.verified++
    if (verified === false) this.counters.unverified++
    if (deliveryId !== null) {
      if (this.seenDeliveries.has(deliveryId)) this.counters.duplicates++
      else this.seenDeliveries.add(deliveryId)
    }
    const entry: HookEntry = {
      seq: this.nextSeq++,
      at: new Date().toISOString(),
      deliveryId,
      headers: kept,
      body,
      raw,
      verified,
      verifyReason: check?.reason ?? null,
    }
    this.entries.push(entry)
    if (this.entries.length > this.cap) this.entries.splice(0, Math.ceil(this.cap / 10))
    return entry
  }

  read(after: number, limit: number): { entries: HookEntry[]; lastSeq: number } {
    const first = this.entries[0]
    const start = first === undefined ? 0 : Math.max(0, after - first.seq + 1)
    return { entries: this.entries.slice(start, start + limit), lastSeq: this.nextSeq - 1 }
  }

  stats(): HookStats {
    return { ...this.counters }
  }

  clear(): void {
    this.entries = []
    this.nextSeq = 1
    this.seenDeliveries = new Set()
    this.counters = { received: 0, verified: 0, unverified: 0, duplicates: 0 }
  }
}
