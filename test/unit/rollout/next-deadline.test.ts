import { describe, it, expect } from 'vitest'
import type { RolloutEvent } from '../../../src/rollout/index.ts'
import { OBSERVER, SILENCE_MS, START_TIMEOUT_MS as T, outcome, plan, rankedPeers, seen, started, tested, viewOf } from './rollout-fixtures.ts'

const [p0, p1] = rankedPeers('p', 2) as [string, string]
const members = [seen('c', p0), seen('c', p1)]
const front = plan({ style: 'front-loading', clusters: [{ name: 'c', k: 1, q: 1 }] })
const next = (events: RolloutEvent[], now: number, p = front) => viewOf({ plan: p, self: OBSERVER, events: [...members, ...events] }, now).nextDeadlineAt

describe('nextDeadlineAt (rule 11)', () => {
  it('is the start timeout of an electee that has not started, generation by generation', () => {
    expect(next([], 0)).toBe(T)
    expect(next([], T - 1)).toBe(T)
    expect(next([], T)).toBe(2 * T) // p1 now has until 2T
    expect(next([], 2 * T)).toBeUndefined() // both replaced; p0 keeps its second-chance seat for good
  })

  it('is the silence deadline of a started member owing an outcome', () => {
    expect(next([started('c', p0, 5)], 10)).toBe(5 + SILENCE_MS)
    expect(next([started('c', p0, 5)], 5 + SILENCE_MS)).toBeUndefined() // strictly after now: it has passed
    expect(next(tested('c', p0, 5, true, 50), 60)).toBeUndefined()
  })

  it('takes the earliest of several pending deadlines across clusters', () => {
    const two = plan({ style: 'front-loading', clusters: [{ name: 'c', k: 1, q: 1 }, { name: 'd', k: 1, q: 1 }] })
    const events = [started('c', p0, 0), seen('d', 'x'), seen('d', 'y')]
    expect(next(events, 100, two)).toBe(T) // d's electee must start by T, before c's silence at SILENCE_MS
    expect(next([...events, started('d', 'x', 1), started('d', 'y', 1)], 100, two)).toBe(SILENCE_MS)
  })

  it('has no start timeout while a staged cluster waits for its prerequisites', () => {
    const staged = plan({ clusters: [{ name: 'base', k: 1, q: 1 }, { name: 'c', after: ['base'], k: 1, q: 1 }] })
    expect(next([seen('base', 'b'), started('base', 'b', 0)], 10, staged)).toBe(SILENCE_MS)
    expect(next([seen('base', 'b'), ...tested('base', 'b', 0, true, 500)], 600, staged)).toBe(500 + T)
  })

  it('is the opening for a representative told something else before it (found by the property test)', () => {
    // The machine saw the release at 1; at 0 it is no representative yet and
    // installs behind p0's pass; at the opening it is elected and must test.
    const wide = plan({ style: 'front-loading', clusters: [{ name: 'c', k: 3, q: 1 }] })
    const self = { peerId: 'me', clusterId: 'c', role: 'auto' as const }
    const events = [seen('c', p0), ...tested('c', p0, 0, true, 0)]
    const before = viewOf({ plan: wide, self, seenAt: 1, events }, 0)
    expect(before.self.action).toBe('install')
    expect(before.nextDeadlineAt).toBe(1)
    expect(viewOf({ plan: wide, self, seenAt: 1, events }, 1).self.action).toBe('test')
    // A failed cluster stays failed at the opening: no deadline.
    const failed = [seen('c', p0), ...tested('c', p0, 0, false, 0)]
    expect(viewOf({ plan: wide, self, seenAt: 1, events: failed }, 0).nextDeadlineAt).toBeUndefined()
  })

  it('is the end of the first start window for a representative told to test past its cluster\'s failure', () => {
    const two = plan({ style: 'front-loading', clusters: [{ name: 'c', k: 2, q: 1 }] })
    const failedEarly = [started('c', p1, 1), outcome('c', p1, false, 2)]
    const view = viewOf({ plan: two, self: { peerId: p0, clusterId: 'c', role: 'auto' }, events: [...members, ...failedEarly] }, 3)
    expect(view.self.action).toBe('test')
    expect(view.nextDeadlineAt).toBe(T)
    expect(viewOf({ plan: two, self: { peerId: p0, clusterId: 'c', role: 'auto' }, events: [...members, ...failedEarly] }, T).self.action).toBe('blocked')
  })

  it('is not the end of a first start window under all-at-once, where every machine tests whatever failed (found by the property test)', () => {
    const everyone = plan({ style: 'all-at-once', clusters: [{ name: 'c', k: 2, q: 1 }] })
    const self = { peerId: p0, clusterId: 'c', role: 'auto' as const }
    const events = [...members, started('c', p1, 0), outcome('c', p1, false, 0)]
    const view = viewOf({ plan: everyone, self, events }, 0)
    expect(view.self.action).toBe('test')
    expect(view.nextDeadlineAt).toBeUndefined()
    expect(viewOf({ plan: everyone, self, events }, T).self).toEqual(view.self)
  })

  it('is undefined when nothing can change without a new event', () => {
    const staged = plan({ clusters: [{ name: 'base', k: 1, q: 1 }, { name: 'c', after: ['base'], k: 1, q: 1 }] })
    expect(next([], 10, staged)).toBeUndefined()
    expect(next([outcome('c', p0, false, 1)], 10, staged)).toBeUndefined()
  })
})
