export * from './component.ts'
export { ensureK6, k6Binary, k6Path } from './components/k6.ts'
export {
  type ClusterHealth,
  clusterNodeTimeoutMs,
  parseClusterNodes,
  redisClusterHealth,
} from './components/redis-cluster.ts'
export { ensureVegeta, vegetaBinary } from './components/vegeta.ts'
export { type DaemonSpec, daemonComponent } from './daemon.ts'
export { defaultContext, repoRoot } from './paths.ts'
export { freePort } from './ports.ts'
export { isAlive } from './process.ts'
export { escapeGlob, type KeyUnlinker, unlinkMatching } from './redis-keys.ts'
export { componentNames, components } from './registry.ts'
export { InfraError, infraDown, infraStatus, infraUp } from './runner.ts'
export * from './topology.ts'
