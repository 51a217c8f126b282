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

/**
 * One Redis command on 127.0.0.1:port, for admin checks that need more than PING (CLUSTER INFO,
 * CLUSTER NODES): its bulk-string reply as text, or undefined on an error reply, a refused or
 * closed connection, or no complete answer within `timeoutMs`.
 */
export function redisBulkReply(port: number, args: string[], timeoutMs = 2000): Promise<string | undefined> {
  const request = `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    let received = Buffer.alloc(0)
    const timer = setTimeout(() => done(undefined), timeoutMs)
    const done = (reply: string | undefined) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(reply)
    }
    socket.on('error', () => done(undefined))
    socket.on('close', () => done(undefined))
    socket.on('connect', () => socket.write(request))
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk])
      const headerEnd = received.indexOf('\r\n')
      if (headerEnd === -1) return
      // `$<length>` starts a bulk string; anything else (`-ERR …`) is not the answer asked for.
      if (received[0] !== 0x24) return done(undefined)
      const length = Number(received.subarray(1, headerEnd).toString())
      const end = headerEnd + 2 + length
      if (!(length >= 0)) done(undefined)
      else if (received.length >= end) done(received.subarray(headerEnd + 2, end).toString())
    })
  })
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
