import { DEFAULT_MAX_DISTANCE_MATRIX_BYTES, DEFAULT_RESOURCE_WEIGHT, MAX_RESOURCE_NAME_LENGTH } from './constants.ts'
import { ClusterOptionsError } from './errors.ts'
import type { Fact } from '../env/index.ts'

/**
 * The distance between two fingerprints (Mirage §4.1, issue 4 item 5): the
 * sum, over every (resource, item) on which they differ (different value, or
 * present in one only), of the resource's weight. Unlisted resources weigh
 * `DEFAULT_RESOURCE_WEIGHT`; weight 0 makes a resource irrelevant. It is a
 * weighted Hamming distance, hence a metric: symmetric, 0 on identical
 * facts, and it obeys the triangle inequality.
 */
export type ResourceWeights = Readonly<Record<string, number>>

export interface DistanceTableInit {
  /** Weight per resource name; see `ResourceWeights`. */
  weights?: ResourceWeights
  /**
   * Distances above this are only known to be above it: summing stops there.
   * Clustering at diameter D passes D, since it never looks at how far apart
   * two fingerprints are once they are further than D. Default: exact.
   */
  cutoff?: number
  /** Bound on the full distance matrix; above it, distances are recomputed on demand. Default `DEFAULT_MAX_DISTANCE_MATRIX_BYTES`. */
  maxMatrixBytes?: number
}

/** Pairwise distances over a fixed list of fingerprints, addressed by index. */
export interface DistanceTable {
  /** Number of fingerprints. */
  readonly size: number
  /** (resource, item) columns that vary across the fingerprints and weigh more than 0: the only ones a distance can depend on. */
  readonly columns: number
  /** How distances are held: a full matrix of exact small integers, of doubles, or none (recomputed per call). */
  readonly storage: 'uint16' | 'float64' | 'none'
  /** See `DistanceTableInit.cutoff`; `Infinity` when exact. */
  readonly cutoff: number
  /** Exact when at most `cutoff`; otherwise some value above `cutoff`. */
  distance(i: number, j: number): number
  /** Row `i` of the matrix (`row[j]` = distance(i, j)), or undefined without a matrix: the hot path of clustering. */
  distancesFrom(i: number): ArrayLike<number> | undefined
}

/** Marks an absent (resource, item) in a dense row; value ids are ≥ 0. */
const ABSENT = -1

/** The largest value a Uint16 matrix cell holds. */
const UINT16_MAX = 0xffff

/**
 * Validates a weight table and returns a lookup. Own properties only, so a
 * resource named `constructor` or `toString` weighs what the vendor said (or
 * the default), never an inherited function.
 */
export function resourceWeightOf (weights: ResourceWeights = {}): (resource: string) => number {
  if (typeof weights !== 'object' || weights === null || Array.isArray(weights)) {
    throw new ClusterOptionsError('weights', 'weights must be an object mapping resource names to numbers')
  }
  const table = new Map<string, number>()
  for (const [resource, weight] of Object.entries(weights)) {
    if (resource === '' || resource.length > MAX_RESOURCE_NAME_LENGTH) {
      throw new ClusterOptionsError('weights', `weights: a resource name must be 1-${MAX_RESOURCE_NAME_LENGTH} characters`)
    }
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
      throw new ClusterOptionsError('weights', `weights: "${resource}" must be a finite number ≥ 0, not ${String(weight)}`)
    }
    table.set(resource, weight)
  }
  return resource => table.get(resource) ?? DEFAULT_RESOURCE_WEIGHT
}

/**
 * The distance by its definition, straight from two fact lists. Clustering
 * uses `buildDistanceTable` instead; this is for a fingerprint outside the
 * census (the vendor's reference environment) and as the tests' oracle.
 */
export function factDistance (a: readonly Fact[], b: readonly Fact[], weights: ResourceWeights = {}): number {
  const weightOf = resourceWeightOf(weights)
  const inA = new Map<string, Map<string, string>>()
  for (const { resource, item, value } of a) {
    let items = inA.get(resource)
    if (items === undefined) {
      items = new Map()
      inA.set(resource, items)
    }
    items.set(item, value)
  }
  let distance = 0
  let shared = 0
  const sharedItems = new Map<string, number>()
  for (const { resource, item, value } of b) {
    const mine = inA.get(resource)?.get(item)
    if (mine === undefined) {
      distance += weightOf(resource)
      continue
    }
    shared++
    sharedItems.set(resource, (sharedItems.get(resource) ?? 0) + 1)
    if (mine !== value) distance += weightOf(resource)
  }
  if (shared < a.length) {
    // Items of `a` that `b` lacks: per resource, all of a's items minus the shared ones.
    for (const [resource, items] of inA) {
      const missing = items.size - (sharedItems.get(resource) ?? 0)
      if (missing > 0) distance += missing * weightOf(resource)
    }
  }
  return distance
}

/**
 * Builds the distance table for a list of fingerprints. Why it is fast:
 * every (resource, item) is interned into a column id and every value into a
 * per-column value id; columns on which all fingerprints agree (and
 * weight-0 resources) are dropped, since they never add to a distance; each
 * fingerprint becomes a dense Int32Array row over the remaining columns, so a
 * distance is one tight loop of integer compares, heaviest columns first so
 * the cutoff is reached early. When it fits in `maxMatrixBytes`, all
 * distances are computed once into a matrix: Uint16 when weights are whole
 * numbers and every stored value fits (exact), else Float64 (the very doubles
 * the row loop computes, so matrix and recomputation never disagree at the
 * cutoff, as Float32 rounding could).
 */
export function buildDistanceTable (fingerprints: ReadonlyArray<{ readonly facts: readonly Fact[] }>, init: DistanceTableInit = {}): DistanceTable {
  const weightOf = resourceWeightOf(init.weights)
  const cutoff = init.cutoff ?? Number.POSITIVE_INFINITY
  if (typeof cutoff !== 'number' || Number.isNaN(cutoff) || cutoff < 0) {
    throw new ClusterOptionsError('diameter', `the distance cutoff must be a number ≥ 0, not ${String(cutoff)}`)
  }
  const n = fingerprints.length

  // Intern (resource, item) → column and value → value id per column. Nested
  // maps rather than a joined key: no separator can be ambiguous.
  const columnOf = new Map<string, Map<string, number>>()
  const columnWeight: number[] = []
  const columnKey: Array<[string, string]> = []
  const columnValues: Array<Map<string, number>> = []
  const columnPresent: number[] = []
  const cells: Int32Array[] = new Array(n)
  for (let i = 0; i < n; i++) {
    const facts = (fingerprints[i] as { readonly facts: readonly Fact[] }).facts
    const pairs = new Int32Array(2 * facts.length)
    let used = 0
    for (const { resource, item, value } of facts) {
      let items = columnOf.get(resource)
      if (items === undefined) {
        items = new Map()
        columnOf.set(resource, items)
      }
      let column = items.get(item)
      if (column === undefined) {
        const weight = weightOf(resource)
        column = weight > 0 ? columnWeight.length : ABSENT
        items.set(item, column)
        if (weight > 0) {
          columnWeight.push(weight)
          columnKey.push([resource, item])
          columnValues.push(new Map())
          columnPresent.push(0)
        }
      }
      if (column === ABSENT) continue
      const values = columnValues[column] as Map<string, number>
      let id = values.get(value)
      if (id === undefined) {
        id = values.size
        values.set(value, id)
      }
      columnPresent[column] = (columnPresent[column] as number) + 1
      pairs[used++] = column
      pairs[used++] = id
    }
    cells[i] = pairs.subarray(0, used)
  }

  // Keep the columns that vary: two values, or absent somewhere. Heaviest
  // first (then by resource and item, for a fixed summation order).
  const varying: number[] = []
  for (let c = 0; c < columnWeight.length; c++) {
    if ((columnValues[c] as Map<string, number>).size > 1 || (columnPresent[c] as number) < n) varying.push(c)
  }
  varying.sort((a, b) => (columnWeight[b] as number) - (columnWeight[a] as number) || compareKeys(columnKey[a] as [string, string], columnKey[b] as [string, string]))
  const m = varying.length
  const dense = new Int32Array(columnWeight.length).fill(ABSENT)
  const weights = new Float64Array(m)
  varying.forEach((c, k) => {
    dense[c] = k
    weights[k] = columnWeight[c] as number
  })
  const rows = new Int32Array(n * m).fill(ABSENT)
  for (let i = 0; i < n; i++) {
    const pairs = cells[i] as Int32Array
    const base = i * m
    for (let p = 0; p < pairs.length; p += 2) {
      const k = dense[pairs[p] as number] as number
      if (k !== ABSENT) rows[base + k] = pairs[p + 1] as number
    }
  }

  const rowDistance = (i: number, j: number): number => {
    let d = 0
    const a = i * m
    const b = j * m
    for (let c = 0; c < m; c++) {
      if (rows[a + c] !== rows[b + c]) {
        d += weights[c] as number
        if (d > cutoff) return d
      }
    }
    return d
  }

  let total = 0
  let whole = true
  for (const w of weights) {
    total += w
    if (!Number.isInteger(w)) whole = false
  }
  // With whole weights, a value past the cutoff can be stored as cutoff's
  // floor + 1 (still above it), so Uint16 works whenever that cap fits.
  const cap = Math.min(total, Math.floor(cutoff) + 1)
  const storage: DistanceTable['storage'] = whole && cap <= UINT16_MAX ? 'uint16' : 'float64'
  const bytes = n * n * (storage === 'uint16' ? 2 : 8)
  const maxMatrixBytes = init.maxMatrixBytes ?? DEFAULT_MAX_DISTANCE_MATRIX_BYTES
  if (bytes > maxMatrixBytes || n === 0) {
    return {
      size: n,
      columns: m,
      storage: 'none',
      cutoff,
      distance: rowDistance,
      distancesFrom: () => undefined
    }
  }

  const matrix = storage === 'uint16' ? new Uint16Array(n * n) : new Float64Array(n * n)
  fillMatrix(matrix, rows, weights, n, m, cutoff, storage === 'uint16' ? cap : Number.POSITIVE_INFINITY)
  return {
    size: n,
    columns: m,
    storage,
    cutoff,
    distance: (i, j) => matrix[i * n + j] as number,
    distancesFrom: i => matrix.subarray(i * n, (i + 1) * n)
  }
}

/**
 * Every pairwise distance, each computed once and mirrored: the row loop of
 * `rowDistance` inlined (this is the n²/2 × columns inner loop of the whole
 * clustering), values above `cap` stored as `cap`.
 */
function fillMatrix (matrix: Uint16Array | Float64Array, rows: Int32Array, weights: Float64Array, n: number, m: number, cutoff: number, cap: number): void {
  for (let i = 0; i < n; i++) {
    const a = i * m
    for (let j = i + 1; j < n; j++) {
      const b = j * m
      let d = 0
      for (let c = 0; c < m; c++) {
        if (rows[a + c] !== rows[b + c]) {
          d += weights[c] as number
          if (d > cutoff) break
        }
      }
      if (d > cap) d = cap
      matrix[i * n + j] = d
      matrix[j * n + i] = d
    }
  }
}

function compareKeys (a: [string, string], b: [string, string]): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1
  return 0
}
