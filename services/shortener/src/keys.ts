/**
 * The one module that builds this service's Redis keys, so a reader (or a test, or the lab's
 * pm10 experiment expiring a hot code) finds every key shape in one place.
 *
 *   shortener:link:<code>   cached link (JSON) or the negative-cache marker, with a TTL
 *   shortener:fill:<code>   short-lived lease: the one instance filling <code> from Postgres
 *
 * `prefix` lets tests isolate their keys (`t:<random>:shortener:link:abc`).
 */
export interface Keys {
  link(code: string): string
  fillLease(code: string): string
}

export function createKeys(prefix = ''): Keys {
  return {
    link: (code) => `${prefix}shortener:link:${code}`,
    fillLease: (code) => `${prefix}shortener:fill:${code}`,
  }
}

export const keys = createKeys()
