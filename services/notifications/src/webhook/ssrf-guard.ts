/**
 * The webhook channel's SSRF guard. A webhook URL is the recipient's input, and the worker that
 * POSTs it sits inside the network, so a URL naming (or resolving to) an internal address would
 * make the service a proxy into it: the cloud metadata endpoint, Redis, an admin port.
 * - `classifyAddress(ip)`: 'public' or the class that refuses it, after unwrapping every IPv6 form
 *   that carries an IPv4 address (::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16), so
 *   `::ffff:127.0.0.1` is loopback like `127.0.0.1`. IPv6 is public only inside 2000::/3 (global
 *   unicast) and outside its special ranges; unallocated space is refused as reserved.
 * - `checkLiteralUrl(url)`: the API's check when a recipient is saved — http(s) only, no
 *   credentials, and no literal refused address or `localhost` (the WHATWG parser has already
 *   turned `http://2130706433/` and `http://0x7f.1/` into `127.0.0.1`). A hostname is not resolved
 *   here: what it resolves to at send time is what counts.
 * - `resolveAllowed(url, allowlist)`: the send-time check — resolve every address
 *   (`dns.lookup` all) and refuse if ANY is refused and not allow-listed (an attacker controls
 *   which address of a multi-address answer a client would pick), then return the address the
 *   client must connect to, so a second resolution (DNS rebinding) cannot switch it.
 * The allowlist (WEBHOOK_ALLOWLIST) exists for the lab's own fakes on 127.0.0.1: entries are
 * `host:port` (the URL's host, or an address it resolves to, on that port) or a CIDR.
 */
import { lookup as dnsLookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import ipaddr from 'ipaddr.js'

export type RefusalClass =
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'unique-local'
  | 'unspecified'
  | 'multicast'
  | 'broadcast'
  | 'reserved'
  | 'carrier-grade-nat'
  | 'metadata'
  | 'invalid'
export type AddressClass = 'public' | RefusalClass

type Address = ipaddr.IPv4 | ipaddr.IPv6

// The clouds' instance metadata endpoints: 169.254.169.254 (AWS, GCP, Azure IMDS, most others),
// AWS's IPv6 fd00:ec2::254, Alibaba's 100.100.100.200 (in CGNAT space, refused anyway: named
// here), and Azure's WireServer 168.63.129.16 — a *public* address that a VM reaches as its host.
const metadataAddresses = [
  ipaddr.parse('169.254.169.254'),
  ipaddr.parse('fd00:ec2::254'),
  ipaddr.parse('100.100.100.200'),
  ipaddr.parse('168.63.129.16'),
]

const ipv4Classes: Record<string, RefusalClass> = {
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
  linkLocal: 'link-local',
  loopback: 'loopback',
  carrierGradeNat: 'carrier-grade-nat',
  private: 'private',
}

const ipv6Classes: Record<string, RefusalClass> = {
  unspecified: 'unspecified',
  linkLocal: 'link-local',
  multicast: 'multicast',
  loopback: 'loopback',
  uniqueLocal: 'unique-local',
  // fec0::/10, deprecated site-local: private addressing by another name.
  deprecatedSiteLocal: 'private',
}

const globalUnicast = ipaddr.parseCIDR('2000::/3')

function sameAddress(a: Address, b: Address): boolean {
  return a.kind() === b.kind() && a.toNormalizedString() === b.toNormalizedString()
}

function ipv4FromParts(hi: number | undefined, lo: number | undefined): ipaddr.IPv4 {
  const h = hi ?? 0
  const l = lo ?? 0
  return new ipaddr.IPv4([h >> 8, h & 0xff, l >> 8, l & 0xff])
}

/** The IPv4 address an IPv6 address carries and routes to, if it is one of those forms. */
function embeddedIpv4(a: ipaddr.IPv6): ipaddr.IPv4 | null {
  const range = a.range()
  if (range === 'ipv4Mapped') return a.toIPv4Address()
  // NAT64 (64:ff9b::/96) and IPv4-translated (::ffff:0:0:0/96): the last 32 bits.
  if (range === 'rfc6145' || (range === 'rfc6052' && a.match(ipaddr.parseCIDR('64:ff9b::/96')))) {
    return ipv4FromParts(a.parts[6], a.parts[7])
  }
  // 6to4: 2002:AABB:CCDD::/48 tunnels to AA.BB.CC.DD.
  if (range === '6to4') return ipv4FromParts(a.parts[1], a.parts[2])
  return null
}

function classifyParsed(a: Address): AddressClass {
  if (metadataAddresses.some((m) => sameAddress(m, a))) return 'metadata'
  if (a.kind() === 'ipv4') {
    const range = a.range()
    if (range === 'unicast') return 'public'
    return ipv4Classes[range] ?? 'reserved'
  }
  const v6 = a as ipaddr.IPv6
  const v4 = embeddedIpv4(v6)
  if (v4) return classifyParsed(v4)
  const range = v6.range()
  const known = ipv6Classes[range]
  if (known) return known
  if (range === 'unicast' && v6.match(globalUnicast)) return 'public'
  return 'reserved'
}

/** 'public', or why a connection to this address is refused. `ip` = a literal IPv4 or IPv6 address. */
export function classifyAddress(ip: string): AddressClass {
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip
  // Only canonical literals (what DNS and the URL parser produce); `0x7f.1` is a URL's job.
  if (isIP(bare) === 0) return 'invalid'
  try {
    return classifyParsed(ipaddr.parse(bare))
  } catch {
    return 'invalid'
  }
}

type AllowEntry =
  | { kind: 'cidr'; range: [Address, number] }
  | { kind: 'hostPort'; host: string; ip: Address | null; port: number }

export interface Allowlist {
  entries: AllowEntry[]
}

const normaliseHost = (h: string) => h.toLowerCase().replace(/\.$/, '')

function parseEntry(raw: string): AllowEntry {
  const entry = raw.trim()
  if (entry.includes('/')) {
    if (!ipaddr.isValidCIDR(entry)) throw new Error(`"${raw}": not a CIDR`)
    return { kind: 'cidr', range: ipaddr.parseCIDR(entry) }
  }
  if (isIP(entry) !== 0) {
    // A bare address: that one address, on any port.
    const a = ipaddr.parse(entry)
    return { kind: 'cidr', range: [a, a.kind() === 'ipv4' ? 32 : 128] }
  }
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(entry) ?? /^([^:[\]]+):(\d{1,5})$/.exec(entry)
  const port = Number(m?.[2])
  if (!m?.[1] || !(port >= 1 && port <= 65_535)) throw new Error(`"${raw}": expected host:port or a CIDR`)
  const host = normaliseHost(m[1])
  return { kind: 'hostPort', host, ip: isIP(host) === 0 ? null : ipaddr.process(host), port }
}

const parsedAllowlists = new WeakMap<readonly string[], Allowlist>()

/** Parses WEBHOOK_ALLOWLIST entries; throws naming every bad one (call it at boot to fail early). */
export function parseAllowlist(entries: readonly string[]): Allowlist {
  const cached = parsedAllowlists.get(entries)
  if (cached) return cached
  const parsed: AllowEntry[] = []
  const bad: string[] = []
  for (const raw of entries) {
    if (raw.trim() === '') continue
    try {
      parsed.push(parseEntry(raw))
    } catch (err) {
      bad.push((err as Error).message)
    }
  }
  if (bad.length > 0) throw new Error(`invalid webhook allowlist entries: ${bad.join('; ')}`)
  const allowlist = { entries: parsed }
  parsedAllowlists.set(entries, allowlist)
  return allowlist
}

function toAllowlist(a: readonly string[] | Allowlist): Allowlist {
  return Array.isArray(a) ? parseAllowlist(a as readonly string[]) : (a as Allowlist)
}

function inCidr(a: Address, [net, bits]: [Address, number]): boolean {
  const candidate = ipaddr.process(a.toString())
  if (candidate.kind() === net.kind()) return candidate.match(net, bits)
  if (candidate.kind() === 'ipv4' && net.kind() === 'ipv6') {
    return (candidate as ipaddr.IPv4).toIPv4MappedAddress().match(net, bits)
  }
  return false
}

/** True when the destination (the URL's host and port, one address it resolves to) is allow-listed. */
function allowed(list: Allowlist, host: string, port: number, address: string | null): boolean {
  const a = address === null ? null : ipaddr.process(address)
  return list.entries.some((e) => {
    if (e.kind === 'cidr') return a !== null && inCidr(a, e.range)
    if (e.port !== port) return false
    return e.host === host || (e.ip !== null && a !== null && sameAddress(e.ip, a))
  })
}

interface Destination {
  url: URL
  /** The host without brackets, lower case, no trailing dot. */
  host: string
  port: number
  /** Set when the host is a literal address. */
  literal: string | null
}

/** The URL's destination, or why it can never be one (scheme, credentials, syntax). */
function destinationOf(raw: string): Destination | string {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return 'not a valid URL'
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `scheme ${url.protocol} is not http or https`
  if (url.username !== '' || url.password !== '') return 'credentials in the URL are not allowed'
  const host = normaliseHost(url.hostname.replace(/^\[|\]$/g, ''))
  if (host === '') return 'no host'
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port)
  return { url, host, port, literal: isIP(host) === 0 ? null : host }
}

const isLocalhostName = (host: string) => host === 'localhost' || host.endsWith('.localhost')

function refusedAddress(host: string, address: string, cls: AddressClass): string {
  const via = host === address ? '' : `${host} resolves to `
  return `${via}${address}: ${cls} address refused`
}

/**
 * The API's check of a webhook URL (no DNS): null when acceptable, else the reason. A hostname
 * passes here and is checked again, resolved, at every send.
 */
export function checkLiteralUrl(raw: string, allowlist: readonly string[] | Allowlist = []): string | null {
  const d = destinationOf(raw)
  if (typeof d === 'string') return d
  const list = toAllowlist(allowlist)
  if (d.literal !== null) {
    const cls = classifyAddress(d.literal)
    if (cls !== 'public' && !allowed(list, d.host, d.port, d.literal))
      return refusedAddress(d.host, d.host, cls)
    return null
  }
  // A localhost name is a loopback address without asking DNS (RFC 6761).
  const localhostAllowed = ['127.0.0.1', '::1'].some((a) => allowed(list, d.host, d.port, a))
  if (isLocalhostName(d.host) && !localhostAllowed) return `${d.host}: loopback name refused`
  return null
}

export type LookupAll = (host: string) => Promise<Array<{ address: string; family: number }>>

const systemLookupAll: LookupAll = (host) => dnsLookup(host, { all: true, verbatim: true })

export type ResolveResult =
  | { ok: true; url: URL; host: string; port: number; address: string; family: 4 | 6 }
  | { ok: false; reason: string; addressClass?: RefusalClass }

/**
 * The send-time check: every address the host resolves to must be public or allow-listed. A DNS
 * failure is thrown (it is not a refusal: the name may resolve later).
 */
export async function resolveAllowed(
  raw: string,
  allowlist: readonly string[] | Allowlist,
  o: { lookup?: LookupAll } = {},
): Promise<ResolveResult> {
  const d = destinationOf(raw)
  if (typeof d === 'string') return { ok: false, reason: d }
  const list = toAllowlist(allowlist)
  const nameAllowed = allowed(list, d.host, d.port, null)
  const addresses =
    d.literal !== null
      ? [{ address: d.literal, family: isIP(d.literal) }]
      : await (o.lookup ?? systemLookupAll)(d.host)
  if (addresses.length === 0) throw new Error(`${d.host}: no address`)
  for (const { address } of addresses) {
    // A localhost name that a misconfigured resolver sends elsewhere is still not public.
    const found = classifyAddress(address)
    const cls = found === 'public' && isLocalhostName(d.host) ? 'loopback' : found
    if (cls === 'public' || nameAllowed || allowed(list, d.host, d.port, address)) continue
    return { ok: false, reason: refusedAddress(d.host, address, cls), addressClass: cls }
  }
  const first = addresses[0] as { address: string; family: number }
  return {
    ok: true,
    url: d.url,
    host: d.host,
    port: d.port,
    address: first.address,
    family: first.family === 6 ? 6 : 4,
  }
}
