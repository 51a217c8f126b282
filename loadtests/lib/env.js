// Reading __ENV with defaults, and the guards every Faultline load test runs under: traffic only
// to loopback, every run bounded in time. Plain k6 JavaScript (k6 runs ES modules, not TypeScript).

/** A string from __ENV, or the default when unset or empty. */
export function envString(name, fallback) {
  const value = __ENV[name]
  return value === undefined || value === '' ? fallback : value
}

/** A number from __ENV; a value that is not a finite number is an error, not a silent default. */
export function envNumber(name, fallback) {
  const raw = __ENV[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value)) throw new Error(`${name}=${raw} is not a number`)
  return value
}

/**
 * Seconds in a k6 duration string ("500ms", "30s", "2m", "1h", "1m30s"); a bare number is seconds.
 */
export function durationSeconds(duration) {
  if (typeof duration === 'number') return duration
  const text = String(duration).trim()
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text)
  const units = { ms: 0.001, s: 1, m: 60, h: 3600 }
  let total = 0
  let matched = ''
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g
  let part = re.exec(text)
  while (part !== null) {
    total += Number(part[1]) * units[part[2]]
    matched += part[0]
    part = re.exec(text)
  }
  if (matched !== text || matched === '') throw new Error(`"${duration}" is not a k6 duration`)
  return total
}

/** The longest run any builder accepts (MAX_TEST_DURATION, default 15m): a typo must not run for hours. */
export function maxTestSeconds() {
  return durationSeconds(envString('MAX_TEST_DURATION', '15m'))
}

export function assertBounded(what, seconds) {
  const max = maxTestSeconds()
  if (!(seconds > 0)) throw new Error(`${what}: duration must be positive, got ${seconds}s`)
  if (seconds > max) {
    throw new Error(
      `${what}: ${seconds}s is longer than MAX_TEST_DURATION (${max}s); raise it on purpose if you mean it`,
    )
  }
}

const loopback = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/

/**
 * Host names besides loopback that may receive load: LOAD_ALLOWED_HOSTS, comma-separated. Only
 * `docker-compose.yml` sets it, for its `k6` service, to the services on the project's own compose
 * network (a network namespace the project creates). Nothing else should.
 */
export function allowedHosts() {
  return envString('LOAD_ALLOWED_HOSTS', '')
    .split(',')
    .map((host) => host.trim().toLowerCase())
    .filter((host) => host !== '')
}

/**
 * Throws unless `url` points at a loopback address (or a host in LOAD_ALLOWED_HOSTS): Faultline
 * generates load only against services on this machine.
 */
export function assertLoopback(url) {
  const match = /^https?:\/\/(\[[^\]]+\]|[^/:?#]+)/i.exec(url)
  const host = match ? match[1].toLowerCase() : ''
  if (!match || !(loopback.test(host) || allowedHosts().includes(host))) {
    throw new Error(
      `refusing to send load to ${url}: only 127.0.0.0/8, localhost and [::1] are allowed` +
        ' (and hosts in LOAD_ALLOWED_HOSTS, which docker-compose.yml sets for its own network)',
    )
  }
  return url
}

/**
 * The system under test: BASE_URL, else `fallback` (each load test passes its service's default
 * port). Always checked to be loopback. No trailing slash.
 */
export function baseUrl(fallback = 'http://127.0.0.1:3000') {
  return assertLoopback(envString('BASE_URL', fallback)).replace(/\/+$/, '')
}
