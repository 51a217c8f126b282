/**
 * Base62 over `0-9A-Za-z`, for non-negative safe integers. Codes are left-padded to a fixed
 * width so every generated code has the same length (7 characters cover 62^7 ≈ 3.5·10^12 ids,
 * more than the 2^40 scramble domain).
 */
export const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

const values = new Map<string, number>([...alphabet].map((char, index) => [char, index]))

export function encodeBase62(value: number, width = 0): string {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`cannot encode ${value} in base62`)
  let out = ''
  let rest = value
  do {
    out = alphabet[rest % 62] + out
    rest = Math.floor(rest / 62)
  } while (rest > 0)
  return out.padStart(width, '0')
}

export function decodeBase62(text: string): number {
  if (text.length === 0) throw new RangeError('cannot decode an empty base62 string')
  let value = 0
  for (const char of text) {
    const digit = values.get(char)
    if (digit === undefined) throw new RangeError(`"${char}" is not a base62 digit`)
    value = value * 62 + digit
    if (!Number.isSafeInteger(value)) throw new RangeError(`base62 "${text}" is too large`)
  }
  return value
}
