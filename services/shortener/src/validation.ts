import { invalidField } from './errors.ts'

export const maxUrlLength = 2048
export const aliasPattern = /^[A-Za-z0-9_-]{3,32}$/

/**
 * Words an alias may not take, because they are (or may become) paths of this service: an alias
 * `metrics` would shadow `/metrics`. Compared case-insensitively.
 */
export const reservedAliases: ReadonlySet<string> = new Set([
  'admin',
  'api',
  'assets',
  'docs',
  'documentation',
  'favicon',
  'health',
  'healthz',
  'livez',
  'login',
  'logout',
  'metrics',
  'openapi',
  'readyz',
  'robots',
  'static',
  'status',
])

// ASCII control characters, whitespace and backslashes: WHATWG URL parsing silently strips or
// rewrites them, so what would be stored would not be what the user sent.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const forbiddenUrlChars = /[\u0000-\u0020\u007f\\]/

export interface UrlRules {
  /** Hosts that must not be targets (our own short domain: a link to a link loops). */
  forbiddenHosts?: readonly string[]
}

/**
 * The target URL rules: an absolute http(s) URL of at most 2048 characters, with a host, without
 * credentials (`https://bank.example@evil.example/` reads like a bank link but goes to
 * evil.example), without whitespace or control characters, and not pointing back at this service.
 * `javascript:`, `data:`, `file:` … are refused by the scheme rule.
 *
 * Returns the WHATWG serialisation (`new URL(raw).href`): ASCII only — the host in punycode, the
 * rest percent-encoded — because that is what a `Location` header may carry (a raw `例え.jp`
 * would make Node refuse the header). It must fit in 2048 characters too.
 */
export function validateTargetUrl(raw: string, rules: UrlRules = {}): string {
  if (raw.length > maxUrlLength) throw invalidField('url', `must be at most ${maxUrlLength} characters`)
  if (forbiddenUrlChars.test(raw))
    throw invalidField('url', 'must not contain whitespace, control characters or "\\"')
  let parsed: URL
  try {
    parsed = new URL(raw)
  } catch {
    throw invalidField('url', 'must be an absolute URL')
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw invalidField('url', 'must use http or https')
  }
  if (!/^https?:\/\//i.test(raw)) throw invalidField('url', 'must start with http:// or https://')
  if (parsed.hostname === '') throw invalidField('url', 'must have a host')
  if (parsed.username !== '' || parsed.password !== '') {
    throw invalidField('url', 'must not contain credentials (user:password@)')
  }
  const host = parsed.hostname.toLowerCase()
  if (rules.forbiddenHosts?.some((h) => h.toLowerCase() === host)) {
    throw invalidField('url', 'must not point at this shortener')
  }
  const normalized = parsed.href
  if (normalized.length > maxUrlLength) {
    throw invalidField('url', `must be at most ${maxUrlLength} characters once percent-encoded`)
  }
  return normalized
}

export function validateAlias(alias: string): string {
  if (!aliasPattern.test(alias)) {
    throw invalidField('alias', 'must be 3 to 32 characters of A-Z, a-z, 0-9, "_" or "-"')
  }
  if (reservedAliases.has(alias.toLowerCase())) throw invalidField('alias', `"${alias}" is reserved`)
  return alias
}

/** An ISO 8601 date-time in the future (and before year 10000). */
export function validateExpiresAt(raw: string, nowMs: number): Date {
  const date = new Date(raw)
  if (Number.isNaN(date.getTime())) throw invalidField('expiresAt', 'must be an ISO 8601 date-time')
  if (date.getTime() <= nowMs) throw invalidField('expiresAt', 'must be in the future')
  if (date.getUTCFullYear() > 9999) throw invalidField('expiresAt', 'must be before year 10000')
  return date
}
