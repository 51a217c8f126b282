import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { test } from 'node:test'
import { defaultRulesFile } from '../src/config.ts'
import { limiterKey } from '../src/engine.ts'
import { compileRules } from '../src/rules/compile.ts'
import { matchDescriptor } from '../src/rules/match.ts'
import { loadRulesText, loadRulesValue } from '../src/rules/parse.ts'
import type { RulesDocument } from '../src/rules/schema.ts'

const entries = (...pairs: Array<[string, string]>) => pairs.map(([key, value]) => ({ key, value }))

const nested: RulesDocument = {
  version: 3,
  domains: [
    {
      domain: 'api',
      descriptors: [
        {
          key: 'api_key',
          rate_limit: { requests_per_unit: 100, unit: 'second', name: 'per-key' },
          descriptors: [{ key: 'path', rate_limit: { requests_per_unit: 20, unit: 'second' } }],
        },
        {
          key: 'api_key',
          value: 'vip',
          rate_limit: { requests_per_unit: 1000, unit: 'minute', algorithm: 'gcra', burst: 50 },
        },
        {
          key: 'tenant',
          value: 'acme',
          descriptors: [{ key: 'user', rate_limit: { requests_per_unit: 5, unit: 'hour' } }],
        },
      ],
    },
  ],
}

test('the example rules file validates and compiles', async () => {
  const loaded = loadRulesText(await readFile(defaultRulesFile, 'utf8'), 'yaml')
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.problems.join('\n'))
  assert.equal(loaded.value.ruleset.version, 1)
  assert.deepEqual(
    loaded.value.ruleset.summary.map((d) => d.domain),
    ['api', 'login'],
  )
})

test('validation lists every problem at once, each with its path', () => {
  const result = loadRulesValue({
    version: 0,
    extra: true,
    domains: [
      {
        domain: 'api',
        descriptors: [
          { key: 'a', rate_limit: { requests_per_unit: 10, unit: 'fortnight' } },
          { key: '', rate_limit: { requests_per_unit: -1, unit: 'second', algorithm: 'leaky' } },
          { key: 'b', value: 'x' },
          { key: 'c', rate_limit: { requests_per_unit: 10, unit: 'second', burst: 5 } },
          { key: 'd', rate_limit: { requests_per_unit: 50_000, unit: 'second' } },
          {
            key: 'a',
            rate_limit: { requests_per_unit: 1, unit: 'second', failure_policy: 'maybe', colour: 1 },
          },
        ],
      },
      { domain: 'api', descriptors: [] },
    ],
  })
  assert.equal(result.ok, false)
  const problems = result.ok ? [] : result.problems
  const expected = [
    'extra: is not a field here',
    'version: must be a positive integer',
    'domains[0].descriptors[0].rate_limit.unit: must be one of second, minute, hour, day',
    'domains[0].descriptors[1].key: must not be empty',
    'domains[0].descriptors[1].rate_limit.requests_per_unit: must be a positive integer',
    'domains[0].descriptors[1].rate_limit.algorithm: must be one of fixed-window, sliding-log',
    'domains[0].descriptors[2]: needs rate_limit or descriptors',
    'domains[0].descriptors[3].rate_limit.burst: applies to token-bucket and gcra only',
    'domains[0].descriptors[4].rate_limit.requests_per_unit: must be ≤ 10000 for sliding-log',
    'domains[0].descriptors[5]: key "a" without a value is already defined by domains[0].descriptors[0]',
    'domains[0].descriptors[5].rate_limit.failure_policy: must be one of open, closed, local',
    'domains[0].descriptors[5].rate_limit.colour: is not a field here',
    'domains[1].domain: "api" is already defined by domains[0]',
    'domains[1].descriptors: must not be empty',
  ]
  for (const fragment of expected) {
    assert.ok(
      problems.some((problem) => problem.startsWith(fragment)),
      `missing "${fragment}" in:\n${problems.join('\n')}`,
    )
  }
  assert.equal(problems.length, expected.length, problems.join('\n'))
})

test('YAML and JSON syntax errors name the line; duplicate keys are refused', () => {
  const yaml = loadRulesText(
    'version: 1\ndomains:\n  - domain: a\n    domain: b\n    descriptors: []\n',
    'yaml',
  )
  assert.equal(yaml.ok, false)
  assert.match(yaml.ok ? '' : (yaml.problems[0] ?? ''), /^\(line 4, column \d+\): .*unique/i)
  const broken = loadRulesText('version: 1\ndomains: [\n', 'yaml')
  assert.equal(broken.ok, false)
  const json = loadRulesText('{"version": 1,', 'json')
  assert.equal(json.ok, false)
  assert.match(json.ok ? '' : (json.problems[0] ?? ''), /^\(json\): /)
  assert.deepEqual(loadRulesText('- 1\n- 2\n', 'yaml'), {
    ok: false,
    problems: ['(root): must be an object with version and domains'],
  })
})

test('matching: entry by entry, exact value over the wildcard, the last entry picks the rule', () => {
  const rules = compileRules(nested)
  assert.equal(matchDescriptor(rules, 'api', entries(['api_key', 'k1']))?.requestsPerUnit, 100)
  assert.equal(matchDescriptor(rules, 'api', entries(['api_key', 'vip']))?.requestsPerUnit, 1000)
  assert.equal(matchDescriptor(rules, 'api', entries(['api_key', 'k1'], ['path', '/x']))?.requestsPerUnit, 20)
  // The exact node wins and has no child `path`: no rule (no fallback to the wildcard, as in Envoy).
  assert.equal(matchDescriptor(rules, 'api', entries(['api_key', 'vip'], ['path', '/x'])), undefined)
  // A node without a limit of its own limits nothing; its child does.
  assert.equal(matchDescriptor(rules, 'api', entries(['tenant', 'acme'])), undefined)
  assert.equal(matchDescriptor(rules, 'api', entries(['tenant', 'acme'], ['user', 'u1']))?.unit, 'hour')
  assert.equal(matchDescriptor(rules, 'api', entries(['tenant', 'other'], ['user', 'u1'])), undefined)
  assert.equal(matchDescriptor(rules, 'api', entries(['unknown', 'x'])), undefined)
  assert.equal(matchDescriptor(rules, 'nope', entries(['api_key', 'k1'])), undefined)
  assert.equal(matchDescriptor(rules, 'api', []), undefined)
})

test('compiled limits carry the limiter rule, the reported limit and defaults', () => {
  const rules = compileRules(nested)
  const perKey = matchDescriptor(rules, 'api', entries(['api_key', 'k1']))
  assert.deepEqual(perKey?.rule, { algorithm: 'sliding-log', limit: 100, windowMs: 1000 })
  assert.deepEqual(perKey?.limit, {
    requestsPerUnit: 100,
    unit: 'SECOND',
    windowMs: 1000,
    algorithm: 'sliding-log',
    name: 'per-key',
  })
  assert.equal(perKey?.failurePolicy, 'open')
  assert.equal(perKey?.id, 'api_key')
  assert.equal(matchDescriptor(rules, 'api', entries(['api_key', 'k1'], ['path', '/x']))?.id, 'api_key/path')
  assert.equal(
    matchDescriptor(rules, 'api', entries(['tenant', 'acme'], ['user', 'u']))?.id,
    'tenant=acme/user',
  )
  const vip = matchDescriptor(rules, 'api', entries(['api_key', 'vip']))
  assert.deepEqual(vip?.rule, { algorithm: 'gcra', limit: 1000, windowMs: 60_000, burst: 50 })
  assert.deepEqual(rules.summary, [{ domain: 'api', limits: 4 }])
})

test('the fingerprint ignores format and key order, not content', () => {
  const a = loadRulesText(
    'version: 1\ndomains:\n  - domain: d\n    descriptors:\n      - key: k\n        rate_limit: {unit: second, requests_per_unit: 5}\n',
    'yaml',
  )
  const b = loadRulesText(
    '{"domains":[{"descriptors":[{"rate_limit":{"requests_per_unit":5,"unit":"second"},"key":"k"}],"domain":"d"}],"version":1}',
    'json',
  )
  const c = loadRulesText(
    '{"domains":[{"descriptors":[{"rate_limit":{"requests_per_unit":6,"unit":"second"},"key":"k"}],"domain":"d"}],"version":1}',
    'json',
  )
  assert.ok(a.ok && b.ok && c.ok)
  assert.equal(a.value.ruleset.fingerprint, b.value.ruleset.fingerprint)
  assert.notEqual(a.value.ruleset.fingerprint, c.value.ruleset.fingerprint)
})

test('limiter keys: one per descriptor value and rule, never ambiguous, bounded in length', () => {
  const rules = compileRules(nested)
  const perKey = matchDescriptor(rules, 'api', entries(['api_key', 'k1']))
  assert.ok(perKey)
  const k1 = limiterKey('api', entries(['api_key', 'k1']), perKey)
  const k2 = limiterKey('api', entries(['api_key', 'k2']), perKey)
  assert.notEqual(k1, k2)
  assert.equal(k1, 'api|api_key=k1|api_key~sliding-log~1000')
  // A value holding the separator cannot collide with two entries.
  assert.notEqual(
    limiterKey('api', entries(['a', 'b|c=d']), perKey),
    limiterKey('api', entries(['a', 'b'], ['c', 'd']), perKey),
  )
  assert.doesNotMatch(limiterKey('a{b}', entries(['k', '{x}']), perKey), /[{}]/)
  const long = limiterKey('api', entries(['api_key', 'x'.repeat(1000)]), perKey)
  assert.match(long, /^sha256=[\w-]{43}$/)
})
