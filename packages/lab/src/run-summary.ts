/**
 * The whole run's `summary.json`: the experiment as it ran (catalog row, services from the
 * system, timeline, invariants), the machine, each mode's results and the verdict over them.
 */

import { k6Binary } from '@faultline/infra'
import { catalogRow } from './catalog.ts'
import type { Experiment, Mode } from './experiment.ts'
import type { InfraMode } from './infra.ts'
import { machineInfo } from './machine.ts'
import { repoRoot } from './paths.ts'
import { computeVerdict } from './report/verdict.ts'
import { resolveService } from './services.ts'
import { type ModeSummary, type Summary, summarySchema } from './summary.ts'
import { faultWindows } from './timeline.ts'

export interface RunSummaryArgs {
  exp: Experiment
  command: string
  startedAt: Date
  infra: InfraMode
  results: Partial<Record<Mode, ModeSummary>>
}

export function runSummary({ exp, command, startedAt, infra, results }: RunSummaryArgs): Summary {
  const verdict = computeVerdict(
    Object.fromEntries(Object.entries(results).map(([mode, run]) => [mode, run.invariants])) as Partial<
      Record<Mode, ModeSummary['invariants']>
    >,
  )
  const services: Summary['experiment']['services'] = {}
  for (const [name, s] of Object.entries(exp.services)) {
    const resolved = resolveService(exp.system, name, s)
    services[name] = { entry: resolved.entry, instances: resolved.instances }
  }
  return {
    schema: summarySchema,
    experiment: {
      name: exp.name,
      id: exp.id,
      slug: exp.slug,
      system: exp.system.name,
      title: exp.title,
      description: exp.description,
      variant: exp.variant,
      catalog: catalogRow(exp.id, exp.catalog, repoRoot).row,
      services,
      load: exp.load,
      mitigations: exp.mitigations,
      timeline: exp.timeline.map((f) => ({
        at: f.at,
        until: f.until,
        every: f.every,
        hold: f.hold,
        label: f.label ?? f.action.describe,
        kind: f.action.kind,
      })),
      faults: faultWindows(exp.timeline),
      invariants: exp.invariants.map((i) => ({
        name: i.name,
        expected: i.expected,
        expect: i.expect ?? 'reproduces',
      })),
    },
    command,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: machineInfo(k6Binary()),
    infra,
    modes: results,
    verdict,
  }
}
