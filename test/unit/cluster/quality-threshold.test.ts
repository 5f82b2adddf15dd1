import fc from 'fast-check'
import { describe, it, expect } from 'vitest'
import { buildDistanceTable, clusterCensus, collapseCensus, qualityThreshold } from '../../../src/cluster/index.ts'
import type { Census, MachineFingerprint, QualityThresholdCluster, ResourceWeights } from '../../../src/cluster/index.ts'
import {
  RESOURCES, arbCrowdedPopulation, arbPopulation, arbWeights, digestOf, fact, machinesWith, naiveDistance, referenceQt,
  referenceQualityThreshold, tableOf, thrown
} from './cluster-fixtures.ts'

const arbDiameter = fc.constantFrom(0, 0.5, 1, 1.5, 2, 3, 4, 6)

function cluster (census: Census, weights: ResourceWeights, diameter: number, maxMatrixBytes?: number): QualityThresholdCluster[] {
  const table = buildDistanceTable(census.fingerprints, { weights, cutoff: diameter, maxMatrixBytes })
  return qualityThreshold(table, census.fingerprints.map(f => f.machines), diameter)
}

describe('quality-threshold clustering', () => {
  it('no two fingerprints in a cluster are further apart than the diameter, and the reported diameter is exact (generated)', () => {
    fc.assert(fc.property(arbPopulation, arbWeights, arbDiameter, (machines, weights, diameter) => {
      const census = collapseCensus(machines)
      for (const c of cluster(census, weights, diameter)) {
        let widest = 0
        for (const i of c.members) {
          for (const j of c.members) {
            widest = Math.max(widest, naiveDistance(census.fingerprints[i]!.facts, census.fingerprints[j]!.facts, weights))
          }
        }
        expect(widest).toBeLessThanOrEqual(diameter)
        expect(c.diameter).toBe(widest)
      }
    }))
  })

  it('puts every fingerprint in exactly one cluster and conserves machines (generated)', () => {
    fc.assert(fc.property(arbPopulation, arbWeights, arbDiameter, (machines, weights, diameter) => {
      const census = collapseCensus(machines)
      const clusters = cluster(census, weights, diameter)
      const seen = clusters.flatMap(c => c.members).sort((a, b) => a - b)
      expect(seen).toEqual(census.fingerprints.map((_, i) => i))
      for (const c of clusters) {
        expect(c.members.length).toBeGreaterThan(0)
        expect(c.members).toEqual([...c.members].sort((a, b) => a - b))
        expect(c.machines).toBe(c.members.reduce((sum, i) => sum + census.fingerprints[i]!.machines, 0))
      }
      expect(clusters.reduce((sum, c) => sum + c.machines, 0)).toBe(machines.length)
    }))
  })

  it('never separates fingerprints at distance 0, e.g. differing only in a weight-0 resource (generated)', () => {
    fc.assert(fc.property(arbPopulation, arbWeights, arbDiameter, (machines, weights, diameter) => {
      // Twin every fingerprint with one that differs only in an ignored resource.
      const twins: MachineFingerprint[] = machines.map(m => {
        const facts = [...m.facts, fact('ignored', '', m.digest)]
        return { digest: digestOf(facts), facts }
      })
      const withTwins = { ...weights, ignored: 0 }
      const census = collapseCensus([...machines, ...twins])
      const clusterOf = new Map<string, number>()
      cluster(census, withTwins, diameter).forEach((c, k) => c.members.forEach(i => clusterOf.set(census.fingerprints[i]!.digest, k)))
      machines.forEach((m, k) => expect(clusterOf.get(twins[k]!.digest)).toBe(clusterOf.get(m.digest)))
    }))
  })

  it('at diameter 0, every distinct fingerprint is its own cluster; past the widest distance, one cluster holds all (generated)', () => {
    fc.assert(fc.property(arbPopulation, arbWeights, (machines, weights) => {
      const positive = Object.fromEntries(Object.entries(weights).map(([r, w]) => [r, w === 0 ? 1 : w]))
      const census = collapseCensus(machines)
      const singles = cluster(census, positive, 0)
      expect(singles).toHaveLength(census.fingerprints.length)
      expect(singles.every(c => c.members.length === 1 && c.diameter === 0)).toBe(true)
      const total = RESOURCES.reduce((sum, r) => sum + 3 * (Object.hasOwn(positive, r) ? positive[r]! : 1), 0)
      const all = cluster(census, positive, total)
      expect(all).toHaveLength(1)
      expect(all[0]?.machines).toBe(machines.length)
    }))
  })

  it('gives exactly what the plain algorithm gives, with and without a matrix (generated)', () => {
    fc.assert(fc.property(arbPopulation, arbWeights, arbDiameter, fc.boolean(), (machines, weights, diameter, matrix) => {
      const census = collapseCensus(machines)
      const expected = referenceQualityThreshold(census.fingerprints, diameter, weights)
      const got = cluster(census, weights, diameter, matrix ? undefined : 0).map(c => ({
        digests: c.members.map(i => census.fingerprints[i]!.digest).sort(),
        machines: c.machines,
        diameter: c.diameter
      }))
      expect(got).toEqual(expected)
      // An exact table (no cutoff) changes nothing either.
      const exact = buildDistanceTable(census.fingerprints, { weights })
      expect(qualityThreshold(exact, census.fingerprints.map(f => f.machines), diameter)).toEqual(cluster(census, weights, diameter))
    }), { numRuns: 300 })
  })

  it('gives exactly what the plain algorithm gives on crowded populations (generated)', () => {
    fc.assert(fc.property(arbCrowdedPopulation, arbWeights, arbDiameter, (machines, weights, diameter) => {
      const census = collapseCensus(machines)
      const got = cluster(census, weights, diameter).map(c => ({
        digests: c.members.map(i => census.fingerprints[i]!.digest).sort(),
        machines: c.machines,
        diameter: c.diameter
      }))
      expect(got).toEqual(referenceQualityThreshold(census.fingerprints, diameter, weights))
    }), { numRuns: 40 })
  })

  it('gives exactly what the plain algorithm gives on dense grids, where builds pause and resume (generated)', () => {
    // Points on a 13×13 grid, Manhattan distance: neighbourhoods (radius D)
    // are much wider than clusters (diameter D), so bounds are loose and many
    // builds pause, and some resume rounds later.
    const arbGrid = fc.array(fc.record({ x: fc.nat(12), y: fc.nat(12), machines: fc.integer({ min: 1, max: 20 }) }), { minLength: 30, maxLength: 70 })
    fc.assert(fc.property(arbGrid, fc.constantFrom(3, 4, 6, 8), (points, diameter) => {
      const d = points.map(a => points.map(b => Math.abs(a.x - b.x) + Math.abs(a.y - b.y)))
      const machines = points.map(p => p.machines)
      expect(qualityThreshold(tableOf(d), machines, diameter)).toEqual(referenceQt(d, machines, diameter))
    }), { numRuns: 40 })
  })

  it('compares candidates by machines, not by distinct fingerprints', () => {
    // a (10 machines) is near b only; b, c, d are near each other. By
    // fingerprints {b, c, d} would win; by machines {a, b} does (11 > 3).
    const far = 9
    const d = [
      [0, 1, far, far],
      [1, 0, 1, 1],
      [far, 1, 0, 1],
      [far, 1, 1, 0]
    ]
    const clusters = qualityThreshold(tableOf(d), [10, 1, 1, 1], 1)
    expect(clusters).toEqual([
      { members: [0, 1], machines: 11, diameter: 1 },
      { members: [2, 3], machines: 2, diameter: 1 }
    ])
  })

  it('grows a candidate by the smallest largest-distance, ties to more machines', () => {
    // From seed 0 (D = 2): 1 and 2 are both at 1; 2 has more machines, so it
    // joins first, and 1 (at 2 from 2) still fits; 3 is at 2 from 0 but 3 from 2.
    const d = [
      [0, 1, 1, 2],
      [1, 0, 2, 1],
      [1, 2, 0, 3],
      [2, 1, 3, 0]
    ]
    const clusters = qualityThreshold(tableOf(d), [5, 1, 2, 1], 2)
    expect(clusters[0]).toEqual({ members: [0, 1, 2], machines: 8, diameter: 2 })
    expect(clusters[1]).toEqual({ members: [3], machines: 1, diameter: 0 })
  })

  it('is deterministic: the order machines arrive in changes nothing', () => {
    const population = [
      ...machinesWith([fact('php.ini', 'x', '1'), fact('my.cnf', 'y', '1')], 4),
      ...machinesWith([fact('php.ini', 'x', '2'), fact('my.cnf', 'y', '1')], 4),
      ...machinesWith([fact('php.ini', 'x', '1'), fact('my.cnf', 'y', '2')], 4),
      ...machinesWith([fact('php.ini', 'x', '3'), fact('my.cnf', 'y', '3')], 2)
    ]
    const once = clusterCensus(population, { diameter: 1 })
    const reversed = clusterCensus([...population].reverse(), { diameter: 1 })
    expect(reversed.clusters).toEqual(once.clusters)
    // (x1,y1) joins one of its two neighbours (they are 2 apart), the other and (x3,y3) stay alone.
    expect(once.clusters.map(c => c.machines)).toEqual([8, 4, 2])
  })

  it('refuses a diameter that is negative, not finite, or beyond the table\'s cutoff, and bad machine counts', () => {
    const table = tableOf([[0, 1], [1, 0]])
    for (const diameter of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      const err = thrown(() => qualityThreshold(table, [1, 1], diameter))
      expect(err.name).toBe('ClusterOptionsError')
      expect(err.reason).toBe('diameter')
    }
    const cut = buildDistanceTable([{ facts: [] }, { facts: [fact('a', '', '1')] }], { cutoff: 1 })
    expect(thrown(() => qualityThreshold(cut, [1, 1], 2)).reason).toBe('diameter')
    expect(thrown(() => qualityThreshold(table, [1], 1)).reason).toBe('machines')
    expect(thrown(() => qualityThreshold(table, [1, 0], 1)).reason).toBe('machines')
    expect(thrown(() => qualityThreshold(table, [1, 1.5], 1)).reason).toBe('machines')
    expect(qualityThreshold(tableOf([]), [], 1)).toEqual([])
  })
})
