import { decodeBase62, encodeBase62 } from './base62.ts'
import type { Scrambler } from './scramble.ts'

export { BlockAllocator, type BlockAllocatorOptions, type LeaseBlock } from './allocator.ts'
export { alphabet, decodeBase62, encodeBase62 } from './base62.ts'
export { createScrambler, type Scrambler } from './scramble.ts'

/** 62^7 ≈ 3.5·10^12 > 2^40: every code of a 40-bit domain fits in 7 characters. */
export const codeLength = 7

export interface CodeCodec {
  encode(id: number): string
  decode(code: string): number
}

/** id → scramble → base62, padded to {@link codeLength}. */
export function createCodeCodec(scrambler: Scrambler): CodeCodec {
  const width = Math.ceil(scrambler.bits / Math.log2(62))
  return {
    encode: (id) => encodeBase62(scrambler.scramble(id), width),
    decode: (code) => scrambler.unscramble(decodeBase62(code)),
  }
}
