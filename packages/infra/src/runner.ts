import type { ComponentStatus, InfraContext } from './component.ts'
import { withInfraLock } from './lock.ts'
import { defaultContext } from './paths.ts'
import { selectComponents } from './registry.ts'

/** Component errors usually start with the component's name already. */
function withoutPrefix(failure: { component: string; error: Error }): string {
  const prefix = `${failure.component}: `
  const message = failure.error.message
  return message.startsWith(prefix) ? message.slice(prefix.length) : message
}

export class InfraError extends Error {
  override name = 'InfraError'
  readonly failures: { component: string; error: Error }[]
  constructor(failures: { component: string; error: Error }[]) {
    super(failures.map((failure) => `${failure.component}: ${withoutPrefix(failure)}`).join('\n'))
    this.failures = failures
  }
}

/**
 * Install and start the named components (all by default) and their dependencies, each waited
 * until healthy. A failure does not stop the components that do not depend on it; they are all
 * reported together at the end.
 */
export async function infraUp(names: string[] = [], ctx: InfraContext = defaultContext()): Promise<void> {
  const selected = selectComponents(names, true)
  await withInfraLock(ctx, async () => {
    const failures: { component: string; error: Error }[] = []
    const failed = new Set<string>()
    for (const component of selected) {
      const blocker = component.dependsOn.find((dependency) => failed.has(dependency))
      if (blocker !== undefined) {
        failed.add(component.name)
        failures.push({ component: component.name, error: new Error(`not started: ${blocker} failed`) })
        continue
      }
      try {
        await component.install(ctx)
        await component.up(ctx)
      } catch (err) {
        failed.add(component.name)
        const failure = { component: component.name, error: err as Error }
        failures.push(failure)
        // Said now (the run goes on with the components that do not depend on this one) and in the final error.
        ctx.log(`${component.name}: FAILED: ${withoutPrefix(failure)}`)
      }
    }
    if (failures.length > 0) throw new InfraError(failures)
  })
}

/** Stop the named components (all by default) in reverse start order. */
export async function infraDown(names: string[] = [], ctx: InfraContext = defaultContext()): Promise<void> {
  const selected = selectComponents(names, false).reverse()
  await withInfraLock(ctx, async () => {
    const failures: { component: string; error: Error }[] = []
    for (const component of selected) {
      try {
        await component.down(ctx)
      } catch (err) {
        failures.push({ component: component.name, error: err as Error })
      }
    }
    if (failures.length > 0) throw new InfraError(failures)
  })
}

/** Status of the named components (all by default), checked in parallel. Takes no lock. */
export function infraStatus(
  names: string[] = [],
  ctx: InfraContext = defaultContext(),
): Promise<ComponentStatus[]> {
  return Promise.all(
    selectComponents(names, false).map((component) =>
      component.status(ctx).catch(
        (err: Error): ComponentStatus => ({
          name: component.name,
          running: false,
          healthy: false,
          address: '',
          detail: `status failed: ${err.message}`,
        }),
      ),
    ),
  )
}
