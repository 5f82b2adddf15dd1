import fc from 'fast-check'
import { describe, it, expect } from 'vitest'
import { parsePlanJson, ruleForCluster, validatePlan } from '../../../src/release/rollout-plan.ts'
import type { PlanInvalidError } from '../../../src/release/errors.ts'

function planError (text: string): PlanInvalidError {
  try {
    parsePlanJson(text)
  } catch (err) {
    expect((err as Error).name).toBe('PlanInvalidError')
    return err as PlanInvalidError
  }
  throw new Error(`plan was accepted: ${text}`)
}

const plan = (clusters: unknown[], extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ clusters, default: { k: 1, q: 1 }, ...extra })

describe('rollout plan validation', () => {
  it('accepts a staged plan, fills defaults and sorts into canonical order', () => {
    const parsed = parsePlanJson(plan([
      { name: 'php5-mysql', after: ['base'], k: 3, q: 2 },
      { name: 'base', k: 2, q: 2 }
    ], { default: { after: ['php5-mysql', 'base'], k: 1, q: 1 } }))
    expect(parsed.style).toBe('staged')
    expect(parsed.clusters.map(c => c.name)).toEqual(['base', 'php5-mysql'])
    expect(parsed.clusters[0]?.after).toEqual([])
    expect(parsed.default.after).toEqual(['base', 'php5-mysql'])
    expect(parsed.startTimeoutMs).toBeGreaterThan(0)
    expect(validatePlan(parsed)).toEqual(parsed)
    expect(ruleForCluster(parsed, 'php5-mysql').k).toBe(3)
    expect(ruleForCluster(parsed, 'never-named').k).toBe(1)
  })

  it('expresses the three styles, everyone-at-once included', () => {
    for (const style of ['staged', 'front-loading', 'all-at-once']) {
      expect(parsePlanJson(plan([], { style })).style).toBe(style)
    }
    expect(planError(plan([], { style: 'yolo' })).path).toBe('style')
  })

  it('names a cycle and the clusters in it', () => {
    const err = planError(plan([
      { name: 'a', after: ['c'], k: 1, q: 1 },
      { name: 'b', after: ['a'], k: 1, q: 1 },
      { name: 'c', after: ['b'], k: 1, q: 1 }
    ]))
    expect(err.reason).toBe('cycle')
    expect(err.message).toMatch(/a → c → b → a|b → a → c → b|c → b → a → c/)
  })

  it('refuses a two-cluster cycle and a self prerequisite', () => {
    expect(planError(plan([{ name: 'a', after: ['b'], k: 1, q: 1 }, { name: 'b', after: ['a'], k: 1, q: 1 }])).reason).toBe('cycle')
    const self = planError(plan([{ name: 'a', after: ['a'], k: 1, q: 1 }]))
    expect(self.reason).toBe('self-prerequisite')
    expect(self.path).toBe('clusters[0].after[0]')
  })

  it('names an unknown prerequisite, in a cluster or in the default rule', () => {
    const err = planError(plan([{ name: 'a', after: ['ghost'], k: 1, q: 1 }]))
    expect(err.reason).toBe('unknown-prerequisite')
    expect(err.message).toContain('"ghost"')
    expect(err.path).toBe('clusters[0].after[0]')
    expect(planError(plan([], { default: { after: ['ghost'], k: 1, q: 1 } })).path).toBe('default.after[0]')
  })

  it('refuses q > k, k or q below 1, fractions, and absurd sizes', () => {
    const qk = planError(plan([{ name: 'a', k: 2, q: 3 }]))
    expect(qk.reason).toBe('quorum-exceeds-representatives')
    expect(qk.path).toBe('clusters[0].q')
    expect(planError(plan([{ name: 'a', k: 0, q: 0 }])).path).toBe('clusters[0].k')
    expect(planError(plan([{ name: 'a', k: 2, q: 0 }])).path).toBe('clusters[0].q')
    expect(planError(plan([{ name: 'a', k: 1.5, q: 1 }])).path).toBe('clusters[0].k')
    expect(planError(plan([{ name: 'a', k: 10_000, q: 1 }])).path).toBe('clusters[0].k')
    expect(planError(plan([], { default: { k: 1, q: 2 } })).path).toBe('default.q')
  })

  it('refuses duplicate clusters, duplicate prerequisites, bad names and unknown fields', () => {
    expect(planError(plan([{ name: 'a', k: 1, q: 1 }, { name: 'a', k: 2, q: 1 }])).reason).toBe('duplicate-cluster')
    expect(planError(plan([{ name: 'a', k: 1, q: 1 }, { name: 'b', after: ['a', 'a'], k: 1, q: 1 }])).reason).toBe('duplicate-prerequisite')
    expect(planError(plan([{ name: '../etc', k: 1, q: 1 }])).path).toBe('clusters[0].name')
    const typo = planError(plan([{ name: 'a', aftr: ['b'], k: 1, q: 1 }]))
    expect(typo.path).toBe('clusters[0]')
    expect(typo.message).toContain('"aftr"')
    expect(planError(JSON.stringify({ clusters: [] })).path).toBe('default')
  })

  it('says when the file is not JSON at all', () => {
    expect(planError('{ clusters: ').reason).toBe('not-json')
    expect(planError('[]').reason).toBe('schema')
    expect(planError('null').reason).toBe('schema')
  })

  it('handles a 1000-cluster chain without recursion limits', () => {
    const chain = Array.from({ length: 1000 }, (_, i) => ({ name: `c${i}`, after: i === 0 ? [] : [`c${i - 1}`], k: 1, q: 1 }))
    expect(parsePlanJson(plan(chain)).clusters).toHaveLength(1000)
    chain[0] = { name: 'c0', after: ['c999'], k: 1, q: 1 }
    expect(planError(plan(chain)).reason).toBe('cycle')
  })

  it('a signed plan must be in canonical order and complete', () => {
    const parsed = parsePlanJson(plan([{ name: 'b', k: 1, q: 1 }, { name: 'a', k: 1, q: 1 }]))
    expect(() => validatePlan({ ...parsed, clusters: [...parsed.clusters].reverse() })).toThrow(/sorted/)
    const { startTimeoutMs: _, ...incomplete } = parsed
    expect(() => validatePlan(incomplete)).toThrow(/startTimeoutMs/)
  })

  // Generated plans: any DAG is accepted; adding an edge that closes a path is a cycle.
  it('accepts every acyclic plan and refuses the same plan with a back edge', () => {
    const dag = fc.integer({ min: 2, max: 25 }).chain(n => fc.tuple(
      fc.constant(n),
      fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1)), { maxLength: 60 })
    ))
    fc.assert(fc.property(dag, ([n, pairs]) => {
      // Edges only from higher to lower index: acyclic by construction.
      const after = Array.from({ length: n }, () => new Set<number>())
      for (const [x, y] of pairs) if (x > y) after[x]?.add(y)
      const clusters = after.map((deps, i) => ({ name: `c${i}`, after: [...deps].map(d => `c${d}`), k: 2, q: 1 }))
      const parsed = parsePlanJson(plan(clusters))
      expect(parsed.clusters).toHaveLength(n)
      // c0 -> c(n-1) closes a cycle whenever c(n-1) reaches c0.
      const reaches = (from: number, to: number, seen = new Set<number>()): boolean =>
        from === to || [...(after[from] ?? [])].some(d => !seen.has(d) && (seen.add(d), reaches(d, to, seen)))
      after[0]?.add(n - 1)
      const withBackEdge = after.map((deps, i) => ({ name: `c${i}`, after: [...deps].map(d => `c${d}`), k: 2, q: 1 }))
      if (reaches(n - 1, 0)) {
        expect(planError(plan(withBackEdge)).reason).toBe('cycle')
      } else {
        expect(parsePlanJson(plan(withBackEdge)).clusters).toHaveLength(n)
      }
    }), { numRuns: 300 })
  })
})
