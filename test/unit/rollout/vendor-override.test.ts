import { describe, it, expect } from 'vitest'
import { applyEvent, evaluate } from '../../../src/rollout/index.ts'
import type { RolePreference, RolloutEvent, RolloutSelf } from '../../../src/rollout/index.ts'
import { OBSERVER, SILENCE_MS, START_TIMEOUT_MS as T, cluster, outcome, plan, rankedPeers, seen, started, stateOf, tested, viewOf } from './rollout-fixtures.ts'

type Action = 'halt' | 'clear'
/** A vendor override; no cluster = the whole release. */
const override = (action: Action, sequence: number, at: number, clusterId?: string, reason?: string): RolloutEvent => ({
  type: 'override', at, action, sequence, ...(clusterId === undefined ? {} : { clusterId }), ...(reason === undefined ? {} : { reason })
})
const halt = (sequence: number, at: number, clusterId?: string, reason?: string) => override('halt', sequence, at, clusterId, reason)
const clear = (sequence: number, at: number, clusterId?: string, reason?: string) => override('clear', sequence, at, clusterId, reason)

/** a → b, and c on its own; one seat and one pass each. */
const staged = plan({ clusters: [{ name: 'a', k: 1, q: 1 }, { name: 'b', after: ['a'], k: 1, q: 1 }, { name: 'c', k: 1, q: 1 }] })
const [a0, a1] = rankedPeers('a', 2) as [string, string]
const [b0] = rankedPeers('b', 1) as [string]
const [c0] = rankedPeers('c', 1) as [string]
const world: RolloutEvent[] = [seen('a', a0), seen('a', a1), seen('b', b0), seen('c', c0)]

const view = (events: RolloutEvent[], now: number, self: RolloutSelf = OBSERVER, p = staged) =>
  viewOf({ plan: p, self, events: [...world, ...events] }, now)
const member = (clusterId: string, peerId = 'me', role: RolePreference = 'follower'): RolloutSelf => ({ peerId, clusterId, role })
const states = (events: RolloutEvent[], now: number) => view(events, now).clusters.map(c => [c.clusterId, c.state])

describe('halt (rule 13)', () => {
  it('halts every cluster on a release-wide halt, with the vendor’s words, and leaves empty clusters empty', () => {
    const events = [halt(1, 5, undefined, 'data loss on upgrade')]
    const withEmpty = plan({ clusters: [{ name: 'a', k: 1, q: 1 }, { name: 'b', after: ['a'], k: 1, q: 1 }, { name: 'c', k: 1, q: 1 }, { name: 'd', k: 1, q: 1 }] })
    const result = view(events, 10, OBSERVER, withEmpty)
    expect(result.clusters.map(c => [c.clusterId, c.state])).toEqual([['a', 'halted'], ['b', 'halted'], ['c', 'halted'], ['d', 'empty'], ['observer-cluster', 'halted']])
    expect(cluster(result, 'a')).toMatchObject({
      reason: 'halted by the vendor (release-wide, override 1): data loss on upgrade',
      override: { action: 'halt', sequence: 1, at: 5, scope: 'release', reason: 'data loss on upgrade' }
    })
    expect(cluster(result, 'a').openedAt).toBeUndefined()
    expect(result.self).toEqual({
      action: 'halted',
      reason: 'cluster observer-cluster halted by the vendor (release-wide, override 1): data loss on upgrade',
      haltedBy: ['observer-cluster']
    })
  })

  it('never tells an elected representative of a halted cluster to test', () => {
    expect(view([], 10, member('a', a0, 'auto')).self.action).toBe('test')
    expect(view([halt(1, 5, 'a')], 10, member('a', a0, 'auto')).self).toMatchObject({ action: 'halted', haltedBy: ['a'] })
    expect(view([halt(1, 5)], 10, member('c', c0, 'auto')).self.action).toBe('halted')
  })

  it('halts one cluster only; a cluster that does not depend on it carries on', () => {
    const result = view([halt(1, 5, 'a', 'investigating')], 10)
    expect(result.clusters.map(c => [c.clusterId, c.state])).toEqual([['a', 'halted'], ['b', 'waiting'], ['c', 'testing'], ['observer-cluster', 'waiting']])
    expect(cluster(result, 'a')).toMatchObject({ reason: 'halted by the vendor (override 1): investigating', override: { scope: 'cluster' } })
    expect(cluster(result, 'b').reason).toBe('waiting for prerequisite a (halted)')
    expect(view([halt(1, 5, 'a')], 10, member('c', c0, 'auto')).self.action).toBe('test')
  })

  it('keeps a dependent’s machines halted, naming the halted prerequisite', () => {
    expect(view([halt(1, 5, 'a', 'investigating')], 10, member('b')).self).toEqual({
      action: 'halted', reason: 'prerequisite a halted by the vendor (override 1): investigating', haltedBy: ['a']
    })
    expect(view([halt(1, 5, 'a'), halt(2, 6, 'b')], 10, member('b')).self).toEqual({
      action: 'halted', reason: 'prerequisite a, cluster b halted by the vendor', haltedBy: ['a', 'b']
    })
  })

  it('takes back a pass: a halted cluster whose representatives passed stops its followers and its dependents', () => {
    const passed = [...tested('a', a0, 0, true, 100)]
    expect(cluster(view(passed, 150), 'b')).toMatchObject({ state: 'testing', openedAt: 100 })
    expect(view(passed, 150, member('a')).self.action).toBe('install')

    const halted = [...passed, halt(1, 120, 'a')]
    const result = view(halted, 150)
    expect(cluster(result, 'a')).toMatchObject({ state: 'halted', passes: [a0] })
    expect(cluster(result, 'a').passedAt).toBeUndefined()
    expect(cluster(result, 'b')).toMatchObject({ state: 'waiting', reason: 'waiting for prerequisite a (halted)' })
    expect(cluster(result, 'b').openedAt).toBeUndefined()
    expect(view(halted, 150, member('a')).self).toMatchObject({ action: 'halted', haltedBy: ['a'] })
    expect(view(halted, 150, member('b')).self).toMatchObject({ action: 'halted', haltedBy: ['a'] })
    expect(view(halted, 150, member('b', b0, 'auto')).self.action).toBe('halted')
  })

  it('stops even a representative whose own test passed from installing', () => {
    const events = [...tested('a', a0, 0, true, 100), halt(1, 120, 'a')]
    expect(view(events.slice(0, 2), 150, member('a', a0, 'auto')).self.action).toBe('install')
    expect(view(events, 150, member('a', a0, 'auto')).self).toMatchObject({ action: 'halted', haltedBy: ['a'] })
  })

  it('shows a halted cluster as halted even when it also failed; its failure still blocks its dependents', () => {
    const events = [outcome('a', a0, false, 50), halt(1, 60, 'a')]
    const result = view(events, 70)
    expect(cluster(result, 'a')).toMatchObject({ state: 'halted', failures: [a0] })
    expect(cluster(result, 'b')).toMatchObject({ state: 'blocked', reason: 'blocked: prerequisite a failed' })
    expect(view(events, 70, member('b')).self).toMatchObject({ action: 'halted', haltedBy: ['a'] })
  })

  it('replaces nobody while halted: nobody may start, so nobody is late', () => {
    const events = [halt(1, 0, 'c')]
    const late = view(events, 5 * T)
    expect(cluster(late, 'c')).toMatchObject({ state: 'halted', representatives: [c0], replaced: [] })
    expect(late.nextDeadlineAt).toBeUndefined()
  })

  it('still counts a started representative’s silence while halted (the node decides what to do with a running test)', () => {
    const events = [started('c', c0, 0), halt(1, 5)]
    expect(view(events, 10).nextDeadlineAt).toBe(SILENCE_MS)
    expect(cluster(view(events, SILENCE_MS), 'c')).toMatchObject({ state: 'halted', silent: [c0] })
  })

  it('halts an empty prerequisite all the same: its dependents’ machines are told so', () => {
    const result = viewOf({ plan: staged, self: member('b'), events: [seen('b', b0), halt(1, 5, 'a')] }, 10)
    expect(cluster(result, 'a').state).toBe('empty')
    expect(result.self).toMatchObject({ action: 'halted', haltedBy: ['a'] })
  })

  it('in all-at-once, halts the machines of a halted cluster and nobody else', () => {
    const flat = plan({ style: 'all-at-once', clusters: [{ name: 'a', k: 1, q: 1 }, { name: 'b', after: ['a'], k: 1, q: 1 }] })
    expect(view([halt(1, 5, 'a')], 10, member('a'), flat).self.action).toBe('halted')
    expect(view([halt(1, 5, 'a')], 10, member('b'), flat).self.action).toBe('test')
    expect(view([halt(1, 5)], 10, member('b'), flat).self.action).toBe('halted')
  })
})

describe('clear (rule 14)', () => {
  it('lets the dependents of a cleared failed cluster proceed: the cleared failure counts as a pass at the clear', () => {
    const failed = [...tested('a', a0, 0, false, 100)]
    expect(states(failed, 150)).toEqual([['a', 'failed'], ['b', 'blocked'], ['c', 'testing'], ['observer-cluster', 'waiting']])

    const cleared = [...failed, clear(1, 200, 'a', 'a broken php.ini, not our bug')]
    const result = view(cleared, 250)
    expect(cluster(result, 'a')).toMatchObject({
      state: 'passed', passedAt: 200, passes: [], failures: [], cleared: [a0], reason: 'passed: 1/1 passes (1 cleared by the vendor)',
      override: { action: 'clear', sequence: 1, scope: 'cluster', reason: 'a broken php.ini, not our bug' }
    })
    expect(cluster(result, 'b')).toMatchObject({ state: 'testing', openedAt: 200 })
    expect(view(cleared, 250, member('a')).self).toEqual({ action: 'install', reason: 'cluster a passed' })
    expect(view(cleared, 250, member('b', b0, 'auto')).self.action).toBe('test')
  })

  it('passes a cluster whose every representative failed', () => {
    const two = plan({ clusters: [{ name: 'a', k: 2, q: 2 }] })
    const events = [outcome('a', a0, false, 10), outcome('a', a1, false, 20)]
    expect(cluster(view(events, 30, OBSERVER, two), 'a').state).toBe('failed')
    expect(cluster(view([...events, clear(1, 40, 'a')], 50, OBSERVER, two), 'a')).toMatchObject({ state: 'passed', passedAt: 40, cleared: [a0, a1].sort() })
  })

  it('still needs the quorum of real passes beyond what it cleared, with a fresh start timeout from the clear', () => {
    const three = plan({ clusters: [{ name: 'p', k: 3, q: 3 }] })
    const [p0, p1, p2, p3] = rankedPeers('p', 4) as [string, string, string, string]
    const members = [seen('p', p0), seen('p', p1), seen('p', p2), seen('p', p3)]
    const events = [...members, ...tested('p', p0, 0, false, 50), clear(1, 5 * T, 'p')]
    const result = viewOf({ plan: three, self: OBSERVER, events }, 5 * T)
    expect(cluster(result, 'p')).toMatchObject({
      state: 'testing', openedAt: 5 * T, cleared: [p0], representatives: [p0, p1, p2], replaced: [], reason: 'testing: 1/3 passes (1 cleared by the vendor) from 3 representatives'
    })
    // the two representatives the failure held back test now, and are replaced only a start timeout after the clear
    expect(viewOf({ plan: three, self: member('p', p1, 'auto'), events }, 5 * T).self.action).toBe('test')
    expect(result.nextDeadlineAt).toBe(6 * T)
    const done = [...events, outcome('p', p1, true, 5 * T + 10), outcome('p', p2, true, 5 * T + 20)]
    expect(cluster(viewOf({ plan: three, self: OBSERVER, events: done }, 6 * T), 'p')).toMatchObject({ state: 'passed', passedAt: 5 * T + 20 })
  })

  it('clears failures at or before the clear, never one after it', () => {
    expect(cluster(view([outcome('a', a0, false, 100), clear(1, 100, 'a')], 150), 'a')).toMatchObject({ state: 'passed', cleared: [a0] })
    expect(cluster(view([outcome('a', a0, false, 101), clear(1, 100, 'a')], 150), 'a')).toMatchObject({ state: 'failed', failures: [a0], cleared: [] })
    const later = [outcome('a', a0, false, 50), clear(1, 100, 'a'), outcome('a', a1, false, 120)]
    expect(cluster(view(later, 150), 'a')).toMatchObject({ state: 'failed', failures: [a1], cleared: [a0] })
  })

  it('clears a silence whose deadline came before the clear; a later silence still fails', () => {
    const early = [started('a', a0, 0), clear(1, SILENCE_MS, 'a')]
    expect(cluster(view(early, SILENCE_MS + 1), 'a')).toMatchObject({ state: 'passed', silent: [], cleared: [a0] })
    const pending = [started('a', a0, 0), clear(1, SILENCE_MS - 1, 'a')]
    const before = view(pending, SILENCE_MS - 1)
    expect(cluster(before, 'a')).toMatchObject({ state: 'testing', cleared: [] })
    expect(before.nextDeadlineAt).toBe(SILENCE_MS)
    expect(cluster(view(pending, SILENCE_MS), 'a')).toMatchObject({ state: 'failed', silent: [a0] })
  })

  it('changes nothing but the opening for a cluster that had not failed: it still needs its passes', () => {
    const result = view([clear(1, 30, 'a')], 40)
    expect(cluster(result, 'a')).toMatchObject({ state: 'testing', openedAt: 30, cleared: [], reason: 'testing: 0/1 passes from 1 representative' })
    expect(cluster(result, 'b').state).toBe('waiting')
    expect(view([clear(1, 30, 'a')], 40, member('a')).self).toMatchObject({ action: 'wait', waitingFor: ['a'] })
  })

  it('resumes the staging after a release-wide halt and clear: followers still wait for real passes', () => {
    const events = [halt(1, 10), clear(2, 20)]
    expect(states(events, 30)).toEqual([['a', 'testing'], ['b', 'waiting'], ['c', 'testing'], ['observer-cluster', 'waiting']])
    expect(view(events, 30, member('b')).self).toMatchObject({ action: 'wait', waitingFor: ['a', 'b'] })
    expect(view([...events, outcome('a', a0, true, 40)], 50, member('a')).self.action).toBe('install')
  })

  it('clears every cluster’s failures on a release-wide clear', () => {
    const events = [outcome('a', a0, false, 10), outcome('c', c0, false, 10), clear(1, 20, undefined, 'flaky test harness')]
    const result = view(events, 30)
    expect(result.clusters.map(c => [c.clusterId, c.state])).toEqual([['a', 'passed'], ['b', 'testing'], ['c', 'passed'], ['observer-cluster', 'waiting']])
    expect(cluster(result, 'c').override).toEqual({ action: 'clear', sequence: 1, at: 20, scope: 'release', reason: 'flaky test harness' })
  })

  it('installs a machine whose own failed test was cleared; a machine whose own silence was cleared tests again', () => {
    const failed = [...tested('a', a0, 0, false, 100)]
    expect(view(failed, 150, member('a', a0, 'auto')).self.action).toBe('blocked')
    expect(view([...failed, clear(1, 200, 'a')], 250, member('a', a0, 'auto')).self)
      .toEqual({ action: 'install', reason: 'our own test failed and the vendor cleared the failure' })

    const silent = [started('a', a0, 0), clear(1, SILENCE_MS, 'a')]
    expect(view(silent, SILENCE_MS + 1, member('a', a0, 'auto')).self.action).toBe('test')
  })

  it('installs a machine whose own failed test was cleared in all-at-once too', () => {
    const flat = plan({ style: 'all-at-once', clusters: [{ name: 'a', k: 1, q: 1 }] })
    const failed = [outcome('a', 'me', false, 5)]
    expect(view(failed, 10, member('a'), flat).self.action).toBe('blocked')
    expect(view([...failed, clear(1, 6)], 10, member('a'), flat).self.action).toBe('install')
  })

  it('leaves an empty cluster empty: a clear vouches for failures, not for members nobody has seen', () => {
    const result = viewOf({ plan: staged, self: member('b'), events: [seen('b', b0), clear(1, 5, 'a')] }, 10)
    expect(cluster(result, 'a').state).toBe('empty')
    expect(result.self).toMatchObject({ action: 'wait', waitingFor: ['a', 'b'] })
  })
})

describe('latest sequence wins (rule 12)', () => {
  const failed = [outcome('a', a0, false, 10)]

  it('halt then clear: cleared; clear then halt: halted; whatever the arrival order', () => {
    for (const events of [[halt(1, 20, 'a'), clear(2, 30, 'a')], [clear(2, 30, 'a'), halt(1, 20, 'a')]]) {
      expect(cluster(view([...failed, ...events], 40), 'a')).toMatchObject({ state: 'passed', override: { action: 'clear', sequence: 2 } })
    }
    for (const events of [[clear(1, 20, 'a'), halt(2, 30, 'a')], [halt(2, 30, 'a'), clear(1, 20, 'a')]]) {
      expect(cluster(view([...failed, ...events], 40), 'a')).toMatchObject({ state: 'halted', override: { action: 'halt', sequence: 2 } })
    }
  })

  it('lets a cluster’s own override win over a release-wide one only with a higher sequence', () => {
    const wideHalt = [...failed, halt(3, 20), clear(2, 15, 'a')]
    expect(states(wideHalt, 40)).toEqual([['a', 'halted'], ['b', 'halted'], ['c', 'halted'], ['observer-cluster', 'halted']])
    expect(cluster(view(wideHalt, 40), 'a').override).toMatchObject({ scope: 'release', sequence: 3 })

    const ownClear = [...failed, halt(3, 20), clear(4, 30, 'a')]
    expect(states(ownClear, 40)).toEqual([['a', 'passed'], ['b', 'halted'], ['c', 'halted'], ['observer-cluster', 'halted']])
    expect(view(ownClear, 40, member('a')).self.action).toBe('install')
    expect(view(ownClear, 40, member('b')).self.action).toBe('halted')

    // a later release-wide halt takes the cleared cluster back
    expect(cluster(view([...ownClear, halt(5, 35)], 40), 'a').state).toBe('halted')
  })

  it('keeps one override per scope: an older or repeated one returns the very same state', () => {
    let state = stateOf({ plan: staged, self: OBSERVER, events: world })
    state = applyEvent(state, halt(2, 20, 'a'))
    state = applyEvent(state, clear(3, 30))
    for (const stale of [halt(2, 20, 'a'), clear(1, 5, 'a'), halt(1, 40, 'a'), clear(3, 30), halt(2, 10), clear(2, 99)]) {
      expect(applyEvent(state, stale)).toBe(state)
    }
    expect(state.clusters.get('a')?.override).toEqual({ action: 'halt', sequence: 2, at: 20 })
    expect(state.override).toEqual({ action: 'clear', sequence: 3, at: 30 })
  })

  it('breaks a tie of equal sequences toward halt, then the earlier time, in any order', () => {
    const tied = [clear(4, 20, 'a'), halt(4, 30, 'a')]
    for (const events of [tied, [...tied].reverse()]) expect(cluster(view([...failed, ...events], 40), 'a').state).toBe('halted')
    const twice = [halt(4, 30, 'a', 'second'), halt(4, 20, 'a', 'first')]
    for (const events of [twice, [...twice].reverse()]) expect(cluster(view(events, 40), 'a').override).toMatchObject({ at: 20, reason: 'first' })
    // a cluster's own override and the release-wide one with one sequence: the same tie-break
    expect(cluster(view([...failed, clear(4, 20), halt(4, 30, 'a')], 40), 'a').state).toBe('halted')
    expect(cluster(view([...failed, halt(4, 30), clear(4, 20, 'a')], 40), 'a').state).toBe('halted')
  })

  it('holds an override for a cluster nobody was seen in yet, and applies it when members arrive', () => {
    const early = viewOf({ plan: staged, self: OBSERVER, events: [halt(1, 5, 'late')] }, 10)
    expect(early.clusters.map(c => c.clusterId)).not.toContain('late')
    const later = viewOf({ plan: staged, self: OBSERVER, events: [halt(1, 5, 'late'), seen('late', 'x')] }, 10)
    expect(cluster(later, 'late').state).toBe('halted')
  })

  it('answers the same whatever order overrides and outcomes arrive in', () => {
    const events = [...world, ...tested('a', a0, 0, false, 100), halt(1, 110), clear(2, 120, 'a'), outcome('c', c0, true, 130), halt(3, 140, 'c')]
    const forward = evaluate(stateOf({ plan: staged, self: OBSERVER, events }), 200)
    const backward = evaluate(stateOf({ plan: staged, self: OBSERVER, events: [...events].reverse() }), 200)
    expect(backward).toEqual(forward)
    expect(forward.clusters.map(c => [c.clusterId, c.state])).toEqual([['a', 'passed'], ['b', 'halted'], ['c', 'halted'], ['observer-cluster', 'halted']])
  })
})
