import { fileURLToPath } from 'node:url'
import { type RunResult, run } from '../src/process.ts'
import { ports } from '../src/topology.ts'

const cliPath = fileURLToPath(new URL('../src/cli.ts', import.meta.url))

/** Run the infra CLI exactly as a user would (`node src/cli.ts …`). */
export function cli(...args: string[]): Promise<RunResult> {
  return run(process.execPath, [cliPath, ...args])
}

/** Start (or confirm) components through the CLI; fail with its stderr when it cannot. */
export async function ensureUp(...components: string[]): Promise<void> {
  const result = await cli('up', ...components)
  if (result.code !== 0) throw new Error(`infra up ${components.join(' ')} failed:\n${result.stderr}`)
}

/** A cold `up` builds Go binaries and runs initdb; a warm one takes a second. */
export const upTimeoutMs = 15 * 60_000

/** Plain `fetch` against Toxiproxy's HTTP API (the typed client lives in another package). */
export async function toxiproxyApi(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`http://127.0.0.1:${ports.toxiproxyApi}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  })
}
