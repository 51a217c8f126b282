/**
 * A small seeded pseudo-random generator (mulberry32), so a seed with the same `randomSeed` builds
 * the same graph: tests assert on exact shapes, and a benchmark can be re-run on the same graph.
 */
export type Random = () => number

export function seededRandom(seed: number): Random {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** An integer in [0, n). */
export function randomInt(random: Random, n: number): number {
  return Math.floor(random() * n)
}

/** Shuffles `values` in place (Fisher–Yates). */
export function shuffle<T extends { length: number; [i: number]: number }>(random: Random, values: T): T {
  for (let i = values.length - 1; i > 0; i--) {
    const j = randomInt(random, i + 1)
    const v = values[i] as number
    values[i] = values[j] as number
    values[j] = v
  }
  return values
}
