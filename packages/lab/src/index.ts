/**
 * @faultline/lab — everything an experiment module and its CI test import.
 *
 *   import { defineExperiment, latency, p99Below … } from '@faultline/lab'
 */

/** Types of the clients in hook and run contexts, so experiments need no import of their own. */
export type { Redis } from 'ioredis'
export type { Pool, PoolClient } from 'pg'
export type { KafkaAdmin, PartitionLag } from './clients/kafka-admin.ts'
export type { LabClients } from './clients/registry.ts'
export {
  type CatalogRow,
  type CiOverrides,
  defineExperiment,
  type Experiment,
  ExperimentError,
  type ExperimentSpec,
  type Fault,
  type HookContext,
  type LabContext,
  type LoadSpec,
  type Mode,
  mitigationsFor,
  resolveVariant,
  type ServiceSpec,
  type SettleContext,
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
  type MetricRef,
  metricAtMost,
  p99Below,
  type RunContext,
  readyInstancesAtLeast,
  successAtLeast,
  type TimeWindow,
  type WindowSel,
} from './invariants.ts'
export { Ledger, type LedgerEntry, type LedgerSelect } from './ledger.ts'
export type { MetricSeries } from './metric-series.ts'
export {
  type MetricSample,
  MetricsSnapshot,
  MetricsView,
  parsePrometheusText,
  type ReadinessSample,
  UnmeasuredError,
} from './metrics-scrape.ts'
export {
  computeVerdict,
  renderChart,
  renderReport,
  renderVerdictTable,
  type Verdict,
} from './report/index.ts'
export { assertReproduces, LabRunError, type RunOptions, runExperiment } from './runner.ts'
export type { ServiceFleet, ServiceInstance } from './services.ts'
export type { ModeSummary, Stats, Summary } from './summary.ts'
export {
  defineSystem,
  type ServiceRole,
  type SwitchSpec,
  type SystemDescriptor,
  type SystemService,
  type SystemSpec,
  type SystemSwitches,
} from './system.ts'
export type { FaultWindow, TimelineEvent } from './timeline.ts'
export type { SecondStats } from './timeseries.ts'
