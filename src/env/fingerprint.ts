import { createHash } from 'node:crypto'
import { base32 } from 'multiformats/bases/base32'
import { z } from 'zod'
import { FingerprintError } from './errors.ts'
import { RESOURCE_NAME } from './spec.ts'
import { readResourceItems } from './resource-items.ts'
import { RESOURCE_KINDS } from './types.ts'
import { VALUE_HASH_HEX_CHARS, defaultSalt, hashValue } from './value-hash.ts'
import type { ReadEnvironmentOptions } from './resource-items.ts'
import type { ResourceSpec } from './spec.ts'
import type { Fact, ResourceKind } from './types.ts'

/** Resources read at once: overlaps disk waits without a burst of open files. */
const READ_CONCURRENCY = 4
/** Facts one fingerprint may hold (a census message bound). */
export const MAX_FINGERPRINT_FACTS = 100_000

export interface ResourceInfo {
  kind: ResourceKind
  relevant: boolean
  weight: number
}

/**
 * A machine's environment for one app as it may be shared: per resource its
 * kind, relevance and weight, and the facts (resource, item, salted value
 * hash), sorted. Values never leave the machine; whether two machines'
 * values are equal does.
 */
export interface Fingerprint {
  format: 1
  app: string
  resources: Record<string, ResourceInfo>
  facts: Fact[]
  /** For the owner: resources read other than as their kind said, and why. */
  notes: string[]
}

export interface FingerprintSpec {
  app: string
  salt?: string
  resources: readonly ResourceSpec[]
}

/** Reads every resource of the spec and hashes what it found. */
export async function fingerprintEnvironment (spec: FingerprintSpec, options: ReadEnvironmentOptions = {}): Promise<Fingerprint> {
  const salt = spec.salt ?? defaultSalt(spec.app)
  const resources: Record<string, ResourceInfo> = {}
  const facts: Fact[] = []
  const notes: string[] = []
  const queue = [...spec.resources]
  const readOne = async (): Promise<void> => {
    for (let resource = queue.shift(); resource !== undefined; resource = queue.shift()) {
      const read = await readResourceItems(resource, options)
      resources[resource.name] = { kind: resource.kind, relevant: resource.relevant, weight: resource.weight }
      notes.push(...read.notes)
      for (const [item, value] of read.items) {
        // The kind is hashed in: the same bytes read as another kind are another fact.
        facts.push({ resource: resource.name, item, value: hashValue(salt, `${resource.kind}\0${value}`) })
      }
    }
  }
  await Promise.all(Array.from({ length: READ_CONCURRENCY }, readOne))
  if (facts.length > MAX_FINGERPRINT_FACTS) throw new FingerprintError(`${spec.app}: ${facts.length} facts, over the limit of ${MAX_FINGERPRINT_FACTS}; narrow the spec`)
  return { format: 1, app: spec.app, resources: sortKeys(resources), facts: facts.sort(compareFacts), notes: notes.sort() }
}

export function compareFacts (a: Fact, b: Fact): number {
  return a.resource < b.resource ? -1 : a.resource > b.resource ? 1 : a.item < b.item ? -1 : a.item > b.item ? 1 : 0
}

/** The facts of the resources that define the cluster. */
export function relevantFacts (fingerprint: Fingerprint): Fact[] {
  return fingerprint.facts.filter(fact => fingerprint.resources[fact.resource]?.relevant === true)
}

/**
 * Identifies a set of facts (SHA-256, hex): equal digests, equal
 * environments. The cluster map keys machines by the digest of their
 * relevant facts.
 */
export function factsDigest (app: string, facts: readonly Fact[]): string {
  const hash = createHash('sha256').update(`mirage/fingerprint/v1\0${app}\0`)
  for (const fact of facts) hash.update(`${fact.resource}\0${fact.item}\0${fact.value}\n`)
  return hash.digest('hex')
}

/** The digest of the relevant facts: what a cluster map assigns. */
export function fingerprintDigest (fingerprint: Fingerprint): string {
  return factsDigest(fingerprint.app, relevantFacts(fingerprint))
}

/**
 * The cluster id of a fingerprint: `env-` and 26 base32 characters of the
 * relevant digest, so identical relevant environments land in one cluster
 * with no coordination (Mirage §4.1) and the id reveals no value.
 */
export function clusterIdOf (fingerprint: Fingerprint): string {
  return `env-${base32.baseEncode(Buffer.from(fingerprintDigest(fingerprint), 'hex')).slice(0, 26)}`
}

const factSchema = z.strictObject({
  resource: z.string().regex(RESOURCE_NAME, 'must be a resource name'),
  item: z.string().max(4096),
  value: z.string().regex(new RegExp(`^[0-9a-f]{${VALUE_HASH_HEX_CHARS}}$`), 'must be a value hash')
})

const fingerprintSchema = z.strictObject({
  format: z.literal(1),
  app: z.string().min(1).max(64),
  resources: z.record(z.string().regex(RESOURCE_NAME, 'must be a resource name'), z.strictObject({ kind: z.enum(RESOURCE_KINDS), relevant: z.boolean(), weight: z.number().min(0).max(1_000) })),
  facts: z.array(factSchema).max(MAX_FINGERPRINT_FACTS),
  notes: z.array(z.string().max(4096)).max(10_000)
})

/** Checks a fingerprint read from a file or received: schema, sorted unique facts, known resources. */
export function checkFingerprint (value: unknown, source: string): Fingerprint {
  // JSON.parse keeps "__proto__" as an own key, which the schema's copy would swallow unchecked.
  const rawResources = typeof value === 'object' && value !== null ? (value as { resources?: unknown }).resources : undefined
  if (typeof rawResources === 'object' && rawResources !== null && Object.hasOwn(rawResources, '__proto__')) {
    throw new FingerprintError(`${source}: resources: "__proto__" is not a resource name`)
  }
  const parsed = fingerprintSchema.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new FingerprintError(`${source}: ${issue === undefined ? 'invalid' : `${issue.path.join('.') || '(top level)'}: ${issue.message}`}`)
  }
  const fingerprint = parsed.data
  for (let i = 0; i < fingerprint.facts.length; i++) {
    const fact = fingerprint.facts[i] as Fact
    if (fingerprint.resources[fact.resource] === undefined) throw new FingerprintError(`${source}: facts.${i}: resource "${fact.resource}" is not listed in resources`)
    const previous = fingerprint.facts[i - 1]
    if (previous !== undefined && compareFacts(previous, fact) >= 0) throw new FingerprintError(`${source}: facts.${i}: facts must be sorted by resource and item, without duplicates`)
  }
  return fingerprint
}

function sortKeys<V> (record: Record<string, V>): Record<string, V> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
}
