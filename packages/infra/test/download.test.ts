/**
 * The installer's downloads against a real HTTP server on 127.0.0.1 that fails its first
 * requests the way a flaky network does (a 503, a connection cut mid-body), then serves. No
 * infrastructure needed; the backoff base is a few milliseconds so the tests take no time.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { DownloadError, downloadFile, retryDownload } from '../src/download.ts'

const body = 'the toolchain zip\n'.repeat(1000)
const fast = { baseMs: 5, capMs: 20 }

type Failure = (response: ServerResponse) => void
const unavailable: Failure = (response) => response.writeHead(503).end('try later')
const notFound: Failure = (response) => response.writeHead(404).end('no such file')
/** Sends the headers and half the body, then drops the connection. */
const cutMidBody: Failure = (response) => {
  response.writeHead(200, { 'content-length': String(body.length) })
  response.write(body.slice(0, body.length / 2), () => response.socket?.destroy())
}

/** A server whose first `failures.length` requests fail as listed; later ones get `body`. */
async function flakyServer(
  t: test.TestContext,
  failures: Failure[],
): Promise<{ url: string; requests: () => number }> {
  let requests = 0
  const server: Server = createServer((_request: IncomingMessage, response: ServerResponse) => {
    const failure = failures[requests++]
    if (failure === undefined) response.writeHead(200, { 'content-type': 'application/zip' }).end(body)
    else failure(response)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/golang.org/toolchain/@v/v0.0.1.zip`, requests: () => requests }
}

function scratchFile(t: test.TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-download-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return join(dir, 'toolchain.zip')
}

test('a download that fails twice (503, then a connection cut mid-body) is retried and lands whole', async (t) => {
  const server = await flakyServer(t, [unavailable, cutMidBody])
  const file = scratchFile(t)
  const logs: string[] = []
  await downloadFile(server.url, file, { ...fast, log: (line) => logs.push(line) })
  assert.equal(server.requests(), 3)
  assert.equal(readFileSync(file, 'utf8'), body)
  assert.equal(logs.length, 2)
  assert.match(logs[0] ?? '', /attempt 1 of 5 failed \(GET .* HTTP 503\); retrying in/)
  assert.match(logs[1] ?? '', /attempt 2 of 5 failed/)
})

test('a download that keeps failing names its URL, the attempts and the last error', async (t) => {
  const server = await flakyServer(t, [unavailable, unavailable, unavailable, unavailable])
  const error = await downloadFile(server.url, scratchFile(t), { ...fast, attempts: 3 }).then(
    () => assert.fail('the download should have failed'),
    (err: unknown) => err,
  )
  assert.ok(error instanceof DownloadError)
  assert.equal(server.requests(), 3)
  assert.equal(error.what, server.url)
  assert.equal(
    error.message,
    `download of ${server.url} failed after 3 attempts: GET ${server.url}: HTTP 503`,
  )
})

test('a 404 is not retried: the URL is wrong and no retry changes that', async (t) => {
  const server = await flakyServer(t, [notFound])
  await assert.rejects(downloadFile(server.url, scratchFile(t), fast), (err: unknown) => {
    assert.ok(err instanceof DownloadError)
    assert.match(err.message, /failed after 1 attempt \(not retryable\): GET .* HTTP 404$/)
    return true
  })
  assert.equal(server.requests(), 1)
})

test('a refused connection is retried and reported with its cause', async (t) => {
  // A port the kernel just handed out and we closed again: nothing listens, every connect is refused.
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  const url = `http://127.0.0.1:${port}/golang.org/toolchain/@v/v0.0.1.zip`
  await assert.rejects(downloadFile(url, scratchFile(t), { ...fast, attempts: 2 }), (err: unknown) => {
    assert.ok(err instanceof DownloadError)
    assert.match(err.message, /failed after 2 attempts: fetch failed \(.*ECONNREFUSED/)
    assert.ok(err.message.startsWith(`download of ${url} `))
    return true
  })
})

test('retryDownload retries a command-style download until it succeeds', async () => {
  let calls = 0
  const value = await retryDownload(
    'Go module example.com/tool@v1.0.0',
    async ({ attempt }) => {
      calls++
      if (attempt < 3) throw new Error(`go install exited with 1:\ndial tcp: i/o timeout`)
      return 'built'
    },
    fast,
  )
  assert.equal(value, 'built')
  assert.equal(calls, 3)
})
