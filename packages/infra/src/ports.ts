import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { createServer } from 'node:net'
import { describeProcess } from './process.ts'

const tcpListenState = '0A'

/**
 * Pids listening on a TCP port (any local address), read from /proc so no `ss`/`lsof` is needed.
 * `listening` is true even when the owner is invisible to us (another user's process when not root).
 */
export function portListeners(port: number): { listening: boolean; pids: number[] } {
  const inodes = new Set<string>()
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try {
      text = readFileSync(table, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      const local = fields[1]
      if (local === undefined || fields[3] !== tcpListenState) continue
      if (Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port) inodes.add(fields[9] ?? '')
    }
  }
  if (inodes.size === 0) return { listening: false, pids: [] }
  const wanted = new Set([...inodes].map((inode) => `socket:[${inode}]`))
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${entry}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      try {
        if (wanted.has(readlinkSync(`/proc/${entry}/fd/${fd}`))) {
          pids.push(Number(entry))
          break
        }
      } catch {}
    }
  }
  return { listening: true, pids }
}

export class PortInUseError extends Error {
  override name = 'PortInUseError'
  readonly port: number
  constructor(component: string, port: number, owner: string) {
    super(
      `${component}: port ${port} is already in use by ${owner}, which is not this project's ${component}. ` +
        'Stop it (or free the port) and run `infra up` again; the port table is in packages/infra/src/topology.ts.',
    )
    this.port = port
  }
}

/** Throw a `PortInUseError` naming the owner when any port is listened on by a process not in `ours`. */
export function assertPortsFree(component: string, ports: number[], ours: number[] = []): void {
  for (const port of ports) {
    const { listening, pids } = portListeners(port)
    if (!listening) continue
    const foreign = pids.filter((pid) => !ours.includes(pid))
    if (pids.length > 0 && foreign.length === 0) continue
    const owner = foreign.map((pid) => `pid ${pid} (${shortCommand(pid)})`).join(', ')
    throw new PortInUseError(component, port, owner || 'a process we cannot see (another user?)')
  }
}

/** First line of a command line, at most 100 characters: enough to recognise it in a message. */
export function shortCommand(pid: number): string {
  const cmdline = describeProcess(pid).cmdline.split('\n')[0] ?? ''
  return (cmdline.length > 100 ? `${cmdline.slice(0, 97)}…` : cmdline) || '?'
}

/**
 * A loopback port the kernel reports free, for a process started next (a bench's worker, a lab
 * fleet's instance): a fixed default port would clash with a second copy or a hand-started one.
 */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port')),
      )
    })
  })
}
