import { createHash } from 'node:crypto'

/**
 * A keyed bijection on [0, 2^bits) — a balanced Feistel network — so consecutive ids map to
 * codes that look random and do not reveal how many links exist or which one comes next, while
 * staying collision-free by construction: a permutation cannot map two ids to one code, so no
 * uniqueness check or retry is needed on the create path.
 *
 * Not cryptography: with enough (id, code) pairs the key can be recovered. It stops casual
 * enumeration (`/abc123`, `/abc124` …), which is what an unguessable-looking code is for; a link
 * that must stay private needs an access check, not an obscure code.
 */
export interface Scrambler {
  readonly bits: number
  /** Largest id + 1 the scrambler accepts. */
  readonly size: number
  scramble(id: number): number
  unscramble(code: number): number
}

const defaultRounds = 6

/**
 * Round keys come from sha256(secret): changing the secret changes every future code, so it is
 * fixed per deployment (`CODE_SECRET`). Changing it later is safe for existing links (their codes
 * are stored) but may then collide with stored codes: the create path retries on a unique
 * violation, so a rotated secret costs retries, never a wrong redirect.
 */
export function createScrambler(secret: string, bits = 40, rounds = defaultRounds): Scrambler {
  if (!Number.isInteger(bits) || bits < 4 || bits > 52 || bits % 2 !== 0) {
    throw new RangeError('bits must be an even integer in [4, 52]')
  }
  const halfBits = bits / 2
  const halfSize = 2 ** halfBits
  const mask = halfSize - 1
  const digest = createHash('sha256').update(`faultline-shortener-scramble:${secret}`).digest()
  const keys: number[] = []
  for (let i = 0; i < rounds; i++) keys.push(digest.readUInt32BE((i * 4) % 32) ^ (i * 0x9e3779b9))
  const size = 2 ** bits

  // The round function only has to be a deterministic mix of (half, key); it need not be
  // invertible (the Feistel structure provides invertibility).
  const round = (half: number, key: number): number => {
    let x = (half ^ key) >>> 0
    x = Math.imul(x ^ (x >>> 16), 0x7feb352d)
    x = Math.imul(x ^ (x >>> 15), 0x846ca68b)
    x ^= x >>> 16
    return (x >>> 0) & mask
  }

  const split = (value: number): [number, number] => [Math.floor(value / halfSize), value % halfSize]
  const check = (value: number) => {
    if (!Number.isSafeInteger(value) || value < 0 || value >= size) {
      throw new RangeError(`${value} is outside the scramble domain [0, 2^${bits})`)
    }
  }

  return {
    bits,
    size,
    scramble(id) {
      check(id)
      let [left, right] = split(id)
      for (const key of keys) {
        const next = (left ^ round(right, key)) >>> 0
        left = right
        right = next
      }
      return left * halfSize + right
    },
    unscramble(code) {
      check(code)
      let [left, right] = split(code)
      for (let i = keys.length - 1; i >= 0; i--) {
        const previous = (right ^ round(left, keys[i] as number)) >>> 0
        right = left
        left = previous
      }
      return left * halfSize + right
    },
  }
}
