/**
 * Runs grouped by plan style (a scenario may repeat each style with several
 * seeds), and the pooled distribution of time to a working upgrade.
 */
import type { PlanStyle } from '../release/index.ts'
import type { PlanRun, ScenarioResults } from '../scenario/results.ts'

export interface PlanGroup {
  plan: PlanStyle
  /** The style's runs (repetitions), in the results' order. */
  runs: PlanRun[]
}

/** Runs by plan style, styles in order of first appearance. */
export function groupByPlan (results: ScenarioResults): PlanGroup[] {
  const groups = new Map<PlanStyle, PlanRun[]>()
  for (const run of results.runs) {
    const list = groups.get(run.plan) ?? []
    list.push(run)
    groups.set(run.plan, list)
  }
  return [...groups].map(([plan, runs]) => ({ plan, runs }))
}

/** The first publication of a run (ms since start), 0 if it published nothing. */
export function firstPublicationMs (run: PlanRun): number {
  let first = Infinity
  for (const release of run.releases) first = Math.min(first, release.publishedAt)
  return Number.isFinite(first) ? first : 0
}

/**
 * Every machine's time from its run's first publication to its first working
 * version, pooled over the runs and sorted; `machines` counts all machines,
 * those that never got there included (so a CDF ends below 100% for them).
 */
export function timeToWorking (runs: PlanRun[]): { sorted: Float64Array, machines: number } {
  let machines = 0
  let working = 0
  for (const run of runs) {
    machines += run.machines.length
    for (const m of run.machines) if (m.workingAt !== null) working++
  }
  const sorted = new Float64Array(working)
  let i = 0
  for (const run of runs) {
    const start = firstPublicationMs(run)
    for (const m of run.machines) if (m.workingAt !== null) sorted[i++] = Math.max(0, m.workingAt - start)
  }
  sorted.sort()
  return { sorted, machines }
}

/** The fraction of `machines` whose value is at or below each of `points` evenly spaced times from 0 to `endMs`. */
export function cdfSamples (sorted: Float64Array, machines: number, endMs: number, points: number): { times: Float64Array, values: Float64Array } {
  const n = Math.max(2, points)
  const times = new Float64Array(n)
  const values = new Float64Array(n)
  let index = 0
  for (let k = 0; k < n; k++) {
    const t = (endMs * k) / (n - 1)
    while (index < sorted.length && (sorted[index] ?? 0) <= t) index++
    times[k] = t
    values[k] = machines === 0 ? 0 : index / machines
  }
  return { times, values }
}

/** The q-quantile (nearest rank) of sorted values, null when there are none. */
export function quantile (sorted: ArrayLike<number>, q: number): number | null {
  if (sorted.length === 0) return null
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank] ?? null
}
