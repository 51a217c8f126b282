// Helpers of the router's infra tests: a recipient, an entry point as its own process, polling.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import type { Recipient } from '../src/types.ts'
import type { NotificationsHarness } from './harness.ts'

export const quiet = { info() {}, warn() {}, error() {} }

/** A recipient with every contact point, in UTC, without quiet hours or opt-outs. */
export function recipient(id: string, o: Partial<Recipient> = {}): Omit<Recipient, 'updatedAt'> {
  return {
    id,
    email: `${id}@example.com`,
    phone: '+33612345678',
    pushToken: `push-${id}`,
    webhookUrl: 'https://hooks.example.com/in',
    timezone: 'UTC',
    quietHours: null,
    optOuts: {},
    ...o,
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()))
    })
  })
}

/** An entry point as its own process (as the lab starts it); SIGKILLed at cleanup if it still runs. */
export async function spawnProcess(h: NotificationsHarness, entry: string, env: Record<string, string> = {}) {
  const port = await freePort()
  const logs: string[] = []
  const child = spawn(process.execPath, [fileURLToPath(new URL(entry, import.meta.url))], {
    env: { ...h.env, ...env, PATH: process.env.PATH ?? '', PORT: String(port), INSTANCE_ID: `p-${port}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout?.on('data', (b: Buffer) => logs.push(String(b)))
  child.stderr?.on('data', (b: Buffer) => logs.push(String(b)))
  const exited = once(child, 'exit')
  h.infra.defer(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  const why = () => logs.join('').slice(-3000)
  return { child, exited, base: `http://127.0.0.1:${port}`, why }
}

export async function get(url: string): Promise<{ status: number; text: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) })
    return { status: res.status, text: await res.text() }
  } catch (err) {
    return { status: 0, text: String(err) }
  }
}

export async function eventually(
  what: string,
  check: () => Promise<boolean>,
  why: () => string,
): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return
    await sleep(50)
  }
  assert.fail(`${what} never happened\n${why()}`)
}
