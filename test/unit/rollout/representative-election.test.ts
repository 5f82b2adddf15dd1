import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, it, expect } from 'vitest'
import { evaluate, rankKeyOf } from '../../../src/rollout/index.ts'
import type { RolloutEvent } from '../../../src/rollout/index.ts'
import {
  OBSERVER, START_TIMEOUT_MS as T, cluster, outcome, plan, rankedPeers, seen, started, stateOf, viewOf
} from './rollout-fixtures.ts'

const frontLoading = (k: number, q = 1) => plan({ style: 'front-loading', clusters: [{ name: 'c', k, q }] })
const members = (peers: string[], role: 'auto' | 'representative' | 'follower' = 'auto') => peers.map(p => seen('c', p, role))

describe('ranking', () => {
  it('ranks by sha256 of release id and peer id, in hex', () => {
    expect(rankKeyOf('r', 'p')).toBe(createHash('sha256').update('r\np').digest('hex'))
  })

  it('elects the best-ranked auto members, in rank order', () => {
    const peers = rankedPeers('p', 6)
    const view = viewOf({ plan: frontLoading(3), self: OBSERVER, events: members([...peers].reverse()) }, 0)
    expect(cluster(view, 'c').representatives).toEqual(peers.slice(0, 3))
    expect(cluster(view, 'c').eligible).toBe(6)
  })

  it('elects other machines for another release (the salt spreads the burden)', () => {
    const a = rankedPeers('p', 20, 'release-a')
    const b = rankedPeers('p', 20, 'release-b')
    expect(a).not.toEqual(b)
    const view = viewOf({ plan: frontLoading(2), self: OBSERVER, events: members(a), releaseId: 'release-b' }, 0)
    expect(cluster(view, 'c').representatives).toEqual(b.slice(0, 2))
  })

  it('puts volunteers first and never elects a follower', () => {
    const peers = rankedPeers('p', 5)
    const worst = peers[4] as string
    const events = [
      ...members(peers.slice(0, 2), 'follower'), // the two best hashes refuse to test
      ...members(peers.slice(2, 4), 'auto'),
      seen('c', worst, 'representative') // the worst hash volunteers
    ]
    const view = cluster(viewOf({ plan: frontLoading(10), self: OBSERVER, events }, 0), 'c')
    expect(view.members).toBe(5)
    expect(view.eligible).toBe(3)
    expect(view.representatives).toEqual([worst, peers[2], peers[3]])
  })

  it('shrinks k and q to a small cluster (kEff = min(k, eligible), qEff = max(1, min(q, kEff)))', () => {
    const peers = rankedPeers('p', 2)
    const view = cluster(viewOf({ plan: frontLoading(5, 4), self: OBSERVER, events: members(peers) }, 0), 'c')
    expect(view.representatives).toEqual(peers)
    expect(view.quorum).toBe(2)
    const alone = cluster(viewOf({ plan: frontLoading(5, 4), self: OBSERVER, events: [...members(peers.slice(0, 1)), ...members(peers.slice(1), 'follower')] }, 0), 'c')
    expect(alone.quorum).toBe(1)
    const followers = cluster(viewOf({ plan: frontLoading(5, 4), self: OBSERVER, events: members(peers, 'follower') }, 0), 'c')
    expect(followers.representatives).toEqual([])
    expect(followers.quorum).toBe(1) // a rule shrinks with its cluster but never to zero passes
    expect(followers.state).toBe('waiting')
    expect(followers.reason).toMatch(/no eligible member/)
  })

  it('lets the latest announcement set a role, ties going to the less exposed role', () => {
    const [p] = rankedPeers('p', 1) as [string]
    const later = viewOf({ plan: frontLoading(1), self: OBSERVER, events: [seen('c', p, 'follower', 1), seen('c', p, 'auto', 2)] }, 5)
    expect(cluster(later, 'c').representatives).toEqual([p])
    const tie = viewOf({ plan: frontLoading(1), self: OBSERVER, events: [seen('c', p, 'representative', 2), seen('c', p, 'follower', 2)] }, 5)
    expect(cluster(tie, 'c').representatives).toEqual([])
  })

  it('never takes our own role from the network', () => {
    const self = { peerId: 'me', clusterId: 'c', role: 'follower' as const }
    const view = viewOf({ plan: frontLoading(1), self, events: [seen('c', 'me', 'representative', 99)] }, 100)
    expect(cluster(view, 'c').eligible).toBe(0)
  })
})

describe('replacement (rule 4)', () => {
  const peers = rankedPeers('p', 4)
  const [p0, p1, p2, p3] = peers as [string, string, string, string]
  const scenario = (events: RolloutEvent[], k = 1) => ({ plan: frontLoading(k), self: OBSERVER, events: [...members(peers), ...events] })
  const at = (events: RolloutEvent[], now: number, k = 1) => cluster(viewOf(scenario(events, k), now), 'c')

  it('replaces an electee that did not start by openedAt + startTimeout, generation after generation', () => {
    expect(at([], T - 1).representatives).toEqual([p0])
    expect(at([], T)).toMatchObject({ representatives: [p1], replaced: [p0] })
    expect(at([], 2 * T - 1)).toMatchObject({ representatives: [p1], replaced: [p0] })
    expect(at([], 2 * T)).toMatchObject({ representatives: [p2], replaced: [p0, p1] })
    expect(at([], 3 * T)).toMatchObject({ representatives: [p3], replaced: [p0, p1, p2] })
  })

  it('counts a start at exactly the boundary as in time', () => {
    expect(at([started('c', p0, T)], T)).toMatchObject({ representatives: [p0], replaced: [] })
    expect(at([started('c', p0, T)], 10 * T)).toMatchObject({ representatives: [p0], replaced: [] })
  })

  it('gives each newcomer its own full start timeout from the boundary that elected it', () => {
    const late = [started('c', p1, 2 * T)]
    expect(at(late, 2 * T)).toMatchObject({ representatives: [p1], replaced: [p0] })
    expect(at(late, 9 * T)).toMatchObject({ representatives: [p1], replaced: [p0], started: [p1] })
    // one millisecond late: p1 was replaced at 2T and p2 elected; p1's start at 2T + 1 then takes the seat back
    const tooLate = [started('c', p1, 2 * T + 1)]
    expect(at(tooLate, 2 * T + 1)).toMatchObject({ representatives: [p1], replaced: [p0], started: [p1] })
  })

  it('never displaces a started member, even a low-ranked or late one', () => {
    expect(at([started('c', p3, 5)], T)).toMatchObject({ representatives: [p3], replaced: [] })
    // p0 was replaced at T, then started anyway: it is testing, so it holds the seat again
    expect(at([started('c', p0, T + 1)], T + 1)).toMatchObject({ representatives: [p0], replaced: [] })
    // more starters than seats: all of them are representatives
    const all = at(peers.map(p => started('c', p, 1)), 2 * T)
    expect(all.representatives).toEqual(peers)
    expect(all.state).toBe('testing')
  })

  it('keeps started seats and refills only the others (k = 2)', () => {
    const view = at([started('c', p0, 1)], T, 2)
    expect(view).toMatchObject({ representatives: [p0, p2], replaced: [p1] })
  })

  it('does not let a started follower take a seat', () => {
    const events = [seen('c', 'f', 'follower'), started('c', 'f', 1)]
    const view = at(events, 0)
    expect(view.representatives).toEqual([p0])
    expect(view.started).toEqual(['f'])
  })

  it('gives replaced members a second chance, in rank order, once nobody else is left', () => {
    const three = peers.slice(0, 3)
    const view = (now: number) => cluster(viewOf({ plan: frontLoading(1), self: OBSERVER, events: members(three) }, now), 'c')
    expect(view(2 * T)).toMatchObject({ representatives: [p2], replaced: [p0, p1] })
    expect(view(3 * T)).toMatchObject({ representatives: [p0], replaced: [p1, p2] })
    expect(view(100 * T)).toMatchObject({ representatives: [p0], replaced: [p1, p2] })
    // a lone slow machine is never left without its seat
    const self = { peerId: 'me', clusterId: 'c', role: 'auto' as const }
    const lone = viewOf({ plan: frontLoading(1), self }, 5 * T)
    expect(cluster(lone, 'c')).toMatchObject({ representatives: ['me'], replaced: [] })
    expect(lone.self.action).toBe('test')
  })

  it('replaces nobody while a staged cluster waits, then counts boundaries from its opening', () => {
    const staged = plan({ clusters: [{ name: 'base', k: 1, q: 1 }, { name: 'c', after: ['base'], k: 1, q: 1 }] })
    const events = [...members(peers), seen('base', 'b'), started('base', 'b', 49 * T)]
    const waiting = cluster(viewOf({ plan: staged, self: OBSERVER, events }, 50 * T), 'c')
    expect(waiting).toMatchObject({ state: 'waiting', representatives: [p0], replaced: [] })
    expect(waiting.openedAt).toBeUndefined()
    const opened = [...events, outcome('base', 'b', true, 50 * T)]
    expect(cluster(viewOf({ plan: staged, self: OBSERVER, events: opened }, 51 * T - 1), 'c')).toMatchObject({ state: 'testing', openedAt: 50 * T, representatives: [p0], replaced: [] })
    expect(cluster(viewOf({ plan: staged, self: OBSERVER, events: opened }, 51 * T), 'c')).toMatchObject({ representatives: [p1], replaced: [p0] })
  })

  it('walks at most one generation per member, however far now is', () => {
    const many = rankedPeers('m', 300)
    const view = cluster(viewOf({ plan: frontLoading(3), self: OBSERVER, events: members(many) }, 1e13), 'c')
    expect(view.replaced).toHaveLength(297)
    expect(view.representatives).toEqual(many.slice(0, 3)) // second chance, back at the top
  })

  it('elects the same representatives whatever order events arrive in', () => {
    const pool = rankedPeers('q', 8)
    const event = fc.oneof(
      fc.record({ peer: fc.constantFrom(...pool), role: fc.constantFrom('auto', 'representative', 'follower'), at: fc.nat(5 * T) })
        .map(({ peer, role, at }) => seen('c', peer, role as 'auto', at)),
      fc.record({ peer: fc.constantFrom(...pool), at: fc.nat(5 * T) }).map(({ peer, at }) => started('c', peer, at))
    )
    const eventsAndShuffle = fc.array(event, { maxLength: 30 })
      .chain(events => fc.tuple(fc.constant(events), fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length })))
    fc.assert(fc.property(eventsAndShuffle, fc.integer({ min: 1, max: 4 }), fc.nat(6 * T), ([events, shuffled], k, now) => {
      const base = evaluate(stateOf({ plan: frontLoading(k), self: OBSERVER, events }), now)
      const again = evaluate(stateOf({ plan: frontLoading(k), self: OBSERVER, events: shuffled }), now)
      expect(again).toEqual(base)
    }))
  })
})
