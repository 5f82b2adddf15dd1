import { z } from 'zod'
import { CLUSTER_NAME_PATTERN } from '../release/index.ts'
import { APP_NAME_PATTERN, CanonicalEncodingError, decodeCanonical, encodeCanonical } from '../trust/index.ts'
import { CLUSTER_MAP_FORMAT, FINGERPRINT_DIGEST_PATTERN, MAX_CLUSTER_MAP_BYTES, MAX_RESOURCE_NAME_LENGTH } from './constants.ts'
import { ClusterMapInvalidError } from './errors.ts'
import type { OrderedCluster } from './cluster-order.ts'
import type { ResourceWeights } from './distance.ts'

/** One cluster of a cluster map. */
export interface ClusterMapCluster {
  /** The cluster id machines in it use instead of their own (a valid cluster name for plans). */
  name: string
  /** Machines in the census that fell into this cluster. */
  machines: number
  /** Distinct fingerprints assigned to it (at least 1, at most `machines`). */
  fingerprints: number
  /** Place in the suggested rollout order, 1 first; `clusters` is sorted by it. */
  order: number
}

/**
 * The vendor's cluster map (issue 4 item 5): which cluster every known
 * fingerprint belongs to, the clusters' sizes and a suggested order. A node
 * whose fingerprint digest appears here uses the map's cluster instead of its
 * own exact-match cluster id (issue 4 item 4). Signed by the vendor.
 */
export interface ClusterMap {
  format: typeof CLUSTER_MAP_FORMAT
  app: string
  /** Grows with every map of the app; a node keeps the highest it has seen. */
  sequence: number
  /** Milliseconds since the epoch. */
  created: number
  /** The maximum diameter the clustering used. */
  diameter: number
  /** The weights the clustering used (resources not listed weighed 1). */
  weights: Record<string, number>
  clusters: ClusterMapCluster[]
  /** Fingerprint digest → cluster name. */
  assignments: Record<string, string>
}

export interface BuildClusterMapInit {
  app: string
  sequence: number
  /** Milliseconds since the epoch; the caller's clock (this area has none). */
  created: number
  diameter: number
  weights?: ResourceWeights
  /** As `orderClusters` returns them. */
  clusters: readonly OrderedCluster[]
}

const integer = (what: string, min: number) => z.int(`${what} must be an integer`).min(min, `${what} must be at least ${min}`)
const clusterName = z.string().regex(CLUSTER_NAME_PATTERN, 'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit')

const clusterMapSchema = z.strictObject({
  format: z.literal(CLUSTER_MAP_FORMAT, `format must be ${CLUSTER_MAP_FORMAT}; this build reads no other`),
  app: z.string().regex(APP_NAME_PATTERN, 'app must be 1-64 lowercase letters, digits, ".", "_" or "-"'),
  sequence: integer('sequence', 1),
  created: integer('created', 0),
  diameter: z.number('diameter must be a number').min(0, 'diameter must not be negative'),
  weights: z.record(
    z.string().min(1, 'a resource name must not be empty').max(MAX_RESOURCE_NAME_LENGTH, `a resource name must be at most ${MAX_RESOURCE_NAME_LENGTH} characters`),
    z.number('a weight must be a finite number').min(0, 'a weight must not be negative')),
  clusters: z.array(z.strictObject({
    name: clusterName,
    machines: integer('machines', 1),
    fingerprints: integer('fingerprints', 1),
    order: integer('order', 1)
  })),
  assignments: z.record(z.string().regex(FINGERPRINT_DIGEST_PATTERN, 'is not a fingerprint digest'), clusterName)
})

/**
 * Validates a cluster map: the schema, then the rules that tie fields
 * together: clusters sorted by order 1..n, unique names, every assignment
 * names a cluster, and each cluster's `fingerprints` is its number of
 * assignments (with at least as many machines).
 */
export function validateClusterMap (value: unknown): ClusterMap {
  const parsed = clusterMapSchema.safeParse(value)
  if (!parsed.success) {
    const { path, message } = firstIssue(parsed.error)
    throw new ClusterMapInvalidError(path === 'format' ? 'format' : 'schema', path, message)
  }
  const map = parsed.data
  const assigned = new Map<string, number>()
  map.clusters.forEach((cluster, i) => {
    if (cluster.order !== i + 1) {
      throw new ClusterMapInvalidError('order', `clusters[${i}].order`, `is ${cluster.order}; clusters must be listed in order 1, 2, 3, …`)
    }
    if (assigned.has(cluster.name)) {
      throw new ClusterMapInvalidError('names', `clusters[${i}].name`, `"${cluster.name}" names two clusters`)
    }
    assigned.set(cluster.name, 0)
  })
  for (const [digest, name] of Object.entries(map.assignments)) {
    const count = assigned.get(name)
    if (count === undefined) {
      throw new ClusterMapInvalidError('assignments', `assignments.${digest}`, `names the cluster "${name}", which the map does not list`)
    }
    assigned.set(name, count + 1)
  }
  map.clusters.forEach((cluster, i) => {
    const count = assigned.get(cluster.name) as number
    if (cluster.fingerprints !== count) {
      throw new ClusterMapInvalidError('counts', `clusters[${i}].fingerprints`, `is ${cluster.fingerprints}, but ${count} fingerprints are assigned to "${cluster.name}"`)
    }
    if (cluster.machines < cluster.fingerprints) {
      throw new ClusterMapInvalidError('counts', `clusters[${i}].machines`, `is ${cluster.machines}, fewer than its ${cluster.fingerprints} fingerprints`)
    }
  })
  return map
}

/** Builds the map from ordered clusters, and checks it is one this build would accept. */
export function buildClusterMap (init: BuildClusterMapInit): ClusterMap {
  const assignments: Record<string, string> = {}
  const clusters = [...init.clusters].sort((a, b) => a.order - b.order).map(cluster => {
    for (const digest of cluster.digests) {
      // Checked before use as a key: the pattern also rules out `__proto__`.
      if (!FINGERPRINT_DIGEST_PATTERN.test(digest)) {
        throw new ClusterMapInvalidError('schema', 'assignments', `"${digest.slice(0, 40)}" is not a fingerprint digest`)
      }
      if (Object.hasOwn(assignments, digest)) {
        throw new ClusterMapInvalidError('assignments', `assignments.${digest}`, `is in both "${assignments[digest] as string}" and "${cluster.name}"`)
      }
      assignments[digest] = cluster.name
    }
    return { name: cluster.name, machines: cluster.machines, fingerprints: cluster.digests.length, order: cluster.order }
  })
  return validateClusterMap({
    format: CLUSTER_MAP_FORMAT,
    app: init.app,
    sequence: init.sequence,
    created: init.created,
    diameter: init.diameter,
    weights: { ...init.weights },
    clusters,
    assignments
  })
}

/** The one canonical encoding of a map; refuses a map it would not decode. */
export function encodeClusterMap (map: ClusterMap): Uint8Array {
  const bytes = encodeCanonical(validateClusterMap(map))
  if (bytes.byteLength > MAX_CLUSTER_MAP_BYTES) {
    throw new ClusterMapInvalidError('too-large', '',
      `is ${bytes.byteLength} bytes, more than the limit of ${MAX_CLUSTER_MAP_BYTES} (${Object.keys(map.assignments).length} fingerprints): too many distinct fingerprints for one signed map`)
  }
  return bytes
}

/** Decodes a map payload: bounded, canonical and validated. Throws ClusterMapInvalidError. */
export function decodeClusterMap (bytes: Uint8Array): ClusterMap {
  let value: unknown
  try {
    value = decodeCanonical(bytes, MAX_CLUSTER_MAP_BYTES, 'cluster map')
  } catch (err) {
    if (!(err instanceof CanonicalEncodingError)) throw err
    throw new ClusterMapInvalidError(err.reason === 'oversized' ? 'too-large' : 'encoding', '', err.message, { cause: err })
  }
  return validateClusterMap(value)
}

/** The map's cluster for a fingerprint digest, or undefined when the map does not cover it (own keys only). */
export function clusterFor (map: ClusterMap, fingerprintDigest: string): string | undefined {
  return Object.hasOwn(map.assignments, fingerprintDigest) ? map.assignments[fingerprintDigest] : undefined
}

/** The first schema issue as a field path (`clusters[2].order`) and its message. */
function firstIssue (error: z.ZodError): { path: string, message: string } {
  const issue = error.issues[0]
  if (issue === undefined) return { path: '', message: 'invalid' }
  let path = ''
  for (const part of issue.path) {
    if (typeof part === 'number') path += `[${part}]`
    else path += path === '' ? String(part) : `.${String(part)}`
  }
  const message = issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.map(k => `"${k}"`).join(', ')}` : issue.message
  return { path, message }
}
