/**
 * A machine without Go still builds k6, Toxiproxy and versitygw: ensureGo() fetches a toolchain
 * from the Go module proxy. The test hides every `go` on PATH, so it takes that route for real
 * (the toolchain is cached under the shared cache dir: a download only on a machine's first run).
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { arch } from 'node:os'
import { delimiter, join } from 'node:path'
import { test } from 'node:test'
import { ensureGo, fallbackGoVersion } from '../src/go.ts'
import { defaultContext } from '../src/paths.ts'
import { run } from '../src/process.ts'

test(
  'with no Go on PATH, ensureGo fetches a toolchain from the module proxy, and it runs',
  { timeout: 20 * 60_000 },
  async () => {
    const path = process.env.PATH ?? ''
    const withoutGo = path
      .split(delimiter)
      .filter((dir) => !existsSync(join(dir, 'go')))
      .join(delimiter)
    assert.notEqual((await run('sh', ['-c', 'command -v go'], { env: { PATH: withoutGo } })).code, 0)
    const logs: string[] = []
    const ctx = defaultContext({ log: (line: string) => logs.push(line) })
    process.env.PATH = withoutGo
    try {
      await ensureGo(ctx)
    } finally {
      process.env.PATH = path
    }
    const goroot = join(
      ctx.cacheDir,
      'go',
      'golang.org',
      `toolchain@v0.0.1-go${fallbackGoVersion}.linux-${arch() === 'arm64' ? 'arm64' : 'amd64'}`,
    )
    const result = await run(join(goroot, 'bin', 'go'), ['version'], {
      env: { PATH: withoutGo, HOME: process.env.HOME },
    })
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, new RegExp(`go${fallbackGoVersion.replaceAll('.', '\\.')} linux/`))
  },
)
