import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

export interface WaitOptions {
  timeoutMs: number
  intervalMs?: number
  /** Checked between attempts: a message here (e.g. "the process exited") aborts the wait at once. */
  abortIf?: () => string | undefined
}

/** Poll `check` until it is true; throw after `timeoutMs` naming `what` was awaited. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  options: WaitOptions,
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs
  for (;;) {
    if (await check().catch(() => false)) return
    const abort = options.abortIf?.()
    if (abort !== undefined) throw new Error(`${what}: ${abort}`)
    if (Date.now() > deadline) throw new Error(`${what}: not healthy after ${options.timeoutMs} ms`)
    await sleep(options.intervalMs ?? 200)
  }
}

/** Send raw bytes to 127.0.0.1:port and resolve with the first chunk of the answer ('' on any failure). */
function exchange(port: number, request: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    const done = (answer: string) => {
      socket.destroy()
      resolve(answer)
    }
    socket.setTimeout(timeoutMs, () => done(''))
    socket.on('error', () => done(''))
    socket.on('connect', () => socket.write(request))
    socket.on('data', (chunk) => done(chunk.toString()))
  })
}

/** A Redis that answers PING with PONG (a Redis still loading its AOF answers -LOADING: not healthy). */
export async function redisPing(port: number, timeoutMs = 2000): Promise<boolean> {
  return (await exchange(port, '*1\r\n$4\r\nPING\r\n', timeoutMs)).startsWith('+PONG')
}

/** Any HTTP answer at all (a 403 from an S3 gateway without credentials still proves it serves). */
export async function httpAnswers(url: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    await response.arrayBuffer()
    return true
  } catch {
    return false
  }
}
