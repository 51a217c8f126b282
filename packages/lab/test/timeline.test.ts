import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LabContext } from '../src/context.ts'
import type { Fault } from '../src/experiment.ts'
import type { Action } from '../src/faults/action.ts'
import { type Clock, faultWindows, planTimeline, Timeline, type TimelineEvent } from '../src/timeline.ts'

/** A clock that only moves when the test says so; sleepers wake in deadline order. */
class ManualClock implements Clock {
  nowMs = 0
  private sleepers: { until: number; resolve: () => void; reject: (e: Error) => void }[] = []

  now(): number {
    return this.nowMs
  }

  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new Error('aborted'))
      const sleeper = { until: this.nowMs + ms, resolve, reject }
      this.sleepers.push(sleeper)
      signal.addEventListener('abort', () => {
        this.sleepers = this.sleepers.filter((s) => s !== sleeper)
        reject(new Error('aborted'))
      })
    })
  }

  /** Advance to `ms`, waking every sleeper due, and let their continuations run. */
  async advanceTo(ms: number): Promise<void> {
    for (;;) {
      await flush()
      const due = this.sleepers.filter((s) => s.until <= ms).sort((a, b) => a.until - b.until)[0]
      if (!due) break
      this.sleepers = this.sleepers.filter((s) => s !== due)
      this.nowMs = due.until
      due.resolve()
    }
    this.nowMs = ms
    await flush()
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve()
  await new Promise((r) => setImmediate(r))
}

/** An action that records what happened to it, with the clock time. */
function recorder(
  name: string,
  log: string[],
  clock: ManualClock,
  options: { heal?: boolean; fail?: boolean } = {},
): Action {
  return {
    kind: 'test',
    describe: name,
    async run() {
      log.push(`${clock.now()} inject ${name}`)
      if (options.fail) throw new Error(`${name} broke`)
      if (options.heal === false) return { note: 'done' }
      return {
        heal: async (reason) => {
          log.push(`${clock.now()} heal ${name} (${reason})`)
          return undefined
        },
      }
    },
  }
}

const context = {} as LabContext

test('planTimeline orders by time, heals before injects on the same second, expands every/hold', () => {
  const a = { kind: 't', describe: 'a', run: async () => undefined }
  const faults: Fault[] = [
    { at: 10, until: 20, action: a },
    { at: 20, action: a, label: 'b' },
    { at: 5, until: 16, every: 5, hold: 2, action: a, label: 'rep' },
  ]
  const steps = planTimeline(faults).map((s) => `${s.atS} ${s.kind} ${s.label}#${s.occurrence}`)
  assert.deepEqual(steps, [
    '5 inject rep#0',
    '7 heal rep#0',
    '10 inject a#0',
    '10 inject rep#1',
    '12 heal rep#1',
    '15 inject rep#2',
    '17 heal rep#2',
    '20 heal a#0',
    '20 inject b#0',
  ])
})

test('faultWindows: spans for shading, one fire time per repetition', () => {
  const a = { kind: 't', describe: 'a', run: async () => undefined }
  const windows = faultWindows([
    { at: 3, until: 9, action: a },
    { at: 12, action: a },
    { at: 2, until: 8, every: 3, action: a },
  ])
  assert.deepEqual(
    windows.map((w) => [w.fromS, w.toS, w.firesS]),
    [
      [3, 9, [3]],
      [12, 12, [12]],
      [2, 8, [2, 5]],
    ],
  )
})

test('the timeline fires at `at`, heals at `until`, and heals what is still active when stopped', async () => {
  const clock = new ManualClock()
  const log: string[] = []
  const events: TimelineEvent[] = []
  const timeline = new Timeline({
    faults: [
      { at: 1, until: 3, action: recorder('toxic', log, clock) },
      { at: 2, action: recorder('kill', log, clock) },
      { at: 4, action: recorder('flush', log, clock, { heal: false }) },
      { at: 50, action: recorder('never', log, clock) },
    ],
    context,
    clock,
    onEvent: (e) => events.push(e),
  })
  void timeline.start()
  await clock.advanceTo(5000)
  assert.deepEqual(log, [
    '1000 inject toxic',
    '2000 inject kill',
    '3000 heal toxic (until)',
    '4000 inject flush',
  ])
  await timeline.stop()
  assert.deepEqual(log.slice(4), ['5000 heal kill (cleanup)'])
  assert.ok(!log.some((l) => l.includes('never')), 'a fault after the stop never fires')
  const done = timeline.events.map((e) => `${e.phase} ${e.label} ${e.status} ${e.reason ?? ''}`.trim())
  assert.deepEqual(done, [
    'inject toxic ok',
    'inject kill ok',
    'heal toxic ok until',
    'inject flush ok',
    'heal kill ok cleanup',
  ])
  assert.equal(events.filter((e) => e.status === 'started').length, 5)
  assert.equal(timeline.events.find((e) => e.label === 'flush')?.note, 'done')
  assert.equal(timeline.events[0]?.tS, 1)
})

test('stop() heals in reverse injection order and is idempotent', async () => {
  const clock = new ManualClock()
  const log: string[] = []
  const timeline = new Timeline({
    faults: [
      { at: 1, until: 10, action: recorder('first', log, clock) },
      { at: 2, until: 10, action: recorder('second', log, clock) },
    ],
    context,
    clock,
  })
  void timeline.start()
  await clock.advanceTo(2500)
  await Promise.all([timeline.stop(), timeline.stop()])
  assert.deepEqual(log, [
    '1000 inject first',
    '2000 inject second',
    '2500 heal second (cleanup)',
    '2500 heal first (cleanup)',
  ])
})

test('a failing action is recorded, not thrown, and the rest of the timeline goes on', async () => {
  const clock = new ManualClock()
  const log: string[] = []
  const timeline = new Timeline({
    faults: [
      { at: 1, until: 2, action: recorder('broken', log, clock, { fail: true }) },
      { at: 3, action: recorder('after', log, clock, { heal: false }) },
    ],
    context,
    clock,
  })
  void timeline.start()
  await clock.advanceTo(4000)
  await timeline.stop()
  const failed = timeline.events.find((e) => e.status === 'failed')
  assert.equal(failed?.label, 'broken')
  assert.match(failed?.note ?? '', /broken broke/)
  assert.deepEqual(log, ['1000 inject broken', '3000 inject after'])
})

test('an action still running at stop is aborted after the grace period, then healed', async () => {
  const clock = new ManualClock()
  const log: string[] = []
  const slow: Action = {
    kind: 'sql',
    describe: 'blocked statement',
    run: (ctx) =>
      new Promise((resolve) => {
        ctx.signal.addEventListener('abort', () => {
          log.push(`${clock.now()} aborted`)
          resolve({
            heal: async () => {
              log.push('healed')
              return undefined
            },
          })
        })
      }),
  }
  const timeline = new Timeline({ faults: [{ at: 1, action: slow }], context, clock, graceMs: 3000 })
  void timeline.start()
  await clock.advanceTo(2000)
  const stopping = timeline.stop()
  await clock.advanceTo(6000)
  await stopping
  assert.deepEqual(log, ['5000 aborted', 'healed'])
})

test('every + hold: each repetition is healed after `hold` seconds', async () => {
  const clock = new ManualClock()
  const log: string[] = []
  const timeline = new Timeline({
    faults: [{ at: 1, until: 8, every: 3, hold: 1, action: recorder('pause', log, clock) }],
    context,
    clock,
  })
  void timeline.start()
  await clock.advanceTo(10_000)
  await timeline.stop()
  assert.deepEqual(log, [
    '1000 inject pause',
    '2000 heal pause (until)',
    '4000 inject pause',
    '5000 heal pause (until)',
    '7000 inject pause',
    '8000 heal pause (until)',
  ])
})

test('a fault injected before the start is recorded before zero and healed at stop, like a planned one', async () => {
  const clock = new ManualClock()
  const log: string[] = []
  const timeline = new Timeline({ faults: [], context, clock })
  await clock.advanceTo(500)
  await timeline.inject(recorder('db cost', log, clock), 'Postgres +50 ms')
  await clock.advanceTo(2500)
  const started = timeline.start()
  await started
  await clock.advanceTo(9000)
  assert.deepEqual(log, ['500 inject db cost'], 'nothing heals it while the run goes on')
  await timeline.stop()
  assert.deepEqual(log, ['500 inject db cost', '9000 heal db cost (cleanup)'])
  const [fired, healed] = timeline.events
  assert.equal(fired?.fault, -1, 'an injected fault has a negative index: it is no timeline entry')
  assert.equal(fired?.label, 'Postgres +50 ms')
  assert.equal(fired?.tS, -2, 'injected 2 s before the start')
  assert.equal(fired?.plannedS, -2, 'planned when it fired, on the same axis')
  assert.equal(healed?.phase, 'heal')
  assert.equal(healed?.tS, 6.5)
})

test('an injected fault that fails rejects, and is recorded as failed', async () => {
  const clock = new ManualClock()
  const timeline = new Timeline({ faults: [], context, clock })
  await assert.rejects(timeline.inject(recorder('toxic', [], clock, { fail: true })), /toxic: toxic broke/)
  assert.equal(timeline.events[0]?.status, 'failed')
  await timeline.stop()
})

test('inject after stop() throws and fires nothing: no one would heal it', async () => {
  const clock = new ManualClock()
  const log: string[] = []
  const timeline = new Timeline({ faults: [], context, clock })
  await timeline.stop()
  await assert.rejects(
    timeline.inject(recorder('late', log, clock)),
    /cannot inject "late": .*already healed/,
  )
  assert.deepEqual(log, [])
  assert.deepEqual(timeline.events, [])
})
