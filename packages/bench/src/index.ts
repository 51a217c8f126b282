// The bench's library: the BenchTarget contract a system implements (services/<system>/src/
// bench-target.ts) with the helpers it starts and seeds with, and the pure parts (k6 CSV parsing,
// per-step aggregation, knee detection, saturation attribution) for tests and other packages.
// Percentiles, the Prometheus parser and the k6 runner are @faultline/measure's.

export { type Child, startChild, stopChild, waitForHttp } from './children.ts'
export { envPairs, failWith, parseBenchCli, positiveFlag } from './cli-args.ts'
export { type K6Sample, parseK6Csv, parseK6Timestamp, streamK6Csv } from './k6-csv.ts'
export {
  defaultKneeCriteria,
  findKnee,
  judgeStep,
  type KneeCriteria,
  type KneeResult,
  kneeWindow,
} from './knee-detect.ts'
export { type MachineInfo, machineInfo, machineLine } from './machine.ts'
export { openModelVus, type RunStats } from './open-model.ts'
export {
  cpuGroup,
  cpuSecondsByGroup,
  hostCpuJiffies,
  type ProcEntry,
  processCpuSeconds,
  processRssBytes,
  processTable,
} from './proc.ts'
export { linkLatest, markdownTable, ms, num, resultsDir, textTable, writeJson } from './report.ts'
export {
  genericMetrics,
  metricsFromPrometheus,
  named,
  Sampler,
  type SamplerOptions,
  type SeriesSelector,
} from './sampler.ts'
export {
  type Attribution,
  attributeSaturation,
  defaultSaturationThresholds,
  deriveSamples,
  type RawSample,
  type ResourceSample,
  resourceSample,
  type SignalId,
} from './saturation.ts'
export { warmPaths } from './seeding.ts'
export {
  directConnections,
  externalSystem,
  type NodeSystemSpec,
  startHello,
  startNodeSystem,
} from './servers.ts'
export {
  runWithSystem,
  type ServiceProcessSpec,
  startServiceProcess,
  type WithSystemSpec,
} from './service-process.ts'
export { planSteps, StepAggregator, type StepPlan, type StepStats } from './steps.ts'
export {
  type BenchTarget,
  benchTargetPath,
  defineBenchTarget,
  loadBenchTarget,
  type RunningSystem,
  type StartSystemOptions,
  type SystemMetric,
  type SystemSignal,
} from './target.ts'
export { runVegeta, type VegetaTarget, vegetaVersion } from './vegeta-run.ts'
