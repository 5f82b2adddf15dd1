/**
 * Bounds of the report: it must stay small enough to open in a browser and
 * to attach to an issue whatever the population (a simulation writes results
 * for 1,000,000 machines), so every chart aggregates and every table is capped.
 */

/** Time samples per state chart: enough for a smooth curve on a 600 px wide chart, independent of the population. */
export const MAX_TIME_SAMPLES = 200

/** Points per time-to-working CDF line: the same resolution as the state charts. */
export const MAX_CDF_POINTS = 200

/**
 * Clusters drawn as their own small multiple per plan run; the remaining
 * clusters are summed into one "other clusters" chart. 24 charts of ~10 KiB
 * keep a run's section readable and its size bounded.
 */
export const MAX_CLUSTER_CHARTS = 24

/** Plan runs that get their own state charts; the summary table still lists every run. */
export const MAX_DETAILED_RUNS = 12

/**
 * State charts in the whole report, shared among the detailed runs (3 runs:
 * 24 clusters each; 12 runs: 8 each). A chart is at most ~25 KiB (13 states
 * of 200 points), so the charts stay under ~2.5 MiB whatever the population.
 */
export const MAX_STATE_CHARTS = 96

/** Names listed in one table cell (prerequisites, targets); the rest are counted. */
export const MAX_NAMES_PER_CELL = 8

/** Rows of the per-cluster table per plan run; the rest is counted in a note. */
export const MAX_CLUSTER_TABLE_ROWS = 200

/**
 * Largest results.json `loadResults` reads. V8 refuses strings longer than
 * about 512 MiB, so a bigger file could not be parsed anyway; the check turns
 * that into an error that names the file.
 */
export const MAX_RESULTS_FILE_BYTES = 512 * 1024 * 1024 - 64

/**
 * Default relative tolerance on latency when a simulation is checked against
 * a real run of the same scenario: the simulator models transfer, test and
 * report times, a real run adds gossip heartbeats (~1 s each, DESIGN.md) and
 * scheduling jitter on two shared cores. About the spread of the real runs
 * themselves: three real runs of paper-staging on one 2-core machine in one
 * day took 104–134 s all at once, 93–125 s staged and 90–129 s
 * front-loading, against 141, 107 and 108 s simulated on a shared host of
 * 2 cores (bench/agreement.bench.ts); two of the three agreed within this.
 */
export const DEFAULT_LATENCY_TOLERANCE = 0.25
