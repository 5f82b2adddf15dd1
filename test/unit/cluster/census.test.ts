import fc from 'fast-check'
import { describe, it, expect } from 'vitest'
import { collapseCensus } from '../../../src/cluster/index.ts'
import type { MachineFingerprint } from '../../../src/cluster/index.ts'
import { arbPopulation, digestOf, fact, machinesWith, thrown } from './cluster-fixtures.ts'

const phpA = [fact('php.ini', 'mysql.allow_persistent', 'h1'), fact('php.ini', 'register_globals', 'h2'), fact('libmysqlclient', '', 'h3')]
const phpB = [fact('php.ini', 'mysql.allow_persistent', 'h1'), fact('php.ini', 'register_globals', 'h9'), fact('libmysqlclient', '', 'h3')]

describe('census collapse', () => {
  it('collapses identical digests into one fingerprint with a machine count, sorted by digest', () => {
    const machines = [...machinesWith(phpA, 3), ...machinesWith(phpB, 2), ...machinesWith(phpA, 1)]
    const census = collapseCensus(machines)
    expect(census.machines).toBe(6)
    expect(census.fingerprints.map(f => f.machines).sort()).toEqual([2, 4])
    const digests = census.fingerprints.map(f => f.digest)
    expect(digests).toEqual([digestOf(phpA), digestOf(phpB)].sort())
    expect(census.fingerprints.find(f => f.digest === digestOf(phpA))?.facts).toBe(phpA)
  })

  it('collapses 100,000 machines sharing facts arrays into their 5,000 fingerprints', () => {
    const fingerprints = Array.from({ length: 5_000 }, (_, i) => {
      const facts = Array.from({ length: 200 }, (_, k) => fact(`r${k % 10}`, `i${k}`, k === 0 ? `v${i}` : 'base'))
      return { digest: `fp-${String(i).padStart(5, '0')}`, facts }
    })
    const machines: MachineFingerprint[] = []
    for (let m = 0; m < 100_000; m++) machines.push(fingerprints[(m * 7919) % 5_000] as MachineFingerprint)
    const census = collapseCensus(machines)
    expect(census.machines).toBe(100_000)
    expect(census.fingerprints).toHaveLength(5_000)
    expect(census.fingerprints.every(f => f.machines === 20)).toBe(true)
    expect(census.fingerprints[0]?.digest).toBe('fp-00000')
  })

  it('accepts the same facts in separate arrays, in any order', () => {
    const digest = digestOf(phpA)
    const census = collapseCensus([
      { digest, facts: phpA },
      { digest, facts: phpA.map(f => ({ ...f })) },
      { digest, facts: [...phpA].reverse() }
    ])
    expect(census.fingerprints).toHaveLength(1)
    expect(census.fingerprints[0]?.machines).toBe(3)
  })

  it('refuses one digest claimed for different facts', () => {
    const digest = digestOf(phpA)
    const conflicts = [
      phpB,
      phpA.slice(1),
      [...phpA, fact('httpd.conf', 'Include', 'h4')],
      [phpA[0], phpA[0], phpA[2]].map(f => ({ ...f! })),
      [...phpA].reverse().map((f, i) => i === 0 ? { ...f, value: 'other' } : f)
    ]
    for (const facts of conflicts) {
      const err = thrown(() => collapseCensus([{ digest, facts: phpA }, { digest, facts }]))
      expect(err.name).toBe('CensusError')
      expect(err.reason).toBe('digest-conflict')
      expect(err.message).toContain(digest)
    }
  })

  it('refuses a fingerprint with two facts for one (resource, item), or a malformed fact', () => {
    const twice = [...phpA, fact('php.ini', 'register_globals', 'h5')]
    expect(thrown(() => collapseCensus(machinesWith(twice, 1))).reason).toBe('duplicate-fact')
    const malformed = [fact('php.ini', 'x', 'h1'), { resource: 'php.ini', item: 'y', value: 7 }] as never
    expect(thrown(() => collapseCensus([{ digest: 'abc', facts: malformed }])).reason).toBe('malformed-fact')
    expect(thrown(() => collapseCensus([{ digest: 'abc', facts: 'nope' as never }])).reason).toBe('malformed-fact')
    // The same item name under two resources is two facts, not a duplicate.
    expect(collapseCensus(machinesWith([fact('a', 'x', '1'), fact('b', 'x', '1')], 1)).fingerprints).toHaveLength(1)
  })

  it('refuses digests that are not digests', () => {
    for (const digest of ['', '__proto__', '-abc', 'a b', 'x'.repeat(129), 'é', 42]) {
      const err = thrown(() => collapseCensus([{ digest: digest as string, facts: phpA }]))
      expect(err.name).toBe('CensusError')
      expect(err.reason).toBe('malformed-digest')
    }
  })

  it('an empty census has no fingerprints', () => {
    expect(collapseCensus([])).toEqual({ fingerprints: [], machines: 0 })
  })

  it('conserves machines and depends only on the multiset of machines (generated)', () => {
    fc.assert(fc.property(arbPopulation, fc.nat(), (machines, seed) => {
      const census = collapseCensus(machines)
      expect(census.machines).toBe(machines.length)
      expect(census.fingerprints.reduce((sum, f) => sum + f.machines, 0)).toBe(machines.length)
      expect(new Set(census.fingerprints.map(f => f.digest)).size).toBe(census.fingerprints.length)
      const shuffled = [...machines].sort((a, b) => ((a.digest.charCodeAt(seed % 64) ^ seed) & 7) - ((b.digest.charCodeAt(seed % 64) ^ seed) & 7))
      const again = collapseCensus(shuffled)
      expect(again.fingerprints.map(f => [f.digest, f.machines])).toEqual(census.fingerprints.map(f => [f.digest, f.machines]))
    }))
  })
})
