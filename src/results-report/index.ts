/**
 * Results report: turns a scenario's `results.json` (real or simulated run,
 * `src/scenario/results.ts`) into what a researcher looks at. A
 * self-contained `report.html` with Mirage's evaluation (§5): overhead and
 * latency of the compared plan styles, the distribution of time to a working
 * upgrade, and machines per state over time by cluster. And the comparison
 * of two runs, with the check that a simulation and a real run of the same
 * scenario agree (overhead exactly, latency within a tolerance; issue 6).
 */
export { renderReport, STATE_COLORS, PLAN_COLORS } from './render-report.ts'
export type { ReportOptions } from './render-report.ts'
export { loadResults, parseResults } from './load-results.ts'
export { compareResults, agreement, renderComparison, planSide, COMPARED_MEASURES } from './compare-results.ts'
export type { ResultsComparison, PlanComparison, PlanSide, RunIdentity, ComparedMeasure, Agreement, PlanAgreement } from './compare-results.ts'
export { ResultsFileError, RESULTS_FILE_REASONS } from './errors.ts'
export type { ResultsFileReason } from './errors.ts'
export { DEFAULT_LATENCY_TOLERANCE, MAX_TIME_SAMPLES } from './constants.ts'
