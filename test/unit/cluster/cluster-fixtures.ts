import { createHash } from 'node:crypto'
import fc from 'fast-check'
import type { DistanceTable, DistinctFingerprint, MachineFingerprint, ResourceWeights } from '../../../src/cluster/index.ts'
import type { Fact } from '../../../src/env/index.ts'

/** A digest for a fact list, as a fingerprinter would make one: order-independent. */
export function digestOf (facts: readonly Fact[]): string {
  const lines = facts.map(f => `${f.resource}\0${f.item}\0${f.value}`).sort()
  return createHash('sha256').update(lines.join('\n')).digest('hex')
}

export function fact (resource: string, item: string, value: string): Fact {
  return { resource, item, value }
}

/** Machines for one fingerprint: `count` entries sharing one facts array, as a census intake would. */
export function machinesWith (facts: readonly Fact[], count: number, digest = digestOf(facts)): MachineFingerprint[] {
  return Array.from({ length: count }, () => ({ digest, facts }))
}

export const RESOURCES = ['php.ini', 'my.cnf', 'libmysqlclient', 'httpd.conf'] as const
const ITEMS = ['a', 'b', 'c'] as const
const VALUES = ['v0', 'v1', 'v2'] as const

/** A fingerprint over a small universe: each (resource, item) absent or one of three values. */
export const arbFacts: fc.Arbitrary<Fact[]> = fc.array(fc.constantFrom(undefined, ...VALUES), { minLength: RESOURCES.length * ITEMS.length, maxLength: RESOURCES.length * ITEMS.length })
  .map(cells => {
    const facts: Fact[] = []
    cells.forEach((value, k) => {
      if (value !== undefined) facts.push(fact(RESOURCES[Math.floor(k / ITEMS.length)] as string, ITEMS[k % ITEMS.length] as string, value))
    })
    return facts
  })

/** Dyadic weights (0, 0.5, 1, 2, 3): sums are exact in any order, so two implementations can be compared with ===. */
export const arbWeights: fc.Arbitrary<Record<string, number>> = fc.dictionary(fc.constantFrom(...RESOURCES), fc.constantFrom(0, 0.5, 1, 2, 3))

const CELLS = RESOURCES.length * ITEMS.length
const arbFlips = (max: number) => fc.array(fc.tuple(fc.nat(CELLS - 1), fc.constantFrom(undefined, ...VALUES)), { maxLength: max })

/** `facts` with some cells changed (set to a value, or removed). */
function flipped (facts: readonly Fact[], flips: ReadonlyArray<[number, string | undefined]>): Fact[] {
  const cells = new Map(facts.map(f => [`${f.resource}\0${f.item}`, f.value]))
  for (const [k, value] of flips) {
    const key = `${RESOURCES[Math.floor(k / ITEMS.length)] as string}\0${ITEMS[k % ITEMS.length] as string}`
    if (value === undefined) cells.delete(key)
    else cells.set(key, value)
  }
  return [...cells].map(([key, value]) => {
    const [resource, item] = key.split('\0') as [string, string]
    return fact(resource, item, value)
  })
}

/**
 * A small population: a few "clumps" around random centres (so clusters
 * exist), each member a centre with up to 3 cells changed, 1-5 machines each.
 * Duplicated fingerprints stay in: the census collapses them.
 */
export const arbPopulation: fc.Arbitrary<MachineFingerprint[]> = fc.array(arbFacts, { minLength: 1, maxLength: 6 })
  .chain(centres => fc.array(fc.record({ centre: fc.nat(centres.length - 1), flips: arbFlips(3), machines: fc.integer({ min: 1, max: 5 }) }), { minLength: 1, maxLength: 24 })
    .map(members => members.flatMap(({ centre, flips, machines }) => machinesWith(flipped(centres[centre] as Fact[], flips), machines))))

/**
 * Crowded: up to 80 members around centres that are themselves near one
 * base, 1-20 machines each, so neighbourhoods overlap widely and candidates
 * pause and resume (see quality-threshold.ts). Slower to check against the
 * reference, so run fewer times.
 */
export const arbCrowdedPopulation: fc.Arbitrary<MachineFingerprint[]> = fc.tuple(arbFacts, fc.array(arbFlips(4), { minLength: 1, maxLength: 8 }))
  .map(([base, centreFlips]) => centreFlips.map(flips => flipped(base, flips)))
  .chain(centres => fc.array(fc.record({ centre: fc.nat(centres.length - 1), flips: arbFlips(2), machines: fc.integer({ min: 1, max: 20 }) }), { minLength: 1, maxLength: 80 })
    .map(members => members.flatMap(({ centre, flips, machines }) => machinesWith(flipped(centres[centre] as Fact[], flips), machines))))

/** The distance by its definition, written independently of `src/cluster`. */
export function naiveDistance (a: readonly Fact[], b: readonly Fact[], weights: ResourceWeights): number {
  const weightOf = (resource: string): number => Object.hasOwn(weights, resource) ? weights[resource] as number : 1
  const key = (f: Fact): string => JSON.stringify([f.resource, f.item])
  const inA = new Map(a.map(f => [key(f), f]))
  const inB = new Map(b.map(f => [key(f), f]))
  let d = 0
  for (const [k, f] of inA) if (inB.get(k)?.value !== f.value) d += weightOf(f.resource)
  for (const [k, f] of inB) if (!inA.has(k)) d += weightOf(f.resource)
  return d
}

export interface ReferenceCluster {
  digests: string[]
  machines: number
  diameter: number
}

/**
 * Quality-threshold clustering exactly as described (Heyer et al. 1999),
 * with no neighbourhoods, no cache and no bounds: every round rebuilds every
 * candidate over every remaining point. Ties: more machines, then smaller
 * digest, both when growing a candidate and when choosing between them.
 */
export function referenceQualityThreshold (fingerprints: readonly DistinctFingerprint[], maxDiameter: number, weights: ResourceWeights): ReferenceCluster[] {
  const d = fingerprints.map(a => fingerprints.map(b => naiveDistance(a.facts, b.facts, weights)))
  const fp = (i: number): DistinctFingerprint => fingerprints[i] as DistinctFingerprint
  const earlier = (i: number, j: number): boolean => fp(i).machines > fp(j).machines || (fp(i).machines === fp(j).machines && fp(i).digest < fp(j).digest)
  return referenceQt(d, fingerprints.map(f => f.machines), maxDiameter, earlier)
    .map(c => ({ digests: c.members.map(i => fp(i).digest).sort(), machines: c.machines, diameter: c.diameter }))
}

/** The same over an explicit distance matrix; ties go to more machines, then the lower index. */
export function referenceQt (
  d: number[][], machines: readonly number[], maxDiameter: number,
  earlier = (i: number, j: number): boolean => (machines[i] as number) > (machines[j] as number) || (machines[i] === machines[j] && i < j)
): Array<{ members: number[], machines: number, diameter: number }> {
  const dist = (i: number, j: number): number => (d[i] as number[])[j] as number
  const alive = new Set(machines.map((_, i) => i))
  const out: Array<{ members: number[], machines: number, diameter: number }> = []
  while (alive.size > 0) {
    let best: { seed: number, members: number[], machines: number } | undefined
    for (const seed of alive) {
      const members = [seed]
      const pool = new Set([...alive].filter(i => i !== seed))
      for (;;) {
        let pick = -1
        let pickFar = Number.POSITIVE_INFINITY
        for (const q of pool) {
          const far = Math.max(...members.map(m => dist(q, m)))
          if (far > maxDiameter) continue
          if (pick < 0 || far < pickFar || (far === pickFar && earlier(q, pick))) {
            pick = q
            pickFar = far
          }
        }
        if (pick < 0) break
        members.push(pick)
        pool.delete(pick)
      }
      const total = members.reduce((sum, i) => sum + (machines[i] as number), 0)
      if (best === undefined || total > best.machines || (total === best.machines && earlier(seed, best.seed))) best = { seed, members, machines: total }
    }
    const chosen = best as { members: number[], machines: number }
    let diameter = 0
    for (const i of chosen.members) for (const j of chosen.members) diameter = Math.max(diameter, dist(i, j))
    out.push({ members: [...chosen.members].sort((a, b) => a - b), machines: chosen.machines, diameter })
    for (const i of chosen.members) alive.delete(i)
  }
  return out
}

/** A distance table over an explicit matrix: for hand-made geometries. */
export function tableOf (matrix: number[][]): DistanceTable {
  return {
    size: matrix.length,
    columns: 0,
    storage: 'none',
    cutoff: Number.POSITIVE_INFINITY,
    distance: (i, j) => (matrix[i] as number[])[j] as number,
    distancesFrom: () => undefined
  }
}

/** Runs `fn` and returns what it threw, failing if it did not. */
export function thrown (fn: () => unknown): Error & { reason?: string, path?: string } {
  try {
    fn()
  } catch (err) {
    return err as Error & { reason?: string, path?: string }
  }
  throw new Error('expected an error')
}

export async function rejected (promise: Promise<unknown>): Promise<Error & { reason?: string, path?: string }> {
  try {
    await promise
  } catch (err) {
    return err as Error & { reason?: string, path?: string }
  }
  throw new Error('expected a rejection')
}
