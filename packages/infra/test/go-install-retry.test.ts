/**
 * `go install` has no retry of its own, so goInstall() retries it (download.ts). This test runs
 * the real `go` against a Go module proxy on 127.0.0.1 (GOPROXY) that answers 503 to its first
 * requests, as proxy.golang.org did in the CI run that failed: the install succeeds on a later
 * attempt, and when the proxy never recovers the error names the module. The module is a
 * one-file `main` package built here, with a private module cache so nothing comes from elsewhere.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { crc32 } from 'node:zlib'
import { DownloadError } from '../src/download.ts'
import { type GoBinary, goInstall } from '../src/go.ts'
import { defaultContext } from '../src/paths.ts'
import { run } from '../src/process.ts'

const modulePath = 'faultline.test/hello'
const version = 'v1.0.0'
const goMod = `module ${modulePath}\n\ngo 1.22\n`
const mainGo = 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello from the flaky proxy") }\n'

/** A module zip as the proxy protocol wants it: every file under `<module>@<version>/`, stored. */
function moduleZip(): Buffer {
  const prefix = `${modulePath}@${version}/`
  return storedZip([
    { name: `${prefix}go.mod`, data: Buffer.from(goMod) },
    { name: `${prefix}main.go`, data: Buffer.from(mainGo) },
  ])
}

/** The smallest valid zip: no compression, no timestamps; enough for `go` to unpack. */
function storedZip(files: { name: string; data: Buffer }[]): Buffer {
  const locals: Buffer[] = []
  const centrals: Buffer[] = []
  let offset = 0
  for (const { name, data } of files) {
    const nameBytes = Buffer.from(name)
    const crc = crc32(data)
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(20, 4) // version needed
    local.writeUInt32LE(crc, 14)
    local.writeUInt32LE(data.length, 18)
    local.writeUInt32LE(data.length, 22)
    local.writeUInt16LE(nameBytes.length, 26)
    const central = Buffer.alloc(46)
    central.writeUInt32LE(0x02014b50, 0)
    central.writeUInt16LE(20, 4) // version made by
    central.writeUInt16LE(20, 6) // version needed
    central.writeUInt32LE(crc, 16)
    central.writeUInt32LE(data.length, 20)
    central.writeUInt32LE(data.length, 24)
    central.writeUInt16LE(nameBytes.length, 28)
    central.writeUInt32LE(offset, 42)
    locals.push(local, nameBytes, data)
    centrals.push(central, nameBytes)
    offset += local.length + nameBytes.length + data.length
  }
  const centralSize = centrals.reduce((sum, b) => sum + b.length, 0)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(files.length, 8)
  end.writeUInt16LE(files.length, 10)
  end.writeUInt32LE(centralSize, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...locals, ...centrals, end])
}

/**
 * A GOPROXY that answers 503 to everything while `down()` says so, and to the first
 * `failZipRequests` downloads of the module zip (go fetches the zip once per attempt, after the
 * .info and .mod it keeps in its module cache, so that is exactly that many failed attempts).
 */
async function flakyGoProxy(
  t: test.TestContext,
  { failZipRequests = 0, down = false }: { failZipRequests?: number; down?: boolean },
): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = []
  const zip = moduleZip()
  const files: Record<string, { type: string; body: Buffer | string }> = {
    [`/${modulePath}/@v/${version}.info`]: {
      type: 'application/json',
      body: JSON.stringify({ Version: version, Time: '2026-01-01T00:00:00Z' }),
    },
    [`/${modulePath}/@v/list`]: { type: 'text/plain', body: `${version}\n` },
    [`/${modulePath}/@v/${version}.mod`]: { type: 'text/plain', body: goMod },
    [`/${modulePath}/@v/${version}.zip`]: { type: 'application/zip', body: zip },
  }
  let zipRequests = 0
  const server: Server = createServer((request, response) => {
    requests.push(request.url ?? '')
    const file = files[request.url ?? '']
    if (request.url?.endsWith('.zip')) zipRequests++
    const failing = down || (request.url?.endsWith('.zip') && zipRequests <= failZipRequests)
    if (failing) response.writeHead(503).end('proxy unavailable')
    else if (file === undefined) response.writeHead(404).end('not found')
    else response.writeHead(200, { 'content-type': file.type }).end(file.body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests }
}

/** Points `go` at the proxy with an empty module cache; restores the environment afterwards. */
function isolateGo(t: test.TestContext, proxyUrl: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-go-retry-'))
  const settings: Record<string, string> = {
    GOPROXY: proxyUrl,
    GOSUMDB: 'off',
    GOMODCACHE: join(dir, 'modcache'),
    GOFLAGS: '-modcacherw',
  }
  const saved = Object.fromEntries(Object.keys(settings).map((name) => [name, process.env[name]]))
  Object.assign(process.env, settings)
  t.after(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
    rmSync(dir, { recursive: true, force: true })
  })
  return dir
}

const hello: GoBinary = {
  module: modulePath,
  pkg: modulePath,
  version,
  builtName: 'hello',
  target: 'faultline-test-hello',
}

test(
  'go install through a proxy that fails the module zip twice is retried and builds',
  { timeout: 180_000 },
  async (t) => {
    const proxy = await flakyGoProxy(t, { failZipRequests: 2 })
    const dir = isolateGo(t, proxy.url)
    const logs: string[] = []
    const ctx = defaultContext({ cacheDir: dir, log: (line) => logs.push(line) })
    const binary = await goInstall(ctx, 'test', hello)
    const result = await run(binary, [])
    assert.equal(result.stdout, 'hello from the flaky proxy\n')
    const retried = logs.filter((line) => line.includes('failed (go install exited with 1'))
    assert.equal(retried.length, 2, logs.join('\n'))
    assert.equal(proxy.requests.filter((url) => url.endsWith('.zip')).length, 3)
    assert.match(retried[0] ?? '', new RegExp(`^Go module ${modulePath}@${version}: attempt 1 of 5 failed`))
  },
)

test('go install through a proxy that never recovers names the module', { timeout: 180_000 }, async (t) => {
  const proxy = await flakyGoProxy(t, { down: true })
  const dir = isolateGo(t, proxy.url)
  const ctx = defaultContext({ cacheDir: dir, log: () => {} })
  await assert.rejects(goInstall(ctx, 'test', hello), (err: unknown) => {
    assert.ok(err instanceof DownloadError)
    assert.equal(err.what, `Go module ${modulePath}@${version}`)
    assert.match(
      err.message,
      new RegExp(`^download of Go module ${modulePath}@${version} failed after 5 attempts: `),
    )
    assert.match(err.message, /503 Service Unavailable/)
    return true
  })
  // One or more requests per attempt (go may ask for the version list and the .info in parallel).
  assert.ok(proxy.requests.length >= 5, proxy.requests.join('\n'))
})
