import { describe, it, expect } from 'vitest'
import type { RolloutEvent } from '../../../src/rollout/index.ts'
import { OBSERVER, SILENCE_MS, cluster, outcome, plan, rankedPeers, seen, started, tested, viewOf } from './rollout-fixtures.ts'

const peers = rankedPeers('p', 4)
const [p0, p1, p2, p3] = peers as [string, string, string, string]
const sorted = (ids: string[]) => [...ids].sort()
const frontLoading = (k: number, q: number) => plan({ style: 'front-loading', clusters: [{ name: 'c', k, q }] })
const at = (events: RolloutEvent[], now: number, k = 3, q = 2) =>
  cluster(viewOf({ plan: frontLoading(k, q), self: OBSERVER, events: [...peers.map(p => seen('c', p)), ...events] }, now), 'c')

describe('quorum (rule 6)', () => {
  it('passes at the pass that reaches q distinct member passes, ordered by time not arrival', () => {
    expect(at([outcome('c', p0, true, 300)], 400)).toMatchObject({ state: 'testing', passes: [p0], quorum: 2, reason: 'testing: 1/2 passes from 3 representatives' })
    const view = at([outcome('c', p0, true, 300), outcome('c', p1, true, 100), outcome('c', p2, true, 200)], 400)
    expect(view).toMatchObject({ state: 'passed', passedAt: 200, reason: 'passed: 3/2 passes' })
    expect(view.passes).toEqual(sorted([p0, p1, p2]))
  })

  it('counts repeated outcomes from one peer once, at the earliest time', () => {
    const once = at([outcome('c', p0, true, 50), outcome('c', p0, true, 10), outcome('c', p0, true, 90)], 100)
    expect(once).toMatchObject({ state: 'testing', passes: [p0] })
    const two = at([outcome('c', p0, true, 50), outcome('c', p0, true, 10), outcome('c', p1, true, 30)], 100)
    expect(two.passedAt).toBe(30)
  })

  it('counts a pass from any member, elected or not', () => {
    // p3 is outside the 3 seats (or anywhere in rank): a member's valid pass is still a member's pass
    expect(at([outcome('c', p3, true, 5), outcome('c', p0, true, 6)], 10)).toMatchObject({ state: 'passed', passedAt: 6 })
  })

  it('ignores outcomes from non-members (forged or unknown signers), passes and failures alike', () => {
    const forged = [
      outcome('c', 'forger-1', true, 1), outcome('c', 'forger-2', true, 2), outcome('c', 'forger-2', false, 3),
      outcome('other', p0, true, 4) // a member of c reporting for a cluster it is not in
    ]
    const view = at(forged, 10)
    expect(view).toMatchObject({ state: 'testing', passes: [], failures: [], ignoredOutcomes: 3 })
  })

  it('counts an outcome once its signer is known to be a member, whatever the arrival order', () => {
    const late = viewOf({ plan: frontLoading(1, 1), self: OBSERVER, events: [outcome('c', 'newcomer', true, 1), seen('c', 'newcomer', 'auto', 2)] }, 3)
    expect(cluster(late, 'c')).toMatchObject({ state: 'passed', passes: ['newcomer'], ignoredOutcomes: 0 })
  })

  it('treats a member that reported both a pass and a failure as a failure', () => {
    const view = at([outcome('c', p0, true, 1), outcome('c', p1, true, 2), outcome('c', p1, false, 3)], 10)
    expect(view).toMatchObject({ state: 'failed', passes: [p0], failures: [p1] })
    expect(view.passedAt).toBeUndefined()
    expect(view.reason).toBe(`failed: ${p1} reported a failure`)
  })

  it('fails on one member failure even after the quorum was reached', () => {
    const passed = [outcome('c', p0, true, 1), outcome('c', p1, true, 2)]
    expect(at(passed, 10).state).toBe('passed')
    expect(at([...passed, outcome('c', p3, false, 20)], 30)).toMatchObject({ state: 'failed', failures: [p3] })
  })

  it('cuts long peer ids in reasons', () => {
    const long = '12D3KooWLongPeerIdentifierThatGoesOnAndOn'
    const view = cluster(viewOf({ plan: frontLoading(1, 1), self: OBSERVER, events: [seen('c', long), outcome('c', long, false, 1)] }, 2), 'c')
    expect(view.reason).toBe('failed: 12D3KooWLong… reported a failure')
  })
})

describe('silence (rule 5)', () => {
  const s = 1_000
  const deadline = s + SILENCE_MS

  it('turns a started member without an outcome into a failure exactly at start + test timeout + grace', () => {
    expect(at([started('c', p0, s)], deadline - 1)).toMatchObject({ state: 'testing', started: [p0], silent: [] })
    const view = at([started('c', p0, s)], deadline)
    expect(view).toMatchObject({ state: 'failed', silent: [p0], failures: [] })
    expect(view.reason).toMatch(/went silent/)
  })

  it('accepts an outcome at exactly the deadline, not one later', () => {
    expect(at(tested('c', p0, s, true, deadline), deadline + 1)).toMatchObject({ state: 'testing', passes: [p0], silent: [] })
    expect(at(tested('c', p0, s, true, deadline + 1), deadline + 1)).toMatchObject({ state: 'failed', passes: [], silent: [p0] })
  })

  it('fails a passed cluster when another started representative goes silent', () => {
    const events = [...tested('c', p0, s, true, s + 1), ...tested('c', p1, s, true, s + 2), started('c', p2, s)]
    expect(at(events, deadline - 1)).toMatchObject({ state: 'passed', passedAt: s + 2 })
    expect(at(events, deadline)).toMatchObject({ state: 'failed', silent: [p2] })
  })

  it('uses the earliest start of a member', () => {
    expect(at([started('c', p0, s + 500), started('c', p0, s)], deadline).silent).toEqual([p0])
  })

  it('never counts a non-member that started and went silent', () => {
    expect(at([started('c', 'stranger', s)], deadline + 1)).toMatchObject({ state: 'testing', started: [], silent: [] })
  })
})
