/**
 * Cluster: Mirage's vendor-side quality-threshold clustering (SOSP 2007,
 * §4.1). Machines report salted fingerprints of their environment; the vendor
 * collapses identical ones, measures how far apart the rest are (items that
 * differ, weighted per resource), and groups them with quality-threshold
 * clustering (Heyer et al. 1999): no fixed number of clusters, and no two
 * fingerprints in one cluster further apart than a maximum diameter. The
 * clusters are ordered closest-to-the-vendor's-reference first, named, and
 * published as a signed cluster map that nodes use as their cluster id.
 *
 * Pure: no I/O and no clock; signing is in-memory crypto.
 */
export {
  DEFAULT_RESOURCE_WEIGHT, DEFAULT_MAX_DISTANCE_MATRIX_BYTES, CLUSTER_MAP_FORMAT, MAX_CLUSTER_MAP_BYTES,
  DEFAULT_CLUSTER_NAME_PREFIX, FINGERPRINT_DIGEST_PATTERN
} from './constants.ts'
export { CensusError, ClusterOptionsError, ClusterMapInvalidError, ClusterMapRefusedError } from './errors.ts'
export { collapseCensus } from './census.ts'
export type { MachineFingerprint, DistinctFingerprint, Census } from './census.ts'
export { buildDistanceTable, factDistance, resourceWeightOf } from './distance.ts'
export type { ResourceWeights, DistanceTable, DistanceTableInit } from './distance.ts'
export { qualityThreshold } from './quality-threshold.ts'
export type { QualityThresholdCluster } from './quality-threshold.ts'
export { orderClusters } from './cluster-order.ts'
export type { OrderedCluster, ClusterOrderInit } from './cluster-order.ts'
export { clusterCensus } from './cluster-census.ts'
export type { ClusterCensusInit, CensusClustering } from './cluster-census.ts'
export { buildClusterMap, validateClusterMap, encodeClusterMap, decodeClusterMap, clusterFor } from './cluster-map.ts'
export type { ClusterMap, ClusterMapCluster, BuildClusterMapInit } from './cluster-map.ts'
export { sealClusterMap, openClusterMap } from './signed-cluster-map.ts'
export type { VerifiedClusterMap, OpenClusterMapOptions } from './signed-cluster-map.ts'
