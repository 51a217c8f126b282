/** The webhook SSRF guard (pure: no network; resolution is a stand-in lookup where it matters). */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  checkLiteralUrl,
  classifyAddress,
  type LookupAll,
  parseAllowlist,
  resolveAllowed,
} from '../src/webhook/ssrf-guard.ts'

test('classifyAddress: every refused IPv4 class', () => {
  const cases: Array<[string, string]> = [
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.254', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'carrier-grade-nat'],
    ['100.127.255.254', 'carrier-grade-nat'],
    ['169.254.1.1', 'link-local'],
    ['169.254.169.254', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['168.63.129.16', 'metadata'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['203.0.113.7', 'reserved'],
  ]
  for (const [ip, cls] of cases) assert.equal(classifyAddress(ip), cls, ip)
})

test('classifyAddress: every refused IPv6 class, including the forms that carry an IPv4 address', () => {
  const cases: Array<[string, string]> = [
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['fd00:ec2::254', 'metadata'],
    ['ff02::1', 'multicast'],
    ['fec0::1', 'private'],
    ['2001:db8::1', 'reserved'],
    ['::7f00:1', 'reserved'],
    ['4000::1', 'reserved'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:0.0.0.0', 'unspecified'],
    ['::ffff:100.64.0.1', 'carrier-grade-nat'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['2002:c0a8:101::1', 'private'],
  ]
  for (const [ip, cls] of cases) assert.equal(classifyAddress(ip), cls, ip)
})

test('classifyAddress: public addresses pass, neighbours of the refused ranges included', () => {
  for (const ip of [
    '8.8.8.8',
    '1.1.1.1',
    '172.15.255.255',
    '172.32.0.1',
    '100.63.255.255',
    '100.128.0.1',
    '11.0.0.1',
    '169.253.255.255',
    '2001:4860:4860::8888',
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
  ]) {
    assert.equal(classifyAddress(ip), 'public', ip)
  }
})

test('classifyAddress: anything but a canonical literal is invalid (the URL parser normalises first)', () => {
  for (const s of ['0x7f.1', '2130706433', '127.1', 'localhost', '', '1.2.3.4.5', 'fe80::zz']) {
    assert.equal(classifyAddress(s), 'invalid', s)
  }
})

test('checkLiteralUrl: decimal, octal, hex and short IPv4 forms are what the WHATWG parser makes of them', () => {
  const cases: Array<[string, string]> = [
    ['http://2130706433/', '127.0.0.1'],
    ['http://0x7f.1/', '127.0.0.1'],
    ['http://0x7f000001/', '127.0.0.1'],
    ['http://0177.0.0.1/', '127.0.0.1'],
    ['http://017700000001/', '127.0.0.1'],
    ['http://127.1/', '127.0.0.1'],
    ['http://%31%32%37.0.0.1/', '127.0.0.1'],
    ['http://0/', '0.0.0.0'],
    ['http://0251.0376.0251.0376/latest/meta-data/', '169.254.169.254'],
    ['http://[0:0:0:0:0:ffff:7f00:1]/', '[::ffff:7f00:1]'],
  ]
  for (const [url, hostname] of cases) {
    assert.equal(new URL(url).hostname, hostname, url)
    const reason = checkLiteralUrl(url)
    assert.ok(reason, `${url} must be refused`)
    assert.match(reason, /(loopback|unspecified|metadata) address refused/, url)
  }
})

test('checkLiteralUrl: refuses other schemes, credentials, localhost names and every refused literal', () => {
  const refused = [
    'ftp://example.com/',
    'file:///etc/passwd',
    'gopher://example.com/',
    'http://user:pw@example.com/',
    'not a url',
    'http://localhost:8080/',
    'http://LOCALHOST./',
    'http://api.localhost/',
    'http://[::1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://10.0.0.1/',
    'http://172.16.0.1/',
    'http://192.168.0.1/',
    'http://100.64.0.1/',
    'http://169.254.169.254/',
    'http://[fe80::1]/',
    'http://[fc00::1]/',
    'http://[fd00:ec2::254]/',
    'http://0.0.0.0:18124/',
  ]
  for (const url of refused) assert.ok(checkLiteralUrl(url), `${url} must be refused`)
  assert.match(checkLiteralUrl('http://[fd00:ec2::254]/') ?? '', /metadata/)
  assert.match(checkLiteralUrl('http://localhost/') ?? '', /loopback name/)
})

test('checkLiteralUrl: accepts public hosts and literals; a hostname is left to the send-time check', () => {
  for (const url of [
    'https://example.com/hook',
    'http://8.8.8.8:8080/x',
    'https://[2606:4700::1111]/',
    'https://hooks.internal.example/x',
  ]) {
    assert.equal(checkLiteralUrl(url), null, url)
  }
})

test('the allowlist: host:port lets exactly that port through, a CIDR any port of its range', () => {
  const list = parseAllowlist(['127.0.0.1:18124', 'localhost:18125', '[::1]:18126', '10.1.0.0/16'])
  assert.equal(checkLiteralUrl('http://127.0.0.1:18124/hook', list), null)
  assert.ok(checkLiteralUrl('http://127.0.0.1:18125/hook', list))
  assert.equal(checkLiteralUrl('http://localhost:18125/hook', list), null)
  // localhost is 127.0.0.1 / ::1 without DNS, so an entry for those addresses admits it too.
  assert.equal(checkLiteralUrl('http://localhost:18124/hook', list), null)
  assert.equal(checkLiteralUrl('http://localhost:18126/hook', list), null)
  assert.ok(checkLiteralUrl('http://localhost:18127/hook', list))
  assert.ok(checkLiteralUrl('http://fake.localhost:18124/hook', parseAllowlist(['localhost:18124'])))
  assert.equal(checkLiteralUrl('http://[::1]:18126/', list), null)
  assert.equal(checkLiteralUrl('http://10.1.200.3:9999/', list), null)
  assert.ok(checkLiteralUrl('http://10.2.0.1/', list))
  // The IPv4-mapped form of an allow-listed address is the same destination.
  assert.equal(checkLiteralUrl('http://[::ffff:127.0.0.1]:18124/', list), null)
  assert.throws(
    () => parseAllowlist(['localhost', '1.2.3.4/99', 'host:70000']),
    /localhost.*1\.2\.3\.4\/99.*host:70000/,
  )
})

const fakeLookup =
  (answers: Record<string, string[]>): LookupAll =>
  async (host) => {
    const addresses = answers[host]
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' })
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
  }

test('resolveAllowed: refuses when ANY resolved address is refused, names the address and class', async () => {
  const lookup = fakeLookup({
    'ok.example': ['93.184.215.14', '2606:2800:21f::1'],
    'mixed.example': ['93.184.215.14', '10.0.0.5'],
    'meta.example': ['169.254.169.254'],
    'mapped.example': ['::ffff:127.0.0.1'],
  })
  const ok = await resolveAllowed('https://ok.example/hook', [], { lookup })
  assert.deepEqual(ok.ok && { address: ok.address, family: ok.family, port: ok.port }, {
    address: '93.184.215.14',
    family: 4,
    port: 443,
  })
  const mixed = await resolveAllowed('https://mixed.example/hook', [], { lookup })
  assert.equal(mixed.ok, false)
  assert.equal(!mixed.ok && mixed.addressClass, 'private')
  assert.match(!mixed.ok ? mixed.reason : '', /mixed\.example resolves to 10\.0\.0\.5: private/)
  const meta = await resolveAllowed('http://meta.example/', [], { lookup })
  assert.equal(!meta.ok && meta.addressClass, 'metadata')
  const mapped = await resolveAllowed('http://mapped.example/', [], { lookup })
  assert.equal(!mapped.ok && mapped.addressClass, 'loopback')
  await assert.rejects(resolveAllowed('http://nowhere.example/', [], { lookup }), /ENOTFOUND/)
})

test('resolveAllowed: the allowlist admits a name or a resolved address on its port', async () => {
  const lookup = fakeLookup({ 'fake.lab': ['127.0.0.1'], 'other.lab': ['127.0.0.1'] })
  const byName = await resolveAllowed('http://fake.lab:18124/hook', ['fake.lab:18124'], { lookup })
  assert.equal(byName.ok && byName.address, '127.0.0.1')
  const byAddress = await resolveAllowed('http://other.lab:18124/hook', ['127.0.0.1:18124'], { lookup })
  assert.equal(byAddress.ok, true)
  const otherPort = await resolveAllowed('http://other.lab:18125/hook', ['127.0.0.1:18124'], { lookup })
  assert.equal(!otherPort.ok && otherPort.addressClass, 'loopback')
  const localhostElsewhere = await resolveAllowed('http://localhost/', [], {
    lookup: fakeLookup({ localhost: ['93.184.215.14'] }),
  })
  assert.equal(!localhostElsewhere.ok && localhostElsewhere.addressClass, 'loopback')
  const refusedShape = await resolveAllowed('ftp://fake.lab/', ['fake.lab:21'], { lookup })
  assert.equal(refusedShape.ok, false)
})
