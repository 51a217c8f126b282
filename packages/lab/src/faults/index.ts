/**
 * Typed constructors for fault actions, one file per family. Each returns an `Action`; put it on
 * the timeline with `{ at, until?, action }`, or inject it from `setup` with `ctx.inject(action)`.
 * Actions with something to undo return a heal, which runs at `until` — or, without `until`,
 * when the load ends (the mode ends, for one injected from setup). Healing always happens.
 */
export type { Action, ActionResult, FaultContext, Heal, HealReason } from './action.ts'
export { type CommandOptions, command } from './command.ts'
export { type HttpCallOptions, http } from './http.ts'
export { kill, pause, restart, signal, stop } from './process.ts'
export { deleteKeys, flushRedis, type RedisChoice } from './redis.ts'
export { type SqlOptions, sql } from './sql.ts'
export { action, infra, service, type Target } from './target.ts'
export {
  bandwidth,
  disconnect,
  latency,
  limitData,
  type ProxyName,
  resetPeer,
  slicer,
  slowClose,
  type ToxicOptions,
  timeout,
  toxic,
} from './toxics.ts'
export type { ToxicSpec, ToxicType } from './toxiproxy.ts'
