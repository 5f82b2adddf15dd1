/**
 * The pure download policy: rarest-first with random ties, per-peer bounds,
 * the seed only for chunks nobody else holds, the followers' split of the
 * seed's chunks, failures, backoff and attempt limits; plus generated
 * sequences of events checked against the invariants.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ChunkScheduler, shareOwner } from '../../../src/fetch/chunk-scheduler.ts'
import type { ChunkSchedulerInit } from '../../../src/fetch/chunk-scheduler.ts'
import { bitfieldOf } from '../../../src/overlay/chunk-protocol.ts'
import { mulberry32 } from '../../helpers/seeded-random.ts'

function scheduler (init: Partial<ChunkSchedulerInit> & { chunkCount: number }): ChunkScheduler {
  return new ChunkScheduler({
    maxInFlightPerPeer: 1,
    maxInFlightLastResort: 1,
    maxAttemptsPerChunk: 3,
    retryBackoffMs: 100,
    retryBackoffMaxMs: 1000,
    shareGraceMs: 500,
    joinGraceMs: 500,
    random: mulberry32(1),
    ...init
  })
}

const bits = (count: number, held: number[]): Uint8Array => bitfieldOf(count, (i) => held.includes(i))
const all = (count: number): Uint8Array => bitfieldOf(count, () => true)

describe('rarest first', () => {
  it('takes the chunk fewest peers hold first', () => {
    const s = scheduler({ chunkCount: 3 })
    s.addPeer('a')
    s.addPeer('b')
    s.addPeer('c')
    s.setHave('a', bits(3, [0, 1, 2]))
    s.setHave('b', bits(3, [0, 1]))
    s.setHave('c', bits(3, [0]))
    const { assignments } = s.assign(0)
    expect(assignments).toEqual([
      { peer: 'a', index: 2 },
      { peer: 'b', index: 1 },
      { peer: 'c', index: 0 }
    ])
  })

  it('breaks ties at random, so followers starting together spread over the chunks', () => {
    const firsts = new Set<number>()
    for (let seed = 1; seed <= 40; seed++) {
      const s = scheduler({ chunkCount: 8, random: mulberry32(seed) })
      s.addPeer('a')
      s.setHave('a', all(8))
      firsts.add(s.assign(0).assignments[0]?.index ?? -1)
    }
    expect(firsts.size).toBeGreaterThan(4)
  })

  it('spreads requests over equally loaded holders', () => {
    const s = scheduler({ chunkCount: 8, maxInFlightPerPeer: 4 })
    for (const id of ['a', 'b']) {
      s.addPeer(id)
      s.setHave(id, all(8))
    }
    const { assignments } = s.assign(0)
    expect(assignments).toHaveLength(8)
    expect(s.inFlightOf('a')).toBe(4)
    expect(s.inFlightOf('b')).toBe(4)
  })
})

describe('per-peer bounds', () => {
  it('never exceeds maxInFlightPerPeer, nor the limit asked for', () => {
    const s = scheduler({ chunkCount: 20, maxInFlightPerPeer: 3 })
    s.addPeer('a')
    s.setHave('a', all(20))
    expect(s.assign(0).assignments).toHaveLength(3)
    expect(s.assign(0).assignments).toHaveLength(0)
    const first = s.assign(0, 2)
    expect(first.assignments).toHaveLength(0)
    s.addPeer('b')
    s.setHave('b', all(20))
    expect(s.assign(0, 2).assignments).toHaveLength(2)
    expect(s.inFlight).toBe(5)
  })

  it('frees a slot when a chunk arrives, before it is stored', () => {
    const s = scheduler({ chunkCount: 4 })
    s.addPeer('a')
    s.setHave('a', all(4))
    const [first] = s.assign(0).assignments
    if (first === undefined) throw new Error('no assignment')
    s.received('a', first.index)
    expect(s.stateOf(first.index)).toBe('storing')
    expect(s.assign(0).assignments).toHaveLength(1)
    s.stored('a', first.index)
    expect(s.stateOf(first.index)).toBe('held')
    expect(s.held).toBe(1)
  })

  it('skips peers that are not ready, backing off or dropped', () => {
    const s = scheduler({ chunkCount: 4 })
    for (const id of ['a', 'b', 'c']) {
      s.addPeer(id)
      s.setHave(id, all(4))
    }
    s.setReady('a', false)
    s.backOff('b', 1000)
    s.dropPeer('c')
    expect(s.assign(0).assignments).toHaveLength(0)
    expect(s.assign(1000).assignments.map((a) => a.peer)).toEqual(['b'])
    expect(s.nextWakeAt(0)).toBe(1000)
  })

  it('waits for bitfields before assigning', () => {
    const s = scheduler({ chunkCount: 4 })
    s.addPeer('a')
    expect(s.assign(0)).toEqual({ assignments: [], starved: false })
  })
})

describe('last resort (the seed)', () => {
  it('is asked only for chunks no regular peer holds, at its own bound, while a swarm exists', () => {
    const s = scheduler({ chunkCount: 6, maxInFlightPerPeer: 4, maxInFlightLastResort: 1 })
    s.addPeer('seed', { lastResort: true })
    s.addPeer('a')
    s.setHave('seed', all(6))
    s.setHave('a', bits(6, [0, 1]))
    const { assignments } = s.assign(0)
    const toSeed = assignments.filter((a) => a.peer === 'seed')
    expect(toSeed).toHaveLength(1)
    expect([2, 3, 4, 5]).toContain(toSeed[0]?.index)
    expect(assignments.filter((a) => a.peer === 'a').map((a) => a.index).sort()).toEqual([0, 1])
  })

  it('is not asked for a chunk whose regular holder is merely busy', () => {
    const s = scheduler({ chunkCount: 3, maxInFlightPerPeer: 1, maxInFlightLastResort: 4 })
    s.addPeer('seed', { lastResort: true })
    s.addPeer('a')
    s.setHave('seed', all(3))
    s.setHave('a', all(3))
    const { assignments } = s.assign(0)
    expect(assignments).toHaveLength(1)
    expect(assignments[0]?.peer).toBe('a')
    expect(s.assign(0).assignments).toHaveLength(0)
  })

  it('is asked once every regular holder has failed the chunk', () => {
    const s = scheduler({ chunkCount: 1, maxAttemptsPerChunk: 5 })
    s.addPeer('seed', { lastResort: true })
    s.addPeer('a')
    s.addPeer('b')
    s.setHave('seed', all(1))
    s.setHave('a', all(1))
    s.setHave('b', all(1))
    const first = s.assign(0).assignments[0]
    expect(first?.peer === 'a' || first?.peer === 'b').toBe(true)
    s.fail(first?.peer ?? '', 0, 0)
    const second = s.assign(0).assignments[0]
    expect(second?.peer).not.toBe(first?.peer)
    expect(second?.peer).not.toBe('seed')
    s.fail(second?.peer ?? '', 0, 0)
    expect(s.assign(0).assignments).toEqual([{ peer: 'seed', index: 0 }])
  })

  it('is asked at full depth when there is no swarm to trade with', () => {
    const s = scheduler({ chunkCount: 8, maxInFlightPerPeer: 4, maxInFlightLastResort: 1 })
    s.addPeer('seed', { lastResort: true })
    s.addPeer('stranger')
    s.setHave('seed', all(8))
    s.setHave('stranger', new Uint8Array(0))
    expect(s.assign(0).assignments).toHaveLength(4)
  })

  it('stops waiting on a peer that knows the artifact but never downloads it', () => {
    const s = scheduler({ chunkCount: 12, maxInFlightPerPeer: 12, maxInFlightLastResort: 1, self: 'me', shareGraceMs: 500 })
    s.addPeer('seed', { lastResort: true })
    s.addPeer('gated')
    s.setHave('seed', all(12), 0)
    // Knows the layout, holds nothing, and its stage has not come.
    s.setHave('gated', bits(12, []), 0)
    expect(s.share(0)?.members).toBe(2)
    const mine = ownedBy(['gated', 'me'], 12, 'me')
    const theirs = ownedBy(['gated', 'me'], 12, 'gated')
    // This node's share at full depth; the rest waits for 'gated'.
    expect(complete(s, 0)).toEqual(mine)
    // Progress from 200 (the first chunk stored): 'gated' stays a member
    // until 700; from 500 (idle and quiet) one of its chunks at a time.
    expect(complete(s, 200)).toEqual([])
    expect(s.nextWakeAt(200)).toBe(500)
    const trickle = complete(s, 500)
    expect(trickle).toHaveLength(1)
    expect(s.share(699)?.members).toBe(2)
    // 'gated' never gained a chunk: no longer a member, this node is alone.
    expect(s.share(700)).toBeUndefined()
    expect(complete(s, 700)).toEqual(theirs.filter((i) => !trickle.includes(i)))
  })
})

/** Indexes of `count` chunks that `who` asks the seed for in a swarm of `members`. */
function ownedBy (members: string[], count: number, who: string): number[] {
  return Array.from({ length: count }, (_v, i) => i).filter((i) => shareOwner(members, i) === who)
}

/** Assigns at `now` and completes every assignment; the indexes, sorted. */
function complete (s: ChunkScheduler, now: number): number[] {
  const { assignments } = s.assign(now)
  for (const { peer, index } of assignments) {
    s.received(peer, index)
    s.stored(peer, index)
  }
  return assignments.map((a) => a.index).sort((x, y) => x - y)
}

describe('the split of the seed-only chunks', () => {
  it('gives every chunk exactly one owner, the same for every member, balanced', () => {
    const members = Array.from({ length: 20 }, (_v, i) => `12D3KooWpeer${i}`)
    const counts = new Map<string, number>()
    for (let index = 0; index < 6400; index++) {
      const owner = shareOwner(members, index)
      expect(owner).toBeDefined()
      expect(shareOwner([...members].reverse(), index)).toBe(owner)
      counts.set(owner ?? '', (counts.get(owner ?? '') ?? 0) + 1)
    }
    expect(counts.size).toBe(20)
    for (const n of counts.values()) expect(n).toBeGreaterThan(200)
  })

  it('moves only the chunks of a member that leaves', () => {
    const members = ['a', 'b', 'c', 'd', 'e']
    const without = members.filter((m) => m !== 'c')
    for (let index = 0; index < 1000; index++) {
      const before = shareOwner(members, index)
      if (before !== 'c') expect(shareOwner(without, index)).toBe(before)
    }
  })

  /** Followers f1, f2, f3: seen from f2, after f1 got chunk 0 and f3 chunk 2. */
  function swarmOfThree (): ChunkScheduler {
    const s = scheduler({ chunkCount: 9, maxInFlightPerPeer: 9, maxInFlightLastResort: 1, self: 'f2', shareGraceMs: 500 })
    s.addPeer('seed', { lastResort: true })
    s.addPeer('f1')
    s.addPeer('f3')
    s.setHave('seed', all(9))
    s.setHave('f1', bits(9, []))
    s.setHave('f3', bits(9, []))
    // Before anyone made progress, peers that know the artifact count.
    expect(s.share(1000)?.members).toBe(3)
    s.setHave('f1', bits(9, [0]), 0)
    s.setHave('f3', bits(9, [2]), 0)
    return s
  }

  it('counts peers seen gaining chunks, not those that merely know the artifact', () => {
    const s = swarmOfThree()
    expect(s.share(1000)?.members).toBe(3)
    s.addPeer('f0')
    s.setHave('f0', bits(9, []))
    expect(s.share(1000)?.members).toBe(3)
    s.dropPeer('f1')
    expect(s.share(1000)?.members).toBe(2)
  })

  it('asks the seed for its own share at full depth and waits for the owners of the rest', () => {
    const s = swarmOfThree()
    const members = ['f1', 'f2', 'f3']
    const seedOnly = [1, 3, 4, 5, 6, 7, 8]
    const mine = seedOnly.filter((i) => shareOwner(members, i) === 'f2')
    const theirs = seedOnly.filter((i) => shareOwner(members, i) !== 'f2')
    const first = s.assign(0).assignments
    expect(first.filter((a) => a.peer === 'seed').map((a) => a.index).sort()).toEqual(mine)
    // 0 and 2 come from f1 and f3.
    expect(first.filter((a) => a.peer !== 'seed').sort((a, b) => a.index - b.index)).toEqual([{ peer: 'f1', index: 0 }, { peer: 'f3', index: 2 }])
    for (const { peer, index } of first) {
      s.received(peer, index)
      s.stored(peer, index)
    }
    // The others' shares: nothing in flight to regular peers from 100, so
    // they wait until the grace period has passed, then go one at a time.
    expect(s.assign(100).assignments).toHaveLength(0)
    expect(s.nextWakeAt(100)).toBe(600)
    const late = s.assign(600).assignments
    expect(late).toHaveLength(theirs.length > 0 ? 1 : 0)
    expect(late.every((a) => a.peer === 'seed' && theirs.includes(a.index))).toBe(true)
  })
})

describe('waiting for the owners of other shares', () => {
  it('keeps waiting while the swarm advertises new chunks, and not after it goes quiet', () => {
    // Five chunks, f2 already has chunk 4; pick a case where f2 owns at least one of 0-3.
    const s = scheduler({ chunkCount: 5, maxInFlightPerPeer: 5, self: 'f1', shareGraceMs: 500 })
    s.addPeer('seed', { lastResort: true })
    s.addPeer('f2')
    s.setHave('seed', all(5))
    s.setHave('f2', bits(5, []))
    s.setHave('f2', bits(5, [4]), 0)
    const theirs = [0, 1, 2, 3].filter((i) => shareOwner(['f1', 'f2'], i) === 'f2')
    expect(theirs.length).toBeGreaterThan(1)
    const [gained, ...waiting] = theirs as [number, ...number[]]
    complete(s, 0)
    expect(s.assign(10).assignments).toEqual([])
    // f2 advertises one of its chunks at 400: the swarm is progressing, so the rest keeps waiting past 510.
    s.setHave('f2', bits(5, [gained, 4]), 400)
    expect(s.assign(450).assignments).toEqual([{ peer: 'f2', index: gained }])
    s.received('f2', gained)
    s.stored('f2', gained)
    expect(s.assign(600).assignments).toEqual([])
    expect(s.nextWakeAt(600)).toBe(600 + 500)
    expect(s.assign(1099).assignments).toEqual([])
    const late = s.assign(1100).assignments
    expect(late).toHaveLength(1)
    expect(waiting).toContain(late[0]?.index)
  })
})

describe('failures', () => {
  it('retries elsewhere, backs off once every holder failed, and reports exhaustion', () => {
    const s = scheduler({ chunkCount: 1, maxAttemptsPerChunk: 3, retryBackoffMs: 100 })
    s.addPeer('a')
    s.setHave('a', all(1))
    expect(s.assign(0).assignments).toEqual([{ peer: 'a', index: 0 }])
    expect(s.fail('a', 0, 0)).toEqual({ exhausted: false, attempts: 1 })
    // Only holder failed it: eligible again after the backoff.
    expect(s.assign(50).assignments).toEqual([])
    expect(s.nextWakeAt(50)).toBe(100)
    expect(s.assign(100).assignments).toEqual([{ peer: 'a', index: 0 }])
    expect(s.fail('a', 0, 100).attempts).toBe(2)
    expect(s.assign(300).assignments).toEqual([{ peer: 'a', index: 0 }])
    expect(s.fail('a', 0, 300)).toEqual({ exhausted: true, attempts: 3 })
  })

  it('can fail a chunk that arrived but did not verify', () => {
    const s = scheduler({ chunkCount: 2 })
    s.addPeer('a')
    s.addPeer('b')
    s.setHave('a', all(2))
    s.setHave('b', all(2))
    const [first] = s.assign(0).assignments
    if (first === undefined) throw new Error('no assignment')
    s.received(first.peer, first.index)
    s.fail(first.peer, first.index, 0)
    expect(s.stateOf(first.index)).toBe('needed')
    expect(s.storing).toBe(0)
  })

  it('forgets a chunk a peer said it does not have, until its next bitfield', () => {
    const s = scheduler({ chunkCount: 2 })
    s.addPeer('a')
    s.setHave('a', all(2))
    const first = s.assign(0).assignments[0]
    if (first === undefined) throw new Error('no assignment')
    s.missing('a', first.index)
    expect(s.holds('a', first.index)).toBe(false)
    expect(s.attemptsOf(first.index)).toBe(0)
    expect(s.assign(0).assignments.map((a) => a.index)).toEqual([1 - first.index])
  })

  it('lists the chunks no remaining peer holds', () => {
    const s = scheduler({ chunkCount: 4 })
    s.addPeer('a')
    s.addPeer('seed', { lastResort: true })
    s.setHave('a', bits(4, [0, 1]))
    s.setHave('seed', bits(4, [1, 2]))
    s.markHeld(0)
    expect(s.unavailable()).toEqual([3])
    s.dropPeer('seed')
    expect(s.unavailable()).toEqual([2, 3])
    expect(s.remaining()).toEqual([1, 2, 3])
  })

  it('refuses transitions that did not happen', () => {
    const s = scheduler({ chunkCount: 2 })
    s.addPeer('a')
    s.setHave('a', all(2))
    expect(() => { s.received('a', 0) }).toThrow()
    expect(() => { s.fail('a', 5, 0) }).toThrow(RangeError)
    s.markHeld(1)
    expect(s.held).toBe(1)
  })
})

describe('generated event sequences', () => {
  it('keeps every invariant', () => {
    const scenario = fc.record({
      chunkCount: fc.integer({ min: 1, max: 40 }),
      peers: fc.array(fc.record({ lastResort: fc.boolean(), density: fc.double({ min: 0, max: 1, noNaN: true }) }), { minLength: 1, maxLength: 6 }),
      perPeer: fc.integer({ min: 1, max: 4 }),
      lastResortCap: fc.integer({ min: 1, max: 3 }),
      withSelf: fc.boolean(),
      seed: fc.integer(),
      steps: fc.array(fc.record({ op: fc.constantFrom('assign', 'receive', 'store', 'fail', 'missing', 'drop', 'have', 'tick'), pick: fc.nat() }), { maxLength: 120 })
    })
    fc.assert(fc.property(scenario, (sc) => {
      const random = mulberry32(sc.seed)
      const s = scheduler({
        chunkCount: sc.chunkCount,
        maxInFlightPerPeer: sc.perPeer,
        maxInFlightLastResort: sc.lastResortCap,
        maxAttemptsPerChunk: 1000,
        self: sc.withSelf ? 'p-self' : undefined,
        random
      })
      const ids = sc.peers.map((_p, i) => `p${i}`)
      const randomBits = (density: number): Uint8Array => bitfieldOf(sc.chunkCount, () => random() < density)
      sc.peers.forEach((peer, i) => {
        s.addPeer(ids[i] as string, { lastResort: peer.lastResort })
        s.setHave(ids[i] as string, randomBits(peer.density))
      })
      const lastResort = new Set(ids.filter((_id, i) => sc.peers[i]?.lastResort))
      const dropped = new Set<string>()
      const flying = new Map<number, string>()
      const storing = new Map<number, string>()
      const failedBy = new Map<number, Set<string>>()
      let now = 0
      for (const { op, pick } of sc.steps) {
        now += 10
        if (op === 'assign' || op === 'tick') {
          const { assignments } = s.assign(now)
          for (const { peer, index } of assignments) {
            expect(s.holds(peer, index)).toBe(true)
            expect(flying.has(index) || storing.has(index)).toBe(false)
            expect(dropped.has(peer)).toBe(false)
            expect(s.inFlightOf(peer)).toBeLessThanOrEqual(lastResort.has(peer) ? Math.max(sc.perPeer, sc.lastResortCap) : sc.perPeer)
            if (lastResort.has(peer)) {
              // The seed only when no regular, live peer that has not failed the chunk holds it.
              const usable = ids.filter((id) => !lastResort.has(id) && !dropped.has(id) && s.holds(id, index) && failedBy.get(index)?.has(id) !== true)
              expect(usable).toEqual([])
            }
            flying.set(index, peer)
          }
        } else if (op === 'receive' && flying.size > 0) {
          const [index, peer] = [...flying][pick % flying.size] as [number, string]
          s.received(peer, index)
          flying.delete(index)
          storing.set(index, peer)
        } else if (op === 'store' && storing.size > 0) {
          const [index, peer] = [...storing][pick % storing.size] as [number, string]
          s.stored(peer, index)
          storing.delete(index)
          failedBy.delete(index)
        } else if (op === 'fail' && flying.size + storing.size > 0) {
          const entries = [...flying, ...storing]
          const [index, peer] = entries[pick % entries.length] as [number, string]
          s.fail(peer, index, now)
          flying.delete(index)
          storing.delete(index)
          const set = failedBy.get(index) ?? new Set()
          set.add(peer)
          failedBy.set(index, set)
          // The scheduler forgives everyone once all holders failed: mirror that.
          const holders = ids.filter((id) => !dropped.has(id) && s.holds(id, index))
          if (holders.every((id) => set.has(id))) failedBy.delete(index)
        } else if (op === 'missing' && flying.size > 0) {
          const [index, peer] = [...flying][pick % flying.size] as [number, string]
          s.missing(peer, index)
          flying.delete(index)
        } else if (op === 'drop') {
          const id = ids[pick % ids.length] as string
          s.dropPeer(id)
          dropped.add(id)
        } else if (op === 'have') {
          const i = pick % ids.length
          s.setHave(ids[i] as string, randomBits(sc.peers[i]?.density ?? 0.5))
        }
        expect(s.inFlight).toBe(flying.size)
        expect(s.storing).toBe(storing.size)
        expect(s.held + s.inFlight + s.storing + s.needed).toBe(sc.chunkCount)
        expect(s.needed).toBeGreaterThanOrEqual(0)
      }
    }), { numRuns: 300 })
  })

  it('completes whenever every chunk has a live holder and requests succeed', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 5 }), fc.integer(), (count, peers, seed) => {
      const random = mulberry32(seed)
      const s = scheduler({ chunkCount: count, maxInFlightPerPeer: 2, random, self: 'me' })
      s.addPeer('seed', { lastResort: true })
      s.setHave('seed', all(count))
      for (let p = 0; p < peers; p++) {
        s.addPeer(`f${p}`)
        s.setHave(`f${p}`, bitfieldOf(count, () => random() < 0.3))
      }
      let now = 0
      for (let round = 0; round < 10 * count + 100 && !s.complete; round++) {
        now += 100
        for (const { peer, index } of s.assign(now).assignments) {
          s.received(peer, index)
          s.stored(peer, index)
        }
      }
      expect(s.complete).toBe(true)
    }), { numRuns: 200 })
  })
})
