/**
 * Process faults: kill, pause (SIGSTOP), any signal, a clean stop, a restart — of a service
 * instance the lab started or of an infra component.
 */
import type { Action, FaultContext, Heal } from './action.ts'
import { describeTarget, instancesOf, type Target } from './target.ts'

async function signalTarget(ctx: FaultContext, target: Target, sig: NodeJS.Signals): Promise<string> {
  if (target.kind === 'infra') {
    const pid = await ctx.infra.signal(target.component, sig)
    return pid === undefined ? target.component : `${target.component} pid ${pid}`
  }
  const instances = instancesOf(ctx, target)
  for (const i of instances) ctx.fleet.signal(i, sig)
  return instances.map((i) => `${i.name} pid ${i.pid}`).join(', ')
}

/** `kill -9` the target's instances through the fleet, which waits until each is gone. */
async function killInstances(
  ctx: FaultContext,
  target: Extract<Target, { kind: 'service' }>,
): Promise<string> {
  const instances = instancesOf(ctx, target)
  const named = instances.map((i) => `${i.name} pid ${i.pid}`).join(', ')
  await Promise.all(instances.map((i) => ctx.fleet.kill(i)))
  return named
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
      const note =
        target.kind === 'infra'
          ? await signalTarget(ctx, target, 'SIGKILL')
          : await killInstances(ctx, target)
      const heal: Heal = async (reason) => {
        if (target.kind === 'infra') {
          const began = Date.now()
          await ctx.infra.start(target.component)
          return `${target.component} back in ${((Date.now() - began) / 1000).toFixed(1)} s`
        }
        if (reason === 'cleanup') return undefined
        const instances = instancesOf(ctx, target)
        await Promise.all(instances.map((i) => ctx.fleet.restart(i)))
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
      // The fleet's stop: SIGCONT first (a paused instance cannot handle SIGTERM), SIGKILL after its grace.
      await Promise.all(instances.map((i) => ctx.fleet.stop(i)))
      return {
        heal: async (reason) => {
          if (reason === 'cleanup') return undefined
          await Promise.all(instances.map((i) => ctx.fleet.restart(i)))
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
        await Promise.all(instancesOf(ctx, target).map((i) => ctx.fleet.restart(i)))
      }
      return { note: `back in ${((Date.now() - began) / 1000).toFixed(1)} s` }
    },
  }
}
