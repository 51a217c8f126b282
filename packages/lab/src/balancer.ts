/**
 * A minimal load balancer in front of a service's HTTP instances, for experiments where
 * readiness matters (pm03) or an instance dies (pm04): like a real one it polls each instance's
 * readiness endpoint and routes only to ready instances, round-robin; with none ready it answers
 * 503 itself; a GET refused by a dead instance goes to the next ready one. Without it k6 spreads
 * requests over every instance whatever they report, so withdrawing capacity through readiness
 * would have no effect.
 *
 * It costs CPU on a small machine (every request crosses one more Node process), so it is
 * opt-in: `load: { balancer: true }`.
 */
import { Agent, createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { httpGet } from './metrics-scrape.ts'

export interface BalancerTarget {
  name: string
  url: string
}

export interface BalancerOptions {
  /** Current instances (re-read on every poll, so restarted instances are picked up). */
  targets: () => BalancerTarget[]
  /** Readiness path polled on each instance; 200 = ready. */
  readyPath: string
  /** Poll interval; also the timeout of each poll. Default 500 ms. */
  intervalMs?: number
}

export const noReadyInstanceCode = 'LAB_ERR_NO_READY_INSTANCE'

export class Balancer {
  private readonly options: BalancerOptions
  private readonly ready = new Map<string, boolean>()
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256 })
  private server: Server | undefined
  private poller: NodeJS.Timeout | undefined
  private next = 0
  /** Requests answered 503 because no instance was ready. */
  rejected = 0

  constructor(options: BalancerOptions) {
    this.options = options
  }

  /** Instances considered ready at the last poll. */
  readyTargets(): BalancerTarget[] {
    return this.options.targets().filter((t) => this.ready.get(t.url) === true)
  }

  private async poll(): Promise<void> {
    const interval = this.options.intervalMs ?? 500
    await Promise.all(
      this.options.targets().map(async (t) => {
        const res = await httpGet(t.url + this.options.readyPath, interval)
        this.ready.set(t.url, 'status' in res && res.status === 200)
      }),
    )
  }

  /** Start on a free loopback port after a first readiness poll; returns the base URL. */
  async start(): Promise<string> {
    await this.poll()
    const interval = this.options.intervalMs ?? 500
    const loop = () => {
      this.poller = setTimeout(() => {
        this.poll().finally(() => {
          if (this.server) loop()
        })
      }, interval)
    }
    this.server = createServer((req, res) => {
      // A GET or HEAD refused by a dead instance (it never reached the service) is sent to the
      // next ready one, as nginx's proxy_next_upstream does; anything else fails with 502.
      const retriable = req.method === 'GET' || req.method === 'HEAD'
      const forward = (triesLeft: number) => {
        const ready = this.readyTargets()
        if (ready.length === 0) {
          this.rejected++
          res.writeHead(503, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ error: noReadyInstanceCode }))
          return
        }
        const target = ready[this.next++ % ready.length] as BalancerTarget
        const url = new URL(target.url)
        const upstream = request(
          {
            host: url.hostname,
            port: url.port,
            method: req.method,
            path: req.url,
            headers: req.headers,
            agent: this.agent,
          },
          (up) => {
            res.writeHead(up.statusCode ?? 502, up.headers)
            up.pipe(res)
          },
        )
        upstream.on('error', (err: NodeJS.ErrnoException) => {
          // A refused connection means the instance is gone: stop routing to it until the next poll.
          const refused = err.code === 'ECONNREFUSED'
          if (refused) this.ready.set(target.url, false)
          if (refused && retriable && triesLeft > 0 && !res.headersSent) return forward(triesLeft - 1)
          if (!res.headersSent) {
            res.writeHead(502, { 'content-type': 'application/json' })
            res.end(JSON.stringify({ error: 'LAB_ERR_UPSTREAM', detail: err.code ?? err.message }))
          } else res.destroy()
        })
        req.on('aborted', () => upstream.destroy())
        if (retriable) upstream.end()
        else req.pipe(upstream)
      }
      forward(this.options.targets().length)
    })
    this.server.keepAliveTimeout = 30_000
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve))
    loop()
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  async stop(): Promise<void> {
    const server = this.server
    this.server = undefined
    if (this.poller) clearTimeout(this.poller)
    this.agent.destroy()
    if (!server) return
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
