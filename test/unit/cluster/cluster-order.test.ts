import fc from 'fast-check'
import { describe, it, expect } from 'vitest'
import { clusterCensus, collapseCensus, factDistance, orderClusters } from '../../../src/cluster/index.ts'
import type { QualityThresholdCluster } from '../../../src/cluster/index.ts'
import { CLUSTER_NAME_PATTERN } from '../../../src/release/index.ts'
import { arbFacts, arbPopulation, arbWeights, fact, machinesWith, thrown } from './cluster-fixtures.ts'

const reference = [fact('php.ini', 'x', 'ref'), fact('my.cnf', 'y', 'ref'), fact('libc', '', 'ref')]
const near = [fact('php.ini', 'x', 'ref'), fact('my.cnf', 'y', 'ref'), fact('libc', '', 'other')] // 1 from the reference
const far = [fact('php.ini', 'x', 'a'), fact('my.cnf', 'y', 'b'), fact('libc', '', 'c')] // 3 from the reference
const farther = [fact('php.ini', 'x', 'a'), fact('my.cnf', 'y', 'b')] // 3 from the reference, 1 from far

describe('cluster order and names', () => {
  it('puts the cluster closest to the reference first, whatever its size', () => {
    const census = collapseCensus([...machinesWith(near, 1), ...machinesWith(far, 50), ...machinesWith(farther, 50)])
    const { clusters } = clusterCensus([...machinesWith(near, 1), ...machinesWith(far, 50), ...machinesWith(farther, 50)], { diameter: 1, reference })
    expect(census.fingerprints).toHaveLength(3)
    expect(clusters.map(c => [c.name, c.order, c.machines, c.referenceDistance])).toEqual([
      ['c01', 1, 1, 1],
      ['c02', 2, 100, 3]
    ])
    expect(clusters[1]?.digests).toHaveLength(2)
    expect(clusters[1]?.diameter).toBe(1)
  })

  it('breaks distance ties by size, then by the smallest member digest', () => {
    const fingerprints = ['d', 'a', 'c', 'b'].map((digest, i) => ({ digest, facts: [], machines: i === 0 ? 5 : 1 }))
    const clusters: QualityThresholdCluster[] = [
      { members: [2], machines: 1, diameter: 0 }, // c
      { members: [0], machines: 5, diameter: 0 }, // d, biggest
      { members: [3, 1], machines: 2, diameter: 1 } // a, b
    ]
    const ordered = orderClusters(fingerprints, clusters)
    expect(ordered.map(c => c.digests)).toEqual([['d'], ['a', 'b'], ['c']])
    expect(ordered.map(c => c.name)).toEqual(['c01', 'c02', 'c03'])
    expect(ordered.every(c => c.referenceDistance === 0)).toBe(true)
  })

  it('names clusters with the prefix and enough digits, every name a valid cluster name', () => {
    const fingerprints = Array.from({ length: 120 }, (_, i) => ({ digest: `fp${String(i).padStart(3, '0')}`, facts: [], machines: 1 }))
    const clusters = fingerprints.map((_, i) => ({ members: [i], machines: 1, diameter: 0 }))
    const ordered = orderClusters(fingerprints, clusters, { prefix: 'php5-mysql.' })
    expect(ordered[0]?.name).toBe('php5-mysql.001')
    expect(ordered[119]?.name).toBe('php5-mysql.120')
    expect(new Set(ordered.map(c => c.name)).size).toBe(120)
    expect(ordered.every(c => CLUSTER_NAME_PATTERN.test(c.name))).toBe(true)
    expect(orderClusters(fingerprints.slice(0, 3), clusters.slice(0, 3), { prefix: '' }).map(c => c.name)).toEqual(['01', '02', '03'])
  })

  it('refuses a prefix that cannot make valid names', () => {
    for (const prefix of ['-x', 'a b', 'é', 'x'.repeat(63), '.']) {
      const err = thrown(() => orderClusters([], [], { prefix }))
      expect(err.name).toBe('ClusterOptionsError')
      expect(err.reason).toBe('prefix')
    }
    expect(orderClusters([], [], { prefix: 'x'.repeat(62) })).toEqual([])
  })

  it('refuses a reference with two facts for one (resource, item)', () => {
    const err = thrown(() => orderClusters([{ digest: 'a', facts: [], machines: 1 }], [{ members: [0], machines: 1, diameter: 0 }],
      { reference: [fact('r', 'i', '1'), fact('r', 'i', '2')] }))
    expect(err.reason).toBe('reference')
  })

  it('reports the distance from the reference to the nearest member, in non-decreasing order (generated)', () => {
    fc.assert(fc.property(arbPopulation, arbWeights, arbFacts, fc.constantFrom(0, 1, 2, 3), (machines, weights, ref, diameter) => {
      const { census, clusters } = clusterCensus(machines, { diameter, weights, reference: ref })
      const byDigest = new Map(census.fingerprints.map(f => [f.digest, f]))
      clusters.forEach((c, i) => {
        expect(c.order).toBe(i + 1)
        expect(CLUSTER_NAME_PATTERN.test(c.name)).toBe(true)
        const nearest = Math.min(...c.digests.map(d => factDistance(ref, byDigest.get(d)!.facts, weights)))
        expect(c.referenceDistance).toBe(nearest)
        if (i > 0) {
          const before = clusters[i - 1]!
          expect(before.referenceDistance < c.referenceDistance ||
            (before.referenceDistance === c.referenceDistance && before.machines >= c.machines)).toBe(true)
        }
      })
    }))
  })
})
