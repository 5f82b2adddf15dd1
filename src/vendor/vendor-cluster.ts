/**
 * `mirage vendor cluster`: the vendor's clustering of its census (Mirage
 * §4.1, issue 4 item 5). Reads the census file, keys every machine by the
 * digest of its relevant facts (what a node looks up in a cluster map),
 * clusters with quality-threshold clustering at the vendor's diameter,
 * builds the map with the next sequence, signs it with the vendor key and
 * writes it atomically.
 */
import { mkdir, readFile, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { DEFAULT_RESOURCE_WEIGHT, buildClusterMap, clusterCensus, resourceWeightOf, sealClusterMap } from '../cluster/index.ts'
import { writeFileAtomically } from '../content/index.ts'
import { checkFingerprint, fingerprintDigest, relevantFacts } from '../env/index.ts'
import { readCensusFile } from './census-file.ts'
import { readClusterMapLog, recordClusterMap } from './cluster-map-log.ts'
import { VendorClusterError } from './errors.ts'
import type { ClusterMap, MachineFingerprint, ResourceWeights } from '../cluster/index.ts'
import type { Fact, Fingerprint } from '../env/index.ts'
import type { VendorDir } from './vendor-dir.ts'

/** Where maps go by default: `D/cluster-maps/<app>-<sequence>.cbor`. */
export const CLUSTER_MAPS_DIR = 'cluster-maps'

/** A weights or reference file larger than this is not one. */
const MAX_SIDE_FILE_BYTES = 64 * 1024 * 1024

export interface VendorClusterInit {
  vendor: VendorDir
  app: string
  /** The census file (`vendor census`). */
  censusPath: string
  /** Maximum diameter D: no two machines of a cluster further apart. */
  diameter: number
  /** JSON `{ resource: weight }`; overrides the weights the fingerprints declare. */
  weightsPath?: string
  /** A fingerprint (`env fingerprint --json`) of the vendor's reference environment, for the suggested order. */
  referencePath?: string
  /** Cluster name prefix (default `c`). */
  prefix?: string
  /** Explicit sequence; must be above the last one signed for the app. Default: last + 1. */
  sequence?: number
  /** Output file; default `D/cluster-maps/<app>-<sequence>.cbor`. */
  outPath?: string
  /** The clock (tests). */
  now?: () => number
}

export interface VendorClusterResult {
  map: ClusterMap
  /** The signed envelope, as written. */
  bytes: Uint8Array
  file: string
  machines: number
  /** Distinct fingerprints (by relevant digest). */
  fingerprints: number
  /** The weights clustering used (file weights over agreed declared ones). */
  weights: Record<string, number>
  /** Resources whose declared weight differs between machines; they weigh 1 unless the weights file sets them. */
  weightConflicts: string[]
  elapsedMs: number
}

export async function vendorCluster (init: VendorClusterInit): Promise<VendorClusterResult> {
  const now = init.now ?? Date.now
  const started = now()
  const log = await readClusterMapLog(init.vendor.dir)
  const last = log[init.app]?.sequence ?? 0
  const sequence = init.sequence ?? last + 1
  if (sequence <= last) {
    throw new VendorClusterError('sequence', `sequence ${sequence} is not above ${last}, the last cluster map signed for ${init.app}; nodes would refuse it as a rollback`)
  }
  const fileWeights = init.weightsPath === undefined ? {} : await readWeights(init.weightsPath)
  const reference = init.referencePath === undefined ? undefined : relevantFacts(await readReference(init.referencePath, init.app))

  // One facts array per distinct digest, shared by its machines: the census
  // then collapses with one lookup per machine (src/cluster/census.ts).
  const factsByDigest = new Map<string, readonly Fact[]>()
  const machines: MachineFingerprint[] = []
  const declared = new Map<string, number | 'conflict'>()
  for await (const entry of readCensusFile(init.censusPath, init.app)) {
    const digest = fingerprintDigest(entry.fingerprint)
    let facts = factsByDigest.get(digest)
    if (facts === undefined) {
      facts = relevantFacts(entry.fingerprint)
      factsByDigest.set(digest, facts)
      noteWeights(declared, entry.fingerprint)
    }
    machines.push({ digest, facts })
  }
  if (machines.length === 0) throw new VendorClusterError('empty', `${init.censusPath} holds no machine of ${init.app}: nothing to cluster`)

  const agreed: Array<[string, number]> = []
  const weightConflicts: string[] = []
  for (const [resource, weight] of [...declared].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)) {
    if (weight === 'conflict') weightConflicts.push(resource)
    else if (weight !== DEFAULT_RESOURCE_WEIGHT) agreed.push([resource, weight])
  }
  // fromEntries, not assignment: a resource named `__proto__` stays a plain key. The file wins.
  const weights: Record<string, number> = Object.fromEntries([...agreed, ...Object.entries(fileWeights)])

  const clustering = clusterCensus(machines, {
    diameter: init.diameter,
    weights,
    ...(reference === undefined ? {} : { reference }),
    ...(init.prefix === undefined ? {} : { prefix: init.prefix })
  })
  const created = now()
  const map = buildClusterMap({ app: init.app, sequence, created, diameter: init.diameter, weights, clusters: clustering.clusters })
  const bytes = await sealClusterMap(map, init.vendor.key)

  const file = init.outPath ?? join(init.vendor.dir, CLUSTER_MAPS_DIR, `${init.app}-${sequence}.cbor`)
  if (init.outPath === undefined) await mkdir(dirname(file), { recursive: true })
  else if (!await stat(dirname(file)).then(s => s.isDirectory(), () => false)) {
    throw new VendorClusterError('out', `cannot write ${file}: ${dirname(file)} is not a directory`)
  }
  // Recorded before the write: a failed write skips a sequence, it never
  // lets two different maps carry one.
  await recordClusterMap(init.vendor.dir, init.app, {
    sequence, createdAt: new Date(created).toISOString(), file, clusters: map.clusters.length, machines: clustering.census.machines
  })
  await writeFileAtomically(file, bytes)
  return {
    map,
    bytes,
    file,
    machines: clustering.census.machines,
    fingerprints: clustering.census.fingerprints.length,
    weights,
    weightConflicts,
    elapsedMs: now() - started
  }
}

/**
 * The weight a resource carries in the fingerprints (the spec's `weight`),
 * remembered once per distinct fingerprint; machines that disagree make it
 * a conflict (then it weighs 1 unless the vendor's weights file says).
 */
function noteWeights (declared: Map<string, number | 'conflict'>, fingerprint: Fingerprint): void {
  for (const [resource, info] of Object.entries(fingerprint.resources)) {
    // `__proto__` cannot survive a canonical CBOR round trip (the map would not open); no spec allows the name anyway.
    if (!info.relevant || resource === '__proto__') continue
    const known = declared.get(resource)
    if (known === undefined) declared.set(resource, info.weight)
    else if (known !== info.weight) declared.set(resource, 'conflict')
  }
}

async function readJsonFile (path: string, what: string, reason: 'weights' | 'reference'): Promise<unknown> {
  const size = await stat(path).then(s => s.size, (err: unknown) => {
    throw new VendorClusterError(reason, `cannot read the ${what} ${path}: ${(err as Error).message}`, { cause: err })
  })
  if (size > MAX_SIDE_FILE_BYTES) throw new VendorClusterError(reason, `${path} is larger than ${MAX_SIDE_FILE_BYTES} bytes: not a ${what}`)
  try {
    return JSON.parse(await readFile(path, 'utf8'))
  } catch (err) {
    throw new VendorClusterError(reason, `${path} is not JSON: ${(err as Error).message}`, { cause: err })
  }
}

/** `{ resource: weight }`, every weight a finite number ≥ 0. */
async function readWeights (path: string): Promise<ResourceWeights> {
  const json = await readJsonFile(path, 'weights file', 'weights')
  try {
    resourceWeightOf(json as ResourceWeights)
  } catch (err) {
    throw new VendorClusterError('weights', `${path}: ${(err as Error).message}`, { cause: err })
  }
  if (Object.hasOwn(json as object, '__proto__')) {
    throw new VendorClusterError('weights', `${path}: "__proto__" is not a resource name (it cannot survive the map's canonical encoding)`)
  }
  return { ...(json as ResourceWeights) }
}

/** The reference fingerprint: a bare fingerprint, or `env fingerprint --json` output holding the app. */
async function readReference (path: string, app: string): Promise<Fingerprint> {
  const json = await readJsonFile(path, 'reference fingerprint', 'reference')
  let value: unknown = json
  if (typeof json === 'object' && json !== null && !Array.isArray(json) && !('format' in json)) {
    if (!Object.hasOwn(json, app)) {
      throw new VendorClusterError('reference', `${path} has no fingerprint of app "${app}" (it has: ${Object.keys(json).slice(0, 10).join(', ') || 'none'})`)
    }
    value = (json as Record<string, unknown>)[app]
  }
  let fingerprint: Fingerprint
  try {
    fingerprint = checkFingerprint(value, path)
  } catch (err) {
    throw new VendorClusterError('reference', (err as Error).message, { cause: err })
  }
  if (fingerprint.app !== app) throw new VendorClusterError('reference', `${path} is a fingerprint of app "${fingerprint.app}", not "${app}"`)
  return fingerprint
}
