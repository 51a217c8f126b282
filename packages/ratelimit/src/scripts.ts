/**
 * The one loader for every Lua script of the limiter (bullmq's shape): each `src/lua/*.lua` file
 * is named `<command>-<numberOfKeys>.lua` and registered on a client with ioredis's
 * `defineCommand`, which works the same on `Redis` and `Cluster`. ioredis sends a script once
 * per connection with EVAL (which also caches it in Redis), then only its SHA with EVALSHA; if
 * Redis answers NOSCRIPT (SCRIPT FLUSH, a restart, a failover to a replica that never saw it) it
 * resends the body with EVAL. So a decision is one round trip, and a flushed cache costs one
 * extra round trip on the next call, never an error.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { type Cluster, Redis } from 'ioredis'

export interface ScriptFile {
  /** The script's name from its file (`slidingLog` for `slidingLog-1.lua`). */
  command: string
  numberOfKeys: number
  lua: string
  /** The method the script is registered under on a client, namespaced so it cannot clash. */
  method: string
}

const luaDirectory = new URL('./lua/', import.meta.url)
const fileName = /^([a-zA-Z][a-zA-Z0-9]*)-(\d+)\.lua$/

/** `slidingLog-1.lua` → its command, key count and method name; `undefined` for any other name. */
export function parseScriptFileName(name: string): Omit<ScriptFile, 'lua'> | undefined {
  const match = fileName.exec(name)
  if (!match) return undefined
  const command = match[1] as string
  return {
    command,
    numberOfKeys: Number(match[2]),
    method: `ratelimit${command[0]?.toUpperCase()}${command.slice(1)}`,
  }
}

function readScripts(): Map<string, ScriptFile> {
  const scripts = new Map<string, ScriptFile>()
  for (const name of readdirSync(luaDirectory).sort()) {
    if (!name.endsWith('.lua')) continue
    const parsed = parseScriptFileName(name)
    if (!parsed) throw new Error(`ratelimit: ${name} is not named <command>-<numberOfKeys>.lua`)
    scripts.set(parsed.command, { ...parsed, lua: readFileSync(new URL(name, luaDirectory), 'utf8') })
  }
  return scripts
}

/** Every script of the package, by command, read once at import. */
export const scripts: ReadonlyMap<string, ScriptFile> = readScripts()

/** A script's reply: Lua tables arrive as arrays of integers. */
export type ScriptReply = number[]

type ScriptMethod = (...keysThenArgs: Array<string | number>) => Promise<ScriptReply>

/**
 * Holds one Redis connection's writes until the end of the current turn of the event loop, so
 * the decisions of every request read in that turn leave in one write (one `writev`) and reach
 * Redis in one read. That is what ioredis's auto-pipelining does too, but it builds a `Pipeline`
 * per batch and wraps every command in two more promises: in a CPU profile of the benchmark that
 * cost the plugin more than its own code, where a cork costs a counter. A Cluster (one
 * connection per node) keeps ioredis's auto-pipelining, which groups by node.
 */
function writeCoalescer(redis: Redis | Cluster): () => void {
  if (!(redis instanceof Redis)) return () => {}
  let corked: Redis['stream'] | undefined
  const uncork = () => {
    const stream = corked
    corked = undefined
    stream?.uncork()
  }
  return () => {
    if (corked !== undefined) return
    // Not before the connection is up: a command then fails at once (no offline queue) and a
    // cork on a socket being replaced would hold nothing useful.
    const stream = redis.stream
    if (stream === undefined || redis.status !== 'ready') return
    stream.cork()
    corked = stream
    setImmediate(uncork)
  }
}

/**
 * Registers every script on `redis` (once per client: a second limiter on the same client reuses
 * them) and returns a caller for `command`'s script.
 */
export function scriptRunner(redis: Redis | Cluster) {
  const client = redis as unknown as Record<string, ScriptMethod | undefined>
  for (const script of scripts.values()) {
    if (typeof client[script.method] !== 'function') {
      redis.defineCommand(script.method, { numberOfKeys: script.numberOfKeys, lua: script.lua })
    }
  }
  const coalesce = writeCoalescer(redis)
  return (command: string, keys: string[], args: Array<string | number>): Promise<ScriptReply> => {
    const script = scripts.get(command)
    if (!script) throw new Error(`ratelimit: no script ${command}`)
    if (keys.length !== script.numberOfKeys) {
      throw new Error(`ratelimit: ${command} takes ${script.numberOfKeys} keys, got ${keys.length}`)
    }
    const method = client[script.method] as ScriptMethod
    coalesce()
    return method.call(redis, ...keys, ...args)
  }
}
