import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ensureDebianPackage } from '../apt.ts'
import type { Component, InfraContext } from '../component.ts'
import { componentDir, daemonComponent } from '../daemon.ts'
import { ports } from '../topology.ts'
import { redisPing } from '../wait.ts'

const redisServer = '/usr/bin/redis-server'

interface RedisSpec {
  name: string
  port: number
  /** Directives appended to the common ones (one per line, redis.conf syntax). */
  directives: string[]
}

function redisComponent(spec: RedisSpec): Component {
  const confFile = (ctx: InfraContext) => join(componentDir(ctx, spec.name), 'redis.conf')
  return daemonComponent({
    name: spec.name,
    dependsOn: [],
    ports: [spec.port],
    address: `127.0.0.1:${spec.port}`,
    executable: () => redisServer,
    install: (ctx) => ensureDebianPackage(ctx, spec.name, 'redis-server', redisServer),
    async prepare(ctx) {
      // Rewritten at every start so a changed setting here takes effect on the next `down`/`up`.
      const lines = [
        '# Written by packages/infra at every start: edit the source, not this file.',
        'bind 127.0.0.1',
        `port ${spec.port}`,
        'daemonize no',
        // Protected mode only guards non-loopback clients without a password; we bind loopback only.
        'protected-mode no',
        `dir ${componentDir(ctx, spec.name)}`,
        // Empty logfile = stdout, which the CLI appends to <name>.log.
        'logfile ""',
        ...spec.directives,
        '',
      ]
      writeFileSync(confFile(ctx), lines.join('\n'))
    },
    command: (ctx) => ({
      command: redisServer,
      args: [confFile(ctx)],
      cwd: componentDir(ctx, spec.name),
    }),
    healthy: () => redisPing(spec.port),
    startTimeoutMs: 30_000,
  })
}

/** The cache: bounded, evicts least-recently-used keys, nothing survives a restart. */
export const redisCache = redisComponent({
  name: 'redis-cache',
  port: ports.redisCache,
  directives: ['maxmemory 256mb', 'maxmemory-policy allkeys-lru', 'save ""', 'appendonly no'],
})

/**
 * The queue (BullMQ): never evicts (an evicted job key corrupts a queue, so BullMQ requires
 * noeviction) and persists every write to the append-only file. The cap makes "queue Redis full"
 * an error the experiments can reach; raise it at run time with CONFIG SET maxmemory.
 */
export const redisQueue = redisComponent({
  name: 'redis-queue',
  port: ports.redisQueue,
  directives: [
    'maxmemory 256mb',
    'maxmemory-policy noeviction',
    'save ""',
    'appendonly yes',
    'appendfsync everysec',
  ],
})
