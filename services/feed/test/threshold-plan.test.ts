/** The threshold benchmark's pure parts: its flags, the thresholds, who posts and who reads. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseThresholdArgs } from '../bench/threshold-args.ts'
import {
  drawAuthors,
  parseThresholds,
  postsByDecade,
  pulledAuthors,
  sampleIndexes,
  thresholdLabel,
  thresholdValue,
  uniformDeliveriesPerPost,
} from '../bench/threshold-plan.ts'
import { seededRandom } from '../src/seed/random.ts'

// Follower counts by user index: one per decade (≥ 10k, 1k, 100, 10, 1) and two with none.
const counts = Uint32Array.from([12_000, 0, 1500, 150, 15, 3, 0, 2])

describe('parseThresholds', () => {
  it('reads none, pull and follower counts, in the order given', () => {
    assert.deepEqual(parseThresholds('none, 10000,pull,1'), {
      specs: [
        { kind: 'push-all' },
        { kind: 'followers', min: 10_000 },
        { kind: 'pull-all' },
        { kind: 'followers', min: 1 },
      ],
    })
  })

  it('refuses 0 (the config minimum is 1), words and empty items, naming the flag', () => {
    for (const raw of ['0', 'lots', '100,', '-5', '1.5']) {
      const parsed = parseThresholds(raw)
      assert.ok('error' in parsed, raw)
      assert.match(parsed.error, /--thresholds/)
    }
  })
})

describe('thresholdValue and pulledAuthors', () => {
  it('push-all is one above the largest count (nobody pulled), pull-all is 1 (everyone with a follower)', () => {
    const max = 12_000
    assert.equal(thresholdValue({ kind: 'push-all' }, max), 12_001)
    assert.equal(pulledAuthors(counts, 12_001), 0)
    assert.equal(thresholdValue({ kind: 'pull-all' }, max), 1)
    assert.equal(pulledAuthors(counts, 1), 6)
    assert.equal(pulledAuthors(counts, thresholdValue({ kind: 'followers', min: 150 }, max)), 3)
    assert.equal(thresholdLabel({ kind: 'followers', min: 150 }, max), '150')
  })
})

describe('uniformDeliveriesPerPost', () => {
  it('own timeline + followers of pushed authors, averaged over the authors with a follower', () => {
    // Authors with followers: 12000, 1500, 150, 15, 3, 2 (six of them).
    assert.equal(uniformDeliveriesPerPost(counts, 12_001), (12_001 + 1501 + 151 + 16 + 4 + 3) / 6)
    assert.equal(uniformDeliveriesPerPost(counts, 1000), (1 + 1 + 151 + 16 + 4 + 3) / 6)
    assert.equal(uniformDeliveriesPerPost(counts, 1), 1)
  })
})

describe('drawAuthors', () => {
  it('tiers: every decade with authors gets the same share, no author without followers', () => {
    const authors = drawAuthors(counts, 50, 'tiers', seededRandom(1))
    assert.equal(authors.length, 50)
    assert.deepEqual(postsByDecade(counts, authors), {
      '≥ 10000': 10,
      '1000–9999': 10,
      '100–999': 10,
      '10–99': 10,
      '1–9': 10,
    })
  })

  it('the same seed draws the same sequence (every threshold posts the same posts)', () => {
    assert.deepEqual(
      drawAuthors(counts, 30, 'tiers', seededRandom(5)),
      drawAuthors(counts, 30, 'tiers', seededRandom(5)),
    )
  })

  it('uniform: only authors with a follower, every one of them reachable', () => {
    const authors = drawAuthors(counts, 600, 'uniform', seededRandom(2))
    assert.ok(authors.every((a) => (counts[a] as number) > 0))
    assert.deepEqual([...new Set(authors)].sort(), [0, 2, 3, 4, 5, 7])
  })

  it('refuses a graph where nobody has a follower', () => {
    assert.throws(
      () => drawAuthors(Uint32Array.from([0, 0]), 3, 'tiers', seededRandom(1)),
      /no user has a follower/,
    )
  })
})

describe('sampleIndexes', () => {
  it('distinct indexes, at most n of them', () => {
    const sample = sampleIndexes(100, 40, seededRandom(3))
    assert.equal(new Set(sample).size, 40)
    assert.ok(sample.every((i) => i >= 0 && i < 100))
    assert.equal(sampleIndexes(5, 40, seededRandom(3)).length, 5)
  })
})

describe('parseThresholdArgs', () => {
  it('has defaults that run every mode: push all, two hybrids, pull all', () => {
    const parsed = parseThresholdArgs([])
    assert.ok('settings' in parsed)
    assert.equal(parsed.settings.thresholds.length, 5)
    assert.deepEqual(parsed.settings.thresholds[0], { kind: 'push-all' })
    assert.deepEqual(parsed.settings.thresholds.at(-1), { kind: 'pull-all' })
    assert.equal(parsed.settings.mix, 'tiers')
  })

  it('names every bad flag', () => {
    const parsed = parseThresholdArgs(['--posts', '0', '--mix', 'busy', '--thresholds', '0'])
    assert.ok('errors' in parsed)
    assert.equal(parsed.errors.length, 3)
    assert.match(parsed.errors.join('\n'), /--posts.*--thresholds.*--mix/s)
  })

  it('refuses an unknown flag instead of ignoring it', () => {
    const parsed = parseThresholdArgs(['--treshold', '5'])
    assert.ok('errors' in parsed)
  })
})
