/**
 * Typed constructors for fault actions. Each returns an `Action`; put it on the timeline with
 * `{ at, until?, action }`. Actions with something to undo return a heal, which the timeline runs
 * at `until` — or, without `until`, when the load ends. Healing always happens.
 */
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import * as toxics from '@faultline/toxiproxy'
import type { Redis } from 'ioredis'
import type { PoolClient } from 'pg'
import { repoRoot } from '../paths.ts'
import { mitigationEnvName, type ServiceInstance } from '../services.ts'
import type { Action, ActionResult, FaultContext, Heal } from './action.ts'
import { labToxicPrefix, type ToxicSpec } from './toxiproxy.ts'

export type { Action, ActionResult, FaultContext, Heal, HealReason } from './action.ts'
export type { ToxicSpec, ToxicType } from './toxiproxy.ts'

/** A Toxiproxy proxy (see `proxies` in @faultline/infra's topology). */
export type ProxyName = 'postgres' | 'postgres-replica' | 'redis-cache' | 'redis-queue' | 'kafka' | 's3'

/** What a process-level action hits: instances of a service the lab started, or an infra component. */
export type Target =
  | { kind: 'service'; service: string; index: number | 'all' }
  | { kind: 'infra'; component: string }

/** Instance `index` of a service (`'all'` for every instance). */
export function service(name: string, index: number | 'all' = 0): Target {
  return { kind: 'service', service: name, index }
}

/** An infra component by name: `postgres`, `redis-cache`, `kafka`, `toxiproxy` … */
export function infra(component: string): Target {
  return { kind: 'infra', component }
}

function describeTarget(target: Target): string {
  if (target.kind === 'infra') return target.component
  return target.index === 'all' ? `${target.service} (all instances)` : `${target.service}-${target.index}`
}

function instancesOf(ctx: FaultContext, target: Extract<Target, { kind: 'service' }>): ServiceInstance[] {
  if (target.index === 'all') return ctx.services.instances.filter((i) => i.service === target.service)
  return [ctx.services.instance(target.service, target.index)]
}

/** A custom action: `run` does the work and may return a heal. */
export function action(
  describe: string,
  // biome-ignore lint/suspicious/noConfusingVoidType: an async body that returns nothing is a valid action.
  run: (ctx: FaultContext) => Promise<ActionResult | Heal | undefined | void>,
): Action {
  return {
    kind: 'custom',
    describe,
    async run(ctx) {
      const result = await run(ctx)
      if (typeof result === 'function') return { heal: result }
      return result ?? undefined
    },
  }
}

let toxicCounter = 0

// ── Toxiproxy ──────────────────────────────────────────────────────────────────────────────

/** Any Toxiproxy toxic on a proxy; healed by removing it. */
export function toxic(proxy: ProxyName, spec: ToxicSpec, describe?: string): Action {
  return {
    kind: 'toxic',
    describe: describe ?? `${spec.type} ${JSON.stringify(spec.attributes)} on ${proxy}`,
    async run(ctx) {
      const name = `${labToxicPrefix}${spec.type}-${process.pid}-${++toxicCounter}`
      await ctx.toxiproxy.addToxic(proxy, { ...spec, name })
      return {
        heal: async () => {
          await ctx.toxiproxy.removeToxic(proxy, name)
          return undefined
        },
      }
    },
  }
}

export interface ToxicOptions {
  stream?: 'downstream' | 'upstream'
  /** Fraction of connections affected (0–1). Default 1. */
  toxicity?: number
}

/** Add `ms` (± `jitterMs`) to every chunk of data through the proxy. */
export function latency(
  proxy: ProxyName,
  ms: number,
  options: ToxicOptions & { jitterMs?: number } = {},
): Action {
  const { jitterMs = 0, ...rest } = options
  return toxic(
    proxy,
    toxics.latency({ latencyMs: ms, jitterMs, ...rest }),
    `latency ${ms}${jitterMs ? ` ± ${jitterMs}` : ''} ms on ${proxy}`,
  )
}

/** Stop all data and close the connection after `ms`; `0` (default) hangs it forever. */
export function timeout(proxy: ProxyName, ms = 0, options: ToxicOptions = {}): Action {
  return toxic(
    proxy,
    toxics.timeout({ timeoutMs: ms, ...options }),
    ms === 0 ? `hang ${proxy} (timeout 0)` : `timeout ${ms} ms on ${proxy}`,
  )
}

/** Reset connections (TCP RST) after `afterMs`. */
export function resetPeer(proxy: ProxyName, afterMs = 0, options: ToxicOptions = {}): Action {
  return toxic(
    proxy,
    toxics.resetPeer({ timeoutMs: afterMs, ...options }),
    `reset_peer${options.toxicity !== undefined ? ` ${Math.round(options.toxicity * 100)}%` : ''} on ${proxy}`,
  )
}

/** Limit throughput to `kbPerS` KB/s. */
export function bandwidth(proxy: ProxyName, kbPerS: number, options: ToxicOptions = {}): Action {
  return toxic(
    proxy,
    toxics.bandwidth({ rateKBps: kbPerS, ...options }),
    `bandwidth ${kbPerS} KB/s on ${proxy}`,
  )
}

/** Delay the close of a connection by `delayMs`. */
export function slowClose(proxy: ProxyName, delayMs: number, options: ToxicOptions = {}): Action {
  return toxic(proxy, toxics.slowClose({ delayMs, ...options }), `slow_close ${delayMs} ms on ${proxy}`)
}

/** Close each connection after `bytes` bytes. */
export function limitData(proxy: ProxyName, bytes: number, options: ToxicOptions = {}): Action {
  return toxic(proxy, toxics.limitData({ bytes, ...options }), `limit_data ${bytes} B on ${proxy}`)
}

/** Slice data into small packets with a delay between them. */
export function slicer(
  proxy: ProxyName,
  attributes: { averageSize: number; sizeVariation?: number; delayUs?: number },
  options: ToxicOptions = {},
): Action {
  return toxic(
    proxy,
    toxics.slicer({
      averageSizeBytes: attributes.averageSize,
      sizeVariationBytes: attributes.sizeVariation,
      delayUs: attributes.delayUs,
      ...options,
    }),
    `slicer ${attributes.averageSize} B on ${proxy}`,
  )
}

/** Disable the proxy: open connections drop, new ones are refused — the component looks down to services. */
export function disconnect(proxy: ProxyName): Action {
  return {
    kind: 'disconnect',
    describe: `disconnect ${proxy}`,
    async run(ctx) {
      await ctx.toxiproxy.setEnabled(proxy, false)
      return {
        heal: async () => {
          await ctx.toxiproxy.setEnabled(proxy, true)
          return undefined
        },
      }
    },
  }
}

// ── Processes ──────────────────────────────────────────────────────────────────────────────

async function signalTarget(ctx: FaultContext, target: Target, sig: NodeJS.Signals): Promise<string> {
  if (target.kind === 'infra') {
    const pid = await ctx.infra.signal(target.component, sig)
    return pid === undefined ? target.component : `${target.component} pid ${pid}`
  }
  const instances = instancesOf(ctx, target)
  for (const i of instances) ctx.services.signal(i, sig)
  return instances.map((i) => `${i.name} pid ${i.pid}`).join(', ')
}

/**
 * `kill -9`. Healed by starting it again: an infra component always (at `until`, or when the
 * load ends), a service instance only at `until` (at cleanup the services stop anyway).
 */
export function kill(target: Target): Action {
  return {
    kind: 'kill',
    describe: `kill -9 ${describeTarget(target)}`,
    async run(ctx) {
      const note = await signalTarget(ctx, target, 'SIGKILL')
      const heal: Heal = async (reason) => {
        if (target.kind === 'infra') {
          const began = Date.now()
          await ctx.infra.start(target.component)
          return `${target.component} back in ${((Date.now() - began) / 1000).toFixed(1)} s`
        }
        if (reason === 'cleanup') return undefined
        const instances = instancesOf(ctx, target)
        await Promise.all(instances.map((i) => ctx.services.restart(i)))
        return `restarted ${instances.map((i) => i.name).join(', ')}`
      }
      return { note: `killed ${note}`, heal }
    },
  }
}

/** SIGSTOP: the process freezes with its sockets open (a GC pause, a starved VM). Healed by SIGCONT. */
export function pause(target: Target): Action {
  return {
    kind: 'pause',
    describe: `SIGSTOP ${describeTarget(target)}`,
    async run(ctx) {
      const note = await signalTarget(ctx, target, 'SIGSTOP')
      return {
        note: `stopped ${note}`,
        heal: async () => {
          await signalTarget(ctx, target, 'SIGCONT')
          return 'SIGCONT'
        },
      }
    },
  }
}

/** Any signal, nothing to heal. */
export function signal(target: Target, sig: NodeJS.Signals): Action {
  return {
    kind: 'signal',
    describe: `${sig} ${describeTarget(target)}`,
    async run(ctx) {
      return { note: await signalTarget(ctx, target, sig) }
    },
  }
}

/**
 * Stop cleanly: an infra component goes down (`infra down <c>`), a service instance gets SIGTERM.
 * Healed by starting it again (a service instance only at `until`).
 */
export function stop(target: Target): Action {
  return {
    kind: 'stop',
    describe: `stop ${describeTarget(target)}`,
    async run(ctx) {
      if (target.kind === 'infra') {
        await ctx.infra.stop(target.component)
        return {
          heal: async () => {
            const began = Date.now()
            await ctx.infra.start(target.component)
            return `${target.component} back in ${((Date.now() - began) / 1000).toFixed(1)} s`
          },
        }
      }
      const instances = instancesOf(ctx, target)
      for (const i of instances) ctx.services.signal(i, 'SIGTERM')
      await Promise.all(instances.map((i) => ctx.services.waitExit(i)))
      return {
        heal: async (reason) => {
          if (reason === 'cleanup') return undefined
          await Promise.all(instances.map((i) => ctx.services.restart(i)))
          return `restarted ${instances.map((i) => i.name).join(', ')}`
        },
      }
    },
  }
}

/** Restart now (infra: down then up; service instance: SIGTERM then start on the same port). */
export function restart(target: Target): Action {
  return {
    kind: 'restart',
    describe: `restart ${describeTarget(target)}`,
    async run(ctx) {
      const began = Date.now()
      if (target.kind === 'infra') {
        await ctx.infra.stop(target.component)
        await ctx.infra.start(target.component)
      } else {
        await Promise.all(instancesOf(ctx, target).map((i) => ctx.services.restart(i)))
      }
      return { note: `back in ${((Date.now() - began) / 1000).toFixed(1)} s` }
    },
  }
}

// ── Redis ──────────────────────────────────────────────────────────────────────────────────

export interface RedisChoice {
  /** Which Redis: the cache (default) or the queue (BullMQ). Always the direct port. */
  redis?: 'cache' | 'queue'
}

function pickRedis(ctx: FaultContext, choice: RedisChoice): Redis {
  return choice.redis === 'queue' ? ctx.queueRedis : ctx.redis
}

/** FLUSHDB: the cache goes cold at once (pm02). */
export function flushRedis(choice: RedisChoice = {}): Action {
  return {
    kind: 'flushRedis',
    describe: `flush redis-${choice.redis ?? 'cache'}`,
    async run(ctx) {
      const redis = pickRedis(ctx, choice)
      const keys = await redis.dbsize()
      await redis.flushdb()
      return { note: `${keys} keys dropped` }
    },
  }
}

/** Delete every key matching a glob (SCAN + UNLINK): expire a hot key on demand (pm10). */
export function deleteKeys(pattern: string, choice: RedisChoice = {}): Action {
  return {
    kind: 'deleteKeys',
    describe: `delete keys ${pattern}`,
    async run(ctx) {
      const redis = pickRedis(ctx, choice)
      let deleted = 0
      let cursor = '0'
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
        cursor = next
        if (keys.length > 0) deleted += await redis.unlink(...keys)
      } while (cursor !== '0')
      return { note: `${deleted} key${deleted === 1 ? '' : 's'} deleted` }
    },
  }
}

// ── Postgres ───────────────────────────────────────────────────────────────────────────────

export interface SqlOptions {
  params?: unknown[]
  /**
   * Run inside a transaction kept open until the fault's `until` (then rolled back): a long
   * reader holding its lock (pm13). Without it the statement runs and commits.
   */
  holdOpen?: boolean
  /** Commit instead of rolling back when the hold ends. */
  commit?: boolean
}

type Statement = string | ((ctx: FaultContext) => string)

/**
 * Run a SQL statement on the primary (directly, not through Toxiproxy). It runs in the
 * background: a statement that blocks (an ALTER TABLE behind a lock) does not hold up the
 * timeline; its duration is logged when it finishes. At cleanup a statement still running is
 * cancelled.
 */
export function sql(statement: Statement, options: SqlOptions = {}): Action {
  const text = typeof statement === 'string' ? statement : '(statement chosen per mode)'
  const short = text.replace(/\s+/g, ' ').slice(0, 60)
  return {
    kind: 'sql',
    describe: `${options.holdOpen ? 'hold open: ' : 'sql: '}${short}${text.length > 60 ? '…' : ''}`,
    async run(ctx) {
      const query = typeof statement === 'string' ? statement : statement(ctx)
      const client: PoolClient = await ctx.pg.connect()
      // Held open across faults (a Postgres stop ends it): the pool no longer hears a checked-out
      // client's 'error', which would exit the lab; the next statement fails with it instead.
      const ignore = () => {}
      client.on('error', ignore)
      const giveBack = () => {
        client.off('error', ignore)
        client.release()
      }
      const pidRow = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
      const backendPid = pidRow.rows[0]?.pid
      const cancel = () => {
        if (backendPid !== undefined)
          ctx.pg.query('SELECT pg_cancel_backend($1)', [backendPid]).catch(() => {})
      }
      ctx.signal.addEventListener('abort', cancel, { once: true })
      let release = true
      try {
        if (options.holdOpen) await client.query('BEGIN')
        const began = Date.now()
        const result = await client.query(query, options.params)
        const note = `${result.rowCount ?? 0} rows in ${((Date.now() - began) / 1000).toFixed(2)} s`
        if (!options.holdOpen) return { note }
        release = false
        return {
          note: `${note}, transaction held open`,
          heal: async () => {
            try {
              await client.query(options.commit ? 'COMMIT' : 'ROLLBACK')
            } finally {
              ctx.signal.removeEventListener('abort', cancel)
              giveBack()
            }
            return options.commit ? 'committed' : 'rolled back'
          },
        }
      } catch (err) {
        if (options.holdOpen) await client.query('ROLLBACK').catch(() => {})
        throw err
      } finally {
        if (release) {
          ctx.signal.removeEventListener('abort', cancel)
          giveBack()
        }
      }
    },
  }
}

// ── Commands ───────────────────────────────────────────────────────────────────────────────

export interface CommandOptions {
  /** Extra env; a function sees the mode (e.g. a migration flag only in hardened). */
  env?: Record<string, string> | ((ctx: FaultContext) => Record<string, string>)
  /** Working directory relative to the repo root. Default the repo root. */
  cwd?: string
  /** Kill it after this long. Default 120. */
  timeoutS?: number
}

/**
 * Run a command (a migration tool, a CLI of the system) with the env services get: the infra
 * URLs, `LAB_MODE`, `MITIGATIONS` and `MITIGATION_<NAME>`. It runs in the background like `sql`;
 * a non-zero exit fails the action with the output's last lines.
 */
export function command(
  file: string,
  args: string[] | ((ctx: FaultContext) => string[]),
  options: CommandOptions = {},
): Action {
  const shown = typeof args === 'function' ? `${file} …` : [file, ...args].join(' ')
  return {
    kind: 'command',
    describe: `run ${shown.length > 60 ? `${shown.slice(0, 59)}…` : shown}`,
    async run(ctx) {
      const extra = typeof options.env === 'function' ? options.env(ctx) : (options.env ?? {})
      const env: Record<string, string> = {
        ...(process.env as Record<string, string>),
        ...ctx.infra.serviceEnv(),
        LAB_MODE: ctx.mode,
        MITIGATIONS: JSON.stringify(ctx.mitigations),
        ...extra,
      }
      for (const [name, on] of Object.entries(ctx.mitigations)) env[mitigationEnvName(name)] = String(on)
      const argv = typeof args === 'function' ? args(ctx) : args
      const executable = file === 'node' ? process.execPath : file
      const began = Date.now()
      return new Promise((done, fail) => {
        const child = spawn(executable, argv, {
          cwd: resolve(repoRoot, options.cwd ?? '.'),
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
          timeout: (options.timeoutS ?? 120) * 1000,
        })
        let output = ''
        const keep = (chunk: Buffer) => {
          output = (output + chunk.toString()).slice(-4000)
        }
        child.stdout.on('data', keep)
        child.stderr.on('data', keep)
        const abort = () => child.kill('SIGTERM')
        ctx.signal.addEventListener('abort', abort, { once: true })
        child.on('error', (err) => fail(err))
        child.on('close', (code, sig) => {
          ctx.signal.removeEventListener('abort', abort)
          const last = output.trim().split('\n').slice(-3).join(' / ')
          const took = `${((Date.now() - began) / 1000).toFixed(2)} s`
          if (code === 0) done({ note: `exit 0 in ${took}${last ? `: ${last.slice(0, 200)}` : ''}` })
          else fail(new Error(`${shown} exited with ${code ?? sig} after ${took}: ${last.slice(0, 300)}`))
        })
      })
    },
  }
}

// ── HTTP ───────────────────────────────────────────────────────────────────────────────────

export interface HttpCallOptions {
  body?: unknown
  /** Fail the action unless the status is this one. */
  expectStatus?: number
  timeoutMs?: number
}

/**
 * Call an endpoint: an absolute URL, or `{ service, index, path }` on an instance the lab started
 * (e.g. flip a switch through `PUT /admin/mitigations` mid-run).
 */
export function http(
  method: string,
  target: string | { service?: string; index?: number; path: string },
  options: HttpCallOptions = {},
): Action {
  const where =
    typeof target === 'string' ? target : `${target.service ?? 'api'}-${target.index ?? 0}${target.path}`
  return {
    kind: 'http',
    describe: `${method} ${where}`,
    async run(ctx) {
      const url =
        typeof target === 'string'
          ? target
          : `${ctx.services.instance(target.service ?? 'api', target.index ?? 0).url}${target.path}`
      const res = await fetch(url, {
        method,
        headers: options.body === undefined ? {} : { 'content-type': 'application/json' },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      })
      await res.text()
      if (options.expectStatus !== undefined && res.status !== options.expectStatus) {
        throw new Error(`${method} ${url} answered ${res.status}, expected ${options.expectStatus}`)
      }
      return { note: `HTTP ${res.status}` }
    },
  }
}
