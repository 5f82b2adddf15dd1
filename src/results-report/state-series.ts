/**
 * Machines per state over time, aggregated so the report's size does not
 * grow with the population: each machine's timeline is sampled at a fixed
 * number of times and counted per cluster, in O(events) per machine (a
 * difference array per cluster and state, summed once at the end).
 */
import { MACHINE_STATES } from '../scenario/results.ts'
import { MAX_CLUSTER_CHARTS, MAX_TIME_SAMPLES } from './constants.ts'
import type { MachineState, PlanRun, TimelineEvent } from '../scenario/results.ts'

const STATE_INDEX = new Map<MachineState, number>(MACHINE_STATES.map((s, i) => [s, i]))
const OFFLINE = STATE_INDEX.get('offline') ?? 0

/** Counts of machines per state at each sample time, for one group of machines. */
export interface StateSeries {
  /** The cluster's name, or a label for the merged rest. */
  label: string
  /** The cluster names this series sums (one, or many for "other clusters"). */
  clusters: string[]
  machines: number
  /** `counts[s][k]`: machines in `MACHINE_STATES[s]` at `times[k]`. */
  counts: Int32Array[]
}

export interface RunStateSeries {
  /** Sample times, ms since the start. */
  times: Float64Array
  /** One per charted cluster, then at most one series merging the rest. */
  series: StateSeries[]
  /** Clusters merged into the last series (0 if every cluster has its own). */
  merged: number
}

/** The end of a run's time axis: its duration, or the last event if later. */
export function runEndMs (run: PlanRun): number {
  let end = run.durationMs
  for (const machine of run.machines) {
    const last = machine.events[machine.events.length - 1]
    if (last !== undefined && last.at > end) end = last.at
    if (machine.workingAt !== null && machine.workingAt > end) end = machine.workingAt
  }
  return end
}

/**
 * Which clusters get their own chart when there are more than the report
 * shows: clusters a release breaks first (they carry the story of the run),
 * then the largest; drawn in the results' order.
 */
export function chartedClusters (run: PlanRun, limit = MAX_CLUSTER_CHARTS): { charted: string[], rest: string[] } {
  const names: string[] = []
  const sizes = new Map<string, number>()
  const failing = new Set<string>()
  for (const c of run.clusters) {
    if (!sizes.has(c.cluster)) names.push(c.cluster)
    sizes.set(c.cluster, c.machines)
    if (c.breaksOn.length > 0) failing.add(c.cluster)
  }
  // Machines may name clusters the cluster list lacks: count them too.
  const seen = new Map<string, number>()
  for (const m of run.machines) seen.set(m.cluster, (seen.get(m.cluster) ?? 0) + 1)
  for (const [name, n] of seen) {
    if (!sizes.has(name)) names.push(name)
    sizes.set(name, n)
  }
  if (names.length <= limit) return { charted: names, rest: [] }
  const ranked = [...names].sort((a, b) =>
    Number(failing.has(b)) - Number(failing.has(a)) || (sizes.get(b) ?? 0) - (sizes.get(a) ?? 0))
  const chosen = new Set(ranked.slice(0, limit - 1))
  return { charted: names.filter(n => chosen.has(n)), rest: names.filter(n => !chosen.has(n)) }
}

/**
 * Samples every machine's state at `samples` evenly spaced times from 0 to
 * `endMs`. Before its first event a machine counts as offline; the state at
 * a sample is that of the last event at or before it.
 */
export function runStateSeries (run: PlanRun, init: { endMs?: number, samples?: number, maxClusterCharts?: number } = {}): RunStateSeries {
  const samples = Math.max(2, init.samples ?? MAX_TIME_SAMPLES)
  const end = Math.max(1, init.endMs ?? runEndMs(run))
  const step = end / (samples - 1)
  const times = new Float64Array(samples)
  for (let k = 0; k < samples; k++) times[k] = k * step
  const { charted, rest } = chartedClusters(run, init.maxClusterCharts ?? MAX_CLUSTER_CHARTS)
  const groupOf = new Map<string, number>(charted.map((name, i) => [name, i]))
  const restIndex = charted.length
  for (const name of rest) groupOf.set(name, restIndex)
  const groups = charted.length + (rest.length > 0 ? 1 : 0)
  const states = MACHINE_STATES.length
  // diff[g][s * (samples + 1) + k]: +1 where a stay in state s starts covering samples, -1 where it stops.
  const diffs = Array.from({ length: groups }, () => new Int32Array(states * (samples + 1)))
  const machines = new Int32Array(groups)
  // First sample at or after `at`; the epsilon keeps an event exactly on a sample on that sample.
  const firstSample = (at: number): number => Math.min(samples, Math.max(0, Math.ceil(at / step - 1e-9)))
  for (const machine of run.machines) {
    const g = groupOf.get(machine.cluster) ?? restIndex
    const diff = diffs[g]
    if (diff === undefined) continue
    machines[g] = (machines[g] ?? 0) + 1
    const events = inTimeOrder(machine.events)
    let state = OFFLINE
    let from = 0
    for (const event of events) {
      const to = firstSample(event.at)
      if (to > from) {
        diff[state * (samples + 1) + from]! += 1
        diff[state * (samples + 1) + to]! -= 1
      }
      state = STATE_INDEX.get(event.state) ?? OFFLINE
      from = Math.max(from, to)
    }
    if (samples > from) {
      diff[state * (samples + 1) + from]! += 1
      diff[state * (samples + 1) + samples]! -= 1
    }
  }
  const series: StateSeries[] = []
  for (let g = 0; g < groups; g++) {
    const diff = diffs[g] ?? new Int32Array(0)
    const counts: Int32Array[] = []
    for (let s = 0; s < states; s++) {
      const row = new Int32Array(samples)
      let running = 0
      for (let k = 0; k < samples; k++) {
        running += diff[s * (samples + 1) + k] ?? 0
        row[k] = running
      }
      counts.push(row)
    }
    const isRest = g === restIndex && rest.length > 0
    series.push({
      label: isRest ? `${rest.length} other clusters` : charted[g] ?? '',
      clusters: isRest ? rest : [charted[g] ?? ''],
      machines: machines[g] ?? 0,
      counts
    })
  }
  return { times, series, merged: rest.length }
}

/** The events as given when already in time order (the format's promise), else a sorted copy. */
function inTimeOrder (events: TimelineEvent[]): TimelineEvent[] {
  for (let i = 1; i < events.length; i++) {
    if ((events[i]?.at ?? 0) < (events[i - 1]?.at ?? 0)) return [...events].sort((a, b) => a.at - b.at)
  }
  return events
}
