// Skewed key popularity: a seeded Zipf sampler over N items. Real traffic is never uniform — a few
// codes, users or authors take most of it (pm10 hot key, pm18 celebrity) — and uniform keys hide
// exactly the failures Faultline reproduces.
//
//   const keys = zipf({ n: 10000, s: 1.1 })     // env KEYS, ZIPF_S, SEED override
//   export default () => http.get(`${base}/${keyName(keys.next())}`)
//
// Rank 1 is the most popular item: P(rank k) ∝ 1 / k^s. s = 0 is uniform; s ≈ 1 is classic Zipf;
// larger s concentrates more traffic on the head.
//
// Sampling is rejection-inversion (W. Hörmann and G. Derflinger, "Rejection-inversion to generate
// variates from monotone discrete distributions", ACM TOMACS 6(3), 1996): O(1) memory and expected
// O(1) time per sample for any N, so every VU can hold its own sampler without a per-VU table of N
// probabilities.

import { envNumber } from './env.js'

/**
 * mulberry32: a small, fast, seedable 32-bit PRNG (k6's Math.random cannot be seeded). Returns a
 * function yielding floats in [0, 1).
 */
export function seededRandom(seed) {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// log1p(x) / x, accurate near 0.
function helper1(x) {
  return Math.abs(x) > 1e-8 ? Math.log1p(x) / x : 1 - x * (0.5 - x * (1 / 3 - 0.25 * x))
}

// expm1(x) / x, accurate near 0.
function helper2(x) {
  return Math.abs(x) > 1e-8 ? Math.expm1(x) / x : 1 + x * 0.5 * (1 + (x / 3) * (1 + 0.25 * x))
}

/**
 * A Zipf sampler over ranks 1..n with exponent s ≥ 0.
 * Options: n (env KEYS, default 10000), s (env ZIPF_S, default 1.0), seed (env SEED, default 42;
 * each VU adds its id so VUs draw different but reproducible streams), random (a [0,1) source,
 * overriding seed).
 * Returns { n, s, next() → rank in 1..n, nextIndex() → 0-based index }.
 */
export function zipf(options = {}) {
  const n = options.n ?? envNumber('KEYS', 10000)
  const s = options.s ?? envNumber('ZIPF_S', 1.0)
  if (!Number.isInteger(n) || n < 1) throw new Error(`zipf: n must be a positive integer, got ${n}`)
  if (!(s >= 0)) throw new Error(`zipf: s must be ≥ 0, got ${s}`)
  const vu = typeof __VU === 'number' ? __VU : 0
  const random = options.random ?? seededRandom((options.seed ?? envNumber('SEED', 42)) + vu * 0x9e3779b1)

  // H(x) = ∫ h, with h(x) = x^-s; H and its inverse written to stay exact as s → 1.
  const h = (x) => Math.exp(-s * Math.log(x))
  const hIntegral = (x) => {
    const logX = Math.log(x)
    return helper2((1 - s) * logX) * logX
  }
  const hIntegralInverse = (x) => {
    let t = x * (1 - s)
    if (t < -1) t = -1 // rounding guard: the true value is never below -1
    return Math.exp(helper1(t) * x)
  }

  const hIntegralX1 = hIntegral(1.5) - 1
  const hIntegralN = hIntegral(n + 0.5)
  const squeeze = 2 - hIntegralInverse(hIntegral(2.5) - h(2))

  function next() {
    for (;;) {
      const u = hIntegralN + random() * (hIntegralX1 - hIntegralN)
      const x = hIntegralInverse(u)
      let k = Math.floor(x + 0.5)
      if (k < 1) k = 1
      else if (k > n) k = n
      if (k - x <= squeeze || u >= hIntegral(k + 0.5) - h(k)) return k
    }
  }

  return { n, s, next, nextIndex: () => next() - 1 }
}

/**
 * Maps a rank to a key name. By default rank 1 → `key-1`; with `scatter: true` ranks are spread
 * over 0..n-1 by a fixed permutation, so the hot keys are not neighbours (they hash to different
 * slots and do not sit together in an index).
 */
export function keyName(rank, options = {}) {
  const prefix = options.prefix ?? 'key-'
  if (!options.scatter) return `${prefix}${rank}`
  const n = options.n ?? envNumber('KEYS', 10000)
  if (n > 94906265) throw new Error('keyName: scatter supports n ≤ 94906265 (exact integer products)')
  // 2654435761 (Knuth's multiplicative constant) is prime, so unless it divides n it is coprime
  // with n, and multiplying by it modulo n permutes 0..n-1. With both factors below n ≤ 2^26.5 the
  // product stays an exact double.
  const multiplier = n % 2654435761 === 0 ? 1 : 2654435761 % n
  return `${prefix}${((rank - 1) * multiplier) % n}`
}
