import { clusterIdOf, fingerprintEnvironment } from './fingerprint.ts'
import { checkResources, mergeResources, readEnvSpec } from './spec.ts'
import type { Fingerprint } from './fingerprint.ts'
import type { ReadEnvironmentOptions } from './resource-items.ts'
import type { ResourceSpec, ResourceSpecInput } from './spec.ts'

/**
 * What defines a machine's cluster for an app: an explicit name, or the
 * environmental resources the app depends on (Mirage §4.1), from a spec
 * file (the vendor's, possibly shipped with releases), the owner's own
 * resources, and two shorthands for the simplest cases.
 */
export interface ClusterSpec {
  /** An explicit cluster name wins over any fingerprint. */
  name?: string
  /** An env spec file (JSON, see docs/FORMATS.md). */
  spec?: string
  /** The owner's resources, added to (or replacing by name) the spec's. */
  resources?: ResourceSpecInput[]
  /** Shorthand: files fingerprinted by content (`binary`); a missing file is itself a fact. */
  files?: string[]
  /** Shorthand: environment variables; an unset one is a fact. */
  env?: string[]
  /** A directory standing for `/` when reading resources (environments kept in directories). */
  root?: string
}

/** The resources a cluster spec names: spec file, then the owner's, then the shorthands. */
export async function clusterResources (app: string, cluster: ClusterSpec): Promise<{ salt?: string, resources: ResourceSpec[] }> {
  const fromFile = cluster.spec === undefined ? undefined : await readEnvSpec(cluster.spec)
  if (fromFile !== undefined && fromFile.app !== app) {
    throw new Error(`${cluster.spec} is the spec of app "${fromFile.app}", not "${app}"`)
  }
  const shorthand: ResourceSpecInput[] = [
    ...(cluster.files ?? []).map(path => ({ name: `file:${path}`, kind: 'binary' as const, path })),
    ...(cluster.env ?? []).map(variable => ({ name: `env:${variable}`, kind: 'env' as const, variable }))
  ]
  const owner = checkResources([...(cluster.resources ?? []), ...shorthand], `cluster of app ${app}`)
  return { ...(fromFile?.salt === undefined ? {} : { salt: fromFile.salt }), resources: mergeResources(fromFile?.resources ?? [], owner) }
}

/** The machine's fingerprint for an app, from its cluster spec. */
export async function fingerprintCluster (app: string, cluster: ClusterSpec, environment: NodeJS.ProcessEnv = process.env): Promise<Fingerprint> {
  const { salt, resources } = await clusterResources(app, cluster)
  const options: ReadEnvironmentOptions = { environment, ...(cluster.root === undefined ? {} : { root: cluster.root }) }
  return fingerprintEnvironment({ app, resources, ...(salt === undefined ? {} : { salt }) }, options)
}

/**
 * The cluster id: the explicit name, or `env-` and 26 base32 characters of
 * the digest of the relevant facts, so identical environments land in the
 * same cluster with no coordination, and no value is revealed by the id.
 */
export async function computeClusterId (app: string, cluster: ClusterSpec, environment: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (cluster.name !== undefined) return cluster.name
  return clusterIdOf(await fingerprintCluster(app, cluster, environment))
}
