// The pure parts of the bench, for other packages (the lab's reports) and for tests.

export { type K6Sample, parseK6Csv, parseK6Timestamp, streamK6Csv } from './k6-csv.ts'
export {
  defaultKneeCriteria,
  findKnee,
  judgeStep,
  type KneeCriteria,
  type KneeResult,
  kneeWindow,
} from './knee-detect.ts'
export { type PromSample, parsePrometheusText, sumSeries } from './prom.ts'
export {
  type Attribution,
  attributeSaturation,
  defaultSaturationThresholds,
  deriveSamples,
  type RawSample,
  type ResourceSample,
  type SignalId,
} from './saturation.ts'
export { type LatencySummary, percentile, percentileSorted, summarizeLatency } from './stats.ts'
export { planSteps, StepAggregator, type StepPlan, type StepStats } from './steps.ts'
