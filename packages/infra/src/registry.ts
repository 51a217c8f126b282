import type { Component } from './component.ts'
import { k6 } from './components/k6.ts'
import { postgres } from './components/postgres.ts'
import { postgresReplica } from './components/postgres-replica.ts'
import { redisCache, redisQueue } from './components/redis.ts'
import { redisCluster, redisClusterNodeComponents } from './components/redis-cluster.ts'
import { s3 } from './components/s3.ts'
import { toxiproxy } from './components/toxiproxy.ts'
import { kafka } from './kafka.ts'

/**
 * Every component, in start order (`down` walks it backwards). Toxiproxy comes first: its proxies
 * can exist before their upstreams (a proxy dials only when a client connects), so each component
 * is reachable through its proxy as soon as it is healthy. k6 is last because its first build is
 * the slowest step and nothing else needs it.
 */
export const components: Component[] = [
  toxiproxy,
  postgres,
  postgresReplica,
  redisCache,
  redisQueue,
  // Six nodes, then the step that forms them into a cluster (it depends on all six).
  ...redisClusterNodeComponents,
  redisCluster,
  kafka,
  s3,
  k6,
]

export function componentNames(): string[] {
  return components.map((component) => component.name)
}

export class UnknownComponentError extends Error {
  override name = 'UnknownComponentError'
}

/**
 * The components named (all when none), plus everything they depend on, in registry order.
 * `withDependencies: false` is for `down`/`status`/`logs`: only what was asked for.
 */
export function selectComponents(names: string[], withDependencies: boolean): Component[] {
  const wanted = new Set<string>()
  const add = (name: string) => {
    const component = components.find((c) => c.name === name)
    if (component === undefined) {
      throw new UnknownComponentError(`unknown component "${name}"; known: ${componentNames().join(', ')}`)
    }
    if (wanted.has(name)) return
    wanted.add(name)
    if (withDependencies) component.dependsOn.forEach(add)
  }
  for (const name of names.length > 0 ? names : componentNames()) add(name)
  return components.filter((component) => wanted.has(component.name))
}
