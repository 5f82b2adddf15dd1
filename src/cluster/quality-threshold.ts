import { ClusterOptionsError } from './errors.ts'
import type { DistanceTable } from './distance.ts'

/**
 * Quality-threshold (QT) clustering (Heyer, Kruglyak and Yooseph, Genome
 * Research 1999), as Mirage's vendor uses it to group similar environments
 * (§4.1): no fixed number of clusters, and no two fingerprints in one
 * cluster further apart than the maximum diameter D.
 *
 * The algorithm, with ties broken by a fixed total order of the points
 * ("rank": more machines first, then lower index, which for a collapsed
 * census is digest order):
 *   1. For every remaining point s, grow a candidate cluster from {s}: among
 *      the remaining points whose distance to every member is ≤ D, add the
 *      one whose largest distance to the members is smallest (ties: rank);
 *      stop when there is none.
 *   2. Emit the candidate with the most machines (ties: the seed's rank).
 *   3. Remove its points and repeat until no point remains.
 *
 * What makes it fast, without changing the result:
 *   - A candidate seeded at s only ever holds points within D of s, so it is
 *     grown inside s's D-neighbourhood (computed once).
 *   - Candidates are cached between rounds; after a round, only those that
 *     contain a removed point are dropped. Why a candidate C(s) built over the
 *     remaining set R is still exactly the candidate over R \ X when it
 *     contains no point of X: growing is a sequence of choices, each the
 *     minimum of a strict total order (largest distance to the members, then
 *     rank) over the pool of addable points, and a point's key depends only on
 *     the members chosen so far. A removed point x was never chosen, so at
 *     every step the minimum over the pool without x is the same point as
 *     with x; the members, hence every later key, are the same; and the final
 *     step (an empty pool, or nothing within D) stays final without x. By
 *     induction the choices are identical, so C(s) over R \ X = C(s) over R,
 *     and that holds again at every later round until one of its members goes.
 *   - Candidates are only built when they could win: a candidate at s has at
 *     most bound(s) = machines of s and of its remaining neighbours. Seeds are
 *     tried in decreasing bound, and one whose bound cannot beat (or tie with a
 *     better rank) the best candidate so far is left unbuilt this round. The
 *     emitted candidate is therefore the same as if every one had been built.
 *   - A build also pauses as soon as its members plus its pool of addable
 *     points cannot beat the best so far. It leaves a paused entry: the
 *     members chosen so far, the pool (with each point's largest distance to
 *     the members), and members + pool machines as a bound. By the argument
 *     above applied to that prefix, while none of its members is removed a
 *     fresh build would choose the same members first and reach the same
 *     pool less the points removed since; so the bound stays valid, and
 *     resuming (after dropping removed points from the pool) gives exactly
 *     the candidate a fresh build would. A paused entry is dropped like a
 *     candidate when one of its members goes. This matters in wide
 *     neighbourhoods (a diameter that merges thousands of fingerprints): in
 *     bench/cluster.bench.ts at diameter 24, pausing (with the typed pool
 *     arrays below) took QT from 33 s to about 9 s; at the benchmark's
 *     diameter 6 it takes well under a second either way.
 *
 * The tests compare this against a plain implementation of steps 1-3 (no
 * neighbourhoods, no cache, no bounds) on random populations: identical output.
 */

/** One emitted cluster. */
export interface QualityThresholdCluster {
  /** Indices of the member fingerprints (into the distance table), ascending. */
  members: number[]
  /** Machines in the cluster: the sum of its members' counts. */
  machines: number
  /** Largest distance between two members; 0 for one fingerprint. At most the maximum diameter. */
  diameter: number
}

interface Candidate {
  seed: number
  /** The seed first, then the points in the order they were added (when paused, those chosen so far). */
  members: Int32Array
  /** The candidate's machines; when paused, an upper bound on them. */
  machines: number
  /** Largest distance between two members (so far, when paused). */
  diameter: number
  /** Set when the build paused because it could not win (see above): where to resume. */
  paused?: PausedBuild
}

interface PausedBuild {
  /** Machines of the members chosen so far. */
  taken: number
  /** The addable points when the build paused, and each one's largest distance to the members. */
  pool: Int32Array
  far: Float64Array
}

/**
 * Clusters the fingerprints of `table` so that no cluster is wider than
 * `maxDiameter`. `machines[i]` is the number of machines with fingerprint
 * `i` (candidates are compared by machines, not distinct fingerprints: a
 * fingerprint shared by 1,000 machines matters more than one seen once).
 * Clusters come out in the order QT emits them: largest first. Deterministic.
 */
export function qualityThreshold (table: DistanceTable, machines: ArrayLike<number>, maxDiameter: number): QualityThresholdCluster[] {
  const n = table.size
  if (typeof maxDiameter !== 'number' || !Number.isFinite(maxDiameter) || maxDiameter < 0) {
    throw new ClusterOptionsError('diameter', `the maximum diameter must be a finite number ≥ 0, not ${String(maxDiameter)}`)
  }
  if (table.cutoff < maxDiameter) {
    throw new ClusterOptionsError('diameter', `the distance table was built with cutoff ${table.cutoff}, below the diameter ${maxDiameter}: distances up to the diameter must be exact`)
  }
  if (machines.length !== n) {
    throw new ClusterOptionsError('machines', `${machines.length} machine counts for ${n} fingerprints`)
  }
  for (let i = 0; i < n; i++) {
    const count = machines[i] as number
    if (!Number.isSafeInteger(count) || count < 1) {
      throw new ClusterOptionsError('machines', `fingerprint ${i} has ${String(count)} machines; every fingerprint has a whole number ≥ 1`)
    }
  }

  const rank = rankByMachines(machines, n)
  const { starts, neighbours } = neighbourhoods(table, maxDiameter)
  const alive = new Uint8Array(n).fill(1)
  const bound = new Float64Array(n)
  for (let s = 0; s < n; s++) {
    let sum = machines[s] as number
    for (let t = starts[s] as number; t < (starts[s + 1] as number); t++) sum += machines[neighbours[t] as number] as number
    bound[s] = sum
  }
  const build = candidateBuilder(table, machines, rank, starts, neighbours, alive, maxDiameter)
  const cached: Array<Candidate | undefined> = new Array(n).fill(undefined)
  const checkedInRound = new Int32Array(n).fill(-1)

  const beats = (c: Candidate, best: Candidate | undefined): boolean => c.paused === undefined && canBeat(c.machines, c.seed, best, rank)
  /** What a seed's candidate can reach at most: its neighbourhood, or less if a paused build said so. */
  const limit = (s: number): number => Math.min(bound[s] as number, cached[s]?.machines ?? Number.POSITIVE_INFINITY)

  const clusters: QualityThresholdCluster[] = []
  let remaining = n
  for (let round = 0; remaining > 0; round++) {
    let best: Candidate | undefined
    const unbuilt: number[] = []
    for (let s = 0; s < n; s++) {
      if (alive[s] === 0) continue
      const c = cached[s]
      if (c === undefined || c.paused !== undefined) unbuilt.push(s)
      else if (beats(c, best)) best = c
    }
    const worth = unbuilt.filter(s => canBeat(limit(s), s, best, rank))
    worth.sort((a, b) => limit(b) - limit(a) || (rank[a] as number) - (rank[b] as number))
    for (const s of worth) {
      if (!canBeat(limit(s), s, best, rank)) continue
      const c = build(s, best, cached[s])
      cached[s] = c
      if (beats(c, best)) best = c
    }
    // Some seed is alive, and either cached or built (the first one always is), so there is a best.
    const chosen = best as Candidate
    const members = Array.from(chosen.members).sort((a, b) => a - b)
    clusters.push({ members, machines: chosen.machines, diameter: chosen.diameter })
    for (const x of members) {
      alive[x] = 0
      cached[x] = undefined
      remaining--
    }
    // A cached candidate holding a removed x was seeded within D of x: look only there.
    for (const x of members) {
      for (let t = starts[x] as number; t < (starts[x + 1] as number); t++) {
        const s = neighbours[t] as number
        if (alive[s] === 0) continue
        bound[s] = (bound[s] as number) - (machines[x] as number)
        if (checkedInRound[s] === round) continue
        checkedInRound[s] = round
        const c = cached[s]
        if (c !== undefined && holdsRemoved(c, alive)) cached[s] = undefined
      }
    }
  }
  return clusters
}

/** Whether a candidate of `machines` seeded at `seed` wins over `best`: more machines, or as many and a better-ranked seed. */
function canBeat (machines: number, seed: number, best: Candidate | undefined, rank: Int32Array): boolean {
  return best === undefined || machines > best.machines || (machines === best.machines && (rank[seed] as number) < (rank[best.seed] as number))
}

/** rank[i]: position of i when sorted by more machines first, then lower index. */
function rankByMachines (machines: ArrayLike<number>, n: number): Int32Array {
  const order = Array.from({ length: n }, (_, i) => i)
  order.sort((a, b) => (machines[b] as number) - (machines[a] as number) || a - b)
  const rank = new Int32Array(n)
  order.forEach((i, r) => { rank[i] = r })
  return rank
}

/** For every point, the other points within `maxDiameter` (compressed rows: `neighbours[starts[i]..starts[i+1])`). */
function neighbourhoods (table: DistanceTable, maxDiameter: number): { starts: Int32Array, neighbours: Int32Array } {
  const n = table.size
  const lists: number[][] = Array.from({ length: n }, () => [])
  for (let i = 0; i < n; i++) {
    const row = table.distancesFrom(i)
    const mine = lists[i] as number[]
    for (let j = i + 1; j < n; j++) {
      const d = row !== undefined ? row[j] as number : table.distance(i, j)
      if (d <= maxDiameter) {
        mine.push(j)
        ;(lists[j] as number[]).push(i)
      }
    }
  }
  const starts = new Int32Array(n + 1)
  for (let i = 0; i < n; i++) starts[i + 1] = (starts[i] as number) + (lists[i] as number[]).length
  const neighbours = new Int32Array(starts[n] as number)
  for (let i = 0; i < n; i++) neighbours.set(lists[i] as number[], starts[i] as number)
  return { starts, neighbours }
}

/**
 * Step 1 for one seed, inside its neighbourhood. The pool holds the addable
 * points with their largest distance to the members (`far`); adding p raises
 * the others' `far` to their distance to p and drops those now beyond D (a
 * `far` never decreases, so a dropped point could never come back). Each
 * step is one pass over the pool, which also finds the next minimum: O(k²)
 * for a neighbourhood of k. With `best`, it pauses once members and pool
 * together cannot beat it; given a paused entry (still valid: none of its
 * members removed), it resumes from there. Scratch arrays are shared
 * between calls.
 */
function candidateBuilder (
  table: DistanceTable, machines: ArrayLike<number>, rank: Int32Array,
  starts: Int32Array, neighbours: Int32Array, alive: Uint8Array, maxDiameter: number
): (seed: number, best: Candidate | undefined, from: Candidate | undefined) => Candidate {
  const n = table.size
  let widest = 0
  for (let s = 0; s < n; s++) widest = Math.max(widest, (starts[s + 1] as number) - (starts[s] as number))
  // Parallel arrays for the pool: point, its largest distance to the
  // members, its rank, its machines (typed, so the O(k²) loop stays tight).
  const pool = new Int32Array(widest)
  const far = new Float64Array(widest)
  const poolRank = new Int32Array(widest)
  const poolMachines = new Float64Array(widest)
  // Without a matrix, distances from the newest member to the pool are computed into this row first.
  const scratch = table.distancesFrom(0) === undefined ? new Float64Array(n) : undefined

  return (seed, best, from) => {
    let k = 0
    let next = -1
    let pooled = 0
    const take = (q: number, reach: number): void => {
      const r = rank[q] as number
      const count = machines[q] as number
      pool[k] = q
      far[k] = reach
      poolRank[k] = r
      poolMachines[k] = count
      pooled += count
      if (next < 0 || reach < (far[next] as number) || (reach === far[next] && r < (poolRank[next] as number))) next = k
      k++
    }
    let members: number[]
    let sum: number
    let diameter: number
    const paused = from?.paused
    if (from !== undefined && paused !== undefined) {
      for (let t = 0; t < paused.pool.length; t++) {
        const q = paused.pool[t] as number
        if (alive[q] !== 0) take(q, paused.far[t] as number)
      }
      members = Array.from(from.members)
      sum = paused.taken
      diameter = from.diameter
    } else {
      const fromSeed = table.distancesFrom(seed)
      for (let t = starts[seed] as number; t < (starts[seed + 1] as number); t++) {
        const q = neighbours[t] as number
        if (alive[q] !== 0) take(q, fromSeed !== undefined ? fromSeed[q] as number : table.distance(seed, q))
      }
      members = [seed]
      sum = machines[seed] as number
      diameter = 0
    }
    while (k > 0) {
      if (best !== undefined && !canBeat(sum + pooled, seed, best, rank)) {
        const state = { taken: sum, pool: pool.slice(0, k), far: far.slice(0, k) }
        return { seed, members: Int32Array.from(members), machines: sum + pooled, diameter, paused: state }
      }
      const p = pool[next] as number
      const reach = far[next] as number
      members.push(p)
      sum += poolMachines[next] as number
      pooled -= poolMachines[next] as number
      if (reach > diameter) diameter = reach
      k--
      moveInPool(k, next)
      let row = table.distancesFrom(p)
      if (row === undefined) {
        const own = scratch as Float64Array
        for (let t = 0; t < k; t++) own[pool[t] as number] = table.distance(p, pool[t] as number)
        row = own
      }
      // One pass: raise each point's `far` to its distance to p, drop those
      // beyond D (swap-remove: the moved point is looked at next), and find
      // the next point to add.
      next = -1
      let nextFar = Number.POSITIVE_INFINITY
      let nextRank = 0
      let t = 0
      while (t < k) {
        const d = row[pool[t] as number] as number
        if (d > maxDiameter) {
          pooled -= poolMachines[t] as number
          k--
          moveInPool(k, t)
          continue
        }
        let f = far[t] as number
        if (d > f) {
          f = d
          far[t] = d
        }
        const r = poolRank[t] as number
        if (f < nextFar || (f === nextFar && r < nextRank)) {
          next = t
          nextFar = f
          nextRank = r
        }
        t++
      }
    }
    return { seed, members: Int32Array.from(members), machines: sum, diameter }
  }

  function moveInPool (fromSlot: number, toSlot: number): void {
    pool[toSlot] = pool[fromSlot] as number
    far[toSlot] = far[fromSlot] as number
    poolRank[toSlot] = poolRank[fromSlot] as number
    poolMachines[toSlot] = poolMachines[fromSlot] as number
  }
}

function holdsRemoved (candidate: Candidate, alive: Uint8Array): boolean {
  for (const x of candidate.members) if (alive[x] === 0) return true
  return false
}
