import { collapseCensus } from './census.ts'
import { orderClusters } from './cluster-order.ts'
import { buildDistanceTable } from './distance.ts'
import { qualityThreshold } from './quality-threshold.ts'
import type { Census, MachineFingerprint } from './census.ts'
import type { OrderedCluster } from './cluster-order.ts'
import type { ResourceWeights } from './distance.ts'
import type { Fact } from '../env/index.ts'

export interface ClusterCensusInit {
  /** Maximum diameter D: no two fingerprints in one cluster further apart than this. */
  diameter: number
  /** Weight per resource; unlisted resources weigh 1, weight 0 ignores one. */
  weights?: ResourceWeights
  /** The vendor's reference environment, for the suggested order. */
  reference?: readonly Fact[]
  /** Prefix of cluster names (default `c`: `c01`, `c02`, …). */
  prefix?: string
  /** Bound on the distance matrix; see `DEFAULT_MAX_DISTANCE_MATRIX_BYTES`. */
  maxMatrixBytes?: number
}

export interface CensusClustering {
  census: Census
  /** In suggested rollout order. */
  clusters: OrderedCluster[]
  /** (resource, item) columns that varied across the census and carried weight. */
  columns: number
}

/**
 * The whole of the vendor's clustering in one call: collapse identical
 * fingerprints, compute distances (cut off at the diameter), run QT, and
 * order and name the clusters. `buildClusterMap` turns the result into the
 * map a vendor signs.
 */
export function clusterCensus (machines: Iterable<MachineFingerprint>, init: ClusterCensusInit): CensusClustering {
  const census = collapseCensus(machines)
  const table = buildDistanceTable(census.fingerprints, { weights: init.weights, cutoff: init.diameter, maxMatrixBytes: init.maxMatrixBytes })
  const found = qualityThreshold(table, census.fingerprints.map(f => f.machines), init.diameter)
  const clusters = orderClusters(census.fingerprints, found, { reference: init.reference, weights: init.weights, prefix: init.prefix })
  return { census, clusters, columns: table.columns }
}
