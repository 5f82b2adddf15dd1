import { describe, it, expect } from 'vitest'
import { prerequisiteClosure } from '../../../src/rollout/cluster-gate.ts'
import type { RolloutEvent } from '../../../src/rollout/index.ts'
import { OBSERVER, cluster, outcome, plan, seen, viewOf } from './rollout-fixtures.ts'

const rule = (name: string, after: string[] = [], k = 1, q = 1) => ({ name, after, k, q })
/** a → b → c, and unnamed clusters come after c. */
const chain = plan({ clusters: [rule('a'), rule('b', ['a']), rule('c', ['b'])], default: { after: ['c'], k: 1, q: 1 } })
/** a → b, a → c, b + c → d. */
const diamond = plan({ clusters: [rule('a'), rule('b', ['a']), rule('c', ['a']), rule('d', ['b', 'c'])] })

/** One member per cluster, named after it, so `pass('a', 5)` reads well. */
const everyone = (...ids: string[]) => ids.map(id => seen(id, `${id}-member`))
const pass = (id: string, at: number) => outcome(id, `${id}-member`, true, at)
const fail = (id: string, at: number) => outcome(id, `${id}-member`, false, at)

describe('prerequisites (rule 1)', () => {
  it('closes `after` transitively, sorted, through named clusters and the default rule', () => {
    expect(prerequisiteClosure(chain, 'a')).toEqual([])
    expect(prerequisiteClosure(chain, 'c')).toEqual(['a', 'b'])
    expect(prerequisiteClosure(chain, 'unnamed')).toEqual(['a', 'b', 'c'])
    expect(prerequisiteClosure(diamond, 'd')).toEqual(['a', 'b', 'c'])
    expect(prerequisiteClosure(diamond, 'unnamed')).toEqual([])
  })

  it('shows each cluster its rule, named or default, and its closure', () => {
    const view = viewOf({ plan: chain, self: OBSERVER }, 0)
    expect(view.clusters.map(c => c.clusterId)).toEqual(['a', 'b', 'c', 'observer-cluster'])
    expect(cluster(view, 'b')).toMatchObject({ rule: { after: ['a'], k: 1, q: 1 }, prerequisites: ['a'] })
    expect(cluster(view, 'observer-cluster')).toMatchObject({ rule: { after: ['c'], k: 1, q: 1 }, prerequisites: ['a', 'b', 'c'] })
  })
})

describe('staged gates (rules 4, 8, 9)', () => {
  const at = (events: RolloutEvent[], now: number, p = chain, seenAt = 0) => viewOf({ plan: p, self: OBSERVER, seenAt, events }, now)

  it('opens each link of a chain when the one before it passed', () => {
    const members = everyone('a', 'b', 'c')
    let view = at(members, 10)
    expect(view.clusters.map(c => c.state)).toEqual(['testing', 'waiting', 'waiting', 'waiting'])
    expect(cluster(view, 'b').reason).toBe('waiting for prerequisite a (0/1 passes)')
    expect(cluster(view, 'c').reason).toBe('waiting for prerequisites a (0/1 passes), b (0/1 passes)')

    view = at([...members, pass('a', 100)], 110)
    expect(cluster(view, 'a')).toMatchObject({ state: 'passed', openedAt: 0, passedAt: 100 })
    expect(cluster(view, 'b')).toMatchObject({ state: 'testing', openedAt: 100 })
    expect(cluster(view, 'c').openedAt).toBeUndefined()

    view = at([...members, pass('a', 100), pass('b', 200)], 210)
    expect(cluster(view, 'c')).toMatchObject({ state: 'testing', openedAt: 200 })
    expect(cluster(view, 'observer-cluster')).toMatchObject({ state: 'waiting', reason: 'waiting for prerequisite c (0/1 passes)' })
  })

  it('opens no earlier than this node first saw the release', () => {
    expect(cluster(at([...everyone('a', 'b'), pass('a', 100)], 600, chain, 500), 'b').openedAt).toBe(500)
  })

  it('opens the bottom of a diamond only when both sides passed, at the later pass', () => {
    const members = everyone('a', 'b', 'c', 'd')
    const half = at([...members, pass('a', 10), pass('c', 30)], 40, diamond)
    expect(cluster(half, 'd')).toMatchObject({ state: 'waiting', reason: 'waiting for prerequisite b (0/1 passes)' })
    const both = at([...members, pass('a', 10), pass('c', 30), pass('b', 20)], 40, diamond)
    expect(cluster(both, 'd')).toMatchObject({ state: 'testing', openedAt: 30 })
  })

  it('never counts an empty prerequisite as satisfied (a membership lag must not open a gate)', () => {
    const view = at(everyone('b', 'c'), 10)
    expect(cluster(view, 'a')).toMatchObject({ state: 'empty', members: 0, representatives: [], reason: 'no known members' })
    expect(cluster(view, 'b')).toMatchObject({ state: 'waiting', reason: 'waiting for prerequisite a (no known members)' })
    // outcomes for a cluster nobody announced are all from non-members
    const forged = at([...everyone('b', 'c'), pass('a', 1)], 10)
    expect(cluster(forged, 'a')).toMatchObject({ state: 'empty', ignoredOutcomes: 1 })
    expect(cluster(forged, 'b').state).toBe('waiting')
  })

  it('lists only clusters with a member or a name in the plan', () => {
    const view = at([outcome('ghost', 'x', true, 1), seen('seen-only', 's')], 10)
    expect(view.clusters.map(c => c.clusterId)).toEqual(['a', 'b', 'c', 'observer-cluster', 'seen-only'])
  })
})

describe('blocking (rule 7)', () => {
  const at = (events: RolloutEvent[], now: number, p = diamond) => viewOf({ plan: p, self: OBSERVER, events }, now)

  it('blocks every cluster downstream of a failure, transitively, and names the failed one', () => {
    const view = at([...everyone('a', 'b', 'c', 'd'), fail('a', 5)], 10)
    expect(view.clusters.map(c => [c.clusterId, c.state])).toEqual([['a', 'failed'], ['b', 'blocked'], ['c', 'blocked'], ['d', 'blocked'], ['observer-cluster', 'waiting']])
    expect(cluster(view, 'd').reason).toBe('blocked: prerequisite a failed')
    expect(cluster(view, 'd').openedAt).toBeUndefined()
  })

  it('blocks only what depends on the failed side of a diamond', () => {
    const view = at([...everyone('a', 'b', 'c', 'd'), pass('a', 5), fail('b', 6), pass('c', 7)], 10)
    expect(view.clusters.map(c => c.state)).toEqual(['passed', 'failed', 'passed', 'blocked', 'waiting'])
    expect(cluster(view, 'd').reason).toBe('blocked: prerequisite b failed')
  })

  it('names every failed prerequisite', () => {
    const view = at([...everyone('a', 'b', 'c', 'd'), pass('a', 5), fail('b', 6), fail('c', 7)], 10)
    expect(cluster(view, 'd').reason).toBe('blocked: prerequisites b, c failed')
  })

  it('blocks an empty cluster’s dependents through it and keeps a cluster’s own failure first', () => {
    const view = at([...everyone('a', 'd'), fail('a', 5), fail('d', 6)], 10)
    expect(cluster(view, 'b').state).toBe('empty')
    expect(cluster(view, 'd')).toMatchObject({ state: 'failed', reason: 'failed: d-member reported a failure' })
  })

  it('blocks a cluster whose own quorum passed before a prerequisite failed (front-loading)', () => {
    const front = plan({ style: 'front-loading', clusters: [rule('a'), rule('b', ['a'])] })
    const view = at([...everyone('a', 'b'), pass('b', 5), fail('a', 6)], 10, front)
    expect(cluster(view, 'b').state).toBe('blocked')
    expect(cluster(view, 'b').passedAt).toBeUndefined()
  })
})
