/**
 * pm07's moving parts: a recorder per mode, the sampler that reads the applied version many times
 * a second from the store (through the system's fixture) and from each instance (GET /v1/rules),
 * the race itself, and the checks the invariants run on what was recorded.
 *
 * The lab's own sampler reads /metrics once a second, too coarse for an empty window of a few
 * hundred milliseconds, so the experiment samples on its own: the sampler is a timeline action
 * that runs for the whole load and is stopped by its heal.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { type Action, action, type Mode, pause, service } from '@faultline/lab'
import type { RatelimiterFixture } from '@faultline/ratelimiter/fixture'
import { appliedVersionOf, putRules, rulesetOf, waitUntilApplying } from './pm07-rulesets.ts'

/** Where a version was read: the store, or an instance's GET /v1/rules. */
export type SampleSource = 'store' | 'api-0' | 'api-1'

export interface VersionSample {
  source: SampleSource
  /** Seconds since the sampler started (≈ the load's start). */
  tS: number
  version: number
}

export interface RaceRecord {
  versions: { stale: number; newer: number[] }
  /** The stale applier's PUT was still unanswered when it was stopped: it was stopped mid-apply. */
  pausedMidApply: boolean
  staleStatus: number
  newerStatuses: number[]
}

export class RaceRecorder {
  readonly samples: VersionSample[] = []
  readonly races: RaceRecord[] = []
  /** Above the boot file's version 1, and fresh for every race. */
  #nextVersion = 10

  nextVersions(count: number): number[] {
    const out = Array.from({ length: count }, (_, i) => this.#nextVersion + i)
    this.#nextVersion += count
    return out
  }
}

const recorders = new Map<Mode, RaceRecorder>()

/** A fresh recorder for `mode` (setup calls it), so a second run of a mode starts from nothing. */
export function startRecording(mode: Mode): RaceRecorder {
  const recorder = new RaceRecorder()
  recorders.set(mode, recorder)
  return recorder
}

export function recorderOf(mode: Mode): RaceRecorder {
  const recorder = recorders.get(mode)
  if (!recorder) throw new Error(`pm07: nothing was recorded in ${mode} mode (setup did not run)`)
  return recorder
}

const storeEveryMs = 20
const instanceEveryMs = 50
/** A stopped instance does not answer: give up quickly and ask again. */
const instanceTimeoutMs = 300

/** Samples the applied version until healed (the end of the load). */
export function sampleAppliedVersions(fixture: RatelimiterFixture): Action {
  return action(
    'sample the applied version: Redis every 20 ms, GET /v1/rules of each instance every 50 ms',
    async (ctx) => {
      const recorder = recorderOf(ctx.mode)
      const startedMs = Date.now()
      const stop = new AbortController()
      const record = (source: SampleSource, version: number) =>
        recorder.samples.push({ source, tS: (Date.now() - startedMs) / 1000, version })
      const compareAndSet = ctx.mitigations.rulesCompareAndSet ?? true
      const storeLoop = async () => {
        while (!stop.signal.aborted) {
          const stored = await fixture.storedRules(ctx.redis, compareAndSet).catch(() => undefined)
          if (stored) record('store', stored.domains.length === 0 ? 0 : stored.version)
          await sleep(storeEveryMs)
        }
      }
      const instanceLoop = async (index: 0 | 1) => {
        const url = ctx.url('api', index)
        while (!stop.signal.aborted) {
          const version = await appliedVersionOf(url, instanceTimeoutMs)
          if (version !== undefined) record(`api-${index}`, version)
          await sleep(instanceEveryMs)
        }
      }
      const loops = Promise.all([storeLoop(), instanceLoop(0), instanceLoop(1)])
      return async () => {
        stop.abort()
        await loops
        return `${recorder.samples.length} samples`
      }
    },
  )
}

/** How long after api-0 starts applying it is stopped: a few of its write batches are in Redis. */
const stopAfterStartMs = 100
/** After api-1's pushes, time for the readers (polling every RULES_POLL_MS) to pick them up. */
const readersCatchUpMs = 300

/**
 * One race: push version N to api-0, stop it (the lab's `pause`, SIGSTOP) once its metrics say it
 * is applying, push N+1 and N+2 to api-1, resume api-0 and wait for its answer.
 */
export function raceAppliers(): Action {
  return action(
    'push vN to api-0 and SIGSTOP it mid-apply; push vN+1, vN+2 to api-1; SIGCONT api-0',
    async (ctx) => {
      const recorder = recorderOf(ctx.mode)
      const [stale = 0, ...newer] = recorder.nextVersions(3)
      const staleUrl = ctx.url('api', 0)
      let answered = false
      const stalePush = putRules(staleUrl, rulesetOf(stale), ctx.signal).finally(() => {
        answered = true
      })
      if (!(await waitUntilApplying(staleUrl, 3_000, ctx.signal))) {
        throw new Error(`api-0 never reported an apply of v${stale} in progress`)
      }
      await sleep(stopAfterStartMs)
      const stopped = await pause(service('api', 0)).run(ctx)
      const pausedMidApply = !answered
      const newerStatuses: number[] = []
      try {
        for (const version of newer) {
          newerStatuses.push((await putRules(ctx.url('api', 1), rulesetOf(version), ctx.signal)).status)
        }
        await sleep(readersCatchUpMs)
      } finally {
        await stopped?.heal?.('until')
      }
      const staleStatus = (await stalePush).status
      recorder.races.push({ versions: { stale, newer }, pausedMidApply, staleStatus, newerStatuses })
      return {
        note:
          `api-0 v${stale} → HTTP ${staleStatus}${pausedMidApply ? ' (stopped mid-apply)' : ' (NOT stopped mid-apply)'}; ` +
          `api-1 ${newer.map((v, i) => `v${v} → ${newerStatuses[i]}`).join(', ')}`,
      }
    },
  )
}

export interface Regression {
  source: SampleSource
  /** When the source first showed the older version. */
  tS: number
  from: number
  to: number
}

/**
 * Every time a source showed a version below the highest it had shown before (empty samples
 * apart): one regression per drop, however long the older version then stays in force.
 */
export function regressions(samples: readonly VersionSample[]): Regression[] {
  const highest = new Map<SampleSource, number>()
  const last = new Map<SampleSource, number>()
  const out: Regression[] = []
  for (const s of samples) {
    if (s.version === 0) continue
    const before = highest.get(s.source) ?? 0
    if (s.version >= before) highest.set(s.source, s.version)
    else if (last.get(s.source) !== s.version)
      out.push({ source: s.source, tS: s.tS, from: before, to: s.version })
    last.set(s.source, s.version)
  }
  return out
}

/** Samples per source, and how many of them were empty (version 0, or no rule in the store). */
export function countBySource(samples: readonly VersionSample[]) {
  const counts = new Map<SampleSource, { samples: number; empty: number }>()
  for (const s of samples) {
    const c = counts.get(s.source) ?? { samples: 0, empty: 0 }
    c.samples += 1
    if (s.version === 0) c.empty += 1
    counts.set(s.source, c)
  }
  return counts
}

export function describeCounts(counts: ReturnType<typeof countBySource>, field: 'samples' | 'empty'): string {
  return (['store', 'api-0', 'api-1'] as const).map((s) => `${s} ${counts.get(s)?.[field] ?? 0}`).join(', ')
}
