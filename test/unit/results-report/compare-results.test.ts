import { describe, expect, it } from 'vitest'
import { agreement, compareResults, renderComparison } from '../../../src/results-report/index.ts'
import { makeResults } from './fixtures.ts'
import type { ScenarioResults } from '../../../src/scenario/results.ts'

const PLANS = ['staged', 'front-loading', 'all-at-once'] as const

/** A copy of results with the given plan style's latency scaled and its overhead shifted. */
function altered (results: ScenarioResults, plan: string, change: { latency?: number, overhead?: number }): ScenarioResults {
  const copy = structuredClone(results)
  for (const run of copy.runs) {
    if (run.plan !== plan) continue
    if (change.latency !== undefined && run.metrics.latencyMs !== null) run.metrics.latencyMs *= change.latency
    if (change.overhead !== undefined) run.metrics.overhead += change.overhead
  }
  return copy
}

describe('compareResults', () => {
  it('puts identical runs side by side with no difference', () => {
    const a = makeResults({ plans: [...PLANS] })
    const comparison = compareResults(a, structuredClone(a))
    expect(comparison.plans.map(p => p.plan)).toEqual([...PLANS])
    for (const p of comparison.plans) {
      expect(p.a).toEqual(p.b)
      for (const value of Object.values(p.difference)) expect(value).toBe(0)
    }
    const staged = comparison.plans[0]
    expect(staged?.a?.overhead).toBe(2)
    expect(staged?.a?.latencyMs).toBe(a.runs[0]?.metrics.latencyMs)
    expect(staged?.a?.timeToWorkingMedianMs).toBe(a.runs[0]?.metrics.timeToWorkingMs.median)
  })

  it('gives B − A per measure, and marks a style that only one side ran', () => {
    const a = makeResults({ plans: ['staged', 'all-at-once'] })
    const b = altered(makeResults({ plans: ['staged', 'front-loading'] }), 'staged', { overhead: 3 })
    const comparison = compareResults(a, b)
    expect(comparison.plans.map(p => p.plan)).toEqual(['staged', 'all-at-once', 'front-loading'])
    expect(comparison.plans[0]?.difference.overhead).toBe(3)
    expect(comparison.plans[1]?.b).toBeNull()
    expect(comparison.plans[1]?.difference.latencyMs).toBeNull()
    expect(comparison.plans[2]?.a).toBeNull()
    const text = renderComparison(comparison)
    expect(text).toMatch(/staged\s+machines\s+30\s+30\s+0/)
    expect(text).toMatch(/overhead\s+2\s+5\s+\+3\s+×2\.5/)
    expect(text).toContain('(not run)')
  })

  it('averages repetitions of a plan style', () => {
    const a = makeResults({ plans: ['staged'], repetitions: 3 })
    const side = compareResults(a, a).plans[0]?.a
    expect(side?.runs).toBe(3)
    const latencies = a.runs.map(r => r.metrics.latencyMs ?? 0)
    expect(side?.latencyMs).toBeCloseTo(latencies.reduce((x, y) => x + y, 0) / 3)
  })
})

describe('agreement', () => {
  it('holds for identical results, with a latency ratio of 1', () => {
    const a = makeResults({ plans: [...PLANS] })
    const check = agreement(a, structuredClone(a), { latencyTolerance: 0 })
    expect(check.agrees).toBe(true)
    for (const p of check.plans) {
      expect(p).toMatchObject({ agrees: true, overheadAgrees: true, latencyAgrees: true, machinesAgree: true, latencyRatio: 1, reason: '' })
    }
  })

  it('allows latency within the tolerance and not beyond it, in both directions', () => {
    const a = makeResults({ plans: [...PLANS] })
    const slower = agreement(a, altered(a, 'staged', { latency: 1.2 }), { latencyTolerance: 0.25 })
    expect(slower.agrees).toBe(true)
    expect(slower.plans[0]?.latencyRatio).toBeCloseTo(1.2)
    const tooSlow = agreement(a, altered(a, 'staged', { latency: 1.3 }), { latencyTolerance: 0.25 })
    expect(tooSlow.agrees).toBe(false)
    expect(tooSlow.plans[0]).toMatchObject({ plan: 'staged', agrees: false, overheadAgrees: true, latencyAgrees: false })
    expect(tooSlow.plans[0]?.reason).toBe('latency ×1.3 is outside ±25%')
    expect(tooSlow.plans.slice(1).every(p => p.agrees)).toBe(true)
    const tooFast = agreement(a, altered(a, 'all-at-once', { latency: 0.7 }), { latencyTolerance: 0.25 })
    expect(tooFast.plans[2]?.latencyAgrees).toBe(false)
  })

  it('requires overhead to be exactly equal', () => {
    const a = makeResults({ plans: [...PLANS] })
    const check = agreement(a, altered(a, 'all-at-once', { overhead: -1 }), { latencyTolerance: 1 })
    expect(check.agrees).toBe(false)
    expect(check.plans[2]).toMatchObject({ overheadAgrees: false, overheadA: 10, overheadB: 9, latencyAgrees: true, reason: 'overhead 10 ≠ 9' })
  })

  it('agrees that both never had every machine working, and not when only one did', () => {
    const never = makeResults({ plans: ['staged'], noFix: true })
    const fixed = makeResults({ plans: ['staged'] })
    const both = agreement(never, structuredClone(never), { latencyTolerance: 0.1 })
    expect(both.plans[0]).toMatchObject({ latencyRatio: null, latencyAgrees: true, agrees: true })
    const one = agreement(fixed, never, { latencyTolerance: 0.1 })
    expect(one.plans[0]).toMatchObject({ latencyRatio: null, latencyAgrees: false, agrees: false })
    expect(one.plans[0]?.reason).toMatch(/^latency \d+(\.\d+)? s vs –$/)
  })

  it('does not agree on a plan style only one side ran, nor on different populations', () => {
    const a = makeResults({ plans: ['staged', 'all-at-once'] })
    const b = makeResults({ plans: ['staged'], machinesPerCluster: 11 })
    const check = agreement(a, b, { latencyTolerance: 1 })
    expect(check.plans[0]).toMatchObject({ machinesAgree: false, agrees: false })
    expect(check.plans[0]?.reason).toContain('machines 30 ≠ 33')
    expect(check.plans[1]).toMatchObject({ plan: 'all-at-once', agrees: false, reason: 'only in A' })
  })

  it('rejects a tolerance that is not a fraction', () => {
    const a = makeResults()
    expect(() => agreement(a, a, { latencyTolerance: -0.1 })).toThrow(RangeError)
    expect(() => agreement(a, a, { latencyTolerance: Number.NaN })).toThrow(RangeError)
  })

  it('is printed after the comparison table', () => {
    const a = makeResults({ plans: ['staged', 'all-at-once'] })
    const b = altered(a, 'staged', { latency: 2 })
    const text = renderComparison(compareResults(a, b), agreement(a, b, { latencyTolerance: 0.25 }))
    expect(text).toContain('agreement (overhead exactly, latency within ±25%): NO')
    expect(text).toContain('staged: differs: latency ×2 is outside ±25%')
    expect(text).toMatch(/all-at-once: agrees \(overhead 10, latency ×1\)/)
  })
})
