/**
 * @faultline/lab — everything an experiment module and its CI test import.
 *
 *   import { defineExperiment, latency, p99Below … } from '@faultline/lab'
 */

/** Types of the clients in hook and run contexts, so experiments need no import of their own. */
export type { Redis } from 'ioredis'
export type { Pool, PoolClient } from 'pg'
export {
  type CatalogRow,
  type CiOverrides,
  defineExperiment,
  type Experiment,
  ExperimentError,
  type ExperimentSpec,
  type Fault,
  type HookContext,
  type LoadSpec,
  type Mode,
  mitigationsFor,
  resolveVariant,
  type ServiceSpec,
} from './experiment.ts'
export * from './faults/index.ts'
export {
  errorRateBelow,
  evaluateInvariants,
  formatMs,
  formatPercent,
  goodputRecovers,
  type Invariant,
  type InvariantCheck,
  type InvariantResult,
  invariant,
  latencyBelow,
  metricAtMost,
  p99Below,
  type RunContext,
  readyInstancesAtLeast,
  successAtLeast,
  type TimeWindow,
  type WindowSel,
} from './invariants.ts'
export { Ledger, type LedgerEntry, type LedgerSelect } from './ledger.ts'
export {
  type MetricSample,
  MetricsView,
  parsePrometheusText,
  type ReadinessSample,
} from './metrics-scrape.ts'
export {
  computeVerdict,
  renderChart,
  renderReport,
  renderVerdictTable,
  type Verdict,
} from './report/index.ts'
export { assertReproduces, LabRunError, type RunOptions, runExperiment } from './runner.ts'
export type { ServiceInstance } from './services.ts'
export type { ModeSummary, Stats, Summary } from './summary.ts'
export type { FaultWindow, TimelineEvent } from './timeline.ts'
export type { SecondStats } from './timeseries.ts'
