// The method-comparison harness behind `eos compare`.
export {
  aggregate,
  BEST_COUNT,
  type ComparisonReport,
  METRICS,
  type MethodRow,
  type PairedRow,
} from './aggregate.js';
export {
  DEFAULT_PHASE1_VARIANTS,
  isPhase1Variant,
  PHASE1_VARIANTS,
  type Phase1Variant,
  variantSettings,
} from './phase1-variants.js';
export {
  type ComparisonPlan,
  type ComparisonSettings,
  type DataLimits,
  makePlan,
  samplersFor,
  unitConfig,
} from './plan.js';
export { renderHtml } from './render-html.js';
export { renderMarkdown } from './render-markdown.js';
export { ResultsStore, SettingsMismatchError } from './results-store.js';
export {
  ComparisonAborted,
  type ComparisonEvent,
  type ComparisonOptions,
  type ComparisonOutcome,
  readComparisonSettings,
  reportComparison,
  runComparison,
} from './run-comparison.js';
export { parseShard, type Shard, shardBackbones } from './shard.js';
export { type PairedDifference, pairedDifference, type SeedStat, seedStat } from './statistics.js';
