// One way to measure, for the lab and the bench: the k6 runner, the Prometheus parser, the percentile.

export {
  type K6Options,
  type K6Point,
  type K6Result,
  type K6Summary,
  k6Args,
  k6CsvEnv,
  k6Version,
  LineSplitter,
  parseK6Line,
  parseK6Time,
  runK6,
  shellQuote,
  systemTags,
} from './k6.ts'
export { type MetricSample, parsePrometheusText, sumSeries } from './prometheus.ts'
export { type LatencySummary, quantile, quantileOf, sortedCopy, summarizeLatency } from './quantile.ts'
