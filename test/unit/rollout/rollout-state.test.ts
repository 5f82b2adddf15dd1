import { describe, it, expect } from 'vitest'
import { applyEvent, createRolloutState, evaluate, rankKeyOf } from '../../../src/rollout/index.ts'
import type { RolloutEvent } from '../../../src/rollout/index.ts'
import { RELEASE_ID, TEST_TIMEOUT_MS, outcome, plan, seen, started } from './rollout-fixtures.ts'

const release = { id: RELEASE_ID, plan: plan({}), testTimeoutMs: TEST_TIMEOUT_MS }
const self = { peerId: 'me', clusterId: 'c', role: 'auto' as const }
const fresh = () => createRolloutState(release, self, 42)

describe('rollout state', () => {
  it('starts with ourselves as a member of our cluster, ranked like anyone', () => {
    const state = fresh()
    expect(state.seenAt).toBe(42)
    expect(state.clusters.get('c')?.members.get('me')).toEqual({ role: 'auto', roleAt: 42, rankKey: rankKeyOf(RELEASE_ID, 'me') })
  })

  it('returns the very same state for an event that teaches nothing', () => {
    const events: RolloutEvent[] = [seen('c', 'p', 'auto', 5), started('c', 'p', 6), outcome('c', 'p', true, 7), outcome('c', 'p', false, 8)]
    let state = fresh()
    for (const event of events) state = applyEvent(state, event)
    for (const event of events) expect(applyEvent(state, event)).toBe(state)
    expect(applyEvent(state, started('c', 'p', 60))).toBe(state) // a later start: the first wins
    expect(applyEvent(state, outcome('c', 'p', true, 70))).toBe(state)
    expect(applyEvent(state, seen('c', 'p', 'auto', 1))).toBe(state) // an older announcement
    expect(applyEvent(state, seen('c', 'me', 'follower', 99))).toBe(state) // our own role is ours
    expect(applyEvent(state, { type: 'from-the-future', at: 1 } as unknown as RolloutEvent)).toBe(state)
  })

  it('keeps the earliest start and the earliest pass and fail of each peer', () => {
    let state = fresh()
    for (const event of [started('c', 'p', 9), started('c', 'p', 3), outcome('c', 'p', true, 8), outcome('c', 'p', true, 4), outcome('c', 'p', false, 6)]) {
      state = applyEvent(state, event)
    }
    const ledger = state.clusters.get('c')
    expect(ledger?.starts.get('p')).toBe(3)
    expect(ledger?.outcomes.get('p')).toEqual({ passAt: 4, failAt: 6 })
  })

  it('never changes the state it was given', () => {
    const before = fresh()
    const snapshot = evaluate(before, 1000)
    const after = applyEvent(applyEvent(before, seen('c', 'p')), outcome('c', 'p', false, 5))
    expect(evaluate(before, 1000)).toEqual(snapshot)
    expect(evaluate(after, 1000).self.action).toBe('blocked')
    expect(before.clusters.get('c')?.members.size).toBe(1)
  })

  it('keeps a peer seen in two clusters a member of both (rule 2)', () => {
    const state = applyEvent(applyEvent(fresh(), seen('c', 'p')), seen('d', 'p'))
    const view = evaluate(state, 0)
    expect(view.clusters.map(c => [c.clusterId, c.members])).toEqual([['c', 2], ['d', 1]])
  })
})
