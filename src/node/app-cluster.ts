import { clusterFor } from '../cluster/index.ts'
import { clusterIdOf, clusterResources, fingerprintCluster, fingerprintDigest, fingerprintEnvironment, mergeResources } from '../env/index.ts'
import type { ClusterMap } from '../cluster/index.ts'
import type { ClusterSpec } from '../env/index.ts'
import type { ShippedEnvSpec } from '../release/index.ts'

/** What decides a machine's cluster for an app. */
export interface AppClusterIdentity {
  /** The owner's explicit cluster name: wins over everything. */
  name?: string
  /** The cluster of identical relevant environments (`env-…`). */
  envClusterId: string
  /** The digest a vendor cluster map assigns (absent with an explicit name). */
  digest?: string
}

/** Fingerprints the machine for an app, unless the owner named the cluster. */
export async function identifyAppCluster (app: string, cluster: ClusterSpec): Promise<AppClusterIdentity> {
  if (cluster.name !== undefined) return { name: cluster.name, envClusterId: cluster.name }
  const fingerprint = await fingerprintCluster(app, cluster)
  return { envClusterId: clusterIdOf(fingerprint), digest: fingerprintDigest(fingerprint) }
}

/**
 * The same for a release that ships its own env spec: the vendor's
 * resources for this release, with the owner's own (config and spec file)
 * replacing them by name.
 */
export async function identifyAppClusterForRelease (app: string, cluster: ClusterSpec, shipped: ShippedEnvSpec): Promise<AppClusterIdentity> {
  if (cluster.name !== undefined) return { name: cluster.name, envClusterId: cluster.name }
  const owner = await clusterResources(app, cluster)
  const salt = shipped.salt ?? owner.salt
  const fingerprint = await fingerprintEnvironment(
    { app, resources: mergeResources(shipped.resources, owner.resources), ...(salt === undefined ? {} : { salt }) },
    cluster.root === undefined ? {} : { root: cluster.root }
  )
  return { envClusterId: clusterIdOf(fingerprint), digest: fingerprintDigest(fingerprint) }
}

/**
 * The cluster in effect (issue 4, item 4): the owner's name if given; else
 * the vendor map's cluster when the map covers this fingerprint; else the
 * cluster of identical environments.
 */
export function effectiveCluster (identity: AppClusterIdentity, map: ClusterMap | undefined): string {
  if (identity.name !== undefined) return identity.name
  const mapped = map === undefined || identity.digest === undefined ? undefined : clusterFor(map, identity.digest)
  return mapped ?? identity.envClusterId
}
