/**
 * One fake provider's state: its name, live knobs, send log and webhook log. The HTTP plugin
 * (app.ts) and the in-process helper (testing.ts) share the same object, so a test can read the
 * log directly or over HTTP and see the same thing.
 */
import { HookLog } from './hooks.ts'
import { defaultKnobs, type Knobs } from './knobs.ts'
import { SendLog, type SendLogOptions } from './log.ts'

export interface FakeProvider {
  readonly name: string
  readonly log: SendLog
  readonly hooks: HookLog
  knobs(): Knobs
  /** Applies a partial change (already validated) and returns the knobs now in force. */
  setKnobs(change: Partial<Knobs>): Knobs
  /** Clears the send and webhook logs, their counters and remembered keys; knobs stay. */
  clear(): void
}

export function createProvider(
  name: string,
  initial: Partial<Knobs> = {},
  options: SendLogOptions = {},
): FakeProvider {
  let knobs: Knobs = { ...defaultKnobs, ...initial }
  const log = new SendLog(options)
  const hooks = new HookLog()
  return {
    name,
    log,
    hooks,
    knobs: () => ({ ...knobs }),
    setKnobs(change) {
      knobs = { ...knobs, ...change }
      return { ...knobs }
    },
    clear() {
      log.clear()
      hooks.clear()
    },
  }
}
