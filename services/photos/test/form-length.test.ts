/**
 * The file length a form implies (src/uploads/form-length.ts), on bodies serialised by a real
 * client (undici's FormData, as fetch sends it) and laid out by hand, and the body-prefix tap on a
 * real HTTP request.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage } from 'node:http'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import { boundaryOf, predictFirstFileBytes, tapBodyPrefix } from '../src/uploads/form-length.ts'

/** What fetch would send for `form`: its Content-Type and bytes. */
async function serialised(form: FormData): Promise<{ contentType: string; body: Buffer }> {
  const request = new Request('http://localhost/', { method: 'POST', body: form })
  return {
    contentType: request.headers.get('content-type') ?? '',
    body: Buffer.from(await request.arrayBuffer()),
  }
}

function headersOf(contentType: string, body: Buffer) {
  return { 'content-type': contentType, 'content-length': String(body.length) }
}

test("undici's FormData with the file first: the prediction is the file's exact length", async () => {
  for (const size of [0, 1, 1000, 256 * 1024]) {
    const form = new FormData()
    form.append('file', new Blob([randomBytes(size)]), 'photo "2".jpg')
    if (size === 1000) form.append('caption', 'after the file')
    const { contentType, body } = await serialised(form)
    const predicted = predictFirstFileBytes(headersOf(contentType, body), body.subarray(0, 4096))
    // A field after the file: the prediction is an over-estimate the caller repairs.
    if (size === 1000) assert.ok(predicted !== undefined && predicted > size, `${predicted}`)
    else assert.equal(predicted, size)
  }
})

test('no prediction where the body does not say: a field first, no Content-Length, headers not yet seen, not a form', () => {
  const boundary = 'XyZ'
  const file = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`
  const body = Buffer.from(`${file}0123456789\r\n--${boundary}--\r\n`)
  const type = `multipart/form-data; boundary=${boundary}`
  assert.equal(predictFirstFileBytes(headersOf(type, body), body), 10)
  assert.equal(
    predictFirstFileBytes(
      {
        'content-type': `multipart/form-data; boundary="${boundary}"`,
        'content-length': String(body.length),
      },
      body,
    ),
    10,
    'a quoted boundary',
  )
  const fieldFirst = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="caption"\r\n\r\nhi\r\n${file}0123456789\r\n--${boundary}--\r\n`,
  )
  assert.equal(
    predictFirstFileBytes(headersOf(type, fieldFirst), fieldFirst),
    undefined,
    'the first part is a field',
  )
  assert.equal(predictFirstFileBytes({ 'content-type': type }, body), undefined, 'chunked: no Content-Length')
  assert.equal(
    predictFirstFileBytes(headersOf(type, body), body.subarray(0, 30)),
    undefined,
    'the part headers not all seen',
  )
  assert.equal(predictFirstFileBytes(headersOf('application/json', body), body), undefined)
  assert.equal(
    predictFirstFileBytes(headersOf(type, body), Buffer.from(`preamble\r\n${body}`)),
    undefined,
    'a preamble',
  )
  assert.equal(
    predictFirstFileBytes({ 'content-type': type, 'content-length': '20' }, body),
    undefined,
    'a length too short for the form',
  )
})

test('boundaryOf: quoted or bare, case-insensitive, only for multipart/form-data', () => {
  assert.equal(boundaryOf('multipart/form-data; boundary=abc'), 'abc')
  assert.equal(boundaryOf('Multipart/Form-Data; charset=utf-8; BOUNDARY="a b;c"'), 'a b;c')
  assert.equal(boundaryOf('multipart/mixed; boundary=abc'), undefined)
  assert.equal(boundaryOf(undefined), undefined)
})

test('tapBodyPrefix: keeps the first bytes of a body already piped to its parser, and nothing of one not yet flowing', async (t) => {
  const body = randomBytes(300 * 1024)
  const seen: Array<{ prefix: Buffer; parsed: number }> = []
  const server = createServer((request: IncomingMessage, response) => {
    let parsed = 0
    const parser = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        parsed += chunk.length
        callback()
      },
    })
    const early = tapBodyPrefix(request) // before the pipe: must not start the flow
    request.pipe(parser)
    const tap = tapBodyPrefix(request, 100 * 1024)
    parser.on('finish', () => {
      assert.equal(early.stop().length, 0)
      seen.push({ prefix: tap.stop(), parsed })
      response.end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => server.close())
  const { port } = server.address() as { port: number }
  await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body })
  assert.equal(seen[0]?.parsed, body.length, 'the parser got every byte')
  assert.ok(seen[0]?.prefix.equals(body.subarray(0, 100 * 1024)), 'the tap kept the first 100 KiB')
})
