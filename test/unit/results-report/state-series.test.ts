import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MACHINE_STATES } from '../../../src/scenario/results.ts'
import { chartedClusters, runStateSeries } from '../../../src/results-report/state-series.ts'
import { makeResults } from './fixtures.ts'
import type { MachineResult, MachineState, PlanRun, TimelineEvent } from '../../../src/scenario/results.ts'

function machine (id: string, cluster: string, events: Array<[number, MachineState]>): MachineResult {
  return {
    id, cluster, role: 'follower', breaksOn: [], exposedTo: [], workingAt: null, finalVersion: '', bytesIn: 0, bytesOut: 0, messages: 0,
    events: events.map(([at, state]): TimelineEvent => ({ at, version: '1.0.0', state }))
  }
}

function run (machines: MachineResult[], durationMs: number): PlanRun {
  const base = makeResults({ plans: ['staged'], clusters: 1, machinesPerCluster: 1 }).runs[0]
  if (base === undefined) throw new Error('fixture has no run')
  return { ...base, machines, clusters: [], durationMs }
}

const idx = (s: MachineState): number => MACHINE_STATES.indexOf(s)

describe('runStateSeries', () => {
  it('samples each machine at evenly spaced times: offline before its first event, then its last state so far', () => {
    const series = runStateSeries(run([
      machine('a', 'c', [[0, 'seen'], [50, 'installed']]),
      // Joins late; two events between samples: the later one is what sample 4 sees.
      machine('b', 'c', [[25, 'waiting'], [31, 'testing'], [33, 'installing']])
    ], 100), { samples: 11 })
    expect([...series.times]).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
    const [c] = series.series
    expect(c?.machines).toBe(2)
    expect([...(c?.counts[idx('seen')] ?? [])]).toEqual([1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    expect([...(c?.counts[idx('installed')] ?? [])]).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    expect([...(c?.counts[idx('offline')] ?? [])]).toEqual([1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    expect([...(c?.counts[idx('waiting')] ?? [])]).toEqual([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    expect([...(c?.counts[idx('testing')] ?? [])].every(v => v === 0)).toBe(true)
    expect([...(c?.counts[idx('installing')] ?? [])]).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1])
  })

  it('agrees with sampling each machine directly, and every sample sums to the machines (generated timelines)', () => {
    const event = fc.tuple(fc.integer({ min: 0, max: 1000 }), fc.constantFrom(...MACHINE_STATES))
    const machines = fc.array(fc.tuple(fc.constantFrom('x', 'y', 'z'), fc.array(event, { maxLength: 8 })), { minLength: 1, maxLength: 30 })
    fc.assert(fc.property(machines, fc.integer({ min: 2, max: 40 }), fc.boolean(), (specs, samples, shuffle) => {
      const list = specs.map(([cluster, events], i) => {
        const sorted = [...events].sort((a, b) => a[0] - b[0])
        // Out-of-order timelines are sorted by the series too.
        return machine(`m${i}`, cluster, shuffle ? [...sorted].reverse() : sorted)
      })
      const result = runStateSeries(run(list, 1000), { samples })
      for (const series of result.series) {
        const members = list.filter(m => series.clusters.includes(m.cluster))
        for (let k = 0; k < samples; k++) {
          const t = result.times[k] ?? 0
          const expected = new Array<number>(MACHINE_STATES.length).fill(0)
          for (const m of members) {
            const before = [...m.events].sort((a, b) => a.at - b.at).filter(e => e.at <= t + 1e-6)
            const state = before[before.length - 1]?.state ?? 'offline'
            expected[idx(state)]! += 1
          }
          expect(series.counts.map(row => row[k])).toEqual(expected)
        }
      }
    }), { numRuns: 150 })
  })

  it('charts clusters a release breaks first, then the largest, and sums the rest into one series', () => {
    const results = makeResults({ clusters: 10, machinesPerCluster: 2, failing: [9], plans: ['staged'] })
    const r = results.runs[0]
    if (r === undefined) throw new Error('no run')
    // Make cluster-4 the largest.
    const extra = r.machines.filter(m => m.cluster === 'cluster-4').map(m => ({ ...m, id: `${m.id}-copy` }))
    const bigger: PlanRun = { ...r, machines: [...r.machines, ...extra], clusters: r.clusters.map(c => c.cluster === 'cluster-4' ? { ...c, machines: 4 } : c) }
    const { charted, rest } = chartedClusters(bigger, 3)
    expect(charted).toEqual(['cluster-4', 'cluster-9'])
    expect(rest).toHaveLength(8)
    const series = runStateSeries(bigger, { maxClusterCharts: 3 })
    expect(series.series.map(s => s.label)).toEqual(['cluster-4', 'cluster-9', '8 other clusters'])
    expect(series.series.map(s => s.machines)).toEqual([4, 2, 16])
    expect(series.merged).toBe(8)
  })
})
