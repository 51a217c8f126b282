import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { FileRulesSource, RulesFileError } from '../src/rules/file-source.ts'
import type { AppliedRules } from '../src/rules/source.ts'

const rulesYaml = (version: number, requestsPerUnit = 10) =>
  `version: ${version}
domains:
  - domain: d
    descriptors:
      - key: k
        rate_limit: { requests_per_unit: ${requestsPerUnit}, unit: second }
`

async function rulesFile(t: TestContext, name = 'rules.yaml') {
  const dir = await mkdtemp(join(tmpdir(), 'ratelimiter-rules-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const path = join(dir, name)
  return { path, write: (text: string) => writeFile(path, text) }
}

test('a bad file at boot is refused with every reason', async (t) => {
  const file = await rulesFile(t)
  await file.write('version: -1\ndomains:\n  - domain: ""\n    descriptors: [{ key: k }]\n')
  const err = await FileRulesSource.open(file.path).then(
    () => assert.fail('open should fail'),
    (e: unknown) => e,
  )
  assert.ok(err instanceof RulesFileError)
  assert.deepEqual(err.problems, [
    'version: must be a positive integer',
    'domains[0].domain: must not be empty',
    'domains[0].descriptors[0]: needs rate_limit or descriptors (it would match nothing)',
  ])
  await assert.rejects(FileRulesSource.open(join(file.path, '..', 'missing.yaml')), /cannot read .*ENOENT/)
  await assert.rejects(
    FileRulesSource.open(join(file.path, '..', 'rules.toml')),
    /must end in \.yaml, \.yml or \.json/,
  )
})

test('reload: a bad file keeps the old version; a higher version applies; versions never go back', async (t) => {
  const file = await rulesFile(t)
  await file.write(rulesYaml(1))
  const source = await FileRulesSource.open(file.path, { now: () => Date.parse('2026-12-05T10:00:00Z') })
  t.after(() => source.close())
  const seen: number[] = []
  source.subscribe((applied: AppliedRules) => seen.push(applied.version))
  assert.equal(source.current()?.version, 1)
  assert.equal(source.current()?.source, `file:${file.path}`)
  assert.equal(source.current()?.appliedAt, '2026-12-05T10:00:00.000Z')

  await file.write(
    'version: 2\ndomains:\n  - domain: d\n    descriptors:\n      - key: k\n        rate_limit: { unit: week }\n',
  )
  const bad = await source.reload()
  assert.equal(bad.status, 'rejected')
  assert.ok(bad.status === 'rejected')
  assert.equal(bad.cause, undefined, 'an invalid ruleset is not "superseded"')
  assert.deepEqual(bad.problems, [
    'domains[0].descriptors[0].rate_limit.requests_per_unit: is required',
    'domains[0].descriptors[0].rate_limit.unit: must be one of second, minute, hour, day',
  ])
  assert.equal(bad.current?.version, 1)
  assert.equal(source.current()?.version, 1)

  await file.write(rulesYaml(2, 20))
  const applied = await source.reload()
  assert.equal(applied.status, 'applied')
  assert.equal(source.current()?.version, 2)
  assert.deepEqual(seen, [1, 2])

  assert.equal((await source.reload()).status, 'unchanged')

  await file.write(rulesYaml(2, 30))
  const conflict = await source.reload()
  assert.ok(conflict.status === 'rejected')
  assert.equal(conflict.cause, 'superseded')
  assert.match(conflict.problems[0] ?? '', /version: 2 is already applied with other content/)

  await file.write(rulesYaml(1, 30))
  const older = await source.reload()
  assert.ok(older.status === 'rejected')
  assert.match(older.problems[0] ?? '', /version: 1 is older than the applied version 2/)
  assert.equal(source.current()?.version, 2)
  assert.deepEqual(seen, [1, 2])
})

test('apply: JSON values and YAML text from the caller, named by their origin', async (t) => {
  const file = await rulesFile(t, 'rules.json')
  await file.write(
    JSON.stringify({
      version: 1,
      domains: [
        {
          domain: 'd',
          descriptors: [{ key: 'k', value: 'v', rate_limit: { requests_per_unit: 1, unit: 'minute' } }],
        },
      ],
    }),
  )
  const source = await FileRulesSource.open(file.path)
  t.after(() => source.close())
  const value = await source.apply(
    {
      value: {
        version: 5,
        domains: [
          { domain: 'e', descriptors: [{ key: 'k', rate_limit: { requests_per_unit: 2, unit: 'hour' } }] },
        ],
      },
    },
    'PUT /admin/rules',
  )
  assert.equal(value.status, 'applied')
  assert.equal(source.current()?.source, 'PUT /admin/rules')
  assert.deepEqual(source.current()?.ruleset.summary, [{ domain: 'e', limits: 1 }])
  const text = await source.apply({ text: rulesYaml(6), format: 'yaml' }, 'PUT /admin/rules')
  assert.equal(text.status, 'applied')
  const garbage = await source.apply({ text: 'version: [', format: 'yaml' }, 'PUT /admin/rules')
  assert.ok(garbage.status === 'rejected')
  assert.match(garbage.problems[0] ?? '', /^\(line 1, column \d+\)/)
  assert.equal(source.current()?.version, 6)
})
