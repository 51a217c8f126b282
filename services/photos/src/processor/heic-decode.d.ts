/** heic-decode ships no types; the part of its API the processor uses (heic.ts). */
declare module 'heic-decode' {
  interface DecodedImage {
    width: number
    height: number
    data: Uint8ClampedArray
  }
  /** One top-level image of the file, its size read from the container, its pixels on demand. */
  interface HeifImage {
    width: number
    height: number
    decode(): Promise<DecodedImage>
  }
  interface Decode {
    /** The first top-level image, decoded. */
    (input: { buffer: Uint8Array }): Promise<DecodedImage>
    /** Every top-level image, undecoded; `dispose()` frees libheif's copies when done. */
    all(input: { buffer: Uint8Array }): Promise<HeifImage[] & { dispose(): void }>
  }
  const decode: Decode
  export default decode
}
