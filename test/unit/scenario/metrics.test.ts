import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { computeRun, percentile, planRunSchema } from '../../../src/scenario/index.ts'
import type { ComputeRunInput, MachineTimeline, TimelineEvent } from '../../../src/scenario/index.ts'

const breaks = new Map([['2.0.0', new Map([['a', false], ['b', true]])], ['2.0.1', new Map([['a', false], ['b', false]])]])
const ev = (at: number, version: string, state: TimelineEvent['state']): TimelineEvent => ({ at, version, state })
const machine = (id: string, cluster: string, events: TimelineEvent[], extra: Partial<MachineTimeline> = {}): MachineTimeline =>
  ({ id, cluster, role: 'follower', events, bytesIn: 100, bytesOut: 0, messages: 3, ...extra })

function input (machines: MachineTimeline[], over: Partial<ComputeRunInput> = {}): ComputeRunInput {
  return {
    plan: 'staged',
    repetition: 0,
    seed: 1,
    releases: [{ version: '2.0.0', publishedAt: 1000 }, { version: '2.0.1', publishedAt: 20_000 }],
    breaks,
    clusters: [{ name: 'a', after: [] }, { name: 'b', after: ['a'] }],
    machines,
    vendorUploadBytes: 300,
    artifactBytes: 100,
    durationMs: 50_000,
    ...over
  }
}

describe('computeRun', () => {
  const staged = [
    machine('a-0', 'a', [ev(1500, '2.0.0', 'seen'), ev(2000, '2.0.0', 'testing'), ev(4000, '2.0.0', 'installing'), ev(6000, '2.0.0', 'installed')], { role: 'representative' }),
    machine('a-1', 'a', [ev(1500, '2.0.0', 'seen'), ev(7000, '2.0.0', 'installing'), ev(9000, '2.0.0', 'installed')]),
    machine('b-0', 'b', [ev(1500, '2.0.0', 'seen'), ev(8000, '2.0.0', 'testing'), ev(10_000, '2.0.0', 'failed'), ev(21_000, '2.0.1', 'seen'), ev(25_000, '2.0.1', 'installed')], { role: 'representative', bytesIn: 200, bytesOut: 50, messages: 7 }),
    machine('b-1', 'b', [ev(1500, '2.0.0', 'seen'), ev(11_000, '2.0.0', 'blocked'), ev(21_000, '2.0.0', 'superseded'), ev(21_000, '2.0.1', 'seen'), ev(30_000, '2.0.1', 'installed')])
  ]

  it('counts overhead, latency and time to working from the timelines', () => {
    const run = computeRun(input(staged))
    expect(planRunSchema.parse(run)).toEqual(run)
    expect(run.metrics.overhead).toBe(1)
    expect(run.metrics.latencyMs).toBe(29_000)
    expect(run.metrics.neverWorking).toBe(0)
    expect(run.metrics.timeToWorkingMs).toEqual({ median: 8000, p90: 29_000, max: 29_000 })
    expect(run.metrics.vendorUploadMultiple).toBe(3)
    expect(run.metrics.bytesPerMachine).toEqual({ median: 100, max: 250 })
    expect(run.metrics.messagesPerMachine).toEqual({ median: 3, max: 7 })
    expect(run.releases).toEqual([{ version: '2.0.0', publishedAt: 1000, faulty: true }, { version: '2.0.1', publishedAt: 20_000, faulty: false }])
  })

  it('fills each machine\'s result: breaksOn, exposedTo, workingAt, finalVersion', () => {
    const [a0, , b0, b1] = computeRun(input(staged)).machines
    expect(a0).toMatchObject({ breaksOn: [], exposedTo: [], workingAt: 6000, finalVersion: '2.0.0', role: 'representative' })
    expect(b0).toMatchObject({ breaksOn: ['2.0.0'], exposedTo: ['2.0.0'], workingAt: 25_000, finalVersion: '2.0.1' })
    expect(b1).toMatchObject({ breaksOn: ['2.0.0'], exposedTo: [], workingAt: 30_000, finalVersion: '2.0.1' })
  })

  it('gives per-cluster results with prerequisites and exposure', () => {
    const { clusters } = computeRun(input(staged))
    expect(clusters).toEqual([
      { cluster: 'a', machines: 2, after: [], breaksOn: [], exposed: 0, workingAt: 9000 },
      { cluster: 'b', machines: 2, after: ['a'], breaksOn: ['2.0.0'], exposed: 1, workingAt: 30_000 }
    ])
  })

  it('counts a failed health check (installed a faulty version, rolled back) as exposure', () => {
    const m = machine('b-2', 'b', [ev(1500, '2.0.0', 'installing'), ev(3000, '2.0.0', 'rolled-back')])
    const run = computeRun(input([m], { releases: [{ version: '2.0.0', publishedAt: 1000 }] }))
    expect(run.machines[0]).toMatchObject({ exposedTo: ['2.0.0'], workingAt: null, finalVersion: '' })
    expect(run.metrics).toMatchObject({ overhead: 1, latencyMs: null, neverWorking: 1 })
    expect(run.clusters.find(c => c.cluster === 'b')?.workingAt).toBeNull()
  })

  it('judges only published versions: a fix never triggered is not in breaksOn', () => {
    const run = computeRun(input(staged.slice(0, 2), { releases: [{ version: '2.0.0', publishedAt: 0 }] }))
    expect(run.clusters.find(c => c.cluster === 'b')).toMatchObject({ machines: 0, workingAt: null, breaksOn: ['2.0.0'] })
    expect(run.releases).toEqual([{ version: '2.0.0', publishedAt: 0, faulty: true }])
  })

  it('a targeted release is faulty only if it breaks a cluster it targets', () => {
    const run = computeRun(input([], { releases: [{ version: '2.0.0', publishedAt: 0, targets: ['a'] }] }))
    expect(run.releases[0]).toEqual({ version: '2.0.0', publishedAt: 0, faulty: false, targets: ['a'] })
    expect(run.metrics).toMatchObject({ machines: 0, overhead: 0, latencyMs: null, timeToWorkingMs: { median: null, p90: null, max: null } })
  })

  it('overhead is the number of machines that ran a faulty version in an exposing state (property)', () => {
    const states: Array<TimelineEvent['state']> = ['seen', 'waiting', 'downloading', 'testing', 'installing', 'installed', 'blocked', 'failed', 'rolled-back', 'superseded']
    fc.assert(fc.property(fc.array(fc.record({ cluster: fc.constantFrom('a', 'b'), states: fc.array(fc.constantFrom(...states), { maxLength: 6 }) }), { maxLength: 30 }), specs => {
      const machines = specs.map((s, i) => machine(`m${i}`, s.cluster, s.states.map((st, j) => ev(j * 10, '2.0.0', st))))
      const run = computeRun(input(machines, { releases: [{ version: '2.0.0', publishedAt: 0 }] }))
      const expected = specs.filter(s => s.cluster === 'b' && s.states.some(st => ['testing', 'installing', 'installed', 'rolled-back'].includes(st))).length
      expect(run.metrics.overhead).toBe(expected)
      expect(run.metrics.neverWorking).toBe(specs.filter(s => !(s.cluster === 'a' && s.states.includes('installed'))).length)
      planRunSchema.parse(run)
    }))
  })

  it('percentile is nearest-rank', () => {
    expect(percentile([], 0.5)).toBeNull()
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2)
    expect(percentile([1, 2, 3, 4], 0.9)).toBe(4)
    expect(percentile([7], 0.9)).toBe(7)
  })
})
