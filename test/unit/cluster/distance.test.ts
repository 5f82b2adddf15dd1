import fc from 'fast-check'
import { describe, it, expect } from 'vitest'
import { buildDistanceTable, collapseCensus, factDistance } from '../../../src/cluster/index.ts'
import { arbFacts, arbPopulation, arbWeights, fact, naiveDistance, thrown } from './cluster-fixtures.ts'

const base = [fact('php.ini', 'a', '1'), fact('php.ini', 'b', '2'), fact('my.cnf', 'port', '3'), fact('libc', '', '4')]

describe('fingerprint distance', () => {
  it('counts differing values and facts present in one fingerprint only, weighted per resource', () => {
    const other = [fact('php.ini', 'a', '1'), fact('php.ini', 'b', 'changed'), fact('libc', '', '4'), fact('httpd.conf', 'Include', '5')]
    // php.ini.b differs, my.cnf.port only in base, httpd.conf.Include only in other.
    expect(factDistance(base, other)).toBe(3)
    expect(factDistance(other, base)).toBe(3)
    expect(factDistance(base, other, { 'php.ini': 5 })).toBe(7)
    expect(factDistance(base, other, { 'php.ini': 0, 'my.cnf': 0, 'httpd.conf': 0 })).toBe(0)
    expect(factDistance(base, base)).toBe(0)
    expect(factDistance([], base, { libc: 2.5 })).toBe(5.5)
  })

  it('weighs a resource named like an Object property by the table, not the prototype', () => {
    const a = [fact('constructor', '', '1'), fact('toString', '', '1')]
    const b = [fact('constructor', '', '2'), fact('toString', '', '2')]
    expect(factDistance(a, b)).toBe(2)
    expect(factDistance(a, b, { toString: 4 })).toBe(5)
    const table = buildDistanceTable([{ facts: a }, { facts: b }])
    expect(table.distance(0, 1)).toBe(2)
  })

  it('refuses weights that are not finite numbers ≥ 0', () => {
    for (const weights of [{ x: -1 }, { x: Number.NaN }, { x: Number.POSITIVE_INFINITY }, { x: '2' }, { '': 1 }, [1]]) {
      const err = thrown(() => buildDistanceTable([{ facts: base }], { weights: weights as never }))
      expect(err.name).toBe('ClusterOptionsError')
      expect(err.reason).toBe('weights')
    }
    expect(thrown(() => buildDistanceTable([], { cutoff: -1 })).reason).toBe('diameter')
    expect(thrown(() => buildDistanceTable([], { cutoff: Number.NaN })).reason).toBe('diameter')
  })

  it('keeps only the weighted columns that vary across the fingerprints', () => {
    const shared = Array.from({ length: 50 }, (_, k) => fact('packages', `pkg${k}`, 'same'))
    const fps = [
      { facts: [...shared, fact('php.ini', 'x', '1'), fact('env', 'LANG', 'a')] },
      { facts: [...shared, fact('php.ini', 'x', '2'), fact('env', 'LANG', 'b')] },
      { facts: [...shared, fact('php.ini', 'x', '2'), fact('my.cnf', 'y', '1'), fact('env', 'LANG', 'c')] }
    ]
    const table = buildDistanceTable(fps, { weights: { env: 0 } })
    // php.ini.x (two values) and my.cnf.y (absent in two); the 50 packages agree, env weighs 0.
    expect(table.columns).toBe(2)
    expect([table.distance(0, 1), table.distance(0, 2), table.distance(1, 2)]).toEqual([1, 2, 1])
  })

  it('matches the definition on every pair, with every storage (generated)', () => {
    fc.assert(fc.property(arbPopulation, arbWeights, (machines, weights) => {
      const { fingerprints } = collapseCensus(machines)
      const whole = Object.values(weights).every(w => Number.isInteger(w))
      const tables = [
        buildDistanceTable(fingerprints, { weights }),
        buildDistanceTable(fingerprints, { weights, maxMatrixBytes: 0 })
      ]
      // Whole weights always fit Uint16 here; a fractional one needs doubles only if its columns vary.
      if (whole) expect(tables[0]?.storage).toBe('uint16')
      else expect(['uint16', 'float64']).toContain(tables[0]?.storage)
      expect(tables[1]?.storage).toBe('none')
      for (const table of tables) {
        expect(table.size).toBe(fingerprints.length)
        fingerprints.forEach((a, i) => fingerprints.forEach((b, j) => {
          const expected = naiveDistance(a.facts, b.facts, weights)
          expect(table.distance(i, j)).toBe(expected)
          expect(factDistance(a.facts, b.facts, weights)).toBe(expected)
          const row = table.distancesFrom(i)
          if (row !== undefined) expect(row[j]).toBe(expected)
        }))
      }
    }))
  })

  it('is exact up to the cutoff and only "above it" beyond (generated)', () => {
    fc.assert(fc.property(fc.array(arbFacts, { minLength: 2, maxLength: 12 }), arbWeights, fc.constantFrom(0, 0.5, 1, 2, 3, 5), fc.boolean(), (facts, weights, cutoff, matrix) => {
      const fps = facts.map(f => ({ facts: f }))
      const table = buildDistanceTable(fps, { weights, cutoff, maxMatrixBytes: matrix ? undefined : 0 })
      expect(table.cutoff).toBe(cutoff)
      fps.forEach((a, i) => fps.forEach((b, j) => {
        const exact = naiveDistance(a.facts, b.facts, weights)
        const got = table.distance(i, j)
        if (exact <= cutoff) expect(got).toBe(exact)
        else expect(got).toBeGreaterThan(cutoff)
      }))
    }))
  })

  it('stores whole distances as Uint16 when the cutoff makes them fit, else as doubles', () => {
    const fps = [{ facts: [fact('heavy', '', '1')] }, { facts: [fact('heavy', '', '2')] }]
    const exact = buildDistanceTable(fps, { weights: { heavy: 100_000 } })
    expect(exact.storage).toBe('float64')
    expect(exact.distance(0, 1)).toBe(100_000)
    const cut = buildDistanceTable(fps, { weights: { heavy: 100_000 }, cutoff: 3 })
    expect(cut.storage).toBe('uint16')
    expect(cut.distance(0, 1)).toBeGreaterThan(3)
    expect(buildDistanceTable(fps, { weights: { heavy: 1.5 } }).storage).toBe('float64')
    expect(buildDistanceTable(fps, { maxMatrixBytes: 7 }).storage).toBe('none')
    expect(buildDistanceTable(fps, { maxMatrixBytes: 8 }).storage).toBe('uint16')
  })
})
