import { CLUSTER_NAME_PATTERN } from '../release/index.ts'
import { DEFAULT_CLUSTER_NAME_PREFIX, MIN_CLUSTER_NAME_DIGITS } from './constants.ts'
import { resourceWeightOf } from './distance.ts'
import { ClusterOptionsError } from './errors.ts'
import type { DistinctFingerprint } from './census.ts'
import type { ResourceWeights } from './distance.ts'
import type { QualityThresholdCluster } from './quality-threshold.ts'
import type { Fact } from '../env/index.ts'

/** A cluster with its name and its place in the suggested rollout order. */
export interface OrderedCluster {
  /** `c01`, `c02`, … (or the caller's prefix): valid as a cluster name in plans, DHT keys and topics. */
  name: string
  /** 1 for the cluster to upgrade first. */
  order: number
  /** Digests of the member fingerprints, sorted. */
  digests: string[]
  machines: number
  /** Largest distance between two members. */
  diameter: number
  /** Distance from the reference environment to the nearest member; 0 without a reference. */
  referenceDistance: number
}

export interface ClusterOrderInit {
  /**
   * The vendor's reference environment (where the release was built and
   * tested). Without one, clusters are ordered by size alone.
   */
  reference?: readonly Fact[]
  /** The weights the clustering used, so "closest" means the same thing. */
  weights?: ResourceWeights
  /** Names are the prefix and the order, zero-padded; default `DEFAULT_CLUSTER_NAME_PREFIX`. */
  prefix?: string
}

/**
 * Suggests a rollout order (Mirage §4: upgrade the environments most like
 * the vendor's own first, where a failure is least likely and cheapest to
 * learn from, and the most unusual ones last): by the distance from the
 * reference to the cluster's nearest member, then bigger clusters first (more
 * machines helped per step), then by the cluster's smallest digest (the names
 * do not exist yet, and the smallest digest is a stable, unique stand-in).
 * Names follow that order, so `c01` is always the first cluster to upgrade.
 */
export function orderClusters (fingerprints: readonly DistinctFingerprint[], clusters: readonly QualityThresholdCluster[], init: ClusterOrderInit = {}): OrderedCluster[] {
  const prefix = init.prefix ?? DEFAULT_CLUSTER_NAME_PREFIX
  const digits = Math.max(MIN_CLUSTER_NAME_DIGITS, String(clusters.length).length)
  checkPrefix(prefix, digits)
  const distances = init.reference === undefined
    ? new Float64Array(fingerprints.length)
    : referenceDistances(init.reference, fingerprints, init.weights)

  const unnamed = clusters.map(cluster => {
    let nearest = Number.POSITIVE_INFINITY
    const digests: string[] = []
    for (const i of cluster.members) {
      const fingerprint = fingerprints[i]
      if (fingerprint === undefined) throw new RangeError(`cluster member ${i} is not one of the ${fingerprints.length} fingerprints`)
      digests.push(fingerprint.digest)
      nearest = Math.min(nearest, distances[i] as number)
    }
    digests.sort((a, b) => a < b ? -1 : a > b ? 1 : 0)
    return { digests, machines: cluster.machines, diameter: cluster.diameter, referenceDistance: nearest }
  })
  unnamed.sort((a, b) =>
    a.referenceDistance - b.referenceDistance ||
    b.machines - a.machines ||
    ((a.digests[0] ?? '') < (b.digests[0] ?? '') ? -1 : 1))
  return unnamed.map((cluster, i) => ({ name: clusterName(prefix, i + 1, digits), order: i + 1, ...cluster }))
}

/** The name of the cluster at `order` (1-based). */
function clusterName (prefix: string, order: number, digits: number): string {
  return `${prefix}${String(order).padStart(digits, '0')}`
}

/** Every name the prefix can make must be a valid cluster name; checked on the longest one. */
function checkPrefix (prefix: string, digits: number): void {
  const longest = clusterName(prefix, 10 ** digits - 1, digits)
  if (typeof prefix !== 'string' || !CLUSTER_NAME_PATTERN.test(longest)) {
    throw new ClusterOptionsError('prefix',
      `cluster name prefix "${String(prefix).slice(0, 70)}" does not make valid cluster names (e.g. "${longest.slice(0, 70)}"): letters, digits, ".", "_" or "-", starting with a letter or digit, at most 64 characters`)
  }
}

/**
 * The distance from the reference to every fingerprint, by the definition
 * (`factDistance`), with the reference indexed once: one lookup per fact.
 */
function referenceDistances (reference: readonly Fact[], fingerprints: readonly DistinctFingerprint[], weights?: ResourceWeights): Float64Array {
  const weightOf = resourceWeightOf(weights)
  const index = new Map<string, Map<string, { slot: number, value: string }>>()
  const slotWeight: number[] = []
  for (const { resource, item, value } of reference) {
    let items = index.get(resource)
    if (items === undefined) {
      items = new Map()
      index.set(resource, items)
    }
    if (items.has(item)) throw new ClusterOptionsError('reference', `the reference environment has two facts for resource "${resource}" item "${item}"`)
    items.set(item, { slot: slotWeight.length, value })
    slotWeight.push(weightOf(resource))
  }
  const seenBy = new Int32Array(slotWeight.length).fill(-1)
  const out = new Float64Array(fingerprints.length)
  fingerprints.forEach(({ facts }, i) => {
    let d = 0
    for (const { resource, item, value } of facts) {
      const mine = index.get(resource)?.get(item)
      if (mine === undefined) {
        d += weightOf(resource)
        continue
      }
      seenBy[mine.slot] = i
      if (mine.value !== value) d += slotWeight[mine.slot] as number
    }
    for (let slot = 0; slot < slotWeight.length; slot++) {
      if (seenBy[slot] !== i) d += slotWeight[slot] as number
    }
    out[i] = d
  })
  return out
}
