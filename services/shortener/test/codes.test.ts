import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  BlockAllocator,
  codeLength,
  createCodeCodec,
  createScrambler,
  decodeBase62,
  encodeBase62,
} from '../src/codes/index.ts'

test('base62 round-trips and pads to a fixed width', () => {
  assert.equal(encodeBase62(0), '0')
  assert.equal(encodeBase62(61), 'z')
  assert.equal(encodeBase62(62), '10')
  assert.equal(encodeBase62(5, 7), '0000005')
  for (const value of [0, 1, 61, 62, 3843, 3844, 2 ** 40 - 1, Number.MAX_SAFE_INTEGER]) {
    assert.equal(decodeBase62(encodeBase62(value)), value)
    assert.equal(decodeBase62(encodeBase62(value, 12)), value)
  }
  assert.throws(() => encodeBase62(-1), RangeError)
  assert.throws(() => encodeBase62(1.5), RangeError)
  assert.throws(() => decodeBase62('ab+c'), RangeError)
  assert.throws(() => decodeBase62(''), RangeError)
})

test('base62 keeps numeric order for equal-width strings (sanity of the alphabet)', () => {
  const encoded = [0, 9, 10, 35, 36, 61].map((v) => encodeBase62(v))
  assert.deepEqual(encoded, ['0', '9', 'A', 'Z', 'a', 'z'])
})

test('the scramble is a bijection: a full small domain maps onto itself', () => {
  for (const bits of [8, 12, 16]) {
    const s = createScrambler('secret', bits)
    const seen = new Set<number>()
    for (let id = 0; id < s.size; id++) {
      const code = s.scramble(id)
      assert.ok(code >= 0 && code < s.size)
      seen.add(code)
      assert.equal(s.unscramble(code), id)
    }
    assert.equal(seen.size, s.size, `${bits}-bit domain is a permutation`)
  }
})

test('the 40-bit scramble round-trips and is injective on a large range', () => {
  const s = createScrambler('faultline-dev-secret', 40)
  const seen = new Set<number>()
  const ranges = [
    [0, 200_000],
    [2 ** 40 - 50_000, 2 ** 40],
  ]
  for (const [from, to] of ranges) {
    for (let id = from as number; id < (to as number); id++) {
      const code = s.scramble(id)
      assert.ok(code >= 0 && code < 2 ** 40)
      assert.equal(s.unscramble(code), id)
      seen.add(code)
    }
  }
  assert.equal(seen.size, 250_000)
  assert.throws(() => s.scramble(2 ** 40), RangeError)
  assert.throws(() => s.scramble(-1), RangeError)
})

test('consecutive ids do not give consecutive or similar codes; the key changes everything', () => {
  const codec = createCodeCodec(createScrambler('k1', 40))
  const other = createCodeCodec(createScrambler('k2', 40))
  const codes = Array.from({ length: 1000 }, (_, i) => codec.encode(i + 1))
  // Fixed length: every generated code has 7 characters.
  assert.ok(codes.every((c) => c.length === codeLength))
  // Neighbouring ids share few leading characters (a counter would share 5-6 of 7).
  const sharedPrefix = (a: string, b: string) => {
    let n = 0
    while (n < a.length && a[n] === b[n]) n++
    return n
  }
  const avgShared = codes.slice(1).reduce((sum, c, i) => sum + sharedPrefix(c, codes[i] as string), 0) / 999
  assert.ok(avgShared < 1, `average shared prefix ${avgShared}`)
  const differing = codes.filter((c, i) => c !== other.encode(i + 1)).length
  assert.equal(differing, 1000)
  for (let i = 0; i < 1000; i++) assert.equal(codec.decode(codes[i] as string), i + 1)
})

test('scramble rejects a bad domain size', () => {
  assert.throws(() => createScrambler('s', 41), RangeError)
  assert.throws(() => createScrambler('s', 54), RangeError)
})

/** A lease function over an in-process counter (the Postgres one is tested in the infra tests). */
function counterLease() {
  let next = 1
  let calls = 0
  return {
    lease: async (size: number) => {
      calls++
      await new Promise((r) => setImmediate(r))
      const start = next
      next += size
      return start
    },
    calls: () => calls,
  }
}

test('the allocator hands out unique ids, one lease per block, prefetching ahead', async () => {
  const source = counterLease()
  const leased: number[] = []
  const allocator = new BlockAllocator({
    lease: source.lease,
    blockSize: 100,
    onLease: (b) => leased.push(b.start),
  })
  const ids: number[] = []
  for (let i = 0; i < 1000; i++) ids.push(await allocator.next())
  assert.equal(new Set(ids).size, 1000)
  assert.deepEqual(ids.slice(0, 3), [1, 2, 3])
  // 10 blocks used; the 11th was prefetched once the 10th ran low.
  assert.ok(source.calls() >= 10 && source.calls() <= 11, `${source.calls()} leases`)
})

test('concurrent callers on several allocators sharing one source never get the same id', async () => {
  const source = counterLease()
  const allocators = Array.from(
    { length: 4 },
    () => new BlockAllocator({ lease: source.lease, blockSize: 37 }),
  )
  const ids = await Promise.all(
    Array.from({ length: 8000 }, (_, i) => (allocators[i % 4] as BlockAllocator).next()),
  )
  assert.equal(new Set(ids).size, ids.length)
})

test('a failed lease fails the callers waiting for it, and the next call tries again', async () => {
  let fail = true
  let next = 1
  const allocator = new BlockAllocator({
    blockSize: 10,
    lease: async (size) => {
      if (fail) throw new Error('postgres down')
      const start = next
      next += size
      return start
    },
  })
  await assert.rejects(Promise.all([allocator.next(), allocator.next()]), /postgres down/)
  fail = false
  assert.equal(await allocator.next(), 1)
})
